"""Optimal split of a giant tour into routes (Prins 2004; Vidal 2016), with penalties.

The giant tour visits every client once; the split cuts it into consecutive routes minimising
the penalised cost ``distance + capacity_penalty * excess_load + tw_penalty * time_warp`` by a
Bellman shortest path over the cut points. Routes are extended from each cut point while their
load stays below ``max_load_factor * capacity`` (the bound ``B`` of the ``O(nB)`` variant), so the
time is ``O(n B)`` with ``B`` the longest route considered. Time warp is accumulated forward, so
the same pass handles time windows.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from solvers.vrp.ga.problem_arrays import ProblemArrays

#: Routes are extended while their load is at most this multiple of the capacity.
MAX_LOAD_FACTOR = 1.5


@nb.njit(cache=True, nogil=True)
def _split_kernel(tour: np.ndarray, dist: np.ndarray, dur: np.ndarray, demand: np.ndarray,
                  early: np.ndarray, late: np.ndarray, service: np.ndarray, capacity: float,
                  max_duration: float, has_tw: bool, pen_cap: float, pen_tw: float,
                  max_load: float) -> np.ndarray:
    n = tour.size
    best = np.full(n + 1, np.inf)
    pred = np.zeros(n + 1, dtype=np.int64)
    best[0] = 0.0
    for i in range(n):
        if best[i] == np.inf:
            continue
        load = 0.0
        d = 0.0
        tw = 0.0
        t = early[0]
        prev = 0
        for j in range(i, n):
            c = tour[j]
            load += demand[c]
            if j > i and load > max_load:
                break
            d += dist[prev, c]
            if has_tw:
                t += dur[prev, c]
                if t < early[c]:
                    t = early[c]
                if t > late[c]:
                    tw += t - late[c]
                    t = late[c]
                t += service[c]
            prev = c
            total_tw = tw
            if has_tw:
                back = t + dur[c, 0]
                if back > late[0]:
                    total_tw += back - late[0]
                    back = late[0]
                if back - early[0] > max_duration:
                    total_tw += back - early[0] - max_duration
            excess = load - capacity
            if excess < 0.0:
                excess = 0.0
            cost = best[i] + d + dist[c, 0] + pen_cap * excess + pen_tw * total_tw
            if cost < best[j + 1]:
                best[j + 1] = cost
                pred[j + 1] = i
    return pred


def split_tour(tour: np.ndarray, arrays: ProblemArrays, pen_cap: float, pen_tw: float) -> list[np.ndarray]:
    """Routes of minimum penalised cost that visit ``tour`` in order.

    Parameters
    ----------
    tour
        Giant tour: every client ``1..n`` once.
    arrays
        The instance.
    pen_cap, pen_tw
        Penalty per unit of excess load and of time warp.

    Returns
    -------
    list of numpy.ndarray
        The routes, in tour order.
    """
    tour = np.ascontiguousarray(tour, dtype=np.int64)
    pred = _split_kernel(tour, arrays.dist, arrays.dur, arrays.demand, arrays.early, arrays.late,
                         arrays.service, arrays.capacity, arrays.max_duration, arrays.has_tw,
                         pen_cap, pen_tw, MAX_LOAD_FACTOR * arrays.capacity)
    cuts = []
    j = tour.size
    while j > 0:
        i = int(pred[j])
        cuts.append((i, j))
        j = i
    return [tour[i:j].copy() for i, j in reversed(cuts)]


def split_cost_py(tour: list[int], arrays: ProblemArrays, pen_cap: float, pen_tw: float) -> float:
    """Optimal penalised split cost by a plain-Python Bellman recursion over all cut points.

    The test oracle of :func:`split_tour`: no load bound, every route ``tour[i:j]`` considered,
    each evaluated from scratch with :func:`~solvers.vrp.ga.route_eval.route_eval_py`.
    """
    from solvers.vrp.ga.route_eval import route_eval_py

    n = len(tour)
    best = [0.0] + [float("inf")] * n
    for j in range(1, n + 1):
        for i in range(j):
            route = tour[i:j]
            if i < j - 1 and sum(float(arrays.demand[c]) for c in route) > MAX_LOAD_FACTOR * arrays.capacity:
                continue
            d, load, tw = route_eval_py(route, arrays.dist, arrays.dur, arrays.demand, arrays.early, arrays.late,
                                        arrays.service, arrays.max_duration, arrays.has_tw)
            cost = best[i] + d + pen_cap * max(0.0, load - arrays.capacity) + pen_tw * tw
            best[j] = min(best[j], cost)
    return best[n]
