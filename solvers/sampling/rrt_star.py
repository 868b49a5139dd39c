"""RRT* and Informed RRT*.

RRT* (Karaman & Frazzoli, IJRR 2011) grows a tree by steering toward random samples, choosing
each new node's parent among its neighbours within the shrinking radius
``r = min(gamma (log n / n)^(1/d), step)`` and rewiring those neighbours through it. Informed
RRT* (Gammell et al., IROS 2014) is the same tree, but once a solution of cost ``c_best``
exists every sample is drawn directly from the prolate hyperspheroid that contains all states
that could improve it.

The tree lives in preallocated arrays; iterations run compiled (numba) in chunks, between which
the Python driver checks the clock, the cancel flag and reports progress.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numba as nb
import numpy as np

from planner.budget import Budget
from planner.errors import InfeasibleError, ValidationError
from planner.workspace import PlannedPath, PlanningProblem
from solvers.sampling.collision import CompiledWorld, segment_free
from solvers.sampling.informed import rotation_to_world_frame
from solvers.sampling.smoothing import simplify_path
from solvers.sampling.stop import StopCondition


@dataclass(frozen=True)
class RrtStarParams:
    """Parameters of RRT* / Informed RRT*.

    Parameters
    ----------
    informed
        Sample the informed set once a solution exists (Informed RRT*).
    step
        Steering range as a fraction of the workspace diagonal (OMPL's default is 0.2).
    goal_bias
        Probability of sampling the goal before the first solution.
    max_nodes
        Tree size at most.
    chunk
        Iterations per compiled call between clock checks.
    simplify
        Shortcut and tighten the returned path.
    stop
        Stop early at the first solution or at a cost threshold.
    """

    informed: bool = True
    step: float = 0.2
    goal_bias: float = 0.05
    max_nodes: int = 200_000
    chunk: int = 256
    simplify: bool = False
    stop: StopCondition = field(default_factory=StopCondition)

    def __post_init__(self) -> None:
        if not 0 < self.step <= 1:
            raise ValidationError("step", f"must be in (0, 1] ({self.step})")
        if not 0 <= self.goal_bias < 1:
            raise ValidationError("goal_bias", f"must be in [0, 1) ({self.goal_bias})")


@nb.njit(cache=True)
def _seed(seed: int) -> None:
    np.random.seed(seed)  # noqa: NPY002 - numba-compiled RNG, seeded by _seed


@nb.njit(cache=True)
def _extend(nodes, cost, parent, first_child, next_sibling, count, goal_links, n_goal_links,
            best, start, goal, rot, informed, step, gamma, goal_bias, iterations,
            lower, upper, box_lo, box_hi, ball_center, ball_radius, poly_edges, poly_ptr):
    dim = start.shape[0]
    c_min = np.sqrt(np.sum((goal - start) ** 2))
    centre = 0.5 * (start + goal)
    x_rand = np.empty(dim)
    x_new = np.empty(dim)
    capacity = nodes.shape[0]
    for _ in range(iterations):
        n = count[0]
        if n >= capacity:
            return
        c_best = best[0]
        # --- sample
        if informed and np.isfinite(c_best):
            while True:  # direct sampling of the hyperspheroid, rejected outside the bounds
                ball = np.random.standard_normal(dim)  # noqa: NPY002 - numba-compiled RNG, seeded by _seed
                ball /= np.sqrt(np.sum(ball * ball))
                ball *= np.random.random() ** (1.0 / dim)  # noqa: NPY002 - numba-compiled RNG, seeded by _seed
                r_conj = np.sqrt(max(c_best * c_best - c_min * c_min, 0.0)) / 2.0
                ball[0] *= c_best / 2.0
                for j in range(1, dim):
                    ball[j] *= r_conj
                inside = True
                for j in range(dim):
                    x_rand[j] = centre[j]
                    for k in range(dim):
                        x_rand[j] += rot[j, k] * ball[k]
                    if x_rand[j] < lower[j] or x_rand[j] > upper[j]:
                        inside = False
                if inside:
                    break
        elif not np.isfinite(c_best) and np.random.random() < goal_bias:  # noqa: NPY002 - numba-compiled RNG, seeded by _seed
            x_rand[:] = goal
        else:
            for j in range(dim):
                x_rand[j] = lower[j] + np.random.random() * (upper[j] - lower[j])  # noqa: NPY002 - numba-compiled RNG, seeded by _seed
        # --- nearest and steer
        nearest, d_near = 0, np.inf
        for i in range(n):
            d = 0.0
            for j in range(dim):
                d += (nodes[i, j] - x_rand[j]) ** 2
            if d < d_near:
                nearest, d_near = i, d
        d_near = np.sqrt(d_near)
        if d_near == 0.0:
            continue
        scale = min(1.0, step / d_near)
        for j in range(dim):
            x_new[j] = nodes[nearest, j] + scale * (x_rand[j] - nodes[nearest, j])
        if not segment_free(nodes[nearest], x_new, lower, upper, box_lo, box_hi, ball_center, ball_radius,
                            poly_edges, poly_ptr):
            continue
        # --- choose the parent among the neighbours
        radius = min(gamma * (np.log(n + 1) / (n + 1)) ** (1.0 / dim), step)
        near = np.empty(n, dtype=np.int64)
        near_d = np.empty(n)
        m = 0
        for i in range(n):
            d = 0.0
            for j in range(dim):
                d += (nodes[i, j] - x_new[j]) ** 2
            if d <= radius * radius:
                near[m] = i
                near_d[m] = np.sqrt(d)
                m += 1
        best_parent = nearest
        best_cost = cost[nearest] + np.sqrt(np.sum((nodes[nearest] - x_new) ** 2))
        order = np.argsort(cost[near[:m]] + near_d[:m])
        for t in range(m):
            i = near[order[t]]
            c = cost[i] + near_d[order[t]]
            if c >= best_cost:
                break
            if segment_free(nodes[i], x_new, lower, upper, box_lo, box_hi, ball_center, ball_radius,
                            poly_edges, poly_ptr):
                best_parent, best_cost = i, c
                break
        new = n
        nodes[new] = x_new
        cost[new] = best_cost
        parent[new] = best_parent
        first_child[new] = -1
        next_sibling[new] = first_child[best_parent]
        first_child[best_parent] = new
        count[0] = n + 1
        # --- rewire the neighbours through the new node
        for t in range(m):
            i = near[t]
            c = best_cost + near_d[t]
            if i == best_parent or c >= cost[i] - 1e-12:
                continue
            if not segment_free(x_new, nodes[i], lower, upper, box_lo, box_hi, ball_center, ball_radius,
                                poly_edges, poly_ptr):
                continue
            old = parent[i]  # unlink i from its old parent's children
            if first_child[old] == i:
                first_child[old] = next_sibling[i]
            else:
                s = first_child[old]
                while next_sibling[s] != i:
                    s = next_sibling[s]
                next_sibling[s] = next_sibling[i]
            parent[i] = new
            next_sibling[i] = first_child[new]
            first_child[new] = i
            delta = cost[i] - c
            stack = [i]  # propagate the cost decrease to the subtree
            while len(stack) > 0:
                u = stack.pop()
                cost[u] -= delta
                ch = first_child[u]
                while ch != -1:
                    stack.append(ch)
                    ch = next_sibling[ch]
        # --- connect to the goal
        d_goal = np.sqrt(np.sum((goal - x_new) ** 2))
        if d_goal <= step and segment_free(x_new, goal, lower, upper, box_lo, box_hi, ball_center,
                                           ball_radius, poly_edges, poly_ptr):
            goal_links[n_goal_links[0]] = new
            n_goal_links[0] += 1
        for t in range(n_goal_links[0]):
            g = goal_links[t]
            c = cost[g] + np.sqrt(np.sum((goal - nodes[g]) ** 2))
            if c < best[0]:
                best[0] = c
                best[1] = g


_compiled_dims: set[int] = set()


def _load_compiled(world: CompiledWorld, dim: int) -> None:
    """Run the kernel once for zero iterations, so numba loads (or compiles) it now."""
    if dim in _compiled_dims:
        return
    one = np.zeros((1, dim))
    _extend(one, np.zeros(1), np.full(1, -1), np.full(1, -1), np.full(1, -1), np.ones(1, dtype=np.int64),
            np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.array([np.inf, -1.0]), one[0], one[0] + 1,
            np.eye(dim), True, 1.0, 1.0, 0.0, 0, *world.arrays())
    _compiled_dims.add(dim)


def plan_rrt_star(problem: PlanningProblem, budget: Budget, params: RrtStarParams | None = None,
                  name: str | None = None) -> PlannedPath:
    """Run (Informed) RRT* until the budget's time or iteration limit.

    Without either limit, runs 20,000 iterations.

    Raises
    ------
    InfeasibleError
        If no solution was found within the budget.
    """
    params = params or RrtStarParams()
    world = CompiledWorld.from_workspace(problem.workspace)
    _load_compiled(world, problem.workspace.dim)  # loading machine code is not planning time
    clock = budget.start()
    ws = problem.workspace
    dim = ws.dim
    diag = float(np.linalg.norm(ws.upper - ws.lower))
    step = params.step * diag
    volume = float(np.prod(ws.upper - ws.lower))
    zeta = math.pi ** (dim / 2) / math.gamma(dim / 2 + 1)
    gamma = 2.0 * (1.0 + 1.0 / dim) ** (1.0 / dim) * (volume / zeta) ** (1.0 / dim) * 1.1
    cap = params.max_nodes
    nodes = np.empty((cap, dim))
    nodes[0] = problem.start
    cost = np.full(cap, np.inf)
    cost[0] = 0.0
    parent = np.full(cap, -1, dtype=np.int64)
    first_child = np.full(cap, -1, dtype=np.int64)
    next_sibling = np.full(cap, -1, dtype=np.int64)
    count = np.array([1], dtype=np.int64)
    goal_links = np.empty(cap, dtype=np.int64)
    n_goal_links = np.zeros(1, dtype=np.int64)
    best = np.array([np.inf, -1.0])
    rot = rotation_to_world_frame(problem.start, problem.goal)
    _seed(budget.seed)
    limit = budget.max_iterations
    if limit is None and budget.time_limit is None:
        limit = 20_000
    done = 0
    last_best = np.inf
    while True:
        chunk = params.chunk if limit is None else min(params.chunk, limit - done)
        _extend(nodes, cost, parent, first_child, next_sibling, count, goal_links, n_goal_links, best,
                problem.start, problem.goal, rot, params.informed, step, gamma, params.goal_bias, chunk,
                *world.arrays())
        done += chunk
        if best[0] < last_best:
            last_best = best[0]
            clock.report(done, objective=float(best[0]))
        if (limit is not None and done >= limit) or clock.should_stop() or count[0] >= cap:
            break
        if params.stop.reached(float(best[0])):
            break
    if not np.isfinite(best[0]):
        raise InfeasibleError("goal", f"not reached by RRT* in {done} iterations")
    order = [int(best[1])]
    while parent[order[-1]] >= 0:
        order.append(int(parent[order[-1]]))
    path = np.vstack([nodes[order[::-1]], problem.goal])
    if params.simplify:
        path = simplify_path(path, world, deadline=time.perf_counter() + max(clock.remaining(), 0.0))
    planner = name or ("informed-rrt*" if params.informed else "rrt*")
    n = int(count[0])
    children = np.arange(1, n)
    tree = np.stack([nodes[parent[children]], nodes[children]], axis=1)
    return PlannedPath(path, planner=planner, runtime_s=clock.elapsed(), tree=tree)
