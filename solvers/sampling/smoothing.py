"""Path post-processing: shortcutting and tightening under exact collision checks.

Every modification is accepted only if the changed segments pass the exact check, so a
simplified path is as collision-free as the input and never longer.
"""

from __future__ import annotations

import math
import time

import numba as nb
import numpy as np

from solvers.sampling.collision import CompiledWorld, segment_free


def path_cost(waypoints: np.ndarray) -> float:
    """Euclidean length of a polyline."""
    return float(np.sum(np.linalg.norm(np.diff(waypoints, axis=0), axis=1)))


def shortcut(waypoints: np.ndarray, world: CompiledWorld) -> np.ndarray:
    """Greedy shortcutting: from each kept waypoint jump to the farthest one in sight."""
    keep = [0]
    i, last = 0, len(waypoints) - 1
    while i < last:
        j = last
        while j > i + 1 and not world.segment_free(waypoints[i], waypoints[j]):
            j -= 1
        keep.append(j)
        i = j
    return waypoints[keep]


def tighten(waypoints: np.ndarray, world: CompiledWorld, passes: int = 200, tol: float = 1e-10,
            deadline: float = math.inf) -> np.ndarray:
    """Pull interior waypoints taut: each moves along the negative gradient of the length of its
    two segments, or along one axis component of it (sliding along an axis-aligned face toward a
    corner), with step halving, until no move shortens the path by more than ``tol``, or
    ``passes`` passes are done, or ``time.perf_counter()`` passes ``deadline``."""
    w = np.ascontiguousarray(waypoints, dtype=np.float64).copy()
    scale = float(np.max(world.upper - world.lower))
    done = 0
    while done < passes and time.perf_counter() < deadline:
        if not _tighten(w, scale, min(10, passes - done), tol, *world.arrays()):
            break
        done += 10
    return w


@nb.njit(cache=True)
def _tighten(w, scale, passes, tol, lower, upper, box_lo, box_hi, ball_center, ball_radius,
             poly_edges, poly_ptr):
    n, dim = w.shape
    d = np.empty(dim)
    x = np.empty(dim)
    gained = 0.0
    for _ in range(passes):
        gained = 0.0
        for k in range(1, n - 1):
            before = np.linalg.norm(w[k] - w[k - 1]) + np.linalg.norm(w[k + 1] - w[k])
            u = w[k] - w[k - 1]
            v = w[k] - w[k + 1]
            g = u / max(np.linalg.norm(u), 1e-300) + v / max(np.linalg.norm(v), 1e-300)
            gn = np.linalg.norm(g)
            if gn < 1e-15:
                continue
            moved = False
            for c in range(dim + 1):  # c == 0: full gradient; c >= 1: one axis component
                for j in range(dim):
                    d[j] = -g[j] / gn if (c == 0 or j == c - 1) else 0.0
                dn = np.linalg.norm(d)
                if dn < 1e-12:
                    continue
                s = scale / 8.0
                while s > scale * 1e-10:
                    for j in range(dim):
                        x[j] = w[k, j] + s * d[j] / dn
                    after = np.linalg.norm(x - w[k - 1]) + np.linalg.norm(w[k + 1] - x)
                    if after < before - tol and segment_free(
                        w[k - 1], x, lower, upper, box_lo, box_hi, ball_center, ball_radius, poly_edges, poly_ptr
                    ) and segment_free(
                        x, w[k + 1], lower, upper, box_lo, box_hi, ball_center, ball_radius, poly_edges, poly_ptr
                    ):
                        gained += before - after
                        w[k] = x
                        moved = True
                        break
                    s *= 0.5
                if moved:
                    break
        if gained <= tol:
            return False
    return True


def subdivide(waypoints: np.ndarray) -> np.ndarray:
    """Insert the midpoint of every segment (gives tightening room to wrap two corners)."""
    mids = 0.5 * (waypoints[:-1] + waypoints[1:])
    out = np.empty((2 * len(waypoints) - 1, waypoints.shape[1]))
    out[0::2] = waypoints
    out[1::2] = mids
    return out


def simplify_path(waypoints: np.ndarray, world: CompiledWorld, rounds: int = 3,
                  deadline: float = math.inf) -> np.ndarray:
    """Shortcut, then tighten, a few rounds (tightening can open new shortcuts); stops
    tightening at ``deadline`` (a ``time.perf_counter()`` value)."""
    w = shortcut(np.asarray(waypoints, dtype=np.float64), world)
    for _ in range(rounds):
        if time.perf_counter() >= deadline:
            break
        tightened = shortcut(tighten(subdivide(w), world, deadline=deadline), world)
        if path_cost(tightened) >= path_cost(w) - 1e-12:
            break
        w = tightened
    return w
