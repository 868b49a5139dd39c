"""Exact shortest paths in 2D polygonal worlds by visibility graph.

The optimum of a world whose obstacles are boxes and polygons runs through obstacle corners, so
it touches obstacle boundaries: its cost is the infimum that sampling planners (which must stay
strictly clear of obstacles) approach from above. Visibility therefore uses the *open* interiors:
a segment is visible if it does not enter the interior of any obstacle.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from planner.errors import InfeasibleError, ValidationError
from planner.workspace import Box, PlannedPath, PlanningProblem, Polygon

_EPS = 1e-9


def _polygon_vertices(obstacle: Box | Polygon) -> np.ndarray:
    if isinstance(obstacle, Box):
        (x0, y0), (x1, y1) = obstacle.lo, obstacle.hi
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    return obstacle.vertices


def _boundary_distance(poly: np.ndarray, p: np.ndarray) -> float:
    v, w = poly, np.roll(poly, -1, axis=0)
    d = w - v
    t = np.clip(np.sum((p - v) * d, axis=1) / np.sum(d * d, axis=1), 0.0, 1.0)
    return float(np.min(np.linalg.norm(v + t[:, None] * d - p, axis=1)))


def _inside_even_odd(poly: np.ndarray, p: np.ndarray) -> bool:
    v, w = poly, np.roll(poly, -1, axis=0)
    crosses = (v[:, 1] > p[1]) != (w[:, 1] > p[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = v[:, 0] + (p[1] - v[:, 1]) * (w[:, 0] - v[:, 0]) / (w[:, 1] - v[:, 1])
    return bool(np.sum(crosses & (p[0] < xint)) % 2 == 1)


def _strictly_inside(poly: np.ndarray, p: np.ndarray) -> bool:
    return _boundary_distance(poly, p) > _EPS and _inside_even_odd(poly, p)


class _World:
    """Obstacles as polygons plus the bounds, with the open/closed tests visibility needs."""

    def __init__(self, polys: list[np.ndarray], lower: np.ndarray, upper: np.ndarray):
        self.polys = polys
        self.lower, self.upper = lower, upper

    def _closures(self, p: np.ndarray) -> int:
        """How many closed obstacles contain p, counting the outside of the bounds as one."""
        count = sum(1 for poly in self.polys if _boundary_distance(poly, p) <= _EPS or _inside_even_odd(poly, p))
        on_bounds = np.any(np.abs(p - self.lower) <= _EPS) or np.any(np.abs(p - self.upper) <= _EPS)
        return count + int(on_bounds)

    def node_ok(self, p: np.ndarray) -> bool:
        inside_bounds = bool(np.all(p >= self.lower - _EPS) and np.all(p <= self.upper + _EPS))
        return inside_bounds and self._closures(p) <= 1 and not any(_strictly_inside(q, p) for q in self.polys)

    def visible(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether a-b is a limit of collision-free segments: it never enters an obstacle's
        interior and never squeezes through a point where two obstacles (or an obstacle and the
        bounds) touch."""
        ab = b - a
        length2 = float(ab @ ab)
        if length2 == 0:
            return True
        cuts = [0.0, 1.0]
        for poly in self.polys:
            for p, q in zip(poly, np.roll(poly, -1, axis=0), strict=True):
                pq = q - p
                denom = ab[0] * pq[1] - ab[1] * pq[0]
                if abs(denom) > _EPS:
                    t = ((p[0] - a[0]) * pq[1] - (p[1] - a[1]) * pq[0]) / denom
                    u = ((p[0] - a[0]) * ab[1] - (p[1] - a[1]) * ab[0]) / denom
                    if -_EPS <= u <= 1 + _EPS and 0.0 < t < 1.0:
                        cuts.append(t)
                t = float((p - a) @ ab) / length2
                if 0.0 < t < 1.0:
                    cuts.append(t)
        cuts.sort()
        for t in cuts[1:-1]:
            if self._closures(a + t * ab) >= 2:
                return False
        for t0, t1 in itertools.pairwise(cuts):
            if t1 - t0 <= _EPS:
                continue
            m = a + 0.5 * (t0 + t1) * ab
            if any(_strictly_inside(poly, m) for poly in self.polys) or self._closures(m) >= 2:
                return False
        return True


def visibility_graph_optimum(problem: PlanningProblem) -> PlannedPath:
    """The exact shortest path of a 2D world of boxes and polygons.

    Raises
    ------
    ValidationError
        If the world is 3D or has circular obstacles (no finite visibility graph).
    InfeasibleError
        If the goal cannot be reached.
    """
    ws = problem.workspace
    if ws.dim != 2:
        raise ValidationError("workspace", "visibility graphs need a 2D world")
    polys = []
    for i, obstacle in enumerate(ws.obstacles):
        if not isinstance(obstacle, Box | Polygon):
            raise ValidationError(f"obstacles[{i}]", f"{type(obstacle).__name__} is not polygonal")
        polys.append(_polygon_vertices(obstacle))
    world = _World(polys, ws.lower, ws.upper)
    candidates = [problem.start, problem.goal] + [p for poly in polys for p in poly]
    nodes = [p for k, p in enumerate(candidates) if k < 2 or world.node_ok(p)]
    pts = np.asarray(nodes)
    n = len(pts)
    dist = np.full(n, np.inf)
    parent = np.full(n, -1)
    dist[0] = 0.0
    heap = [(0.0, 0)]
    done = np.zeros(n, dtype=bool)
    visible: dict[tuple[int, int], bool] = {}
    while heap:
        d, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        if u == 1:
            break
        for v in range(n):
            if done[v]:
                continue
            key = (min(u, v), max(u, v))
            if key not in visible:
                visible[key] = world.visible(pts[u], pts[v])
            if visible[key]:
                nd = d + float(np.linalg.norm(pts[v] - pts[u]))
                if nd < dist[v]:
                    dist[v], parent[v] = nd, u
                    heapq.heappush(heap, (nd, v))
    if not np.isfinite(dist[1]):
        raise InfeasibleError("goal", "not reachable from the start")
    order = [1]
    while order[-1] != 0:
        order.append(int(parent[order[-1]]))
    return PlannedPath(pts[order[::-1]], planner="visibility-graph")
