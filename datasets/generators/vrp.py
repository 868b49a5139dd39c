"""Synthetic CVRP and VRPTW instances, deterministic under a seed, of any size.

- :func:`generate_cvrp` follows the spirit of the X generator of Uchoa et al. (2017): integer
  coordinates on a 0..1000 grid, depot central / eccentric / random, clients uniform,
  clustered or mixed, the seven demand distributions of the paper, and a capacity chosen so
  that routes hold a target number of clients on average; distances ``nint`` (CVRPLIB
  ``EUC_2D``).
- :func:`generate_vrptw` follows the spirit of Solomon (1987): a 0..100 grid, central depot,
  demands 1..50, capacity 200, fixed service times, and time windows drawn around the arrival
  times of a feasible reference plan (sweep routes), so that every instance is feasible with
  the fleet it states; distances ``dimacs`` (``trunc(10 d) / 10``), travel time = distance.

Instances are limited by the dense-matrix size of :class:`planner.vrp.VrpInstance`
(:data:`planner.vrp.MAX_DENSE_CLIENTS` clients).
"""

from __future__ import annotations

import math

import numpy as np

from planner.errors import ValidationError
from planner.vrp import VrpInstance, euclidean_distances

DISTRIBUTIONS = ("uniform", "clustered", "mixed")
DEPOTS = ("central", "eccentric", "random")
DEMANDS = ("unit", "small", "small-tight", "large", "large-tight", "quadrant", "skewed")


def _check_common(n_clients: int, distribution: str, seed: int) -> None:
    if int(n_clients) != n_clients or n_clients < 1:
        raise ValidationError("n_clients", f"must be a positive integer ({n_clients})")
    if distribution not in DISTRIBUTIONS:
        raise ValidationError("distribution", f"unknown {distribution!r} (known: {', '.join(DISTRIBUTIONS)})")
    if int(seed) != seed or seed < 0:
        raise ValidationError("seed", f"must be a non-negative integer ({seed})")


