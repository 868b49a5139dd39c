"""Path-based gradient projection (Jayakrishnan et al. 1994; Chen, Lee & Jayakrishnan 2002) for
high-precision user equilibrium and system optimum.

Every OD pair keeps the set of paths it uses, with their flows. One iteration visits the origins
one by one: a compiled Dijkstra (honouring first-thru-node) gives the current shortest path to
every destination, which joins the OD's path set if new; then, for every OD pair of the origin,
flow moves from each costlier path to the cheapest one by a projected Newton step
``min(f_p, (c_p - c_min) / sum_a c'_a)`` (the sum over the links the two paths do not share).
Link flows, costs and derivatives are updated in place after every shift (Gauss-Seidel), paths
that lose all flow are dropped, and the link flows are rebuilt from the path flows at the end
of each iteration so rounding never accumulates. From the second iteration on, a few passes of
flow shifting over all OD pairs (no new paths) follow the sweep.

The exact relative gap needs one more shortest-path sweep, as costly as a third of an
iteration. While the sweep's own running estimate (each origin's excess cost when its tree was
built) predicts a gap far above the target, it is not computed; the gap reported at the end is
always the exact one, from scratch, of the returned flows.

Unlike the link-based methods this converges linearly to tight gaps (1e-10 and below) and its
path sets answer select-link queries (:meth:`PathSet.select_link`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from planner.assignment import (
    AssignmentProblem,
    AssignmentResult,
    _dijkstra,
    beckmann_objective,
    link_costs,
    relative_gap,
    total_system_travel_time,
)
from planner.budget import Budget
from planner.errors import ValidationError
from planner.registry import ProblemKind, register
from solvers.flows.frank_wolfe import AssignmentParams, check_inputs
from solvers.flows.link_kernels import costs_into, derivatives_into, link_cost, link_cost_derivative, link_parameters

#: Passes of flow shifting over an origin's OD pairs after each shortest-path search.
_INNER_PASSES = 3
#: Passes of flow shifting over every OD pair (no new paths) after each sweep from the second
#: on: cheap next to the shortest-path trees, and they cut the sweeps to tight gaps by a third
#: to a half (Chicago-Sketch to 1e-6: 23 -> 10, Berlin-Center: 12 -> 8).
_EXTRA_PASSES = 5
#: The exact gap (a full shortest-path sweep) is computed once the predicted gap is at most this
#: multiple of the target. The running estimate of a sweep measures the flows the sweep started
#: from; the prediction scales it by the last known ratio of exact gap to estimate or, before
#: any exact gap is known, by the estimate's last contraction (at least ``_MIN_CONTRACTION``).
_EXACT_GAP_FACTOR = 2.0
_MIN_CONTRACTION = 0.1


@numba.njit(cache=True, nogil=True)
def _grow_int(a: np.ndarray, need: int) -> np.ndarray:
    if need <= a.size:
        return a
    out = np.empty(max(need, 2 * a.size), dtype=a.dtype)
    out[:a.size] = a
    return out


@numba.njit(cache=True, nogil=True)
def _grow_float(a: np.ndarray, need: int) -> np.ndarray:
    if need <= a.size:
        return a
    out = np.zeros(max(need, 2 * a.size), dtype=a.dtype)
    out[:a.size] = a
    return out


@numba.njit(cache=True, nogil=True)
def _update_link(a: int, x: np.ndarray, cost: np.ndarray, dcost: np.ndarray, fft: np.ndarray, b: np.ndarray,
                 power: np.ndarray, cap: np.ndarray, fixed: np.ndarray, so: bool) -> None:
    if x[a] < 0.0:
        x[a] = 0.0
    cost[a] = link_cost(x[a], fft[a], b[a], power[a], cap[a], fixed[a], so)
    dcost[a] = link_cost_derivative(x[a], fft[a], b[a], power[a], cap[a], so)


@numba.njit(cache=True, nogil=True)
def _path_cost(p: int, pool: np.ndarray, path_start: np.ndarray, path_len: np.ndarray, cost: np.ndarray) -> float:
    total = 0.0
    for i in range(path_start[p], path_start[p] + path_len[p]):
        total += cost[pool[i]]
    return total


@numba.njit(cache=True, nogil=True)
def _equilibrate_od(od: int, demand: float, od_head: np.ndarray, path_next: np.ndarray, pool: np.ndarray,
                    path_start: np.ndarray, path_len: np.ndarray, path_flow: np.ndarray, x: np.ndarray,
                    cost: np.ndarray, dcost: np.ndarray, fft: np.ndarray, b: np.ndarray, power: np.ndarray,
                    cap: np.ndarray, fixed: np.ndarray, so: bool, mark: np.ndarray, stamp: int) -> int:
    """Shift flow of one OD pair onto its cheapest path; drop emptied paths. Returns the next
    free mark stamp."""
    best, best_cost = -1, np.inf
    p = od_head[od]
    while p >= 0:
        c = _path_cost(p, pool, path_start, path_len, cost)
        if c < best_cost:
            best, best_cost = p, c
        p = path_next[p]
    bs, be = path_start[best], path_start[best] + path_len[best]
    p = od_head[od]
    while p >= 0:
        if p != best and path_flow[p] > 0.0:
            gap = _path_cost(p, pool, path_start, path_len, cost) - best_cost
            if gap > 0.0:
                stamp += 2
                for i in range(bs, be):
                    mark[pool[i]] = stamp  # on the best path
                ps, pe = path_start[p], path_start[p] + path_len[p]
                curvature = 0.0
                for i in range(ps, pe):
                    a = pool[i]
                    if mark[a] == stamp:
                        mark[a] = stamp + 1  # shared
                    else:
                        curvature += dcost[a]
                for i in range(bs, be):
                    a = pool[i]
                    if mark[a] == stamp:
                        curvature += dcost[a]
                shift = path_flow[p]
                if curvature > 0.0 and gap / curvature < shift:
                    shift = gap / curvature
                path_flow[p] -= shift
                path_flow[best] += shift
                for i in range(ps, pe):
                    a = pool[i]
                    if mark[a] != stamp + 1:
                        x[a] -= shift
                        _update_link(a, x, cost, dcost, fft, b, power, cap, fixed, so)
                for i in range(bs, be):
                    a = pool[i]
                    if mark[a] == stamp:
                        x[a] += shift
                        _update_link(a, x, cost, dcost, fft, b, power, cap, fixed, so)
                best_cost = _path_cost(best, pool, path_start, path_len, cost)
        p = path_next[p]
    # drop paths without flow (the best one always keeps the OD's demand)
    prev = -1
    p = od_head[od]
    while p >= 0:
        nxt = path_next[p]
        if p != best and path_flow[p] <= 1e-14 * demand:
            if path_flow[p] > 0.0:
                path_flow[best] += path_flow[p]
                path_flow[p] = 0.0
            if prev < 0:
                od_head[od] = nxt
            else:
                path_next[prev] = nxt
        else:
            prev = p
        p = nxt
    return stamp


@numba.njit(cache=True, nogil=True)
def _absorb_origin(k, origin, pred, tails, fft, b, power, cap, fixed, so, x, cost, dcost, origin_od_start, od_dest,
                   od_demand, od_head, path_next, path_start, path_len, path_flow, pool, counters, mark, sp,
                   inner_passes, excess, touched, loaded):
    """Column generation and equilibration of origin ``origins[k]`` from its shortest-path tree
    ``pred`` (predecessor links) under the current costs.

    An OD pair's first path takes its whole demand; the costs of the links so loaded are updated
    once all the origin's pairs have their paths (nothing reads them in between). ``touched``
    (int, one per link) is scratch space; ``loaded`` (bool, one per link) must be all False and
    is left so.

    Before anything moves, adds the origin's excess cost under the current costs to ``excess``:
    ``excess[0] += sum_od (sum_p f_p c_p - d_od min(c_tree, min_p c_p))``, ``excess[1] += sum_od
    sum_p f_p c_p`` and ``excess[2] += 1`` for every OD pair without paths yet. ``counters =
    [paths used, pool used, mark stamp]``. Returns the (possibly grown) path arrays."""
    n_touched = 0
    for od in range(origin_od_start[k], origin_od_start[k + 1]):
        # the tree path, links from the destination back to the origin, and its current cost
        length = 0
        tree_cost = 0.0
        v = od_dest[od]
        while v != origin:
            e = pred[v]
            sp[length] = e
            length += 1
            tree_cost += cost[e]
            v = tails[e]
        p = od_head[od]
        if p < 0:
            excess[2] += 1.0
        else:
            used = 0.0
            cheapest = tree_cost
            while p >= 0:
                c = _path_cost(p, pool, path_start, path_len, cost)
                used += path_flow[p] * c
                if c < cheapest:
                    cheapest = c
                p = path_next[p]
            excess[0] += used - od_demand[od] * cheapest
            excess[1] += used
        counters[2] += 1
        stamp = counters[2]
        for i in range(length):
            mark[sp[i]] = stamp
        found = False
        p = od_head[od]
        while p >= 0:
            if path_len[p] == length:
                same = True
                for i in range(path_start[p], path_start[p] + length):
                    if mark[pool[i]] != stamp:
                        same = False
                        break
                if same:
                    found = True
                    break
            p = path_next[p]
        if not found:
            new = counters[0]
            start = counters[1]
            path_start = _grow_int(path_start, new + 1)
            path_len = _grow_int(path_len, new + 1)
            path_next = _grow_int(path_next, new + 1)
            path_flow = _grow_float(path_flow, new + 1)
            pool = _grow_int(pool, start + length)
            for i in range(length):
                pool[start + i] = sp[length - 1 - i]
            path_start[new] = start
            path_len[new] = length
            path_flow[new] = 0.0
            path_next[new] = od_head[od]
            if od_head[od] < 0:  # first path of the pair: it carries the whole demand
                path_flow[new] = od_demand[od]
                for i in range(length):
                    a = sp[i]
                    x[a] += od_demand[od]
                    if not loaded[a]:  # its cost is updated once, after the origin's pairs
                        loaded[a] = True
                        touched[n_touched] = a
                        n_touched += 1
            od_head[od] = new
            counters[0] = new + 1
            counters[1] = start + length
    for i in range(n_touched):
        a = touched[i]
        loaded[a] = False
        _update_link(a, x, cost, dcost, fft, b, power, cap, fixed, so)
    for _ in range(inner_passes):
        for od in range(origin_od_start[k], origin_od_start[k + 1]):
            if path_next[od_head[od]] >= 0:  # more than one path
                counters[2] = _equilibrate_od(od, od_demand[od], od_head, path_next, pool, path_start, path_len,
                                              path_flow, x, cost, dcost, fft, b, power, cap, fixed, so, mark,
                                              counters[2])
    return path_start, path_len, path_next, path_flow, pool


@numba.njit(cache=True, nogil=True)
def _iteration(indptr, heads, tails, n_blocked, fft, b, power, cap, fixed, so, x, cost, dcost,
               origins, origin_od_start, od_dest, od_demand, demand_matrix, od_head, path_next, path_start,
               path_len, path_flow, pool, counters, mark, inner_passes, excess):
    """One gradient-projection iteration over all origins (Gauss-Seidel: every origin's tree is
    built on the costs left by the origins before it). Returns the (possibly grown) path arrays."""
    n = indptr.size - 1
    dist = np.empty(n)
    pred = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    heap = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    sp = np.empty(n, dtype=np.int64)
    touched = np.empty(x.size, dtype=np.int64)
    loaded = np.zeros(x.size, dtype=np.bool_)
    for k in range(origins.size):
        origin = origins[k]
        _dijkstra(origin, indptr, heads, cost, n_blocked, demand_matrix[origin], dist, pred, order, heap, pos)
        path_start, path_len, path_next, path_flow, pool = _absorb_origin(
            k, origin, pred, tails, fft, b, power, cap, fixed, so, x, cost, dcost, origin_od_start, od_dest,
            od_demand, od_head, path_next, path_start, path_len, path_flow, pool, counters, mark, sp, inner_passes,
            excess, touched, loaded)
    return path_start, path_len, path_next, path_flow, pool


@numba.njit(cache=True, nogil=True)
def _equilibrate_all(n_ods, od_demand, od_head, path_next, pool, path_start, path_len, path_flow, x, cost, dcost,
                     fft, b, power, cap, fixed, so, mark, counters, passes):
    """``passes`` rounds of :func:`_equilibrate_od` over every OD pair with several paths, without
    any new shortest-path tree."""
    for _ in range(passes):
        for od in range(n_ods):
            if path_next[od_head[od]] >= 0:
                counters[2] = _equilibrate_od(od, od_demand[od], od_head, path_next, pool, path_start, path_len,
                                              path_flow, x, cost, dcost, fft, b, power, cap, fixed, so, mark,
                                              counters[2])


class _State:
    """The mutable arrays of one solve (internal): link state, path store and counters."""

    def __init__(self, problem: AssignmentProblem):
        net, dem = problem.network, problem.demand
        self.so = problem.objective == "so"
        self.fft, self.b, self.power, self.cap, self.fixed = link_parameters(problem)
        g = net.graph
        self.indptr = np.ascontiguousarray(g.indptr, dtype=np.int64)
        self.heads = np.ascontiguousarray(g.indices, dtype=np.int64)
        self.tails = np.ascontiguousarray(g.tails, dtype=np.int64)
        self.n_blocked = net.n_blocked
        self.matrix = np.ascontiguousarray(dem.matrix)
        orig_idx, dest_idx = np.nonzero(self.matrix > 0)  # row-major: grouped by origin
        self.orig_idx = orig_idx.astype(np.int64)
        self.origins = np.unique(orig_idx).astype(np.int64)
        self.origin_od_start = np.searchsorted(orig_idx, np.append(self.origins, dem.n_zones)).astype(np.int64)
        self.od_dest = dest_idx.astype(np.int64)
        self.od_demand = self.matrix[orig_idx, dest_idx]
        self.n_ods = self.od_dest.size
        m = net.n_links
        self.x = np.zeros(m)
        self.cost = np.empty(m)
        self.dcost = np.empty(m)
        self.refresh_costs()
        self.od_head = np.full(self.n_ods, -1, dtype=np.int64)
        cap_paths = max(16, 2 * self.n_ods)
        self.path_next = np.full(cap_paths, -1, dtype=np.int64)
        self.path_start = np.zeros(cap_paths, dtype=np.int64)
        self.path_len = np.zeros(cap_paths, dtype=np.int64)
        self.path_flow = np.zeros(cap_paths)
        self.pool = np.zeros(cap_paths * 8, dtype=np.int64)
        self.counters = np.zeros(3, dtype=np.int64)
        self.mark = np.zeros(m, dtype=np.int64)
        self.excess = np.zeros(3)

    def refresh_costs(self) -> None:
        costs_into(self.x, self.fft, self.b, self.power, self.cap, self.fixed, self.so, self.cost)
        derivatives_into(self.x, self.fft, self.b, self.power, self.cap, self.so, self.dcost)

    def set_paths(self, arrays: tuple) -> None:
        self.path_start, self.path_len, self.path_next, self.path_flow, self.pool = arrays

    def sweep(self) -> None:
        """One :func:`_iteration` over all origins."""
        self.set_paths(_iteration(
            self.indptr, self.heads, self.tails, self.n_blocked, self.fft, self.b, self.power, self.cap, self.fixed,
            self.so, self.x, self.cost, self.dcost, self.origins, self.origin_od_start, self.od_dest, self.od_demand,
            self.matrix, self.od_head, self.path_next, self.path_start, self.path_len, self.path_flow, self.pool,
            self.counters, self.mark, _INNER_PASSES, self.excess))


@numba.njit(cache=True, nogil=True)
def _rebuild_flows(n_ods, od_head, path_next, pool, path_start, path_len, path_flow, x):
    x[:] = 0.0
    for od in range(n_ods):
        p = od_head[od]
        while p >= 0:
            f = path_flow[p]
            for i in range(path_start[p], path_start[p] + path_len[p]):
                x[pool[i]] += f
            p = path_next[p]


@dataclass(frozen=True, eq=False)
class PathSet:
    """The paths an assignment uses: for OD pair ``k`` (zones ``origins[k] -> destinations[k]``)
    the paths ``paths[k]`` (tuples of graph edges, origin to destination) and their flows."""

    origins: np.ndarray
    destinations: np.ndarray
    paths: tuple[tuple[np.ndarray, ...], ...]
    flows: tuple[np.ndarray, ...]
    n_links: int

    def select_link(self, edge: int) -> dict[tuple[int, int], float]:
        """Which OD pairs use graph edge ``edge`` and how much of their flow crosses it:
        ``{(origin zone, destination zone): flow}``."""
        if not 0 <= edge < self.n_links:
            raise ValidationError("edge", f"no link {edge} (the network has {self.n_links})")
        out: dict[tuple[int, int], float] = {}
        for k, (paths, flows) in enumerate(zip(self.paths, self.flows, strict=True)):
            total = float(sum(f for p, f in zip(paths, flows, strict=True) if np.any(p == edge)))
            if total > 0.0:
                out[(int(self.origins[k]), int(self.destinations[k]))] = total
        return out


def gradient_projection_paths(problem: AssignmentProblem, budget: Budget,
                              params: AssignmentParams | None = None) -> tuple[AssignmentResult, PathSet]:
    """Solve with path-based gradient projection; return the result and the path sets.

    Parameters
    ----------
    problem
        UE or SO assignment problem.
    budget
        Time/iteration limits, cancel flag, progress callback (called every iteration).
    params
        Target relative gap (default :class:`AssignmentParams`; ``1e-10`` is reachable).

    Returns
    -------
    tuple[AssignmentResult, PathSet]
        The link-flow result and the paths with their flows. The result's relative gap is
        :func:`planner.assignment.relative_gap` of the returned flows, computed from scratch
        (all-or-nothing on the final costs); it is also the last entry of the history. Earlier
        history entries hold that exact gap where it was computed and otherwise the running
        estimate of the sweep (the origins' excess costs when their trees were built), which is
        used while the predicted gap is far above the target.
    """
    result, state = _solve(problem, budget, params)
    return result, _path_set(state, problem.network.n_links)


def _running_gap(excess: np.ndarray) -> float:
    """The sweep's running gap estimate from :func:`_absorb_origin`'s ``excess`` sums."""
    if excess[2] > 0:
        return math.inf
    return max(0.0, excess[0] / excess[1]) if excess[1] > 0 else 0.0


def _solve(problem: AssignmentProblem, budget: Budget,
           params: AssignmentParams | None) -> tuple[AssignmentResult, _State]:
    """:func:`gradient_projection_paths` without building the path sets (a Python loop over
    every OD pair: 0.5 s on Berlin-Center)."""
    params = check_inputs(problem, params)
    clock = budget.start()
    net = problem.network
    state = _State(problem)
    history: list[tuple[int, float, float, float]] = []
    iteration = 0
    limit = params.max_iterations
    calibration: float | None = None  # exact gap / running estimate, last time both were known
    previous = math.inf  # running estimate of the previous sweep
    while True:
        iteration += 1
        state.excess[:] = 0.0
        state.sweep()
        if iteration > 1 and _EXTRA_PASSES > 0:
            _equilibrate_all(state.n_ods, state.od_demand, state.od_head, state.path_next, state.pool,
                             state.path_start, state.path_len, state.path_flow, state.x, state.cost, state.dcost,
                             state.fft, state.b, state.power, state.cap, state.fixed, state.so, state.mark,
                             state.counters, _EXTRA_PASSES)
        _rebuild_flows(state.n_ods, state.od_head, state.path_next, state.pool, state.path_start, state.path_len,
                       state.path_flow, state.x)
        state.refresh_costs()
        x = state.x
        objective = problem.objective_value(x)
        stop = clock.should_stop(iteration) or (limit is not None and iteration >= limit)
        # inf while some OD pair had no path before the sweep (nothing to estimate); 0 when no
        # cost accrued (the gap is 0 by definition, as in planner.assignment.relative_gap)
        estimate = _running_gap(state.excess)
        if calibration is None:  # assume this sweep contracted the gap as much as the last one did
            factor = min(1.0, max(_MIN_CONTRACTION, estimate / previous)) if 0.0 < estimate < previous else 1.0
        else:
            factor = calibration
        exact = stop or estimate * factor <= _EXACT_GAP_FACTOR * params.target_gap
        if exact:
            gap = relative_gap(problem, x)
            if 0.0 < estimate < math.inf:
                calibration = gap / estimate
        else:
            gap = estimate
        previous = estimate
        history.append((iteration, clock.elapsed(), gap, objective))
        clock.report(iteration, objective=objective, gap=gap)
        if stop or (exact and gap <= params.target_gap):
            break
        if state.counters[1] > 4 * max(1, _live_pool(state.n_ods, state.od_head, state.path_next, state.path_len)):
            arrays = _compact(state.n_ods, state.od_head, state.path_next, state.path_start, state.path_len,
                              state.path_flow, state.pool)
            state.set_paths(arrays[:5])
            state.counters[0], state.counters[1] = arrays[5], arrays[6]
    elapsed = clock.elapsed()
    x = state.x.copy()
    result = AssignmentResult(
        flows=x, costs=link_costs(net, x), beckmann_objective=beckmann_objective(net, x),
        total_system_travel_time=total_system_travel_time(net, x), relative_gap=gap, iterations=iteration,
        history=tuple(history), solver="gradient-projection", objective=problem.objective, elapsed_s=elapsed)
    return result, state


def _path_set(state: _State, n_links: int) -> PathSet:
    """The path sets of a finished solve."""
    paths, flows = [], []
    for od in range(state.n_ods):
        ps, fs = [], []
        p = state.od_head[od]
        while p >= 0:
            ps.append(state.pool[state.path_start[p]:state.path_start[p] + state.path_len[p]].copy())
            fs.append(state.path_flow[p])
            p = state.path_next[p]
        paths.append(tuple(ps))
        flows.append(np.array(fs))
    return PathSet(state.orig_idx + 1, state.od_dest + 1, tuple(paths), tuple(flows), n_links)


@numba.njit(cache=True, nogil=True)
def _live_pool(n_ods, od_head, path_next, path_len) -> int:
    total = 0
    for od in range(n_ods):
        p = od_head[od]
        while p >= 0:
            total += path_len[p]
            p = path_next[p]
    return total


@numba.njit(cache=True, nogil=True)
def _compact(n_ods, od_head, path_next, path_start, path_len, path_flow, pool):
    """Copy the live paths into fresh arrays (dropped paths leave holes in the pool)."""
    n_live = 0
    size = 0
    for od in range(n_ods):
        p = od_head[od]
        while p >= 0:
            n_live += 1
            size += path_len[p]
            p = path_next[p]
    cap_paths = max(16, 2 * n_live)
    new_next = np.full(cap_paths, -1, dtype=np.int64)
    new_start = np.zeros(cap_paths, dtype=np.int64)
    new_len = np.zeros(cap_paths, dtype=np.int64)
    new_flow = np.zeros(cap_paths)
    new_pool = np.zeros(max(16, 2 * size), dtype=np.int64)
    q = 0
    used = 0
    for od in range(n_ods):
        p = od_head[od]
        prev = -1
        while p >= 0:
            new_start[q] = used
            new_len[q] = path_len[p]
            new_flow[q] = path_flow[p]
            for i in range(path_len[p]):
                new_pool[used + i] = pool[path_start[p] + i]
            used += path_len[p]
            if prev < 0:
                od_head[od] = q
            else:
                new_next[prev] = q
            prev = q
            q += 1
            p = path_next[p]
    return new_start, new_len, new_next, new_flow, new_pool, q, used


def solve_gradient_projection(problem: AssignmentProblem, budget: Budget,
                              params: AssignmentParams | None = None) -> AssignmentResult:
    """:func:`gradient_projection_paths` without the path sets."""
    return _solve(problem, budget, params)[0]


register("gradient-projection", [ProblemKind.TRAFFIC_ASSIGNMENT], solve_gradient_projection,
         description="Path-based gradient projection (Newton shifts per OD, compiled); reaches 1e-10 gaps",
         capabilities=["ue", "so", "relative-gap", "high-precision", "select-link", "first-thru-node",
                       "parallel-edges"])
