"""Server settings: embedded defaults, an optional TOML file, and command-line overrides."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from planner.errors import DataFormatError, ValidationError

#: Environment variable holding the bearer token (kept out of the process list).
TOKEN_ENV = "ROUTEPLANNER_TOKEN"


@dataclass(frozen=True)
class ServerConfig:
    """Everything a server needs to start.

    Parameters
    ----------
    host, port
        Address to listen on (port 0: any free port).
    networks
        Cities of the data directory to serve; ``None``: every city found there.
    weights
        Edge weights with a contraction hierarchy per network (``travel_time``, ``length``).
    database
        SQLite file of the job store.
    workers
        Worker processes for long solves.
    max_queued
        Jobs that may wait for a worker before new ones are refused (``RESOURCE_EXHAUSTED``).
    max_attempts
        Times a job interrupted by a crash or restart is started before it is marked failed.
    max_message_bytes
        Largest request or response message.
    threads
        Threads answering calls.
    token
        Bearer token every call must carry (``None``: no check).
    tls_cert, tls_key
        PEM certificate chain and private key for TLS (both or neither).
    shutdown_grace_s
        Seconds in-flight calls get to finish on shutdown.
    log_level
        ``debug``, ``info``, ``warning`` or ``error``.
    """

    host: str = "127.0.0.1"
    port: int = 50051
    networks: tuple[str, ...] | None = None
    weights: tuple[str, ...] = ("travel_time",)
    database: Path = Path("routeplanner-jobs.sqlite3")
    workers: int = 2
    max_queued: int = 256
    max_attempts: int = 2
    max_message_bytes: int = 16 * 1024 * 1024
    threads: int = 16
    token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    shutdown_grace_s: float = 5.0
    log_level: str = "info"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValidationError("port", f"must be in 0..65535 ({self.port})")
        for name in ("workers", "max_queued", "max_attempts", "threads"):
            if getattr(self, name) < 1:
                raise ValidationError(name, f"must be at least 1 ({getattr(self, name)})")
        if self.max_message_bytes < 1024:
            raise ValidationError("max_message_bytes", f"must be at least 1024 ({self.max_message_bytes})")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValidationError("tls_key" if self.tls_key is None else "tls_cert", "give both tls_cert and tls_key")
        for weight in self.weights:
            if weight not in ("travel_time", "length"):
                raise ValidationError("weights", f"unknown weight {weight!r} (travel_time, length)")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ValidationError("log_level", f"unknown level {self.log_level!r}")

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def served_networks(self) -> tuple[str, ...]:
        """The networks to load: the configured ones, or every city of the data directory."""
        if self.networks is not None:
            return self.networks
        from datasets.osm import osm_cities

        return tuple(osm_cities())


def load_config(path: str | Path | None = None, **overrides: Any) -> ServerConfig:
    """Defaults, then the ``[server]`` table of a TOML file, then ``overrides`` (``None`` values
    ignored); the token falls back to :data:`TOKEN_ENV`.

    Raises
    ------
    DataFormatError
        If the file is not TOML or names an unknown setting.
    """
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            table = tomllib.loads(path.read_text()).get("server", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DataFormatError(path, f"not a readable TOML file ({exc})") from None
        known = {f.name for f in fields(ServerConfig)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise DataFormatError(path, f"unknown settings in [server]: {', '.join(unknown)}")
        values.update(table)
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "token" not in values and os.environ.get(TOKEN_ENV):
        values["token"] = os.environ[TOKEN_ENV]
    for key in ("networks", "weights"):
        if key in values and values[key] is not None:
            values[key] = tuple(values[key])
    for key in ("database", "tls_cert", "tls_key"):
        if values.get(key) is not None:
            values[key] = Path(values[key]).expanduser()
    return replace(ServerConfig(), **values)
