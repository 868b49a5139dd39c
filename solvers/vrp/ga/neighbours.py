"""Granular neighbourhoods: the clients each client's moves are tried with."""

from __future__ import annotations

import numpy as np

from solvers.vrp.ga.problem_arrays import ProblemArrays

#: Weight of the waiting time and of the time-window violation in the proximity (Vidal 2013).
WAIT_WEIGHT = 0.2
WARP_WEIGHT = 1.0


def granular_neighbours(arrays: ProblemArrays, size: int = 20) -> np.ndarray:
    """The ``size`` closest clients of every client.

    Proximity of ``v`` to ``u`` is the distance ``d[u, v]``, plus, with time windows, the
    minimum waiting time and time warp of serving ``v`` right after ``u`` (weighted by
    :data:`WAIT_WEIGHT` and :data:`WARP_WEIGHT`); the smaller of both directions is used.

    Returns
    -------
    numpy.ndarray
        ``(n+1, size)`` client indices (row 0 and missing entries ``-1``).
    """
    n = arrays.n
    size = max(1, min(size, n - 1)) if n > 1 else 1
    out = np.full((n + 1, size), -1, dtype=np.int64)
    if n < 2:
        return out
    d = arrays.dist[1:, 1:]
    prox = d.copy()
    if arrays.has_tw:
        early, late, s = arrays.early[1:], arrays.late[1:], arrays.service[1:]
        t = arrays.dur[1:, 1:]
        wait = np.maximum(early[None, :] - s[:, None] - t - late[:, None], 0.0)
        warp = np.maximum(early[:, None] + s[:, None] + t - late[None, :], 0.0)
        prox = d + WAIT_WEIGHT * wait + WARP_WEIGHT * warp
    prox = np.minimum(prox, prox.T)
    np.fill_diagonal(prox, np.inf)
    idx = np.argpartition(prox, size - 1, axis=1)[:, :size] if size < n - 1 else np.argsort(prox, axis=1)[:, :size]
    rows = np.arange(n)[:, None]
    idx = idx[rows, np.argsort(prox[rows, idx], axis=1)]
    out[1:] = idx + 1
    return out