def _clustered_points(rng: np.random.Generator, count: int, grid: float, n_seeds: int, decay: float) -> np.ndarray:
    """``count`` integer points attracted by ``n_seeds`` random seeds (the seeds come first).

    Candidates are drawn uniformly and accepted with probability ``min(1, sum_s exp(-d_s / decay))``.
    """
    seeds = rng.integers(0, int(grid) + 1, size=(min(n_seeds, count), 2)).astype(np.float64)
    points = [seeds]
    have = len(seeds)
    while have < count:
        batch = rng.integers(0, int(grid) + 1, size=(max(256, 4 * (count - have)), 2)).astype(np.float64)
        dist = np.sqrt(((batch[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2))
        weight = np.minimum(1.0, np.exp(-dist / decay).sum(axis=1))
        accepted = batch[rng.random(len(batch)) < weight][: count - have]
        points.append(accepted)
        have += len(accepted)
    return np.concatenate(points)


def _client_positions(rng: np.random.Generator, n: int, distribution: str, grid: float) -> np.ndarray:
    decay = 40.0 * grid / 1000.0
    n_seeds = int(rng.integers(3, 9))
    if distribution == "uniform":
        return rng.integers(0, int(grid) + 1, size=(n, 2)).astype(np.float64)
    if distribution == "clustered":
        return _clustered_points(rng, n, grid, n_seeds, decay)
    half = n // 2
    clustered = _clustered_points(rng, half, grid, n_seeds, decay) if half else np.zeros((0, 2))
    uniform = rng.integers(0, int(grid) + 1, size=(n - half, 2)).astype(np.float64)
    return np.concatenate((clustered, uniform))


def _demands(rng: np.random.Generator, kind: str, coords: np.ndarray, grid: float) -> np.ndarray:
    n = len(coords)
    if kind == "unit":
        return np.ones(n, dtype=np.int64)
    if kind == "small":
        return rng.integers(1, 11, size=n)
    if kind == "small-tight":
        return rng.integers(5, 11, size=n)
    if kind == "large":
        return rng.integers(1, 101, size=n)
    if kind == "large-tight":
        return rng.integers(50, 101, size=n)
    if kind == "quadrant":
        half = grid / 2
        odd = (coords[:, 0] > half) != (coords[:, 1] > half)
        return np.where(odd, rng.integers(51, 101, size=n), rng.integers(1, 51, size=n))
    # skewed: many small values, few large ones
    share_small = rng.uniform(0.7, 0.95)
    small = rng.random(n) < share_small
    return np.where(small, rng.integers(1, 11, size=n), rng.integers(50, 101, size=n))


def generate_cvrp(
    n_clients: int,
    *,
    distribution: str = "uniform",
    capacity: int | None = None,
    seed: int = 0,
    depot: str = "central",
    demand: str = "large",
    route_size: float | None = None,
) -> VrpInstance:
    """A random CVRP instance in the spirit of the X generator (Uchoa et al. 2017).

    Parameters
    ----------
    n_clients
        Number of clients.
    distribution
        Client positions: ``"uniform"``, ``"clustered"`` (3-8 attraction seeds with
        exponential decay) or ``"mixed"`` (half clustered, half uniform).
    capacity
        Vehicle capacity; by default ``ceil(route_size * total_demand / n_clients)`` (at least
        the largest demand).
    seed
        Random seed; the same arguments give the same instance.
    depot
        ``"central"`` (500, 500), ``"eccentric"`` (0, 0) or ``"random"``.
    demand
        One of the seven demand distributions: ``"unit"``, ``"small"`` U[1,10],
        ``"small-tight"`` U[5,10], ``"large"`` U[1,100], ``"large-tight"`` U[50,100],
        ``"quadrant"`` (U[1,50] or U[51,100] by quadrant), ``"skewed"`` (mostly U[1,10], a few
        U[50,100]).
    route_size
        Target average number of clients per route; default drawn from a triangular
        distribution on [3, 25] with mode 6, as in the X set.

    Returns
    -------
    VrpInstance
        Named ``gen-cvrp-<distribution>-n<n>-s<seed>`` (plus the non-default options), with
        ``rounding="nint"``.
    """
    _check_common(n_clients, distribution, seed)
    if depot not in DEPOTS:
        raise ValidationError("depot", f"unknown {depot!r} (known: {', '.join(DEPOTS)})")
    if demand not in DEMANDS:
        raise ValidationError("demand", f"unknown {demand!r} (known: {', '.join(DEMANDS)})")
    if route_size is not None and not route_size > 0:
        raise ValidationError("route_size", f"must be positive ({route_size})")
    n = int(n_clients)
    grid = 1000.0
    rng = np.random.default_rng([int(seed), n, 1])
    clients = _client_positions(rng, n, distribution, grid)
    if depot == "central":
        depot_xy = np.array([grid / 2, grid / 2])
    elif depot == "eccentric":
        depot_xy = np.zeros(2)
    else:
        depot_xy = rng.integers(0, int(grid) + 1, size=2).astype(np.float64)
    q = _demands(rng, demand, clients, grid)
    name = f"gen-cvrp-{distribution}-n{n}-s{seed}"
    for value, default in ((depot, "central"), (demand, "large")):
        if value != default:
            name += f"-{value}"
    if route_size is not None:
        name += f"-r{route_size:g}"
    if capacity is not None:
        name += f"-q{capacity}"
    else:
        r = float(route_size) if route_size is not None else float(rng.triangular(3, 6, 25))
        capacity = max(int(q.max()), math.ceil(r * q.sum() / n))
    return VrpInstance(
        name=name,
        demands=np.concatenate(([0], q)),
        capacity=capacity,
        coords=np.vstack((depot_xy, clients)),
        rounding="nint",
    )


def _sweep_plan(coords: np.ndarray, demands: np.ndarray, service: np.ndarray, t: np.ndarray,
                capacity: float, horizon: float) -> tuple[list[list[int]], np.ndarray]:
    """Reference routes by angle around the depot, cut by capacity and horizon; arrival times."""
    n = len(coords) - 1
    angle = np.arctan2(coords[1:, 1] - coords[0, 1], coords[1:, 0] - coords[0, 0])
    order = np.argsort(angle, kind="stable") + 1
    arrival = np.zeros(n + 1)
    routes: list[list[int]] = []
    route: list[int] = []
    load = 0.0
    now = 0.0
    for c in order.tolist():
        while True:
            prev = route[-1] if route else 0
            arrive = now + t[prev, c]
            if (load + demands[c] <= capacity
                    and max(arrive, t[0, c]) + service[c] + t[c, 0] <= horizon) or not route:
                break
            routes.append(route)
            route, load, now = [], 0.0, 0.0
        route.append(c)
        arrival[c] = arrive
        load += demands[c]
        now = arrive + service[c]
    if route:
        routes.append(route)
    return routes, arrival


def generate_vrptw(
    n_clients: int,
    *,
    distribution: str = "uniform",
    seed: int = 0,
    capacity: int = 200,
    service_time: float = 10.0,
    horizon: float = 1000.0,
    window_width: float = 60.0,
    tw_fraction: float = 1.0,
    num_vehicles: int | None = None,
) -> VrpInstance:
    """A random VRPTW instance in the spirit of Solomon's R/C/RC sets, feasible by construction.

    A reference plan is built first (sweep around the depot, cut by capacity and horizon);
    each client's window, of width ``U[0.5, 1.5] * window_width``, is placed at random around
    its arrival time in that plan and clipped to what the depot's window allows.

    Parameters
    ----------
    n_clients
        Number of clients.
    distribution
        ``"uniform"`` (R), ``"clustered"`` (C) or ``"mixed"`` (RC).
    seed
        Random seed.
    capacity
        Vehicle capacity (demands are U[1, 50]).
    service_time
        Service time of every client.
    horizon
        Depot window ``[0, horizon]``.
    window_width
        Mean width of the client windows.
    tw_fraction
        Share of clients with a window; the others may be served any time the depot allows.
    num_vehicles
        Fleet size; by default the reference plan's route count plus 25 % (rounded up).

    Returns
    -------
    VrpInstance
        Named ``gen-vrptw-<distribution>-n<n>-s<seed>``, ``rounding="dimacs"``.
    """
    _check_common(n_clients, distribution, seed)
    if not (service_time >= 0 and horizon > 0 and window_width > 0 and 0 <= tw_fraction <= 1 and capacity >= 50):
        raise ValidationError("generate_vrptw", "need service_time >= 0, horizon > 0, window_width > 0, "
                                                 "0 <= tw_fraction <= 1 and capacity >= 50 (largest demand)")
    n = int(n_clients)
    grid = 100.0
    rng = np.random.default_rng([int(seed), n, 2])
    coords = np.vstack(([grid / 2, grid / 2], _client_positions(rng, n, distribution, grid)))
    demands = np.concatenate(([0], rng.integers(1, 51, size=n)))
    service = np.full(n + 1, float(service_time))
    service[0] = 0.0
    t = euclidean_distances(coords, "dimacs")
    if np.any(t[0, 1:] + service[1:] + t[1:, 0] > horizon):
        raise ValidationError("horizon", f"{horizon} too short for a round trip to the farthest client")
    routes, arrival = _sweep_plan(coords, demands, service, t, capacity, horizon)
    a = arrival[1:]
    direct = t[0, 1:]
    width = window_width * rng.uniform(0.5, 1.5, size=n)
    early = np.maximum(0.0, a - rng.random(n) * width)
    late = np.maximum(early + width, direct)
    latest_possible = horizon - service[1:] - t[1:, 0]
    free = rng.random(n) >= tw_fraction
    early = np.where(free, 0.0, early)
    late = np.minimum(np.where(free, latest_possible, late), latest_possible)
    # tenths, like the distances: round the windows outwards, never past the depot's closing
    early = np.floor(early * 10 + 1e-9) / 10
    late = np.minimum(np.ceil(late * 10 - 1e-9) / 10, latest_possible)
    windows = np.vstack(([0.0, horizon], np.column_stack((early, late))))
    fleet = num_vehicles if num_vehicles is not None else math.ceil(1.25 * len(routes))
    return VrpInstance(
        name=f"gen-vrptw-{distribution}-n{n}-s{seed}",
        demands=demands,
        capacity=capacity,
        coords=coords,
        distances=t,
        time_windows=windows,
        service_times=service,
        num_vehicles=fleet,
        rounding="dimacs",
    )
