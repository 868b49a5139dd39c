"""Built-in initial giant tours: random, nearest neighbour, savings."""

from __future__ import annotations

from collections.abc import Sequence

import numba as nb
import numpy as np

from planner.errors import ValidationError
from planner.vrp import VrpInstance, VrpSolution

#: Names accepted by :func:`seed_tours`.
SEED_METHODS = ("random", "nearest-neighbour", "savings")


def random_tour(n: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random giant tour of clients ``1..n``."""
    return rng.permutation(np.arange(1, n + 1, dtype=np.int64))


@nb.njit(cache=True, nogil=True)
def _nearest_neighbour(dist: np.ndarray, start: int) -> np.ndarray:
    n = dist.shape[0] - 1
    visited = np.zeros(n + 1, dtype=np.bool_)
    visited[0] = True
    tour = np.empty(n, dtype=np.int64)
    current = start
    for k in range(n):
        tour[k] = current
        visited[current] = True
        best = -1
        best_d = np.inf
        for c in range(1, n + 1):
            if not visited[c] and dist[current, c] < best_d:
                best_d = dist[current, c]
                best = c
        current = best
    return tour


def nearest_neighbour_tour(instance: VrpInstance, rng: np.random.Generator) -> np.ndarray:
    """Greedy tour: start at a random client, always go to the closest unvisited one."""
    start = int(rng.integers(1, instance.n_clients + 1))
    return _nearest_neighbour(np.array(instance.distances, dtype=np.float64, order="C"), start)


def savings_tour(instance: VrpInstance) -> np.ndarray:
    """The routes of Clarke-Wright savings (:func:`solvers.vrp.savings.solve_savings`) concatenated."""
    from solvers.vrp.savings import solve_savings

    return tour_of(solve_savings(instance).routes, instance.n_clients)


def tour_of(routes: Sequence[np.ndarray] | VrpSolution, n: int) -> np.ndarray:
    """The giant tour of a solution (routes concatenated), validated to visit ``1..n`` once.

    Raises
    ------
    ValidationError
        If the routes do not visit every client exactly once.
    """
    if isinstance(routes, VrpSolution):
        routes = routes.routes
    parts = [np.asarray(r, dtype=np.int64).reshape(-1) for r in routes]
    tour = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return validate_tour(tour, n)


def validate_tour(tour: Sequence[int] | np.ndarray, n: int, field: str = "initial") -> np.ndarray:
    """``tour`` as an int64 array, checked to be a permutation of ``1..n``.

    Raises
    ------
    ValidationError
        Naming ``field`` and what is wrong (length, unknown or repeated client).
    """
    arr = np.asarray(tour, dtype=np.int64).reshape(-1)
    if arr.size != n:
        raise ValidationError(field, f"giant tour has {arr.size} clients, expected {n}")
    if arr.size and (arr.min() < 1 or arr.max() > n):
        raise ValidationError(field, f"giant tour names a client outside 1..{n}")
    if np.unique(arr).size != n:
        raise ValidationError(field, "giant tour visits a client more than once")
    return arr


def seed_tours(instance: VrpInstance, methods: Sequence[str], count: int,
               rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` giant tours, cycling through ``methods`` (savings is deterministic: used once).

    Raises
    ------
    ValidationError
        For an unknown method name.
    """
    for m in methods:
        if m not in SEED_METHODS:
            raise ValidationError("seeds", f"unknown seed method {m!r} (known: {', '.join(SEED_METHODS)})")
    tours: list[np.ndarray] = []
    n = instance.n_clients
    if "savings" in methods:
        tours.append(savings_tour(instance))
    cyclic = [m for m in methods if m != "savings"] or ["random"]
    k = 0
    while len(tours) < count:
        m = cyclic[k % len(cyclic)]
        tours.append(random_tour(n, rng) if m == "random" else nearest_neighbour_tour(instance, rng))
        k += 1
    return tours[:count]
