"""FMT*: the fast marching tree over a batch of samples (Janson et al., IJRR 2015).

FMT* grows a tree outward in cost-to-come order over a fixed batch of samples: each unvisited
neighbour ``x`` of the expanded node ``z`` connects to its locally best open neighbour, with one
(lazy) collision check. The core runs compiled (numba). :func:`plan_fmt_star` wraps it into an
anytime planner: batches of doubling size, later batches drawn from the informed set of the
best solution so far.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numba as nb
import numpy as np
from scipy.spatial import cKDTree

from planner.budget import Budget
from planner.errors import InfeasibleError, ValidationError
from planner.workspace import PlannedPath, PlanningProblem
from solvers.sampling.collision import CompiledWorld, segment_free
from solvers.sampling.informed import sample_free
from solvers.sampling.smoothing import simplify_path
from solvers.sampling.stop import StopCondition


@dataclass(frozen=True)
class FmtParams:
    """Parameters of FMT*.

    Parameters
    ----------
    n_samples
        Samples of the first batch (later batches double it).
    radius_factor
        ``eta`` of the connection radius ``r = 2 (1 + eta) (1/d)^(1/d) (mu/zeta_d)^(1/d)
        (log n / n)^(1/d)``.
    informed
        Draw later batches from the informed set of the best solution.
    simplify
        Shortcut and tighten the returned path (exact collision checks throughout).
    max_batches
        Batches at most; the time limit usually ends the run first.
    stop
        Stop early at the first solution or at a cost threshold.
    """

    n_samples: int = 2000
    radius_factor: float = 0.1
    informed: bool = True
    simplify: bool = True
    max_batches: int = 30
    stop: StopCondition = field(default_factory=StopCondition)

    def __post_init__(self) -> None:
        if self.n_samples < 10:
            raise ValidationError("n_samples", f"must be at least 10 ({self.n_samples})")
        if self.radius_factor < 0:
            raise ValidationError("radius_factor", f"must be non-negative ({self.radius_factor})")


@dataclass(frozen=True)
class FmtTree:
    """Result of one FMT* batch: samples, the tree, and costs-to-come."""

    points: np.ndarray
    parent: np.ndarray
    cost: np.ndarray
    goal: int

    def edges(self) -> np.ndarray:
        """``(m, 2, dim)`` segments of the tree."""
        child = np.flatnonzero(self.parent >= 0)
        return np.stack([self.points[self.parent[child]], self.points[child]], axis=1)

    def path(self) -> np.ndarray | None:
        """Waypoints from start to goal, or ``None`` if the goal was not reached."""
        if not np.isfinite(self.cost[self.goal]):
            return None
        order = [self.goal]
        while self.parent[order[-1]] >= 0:
            order.append(int(self.parent[order[-1]]))
        return self.points[order[::-1]]


def connection_radius(n: int, dim: int, free_volume: float, eta: float) -> float:
    """FMT*'s connection radius for ``n`` samples in ``dim`` dimensions."""
    zeta = math.pi ** (dim / 2) / math.gamma(dim / 2 + 1)
    return 2 * (1 + eta) * (1 / dim) ** (1 / dim) * (free_volume / zeta) ** (1 / dim) * (math.log(n) / n) ** (1 / dim)


