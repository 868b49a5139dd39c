"""Compiled evaluation of one route: distance, load and time warp.

Time warp (Vidal et al. 2013): a vehicle that arrives after a client's latest time is allowed to
"travel back in time" to that latest time; the amount travelled back is the route's time warp.
A route is time-feasible exactly when its time warp is 0. The depot's closing time and the
maximum route duration add their excess to the time warp too. The schedule is the one of
:func:`planner.vrp.route_schedule`: leave the depot at its earliest time, wait when early.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def route_eval(seq: np.ndarray, m: int, dist: np.ndarray, dur: np.ndarray, demand: np.ndarray,
               early: np.ndarray, late: np.ndarray, service: np.ndarray, max_duration: float,
               has_tw: bool) -> tuple[float, float, float]:
    """Distance, load and time warp of the route ``seq[:m]`` (clients only, depot implied)."""
    d = 0.0
    load = 0.0
    tw = 0.0
    prev = 0
    t = early[0]
    for k in range(m):
        c = seq[k]
        d += dist[prev, c]
        load += demand[c]
        if has_tw:
            t += dur[prev, c]
            if t < early[c]:
                t = early[c]
            if t > late[c]:
                tw += t - late[c]
                t = late[c]
            t += service[c]
        prev = c
    d += dist[prev, 0]
    if has_tw and m > 0:
        t += dur[prev, 0]
        if t > late[0]:
            tw += t - late[0]
            t = late[0]
        if t - early[0] > max_duration:
            tw += t - early[0] - max_duration
    return d, load, tw


def route_eval_py(route: list[int], dist: np.ndarray, dur: np.ndarray, demand: np.ndarray,
                  early: np.ndarray, late: np.ndarray, service: np.ndarray, max_duration: float,
                  has_tw: bool) -> tuple[float, float, float]:
    """Pure-Python twin of :func:`route_eval` (the test oracle)."""
    d = load = tw = 0.0
    prev = 0
    t = float(early[0])
    for c in route:
        d += float(dist[prev, c])
        load += float(demand[c])
        if has_tw:
            t = max(t + float(dur[prev, c]), float(early[c]))
            if t > late[c]:
                tw += t - float(late[c])
                t = float(late[c])
            t += float(service[c])
        prev = c
    d += float(dist[prev, 0])
    if has_tw and route:
        t += float(dur[prev, 0])
        if t > late[0]:
            tw += t - float(late[0])
            t = float(late[0])
        if t - early[0] > max_duration:
            tw += t - float(early[0]) - max_duration
    return d, load, tw
