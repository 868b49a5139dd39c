"""An individual of the population: giant tour, its routes, penalised cost and feasibility."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np

from solvers.vrp.ga.problem_arrays import ProblemArrays
from solvers.vrp.ga.route_eval import route_eval

_TOL = 1e-9


@dataclass(eq=False)
class Individual:
    """A solution as the GA holds it.

    Attributes
    ----------
    routes
        Non-empty routes (client arrays).
    tour
        Giant tour: the routes concatenated.
    distance, excess_load, time_warp
        Totals over the routes.
    feasible
        No excess load, no time warp, fleet respected.
    succ, pred
        ``(n+1,)`` successor and predecessor of every client (0 for the depot), for the
        broken-pairs distance.
    biased_fitness
        Rank-based fitness mixing cost and diversity (lower is better); set by the population.
    selection_score
        ``-biased_fitness``: the attribute the tournament maximises.
    """

    routes: list[np.ndarray]
    tour: np.ndarray
    distance: float
    excess_load: float
    time_warp: float
    feasible: bool
    succ: np.ndarray
    pred: np.ndarray
    biased_fitness: float = 0.0
    selection_score: float = 0.0

    def penalised_cost(self, pen_cap: float, pen_tw: float) -> float:
        """``distance + pen_cap * excess_load + pen_tw * time_warp``."""
        return self.distance + pen_cap * self.excess_load + pen_tw * self.time_warp


@nb.njit(cache=True, nogil=True)
def _evaluate(tour: np.ndarray, lens: np.ndarray, dist: np.ndarray, dur: np.ndarray, demand: np.ndarray,
              early: np.ndarray, late: np.ndarray, service: np.ndarray, capacity: float, max_duration: float,
              has_tw: bool, succ: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    distance = 0.0
    excess = 0.0
    warp = 0.0
    pos = 0
    for r in range(lens.size):
        m = lens[r]
        d, load, tw = route_eval(tour[pos:pos + m], m, dist, dur, demand, early, late, service, max_duration, has_tw)
        distance += d
        if load > capacity:
            excess += load - capacity
        warp += tw
        for k in range(m):
            c = tour[pos + k]
            pred[c] = tour[pos + k - 1] if k > 0 else 0
            succ[c] = tour[pos + k + 1] if k < m - 1 else 0
        pos += m
    return distance, excess, warp


def make_individual(routes: list[np.ndarray], arrays: ProblemArrays) -> Individual:
    """Evaluate ``routes`` (empty ones dropped) into an :class:`Individual`."""
    routes = [np.asarray(r, dtype=np.int64) for r in routes if len(r)]
    n = arrays.n
    succ = np.zeros(n + 1, dtype=np.int64)
    pred = np.zeros(n + 1, dtype=np.int64)
    tour = np.concatenate(routes) if routes else np.zeros(0, dtype=np.int64)
    lens = np.array([r.size for r in routes], dtype=np.int64)
    distance, excess, warp = _evaluate(tour, lens, arrays.dist, arrays.dur, arrays.demand, arrays.early, arrays.late,
                                       arrays.service, arrays.capacity, arrays.max_duration, arrays.has_tw, succ, pred)
    feasible = excess <= _TOL and warp <= _TOL and len(routes) <= arrays.fleet
    return Individual(routes=routes, tour=tour, distance=distance, excess_load=excess, time_warp=warp,
                      feasible=feasible, succ=succ, pred=pred)


def broken_pairs_distance(a: Individual, b: Individual) -> float:
    """Share of clients whose neighbours differ between ``a`` and ``b`` (Prins 2009; Vidal 2012).

    A client counts when its successor in ``a`` is neither its successor nor its predecessor in
    ``b`` (orientation-free), or when it starts a route in ``a`` but not in ``b``.
    """
    n = a.succ.size - 1
    if n <= 0:
        return 0.0
    sa, pa, sb, pb = a.succ[1:], a.pred[1:], b.succ[1:], b.pred[1:]
    broken = ((sa != sb) & (sa != pb)).sum() + ((pa == 0) & (pb != 0) & (sb != 0)).sum()
    return float(broken) / n


def broken_pairs_distances(a: Individual, others: Sequence[Individual]) -> np.ndarray:
    """:func:`broken_pairs_distance` from ``a`` to each of ``others``, vectorised."""
    n = a.succ.size - 1
    if n <= 0 or not others:
        return np.zeros(len(others))
    sb = np.stack([o.succ[1:] for o in others])
    pb = np.stack([o.pred[1:] for o in others])
    sa, pa = a.succ[1:], a.pred[1:]
    broken = ((sa != sb) & (sa != pb)).sum(axis=1) + ((pa == 0) & (pb != 0) & (sb != 0)).sum(axis=1)
    return broken / n
