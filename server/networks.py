"""The road networks a server routes on: loaded at start-up, each with its spatial index and
contraction hierarchies, queried from many threads at once."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.errors import NotFoundError, ValidationError

log = logging.getLogger("routeplanner.server.networks")


@dataclass
class LoadedNetwork:
    """A road network ready for queries.

    Parameters
    ----------
    name
        Short name (``porto``); its resource name is ``networks/porto``.
    road
        The :class:`~planner.graph.road.RoadNetwork`.
    index
        Its :class:`~planner.graph.spatial.SpatialIndex`.
    hierarchies
        One contraction hierarchy per weight (``travel_time``, ``length``).
    """

    name: str
    road: Any
    index: Any
    hierarchies: dict[str, Any]
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def hierarchy(self, weight: str) -> Any:
        """The hierarchy of ``weight`` for the calling thread (query state is per instance,
        so every thread gets its own copy sharing the read-only arrays).

        Raises
        ------
        ValidationError
            If the network was not loaded with that weight.
        """
        if weight not in self.hierarchies:
            raise ValidationError("objective", f"networks/{self.name} is served by {', '.join(self.hierarchies)} only "
                                               f"(start the server with --weights to add {weight})")
        copies = self._local.__dict__.setdefault("copies", {})
        if weight not in copies:
            shared = self.hierarchies[weight]
            copies[weight] = shared.with_arcs(shared.arcs)
        return copies[weight]

    def snap(self, points: np.ndarray, field: str, single: bool) -> tuple[np.ndarray, np.ndarray]:
        """Nearest nodes of ``(n, 2)`` (lat, lng) points and their distances in metres;
        violations name ``field`` (``field[i]`` unless ``single``)."""
        from server.convert import remap

        try:
            return self.index.nearest_nodes(points)
        except ValidationError as exc:
            rule = (r"points\[0\]", field) if single else (r"points", field)
            raise remap(exc, [rule]) from None


def load_network(name: str, weights: tuple[str, ...]) -> LoadedNetwork:
    """Read a city of the data directory (unsimplified, as ``routeplanner route`` does) with its
    index and hierarchies (from the cache when there, else built and cached)."""
    from datasets.osm import read_osm
    from planner.graph.spatial import SpatialIndex
    from solvers.paths.ch import load_or_build

    road = read_osm(name, simplify=False)
    index = SpatialIndex(road)
    hierarchies = {w: load_or_build(road.graph, w) for w in weights}
    for h in hierarchies.values():
        h.shortest_path(0, 0)  # compile/load the query kernels before the first request
    return LoadedNetwork(name, road, index, hierarchies)


class NetworkCatalog:
    """Networks by name, loaded in a background thread.

    Parameters
    ----------
    names
        Cities to load (``monaco``, ``porto``...).
    weights
        Edge weights to build hierarchies for.
    on_ready
        Called once every network is loaded (or failed to load).
    """

    def __init__(self, names: tuple[str, ...], weights: tuple[str, ...],
                 on_ready: Any = None) -> None:
        self.names = tuple(dict.fromkeys(names))
        self.weights = weights
        self._networks: dict[str, LoadedNetwork] = {}
        self._errors: dict[str, str] = {}
        self._ready = threading.Event()
        self._on_ready = on_ready
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start loading."""
        self._thread = threading.Thread(target=self._load, name="network-loader", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        for name in self.names:
            start = time.perf_counter()
            try:
                network = load_network(name, self.weights)
            except Exception as exc:
                self._errors[name] = f"{type(exc).__name__}: {exc}"
                log.error("network failed to load", extra={"fields": {"network": name, "error": str(exc)}})
                continue
            self._networks[name] = network
            log.info("network loaded", extra={"fields": {
                "network": name, "nodes": network.road.n_nodes, "edges": network.road.n_edges,
                "seconds": round(time.perf_counter() - start, 3)}})
        self._ready.set()
        if self._on_ready is not None:
            self._on_ready()

    @property
    def ready(self) -> bool:
        """Whether loading has finished."""
        return self._ready.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading has finished."""
        return self._ready.wait(timeout)

    def get(self, name: str) -> LoadedNetwork:
        """The network called ``name``.

        Raises
        ------
        NotFoundError
            If it is not served (unknown, or failed to load).
        ServiceError
            ``UNAVAILABLE`` while it is still loading.
        """
        import grpc

        from server.errors import ServiceError

        if name in self._networks:
            return self._networks[name]
        if name in self.names and name not in self._errors and not self.ready:
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, f"networks/{name} is still loading; retry shortly")
        served = ", ".join(f"networks/{n}" for n in sorted(self._networks)) or "none"
        why = f" (it failed to load: {self._errors[name]})" if name in self._errors else ""
        raise NotFoundError("network", f"no network networks/{name}{why} (served: {served})")

    def loaded(self) -> list[LoadedNetwork]:
        """The loaded networks, sorted by name."""
        return [self._networks[n] for n in sorted(self._networks)]
