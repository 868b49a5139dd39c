"""VRP instances on real road networks: asymmetric travel-time matrices from the routing engine.

:func:`generate_road_vrp` builds a CVRP or VRPTW instance on a city's drive network
(:func:`datasets.osm.read_osm`):

- the depot is the *central* node: the network node nearest to the coordinate-wise median of
  all nodes (robust to the few long ways that leave a city extract);
- ``n`` clients are distinct network nodes drawn uniformly at random (seeded), never the depot;
- distances and durations are the shortest travel times in whole seconds between every ordered
  pair, from the contraction hierarchy's many-to-many search
  (:meth:`solvers.paths.ch.ContractionHierarchy.distance_matrix`). One-way streets make the
  matrix asymmetric; the network is strongly connected, so every entry is finite;
- demands are U[1, 10]; the capacity lets a route hold ``route_size`` clients on average;
- with time windows: the depot is open ``[0, horizon]`` (8 h by default), every client has a
  service time of ``service_time`` seconds and a window of width U[0.5, 1.5] x ``window_width``
  placed uniformly inside the span in which it can be served on a direct round trip from the
  depot. Every client is therefore reachable and the instance is feasible with an unlimited fleet.

Specs (``datasets.detect.load_problem`` and ``routeplanner batch``)::

    road:heidelberg:n=100,seed=1            # VRPTW
    road:monaco:n=50,seed=2,tw=0            # CVRP

Suites: :data:`ROAD_SUITES` (``road-small``, ``road-medium``), fixed in code.
Map data © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from planner.errors import ValidationError
from planner.vrp import VrpInstance

#: Suite name -> generator specs of its instances (fixed by rule: each city, growing sizes).
ROAD_SUITES: Mapping[str, tuple[str, ...]] = {
    "road-small": (
        "road:monaco:n=50,seed=1",
        "road:monaco:n=50,seed=2,tw=0",
        "road:heidelberg:n=100,seed=1",
        "road:heidelberg:n=100,seed=2,tw=0",
        "road:porto:n=100,seed=1",
        "road:porto:n=100,seed=2,tw=0",
    ),
    "road-medium": (
        "road:heidelberg:n=300,seed=1",
        "road:heidelberg:n=300,seed=2,tw=0",
        "road:porto:n=400,seed=1",
        "road:porto:n=400,seed=2,tw=0",
    ),
}

#: Weight the travel-time matrix is computed on.
WEIGHT = "travel_time"


def central_node(coords: np.ndarray) -> int:
    """Index of the node nearest to the coordinate-wise median of ``coords`` (lon, lat degrees).

    Distances are measured in a local equirectangular projection (longitude scaled by the
    cosine of the median latitude).
    """
    c = np.asarray(coords, dtype=np.float64)
    centre = np.median(c, axis=0)
    scale = math.cos(math.radians(float(centre[1])))
    d2 = ((c[:, 0] - centre[0]) * scale) ** 2 + (c[:, 1] - centre[1]) ** 2
    return int(np.argmin(d2))


def generate_road_vrp(
    city: str,
    n_clients: int,
    *,
    seed: int = 0,
    time_windows: bool = True,
    route_size: float = 10.0,
    service_time: float = 300.0,
    horizon: float = 8 * 3600.0,
    window_width: float = 3600.0,
) -> VrpInstance:
    """A CVRP/VRPTW instance on the drive network of ``city`` (see the module notes).

    Parameters
    ----------
    city
        ``"monaco"``, ``"heidelberg"``, ``"porto"`` (see :func:`datasets.osm.osm_cities`) or a
        path to an OSM XML file.
    n_clients
        Number of clients (distinct network nodes, fewer than the network has).
    seed
        Random seed of the client nodes, demands and windows; same arguments, same instance.
    time_windows
        VRPTW (service times and windows) when true, CVRP otherwise.
    route_size
        Average number of clients a full vehicle holds (sets the capacity).
    service_time
        Seconds spent at each client (VRPTW only).
    horizon
        Depot closing time in seconds (VRPTW only).
    window_width
        Mean width of a client window in seconds (VRPTW only).

    Returns
    -------
    VrpInstance
        Named ``road-<city>-n<n>-s<seed>`` (``-cvrp`` appended without windows); distances and
        durations are the integer travel-time matrix in seconds, ``coords`` the (lon, lat) of the
        depot and clients, ``client_ids`` their OSM node ids.

    Raises
    ------
    ValidationError
        For a bad size, seed or time parameter, or a horizon too short for some round trip.
    DataNotFoundError
        If the city's network is not in the data directory.
    """
    if int(n_clients) != n_clients or n_clients < 1:
        raise ValidationError("n_clients", f"must be a positive integer ({n_clients})")
    if int(seed) != seed or seed < 0:
        raise ValidationError("seed", f"must be a non-negative integer ({seed})")
    if not route_size > 0:
        raise ValidationError("route_size", f"must be positive ({route_size})")
    if time_windows and not (service_time >= 0 and horizon > 0 and window_width > 0):
        raise ValidationError("time_windows", "need service_time >= 0, horizon > 0 and window_width > 0")
    from datasets.osm import read_osm

    network = read_osm(city)
    n = int(n_clients)
    if n >= network.n_nodes:
        raise ValidationError("n_clients", f"{n} clients need more than the {network.n_nodes} nodes of {network.name}")
    coords_all = np.asarray(network.graph.coords)
    depot = central_node(coords_all)
    rng = np.random.default_rng([int(seed), n, 3])
    others = np.delete(np.arange(network.n_nodes), depot)
    clients = np.sort(rng.choice(others, size=n, replace=False))
    nodes = np.concatenate(([depot], clients)).astype(np.int64)

    from solvers.paths.ch import load_or_build

    hierarchy = load_or_build(network.graph, WEIGHT)
    matrix = np.round(hierarchy.distance_matrix(nodes))
    np.fill_diagonal(matrix, 0.0)
    demands = np.concatenate(([0], rng.integers(1, 11, size=n)))
    capacity = max(int(demands.max()), math.ceil(route_size * demands[1:].sum() / n))
    name = f"road-{network.name}-n{n}-s{int(seed)}"
    kwargs: dict[str, object] = {}
    if time_windows:
        service = np.full(n + 1, float(round(service_time)))
        service[0] = 0.0
        earliest = matrix[0, 1:]  # first possible service start
        horizon = float(round(horizon))
        latest = horizon - service[1:] - matrix[1:, 0]  # last start that still returns in time
        if np.any(latest < earliest):
            far = int(np.argmax(earliest + service[1:] + matrix[1:, 0])) + 1
            raise ValidationError("horizon", f"{horizon:g} s is too short for the round trip to client {far}")
        width = np.minimum(np.round(window_width * rng.uniform(0.5, 1.5, size=n)), latest - earliest)
        start = np.floor(earliest + rng.random(n) * (latest - earliest - width))
        windows = np.vstack(([0.0, float(horizon)], np.column_stack((start, start + width))))
        kwargs = {"time_windows": windows, "service_times": service}
    else:
        name += "-cvrp"
    return VrpInstance(
        name=name,
        demands=demands,
        capacity=capacity,
        coords=coords_all[nodes],
        distances=matrix,
        client_ids=np.asarray(network.graph.node_ids)[nodes],
        **kwargs,
    )


def parse_road_spec(spec: str) -> tuple[str, dict[str, object]]:
    """Split ``road:<city>:n=100,seed=1,tw=0`` into the city and :func:`generate_road_vrp`
    keyword arguments (``n`` becomes ``n_clients``, ``tw`` becomes ``time_windows``).

    Raises
    ------
    ValidationError
        For a malformed spec or an unknown option.
    """
    parts = spec.split(":", 2)
    if len(parts) < 2 or parts[0] != "road" or not parts[1].strip():
        raise ValidationError("instance", f"road spec {spec!r} is not road:<city>[:key=value,...]")
    city = parts[1].strip()
    kwargs: dict[str, object] = {}
    casts = {"n": ("n_clients", int), "seed": ("seed", int),
             "tw": ("time_windows", lambda v: v not in ("0", "false", "no")),
             "route_size": ("route_size", float), "service_time": ("service_time", float),
             "horizon": ("horizon", float), "window_width": ("window_width", float)}
    if len(parts) > 2 and parts[2].strip():
        for item in parts[2].split(","):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or key not in casts:
                raise ValidationError("instance", f"road spec option {item!r} in {spec!r} "
                                                  f"(known: {', '.join(casts)}, as key=value)")
            target, cast = casts[key]
            try:
                kwargs[target] = cast(value.strip().lower())
            except ValueError:
                raise ValidationError("instance", f"road spec option {item!r}: not a number") from None
    kwargs.setdefault("n_clients", 100)
    return city, kwargs


def road_instance(spec: str) -> VrpInstance:
    """The instance of a ``road:`` spec (see :func:`parse_road_spec`)."""
    city, kwargs = parse_road_spec(spec)
    return generate_road_vrp(city, **kwargs)  # type: ignore[arg-type]