def neighbour_graph(points: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR neighbourhoods within ``radius`` (excluding self): indptr, indices, distances."""
    tree = cKDTree(points)
    pairs = tree.query_pairs(radius, output_type="ndarray")
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.argsort(i, kind="stable")
    i, j = i[order], j[order]
    indptr = np.zeros(len(points) + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=len(points)), out=indptr[1:])
    dist = np.linalg.norm(points[i] - points[j], axis=1)
    return indptr, j.astype(np.int64), dist


@nb.njit(cache=True)
def fmt_core(points, indptr, indices, dist, valid, start, goal,
             lower, upper, box_lo, box_hi, ball_center, ball_radius, poly_edges, poly_ptr):
    """The FMT* expansion from ``start`` until ``goal`` is reached (``goal = -1``: until every
    reachable valid sample is in the tree); returns (parent, cost, collision checks).
    Samples with ``valid[i] == False`` (inside obstacles) take no part."""
    n = points.shape[0]
    parent = np.full(n, -1, dtype=np.int64)
    cost = np.full(n, np.inf)
    state = np.zeros(n, dtype=np.int8)  # 0 unvisited, 1 open, 2 closed
    for i in range(n):
        if not valid[i]:
            state[i] = 2
    cost[start] = 0.0
    state[start] = 1
    heap = [(0.0, start)]
    fresh = np.empty(n, dtype=np.int64)
    checks = 0
    while len(heap) > 0:
        _, z = heapq.heappop(heap)
        if z == goal:
            break
        n_fresh = 0
        for e in range(indptr[z], indptr[z + 1]):
            x = indices[e]
            if state[x] != 0:
                continue
            best, best_cost = -1, np.inf
            for f in range(indptr[x], indptr[x + 1]):
                y = indices[f]
                if state[y] == 1 and cost[y] + dist[f] < best_cost:
                    best, best_cost = y, cost[y] + dist[f]
            if best >= 0:
                checks += 1
                if segment_free(points[best], points[x], lower, upper, box_lo, box_hi, ball_center,
                                ball_radius, poly_edges, poly_ptr):
                    parent[x] = best
                    cost[x] = best_cost
                    fresh[n_fresh] = x
                    n_fresh += 1
        for k in range(n_fresh):
            state[fresh[k]] = 1
            heapq.heappush(heap, (cost[fresh[k]], fresh[k]))
        state[z] = 2
    return parent, cost, checks


def fmt_star_batch(problem: PlanningProblem, world: CompiledWorld, samples: np.ndarray,
                   eta: float = 0.1, free_volume: float | None = None) -> FmtTree:
    """One FMT* run over ``samples`` (free ones are kept) plus start (index 0) and goal (last)."""
    ws = problem.workspace
    samples = samples[world.points_free(samples)]
    points = np.vstack([problem.start, samples, problem.goal])
    volume = float(np.prod(ws.upper - ws.lower)) if free_volume is None else free_volume
    radius = connection_radius(len(points), ws.dim, volume, eta)
    indptr, indices, dist = neighbour_graph(points, radius)
    goal = len(points) - 1
    valid = np.ones(len(points), dtype=np.bool_)
    parent, cost, _ = fmt_core(points, indptr, indices, dist, valid, 0, goal, *world.arrays())
    return FmtTree(points, parent, cost, goal)


def plan_fmt_star(problem: PlanningProblem, budget: Budget, params: FmtParams | None = None) -> PlannedPath:
    """Anytime FMT*: doubling batches, informed after the first solution.

    With no time or iteration limit in ``budget``, runs a single batch (plain FMT*).

    Raises
    ------
    InfeasibleError
        If no batch reached the goal before the budget ran out.
    """
    params = params or FmtParams()
    rng = np.random.default_rng(budget.seed)
    world = CompiledWorld.from_workspace(problem.workspace)
    # loading machine code is not planning time: run the kernels once on two points
    two = np.vstack([problem.start, problem.goal])
    fmt_core(two, np.zeros(3, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), np.ones(2, dtype=np.bool_),
             0, 1, *world.arrays())
    simplify_path(two, world)
    clock = budget.start()
    ws = problem.workspace
    single = budget.time_limit is None and budget.max_iterations is None
    best: np.ndarray | None = None
    best_tree: FmtTree | None = None
    best_cost = np.inf
    n = params.n_samples
    kept = np.zeros((0, ws.dim))
    batch = 0
    while batch < params.max_batches:
        batch_started = clock.elapsed()
        informed_cost = best_cost if params.informed else np.inf
        fresh = sample_free(n, ws.lower, ws.upper, rng, problem.start, problem.goal, informed_cost)
        if np.isfinite(informed_cost) and len(kept):  # keep earlier samples that can still help
            useful = (np.linalg.norm(kept - problem.start, axis=1)
                      + np.linalg.norm(kept - problem.goal, axis=1)) < informed_cost
            kept = kept[useful]
        samples = np.vstack([kept, fresh])
        tree = fmt_star_batch(problem, world, samples, params.radius_factor)
        kept = tree.points[1:-1]
        path = tree.path()
        if path is not None:
            if params.simplify:
                path = simplify_path(path, world, deadline=time.perf_counter() + max(clock.remaining(), 0.0))
            cost = float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)))
            if cost < best_cost:
                best, best_cost, best_tree = path, cost, tree
                clock.report(batch, objective=best_cost)
        batch += 1
        if single or clock.should_stop(batch) or params.stop.reached(best_cost):
            break
        # the next batch (about twice the samples) must fit in the remaining time
        if 2.2 * (clock.elapsed() - batch_started) > clock.remaining():
            break
    if best is None:
        raise InfeasibleError("goal", f"not reached by FMT* with up to {n} samples")
    return PlannedPath(best, planner="fmt*", runtime_s=clock.elapsed(),
                       tree=None if best_tree is None else best_tree.edges())
