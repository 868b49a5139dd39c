"""FMT^x: FMT* with repair after obstacles are added, moved or removed.

A :class:`ReplanningSession` keeps one batch of samples, its r-disk neighbour graph and a
cost-to-come tree over *every* reachable sample (not only up to the goal). When the world
changes, only the part of the tree whose cost-to-come may have changed is re-evaluated:

- an obstacle added: the subtrees hanging below tree edges it blocks (and samples now inside
  it) are orphaned; the valid nodes bordering them seed a cost-ordered queue, and orphans are
  reconnected in cost order, exactly as FMT* would grow into them;
- an obstacle removed: samples inside it become valid, and every node within the connection
  radius of the freed region is re-queued with its current cost, so cost decreases propagate
  outward through the tree (a decrease-key wave; untouched regions are never visited).

The repaired tree is a shortest-path tree of the r-disk graph over the affected nodes given
the unaffected ones, so its cost is at most what a full FMT* replan over the same samples finds
(up to FMT*'s own one-check approximation, in the other direction).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numba as nb
import numpy as np

from planner.errors import InfeasibleError, ValidationError
from planner.workspace import Obstacle, PlannedPath, PlanningProblem
from solvers.sampling.collision import CompiledWorld, segment_free
from solvers.sampling.fmt_star import connection_radius, fmt_core, neighbour_graph


@nb.njit(cache=True, inline="always")
def _sift_up(keys, nodes, i) -> None:
    while i > 0:
        up = (i - 1) >> 1
        if keys[up] <= keys[i]:
            break
        keys[up], keys[i] = keys[i], keys[up]
        nodes[up], nodes[i] = nodes[i], nodes[up]
        i = up


@nb.njit(cache=True)
def _push(keys, nodes, size, key, node) -> bool:
    i = size[0]
    if i >= keys.shape[0]:
        return False
    keys[i] = key
    nodes[i] = node
    size[0] = i + 1
    _sift_up(keys, nodes, i)
    return True


@nb.njit(cache=True)
def _pop(keys, nodes, size):
    key, node = keys[0], nodes[0]
    last = size[0] - 1
    keys[0], nodes[0] = keys[last], nodes[last]
    size[0] = last
    i = 0
    while True:
        left = 2 * i + 1
        if left >= last:
            break
        child = left + 1 if left + 1 < last and keys[left + 1] < keys[left] else left
        if keys[i] <= keys[child]:
            break
        keys[i], keys[child] = keys[child], keys[i]
        nodes[i], nodes[child] = nodes[child], nodes[i]
        i = child
    return key, node


@nb.njit(cache=True)
def _push_many(keys, nodes, size, cost, h, seeds) -> None:
    for v in seeds:
        _push(keys, nodes, size, cost[v] + h[v], v)


@nb.njit(cache=True)
def _trace(parent, goal) -> np.ndarray:
    """Node indices from the root to ``goal`` along parent pointers."""
    n = 1
    v = goal
    while parent[v] >= 0:
        v = parent[v]
        n += 1
    out = np.empty(n, dtype=np.int64)
    v = goal
    for k in range(n - 1, -1, -1):
        out[k] = v
        v = parent[v]
    return out


@nb.njit(cache=True)
def _repair(points, indptr, indices, dist, valid, parent, cost, h, goal, keys, nodes, size,
            lower, upper, box_lo, box_hi, ball_center, ball_radius, poly_edges, poly_ptr):
    """Goal-directed lazy relaxation: pop (cost + h) in order until no queued entry can improve
    the goal. Entries left in the queue stay for later updates. Returns (checks, complete)."""
    checks = 0
    while size[0] > 0 and keys[0] < cost[goal]:
        key, z = _pop(keys, nodes, size)
        c = cost[z]
        if not np.isfinite(c) or key != c + h[z]:
            continue  # stale entry
        for e in range(indptr[z], indptr[z + 1]):
            x = indices[e]
            if not valid[x]:
                continue
            nc = c + dist[e]
            if nc < cost[x] - 1e-12:
                checks += 1
                if segment_free(points[z], points[x], lower, upper, box_lo, box_hi, ball_center, ball_radius,
                                poly_edges, poly_ptr):
                    cost[x] = nc
                    parent[x] = z
                    if not _push(keys, nodes, size, nc + h[x], x):
                        return checks, False
    return checks, True


@nb.njit(cache=True)
def _subtree_mask(parent, roots) -> np.ndarray:
    """Mask of ``roots`` and all their descendants (children found from the parent array)."""
    n = parent.shape[0]
    count = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        if parent[v] >= 0:
            count[parent[v] + 1] += 1
    for v in range(n):
        count[v + 1] += count[v]
    fill = count[:-1].copy()
    children = np.empty(count[n], dtype=np.int64)
    for v in range(n):
        if parent[v] >= 0:
            children[fill[parent[v]]] = v
            fill[parent[v]] += 1
    mask = np.zeros(n, dtype=np.bool_)
    stack = list(roots)
    for r in roots:
        mask[r] = True
    while len(stack) > 0:
        u = stack.pop()
        for k in range(count[u], count[u + 1]):
            c = children[k]
            if not mask[c]:
                mask[c] = True
                stack.append(c)
    return mask


@nb.njit(cache=True)
def _border(indptr, indices, orphans, cost, valid) -> np.ndarray:
    """Valid, connected nodes adjacent to an orphan."""
    n = orphans.shape[0]
    seen = np.zeros(n, dtype=np.bool_)
    for v in range(n):
        if orphans[v]:
            for e in range(indptr[v], indptr[v + 1]):
                x = indices[e]
                if not orphans[x] and valid[x] and np.isfinite(cost[x]):
                    seen[x] = True
    return np.flatnonzero(seen)


@dataclass(frozen=True)
class RepairReport:
    """What one obstacle update cost.

    Parameters
    ----------
    repair_s
        Wall time of the repair (orphaning, queueing, reconnecting, path extraction).
    affected
        Nodes whose tree position was re-evaluated.
    path
        The repaired path.
    """

    repair_s: float
    affected: int
    path: PlannedPath


class ReplanningSession:
    """Plan once with FMT*, then repair the plan as obstacles change.

    Parameters
    ----------
    problem
        Start, goal and the initial workspace.
    n_samples
        Samples of the batch shared by the plan and every repair.
    seed
        Sampling seed.
    radius_factor
        FMT*'s ``eta`` (see :func:`~solvers.sampling.fmt_star.connection_radius`).

    Notes
    -----
    Repairs are goal-directed: the queue is ordered by cost-to-come plus the straight-line
    distance to the goal (a consistent heuristic), and stops once no queued node can improve
    the goal. What is left in the queue is kept for the next update, so the tree stays exact
    wherever it can matter.
    """

    def __init__(self, problem: PlanningProblem, n_samples: int = 4000, seed: int = 0,
                 radius_factor: float = 0.1):
        if n_samples < 10:
            raise ValidationError("n_samples", f"must be at least 10 ({n_samples})")
        self.problem = problem
        ws = problem.workspace
        rng = np.random.default_rng(seed)
        samples = rng.uniform(ws.lower, ws.upper, (n_samples, ws.dim))
        self.points = np.vstack([problem.start, samples, problem.goal])
        self.goal = len(self.points) - 1
        self.h = np.linalg.norm(self.points - problem.goal, axis=1)
        self.radius = connection_radius(len(self.points), ws.dim, float(np.prod(ws.upper - ws.lower)),
                                        radius_factor)
        self.indptr, self.indices, self.dist = neighbour_graph(self.points, self.radius)
        self.workspace = ws
        self.world = CompiledWorld.from_workspace(ws)
        self.valid = self.world.points_free(self.points)
        self.parent = np.full(len(self.points), -1, dtype=np.int64)
        self.cost = np.full(len(self.points), np.inf)
        capacity = 2 * self.indices.size + 4 * len(self.points)
        self._keys = np.empty(capacity)
        self._nodes = np.empty(capacity, dtype=np.int64)
        self._size = np.zeros(1, dtype=np.int64)

    def plan(self) -> PlannedPath:
        """FMT* over the whole batch (the tree covers every reachable sample)."""
        self.parent, self.cost, _ = fmt_core(self.points, self.indptr, self.indices, self.dist, self.valid,
                                             0, -1, *self.world.arrays())
        self._size[0] = 0
        return self.path()

    def path(self) -> PlannedPath:
        """The current path from start to goal.

        Raises
        ------
        InfeasibleError
            If the goal is not reachable in the current world over these samples.
        """
        if not np.isfinite(self.cost[self.goal]):
            raise InfeasibleError("goal", "not reachable over the current samples and obstacles")
        return PlannedPath(self.points[_trace(self.parent, self.goal)], planner="fmtx")

    def tree_edges(self) -> np.ndarray:
        """``(m, 2, dim)`` segments of the current tree, for drawing."""
        child = np.flatnonzero(self.parent >= 0)
        return np.stack([self.points[self.parent[child]], self.points[child]], axis=1)

    def full_replan(self, reuse_neighbours: bool = True) -> PlannedPath:
        """FMT* from scratch over the same samples in the current world, stopping at the goal:
        the baseline a repair is compared with. Leaves the session's tree unchanged.

        Parameters
        ----------
        reuse_neighbours
            Reuse the session's neighbour graph and sample validity (the cheapest possible
            replan). With ``False`` the replan also classifies the samples and searches their
            neighbourhoods, as a planner run from scratch over those samples does.
        """
        if reuse_neighbours:
            valid, indptr, indices, dist = self.valid, self.indptr, self.indices, self.dist
        else:
            valid = self.world.points_free(self.points)
            indptr, indices, dist = neighbour_graph(self.points, self.radius)
        parent, cost, _ = fmt_core(self.points, indptr, indices, dist, valid, 0, self.goal, *self.world.arrays())
        if not np.isfinite(cost[self.goal]):
            raise InfeasibleError("goal", "not reachable over the current samples and obstacles")
        return PlannedPath(self.points[_trace(parent, self.goal)], planner="fmt*")

    def update_obstacles(self, added: Sequence[Obstacle] = (), removed: Sequence[int] = ()) -> RepairReport:
        """Add obstacles and remove others (by index in the current workspace), then repair.

        A moved obstacle is a removal plus an addition.

        Raises
        ------
        ValidationError
            If a removed index does not exist, or an added obstacle covers the start or goal.
        InfeasibleError
            If the goal is no longer reachable over the samples.
        """
        ws = self.workspace
        bad = [i for i in removed if not 0 <= i < len(ws.obstacles)]
        if bad:
            raise ValidationError("removed", f"no obstacle with index {bad[0]} (have {len(ws.obstacles)})")
        for k, obstacle in enumerate(added):
            if obstacle.dim != ws.dim:
                raise ValidationError(f"added[{k}]", f"dimension {obstacle.dim} in a {ws.dim}D workspace")
            for name, point in (("start", self.problem.start), ("goal", self.problem.goal)):
                if obstacle.contains(point)[0]:
                    raise ValidationError(f"added[{k}]", f"covers the {name} {point.tolist()}")
        started = time.perf_counter()
        gone = [ws.obstacles[i] for i in removed]
        kept = tuple(o for i, o in enumerate(ws.obstacles) if i not in set(removed))
        self.workspace = replace(ws, obstacles=kept + tuple(added))
        self.world = CompiledWorld.from_workspace(self.workspace)
        affected = 0
        for obstacle in added:  # newly covered samples: only these can have become invalid
            self.valid &= ~obstacle.contains(self.points)
        if gone:  # samples in a removed obstacle may be free now, if no other obstacle covers them
            lo, hi = self._region(gone, 0.0)
            inside = np.flatnonzero(np.all((self.points >= lo) & (self.points <= hi), axis=1))
            self.valid[inside] = self.world.points_free(self.points[inside])
        if added:
            affected += self._orphan_blocked(added)
        if gone:
            lo, hi = self._region(gone, self.radius)
            near = np.flatnonzero(np.all((self.points >= lo) & (self.points <= hi), axis=1)
                                  & self.valid & np.isfinite(self.cost))
            self._enqueue(near)
            affected += near.size
        self._run_repair()
        path = self.path()
        return RepairReport(time.perf_counter() - started, affected, path)

    def _enqueue(self, seeds: np.ndarray) -> None:
        if self._size[0] + seeds.size + len(self.points) > self._keys.size:
            self._compact()
        _push_many(self._keys, self._nodes, self._size, self.cost, self.h, seeds.astype(np.int64))

    def _compact(self) -> None:
        """Drop stale queue entries (the sorted array of live ones is a valid heap)."""
        keys, nodes = self._keys[: self._size[0]], self._nodes[: self._size[0]]
        live = np.isfinite(self.cost[nodes]) & (keys == self.cost[nodes] + self.h[nodes])
        keys, nodes = keys[live], nodes[live]
        order = np.argsort(keys, kind="stable")
        m = order.size
        self._keys[:m], self._nodes[:m] = keys[order], nodes[order]
        self._size[0] = m

    def _run_repair(self) -> None:
        while True:
            _, complete = _repair(self.points, self.indptr, self.indices, self.dist, self.valid, self.parent,
                                  self.cost, self.h, self.goal, self._keys, self._nodes, self._size,
                                  *self.world.arrays())
            if complete:
                return
            self._compact()

    def _orphan_blocked(self, added: Sequence[Obstacle]) -> int:
        lo, hi = self._region(added, self.radius)
        candidates = np.flatnonzero((self.parent >= 0)
                                    & np.all((self.points >= lo) & (self.points <= hi), axis=1))
        a, b = self.points[self.parent[candidates]], self.points[candidates]
        blocked = np.zeros(candidates.size, dtype=bool)
        for obstacle in added:
            blocked |= obstacle.hits_segments(a, b)
        roots = np.concatenate([candidates[blocked], np.flatnonzero(~self.valid & np.isfinite(self.cost))])
        if roots.size == 0:
            return 0
        orphans = _subtree_mask(self.parent, roots.astype(np.int64))
        self.cost[orphans] = np.inf
        self.parent[orphans] = -1
        self._enqueue(_border(self.indptr, self.indices, orphans, self.cost, self.valid))
        return int(orphans.sum())

    @staticmethod
    def _region(obstacles: Sequence[Obstacle], margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Bounding box of the obstacles, grown by ``margin``."""
        from planner.workspace import Ball, Box

        lows, highs = [], []
        for o in obstacles:
            if isinstance(o, Box):
                lows.append(o.lo)
                highs.append(o.hi)
            elif isinstance(o, Ball):
                lows.append(o.center - o.radius)
                highs.append(o.center + o.radius)
            else:
                lows.append(o.vertices.min(axis=0))
                highs.append(o.vertices.max(axis=0))
        return np.min(lows, axis=0) - margin, np.max(highs, axis=0) + margin
