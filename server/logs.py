"""Structured logging: one JSON object per line on standard error."""

from __future__ import annotations

import json
import logging
import sys
import time


class JsonFormatter(logging.Formatter):
    """Formats a record as ``{"time", "level", "logger", "message", ...fields}``; the fields come
    from ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "info") -> None:
    """Send the ``routeplanner`` loggers to standard error as JSON lines at ``level``."""
    logger = logging.getLogger("routeplanner")
    logger.setLevel(level.upper())
    if not any(getattr(h, "_routeplanner", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._routeplanner = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
