"""Fast approximate min-congestion multicommodity flow by Dijkstra on reweighted link costs:
multiplicative weights in the Garg-Koenemann / Fleischer scheme, with a certified bound.

The problem is first split along its bridges (:mod:`solvers.flows.reduction`, exact): bridge
loads are fixed, and every 2-edge-connected block is solved on its own. In a block, every link
has a length ``l_e`` (initially ``1 / c_e``). A *phase* routes every demand once, grouped by
source (Fleischer): for one source, one Dijkstra tree under the current lengths serves all of
its destinations; the source's remaining demand is pushed down the tree, scaled so that no link
receives more than its capacity in one step (then Dijkstra again for the rest), and every link
that received flow ``a`` has its length multiplied by ``exp(eta * a / c_e)``. Demands are scaled
by ``1 / (best lower bound)`` so that a phase routes about one optimum's worth of utilisation.

Certificates, for any lengths ``l >= 0`` and any routing of utilisation ``U``:
``alpha(l) = sum_j d_j dist_l(j) <= sum_e l_e load_e <= U * D(l)`` with ``D(l) = sum_e l_e c_e``,
so ``alpha(l) / D(l)`` is a lower bound on the optimum (the *dual bound*), evaluated after every
phase with the best kept; the *primal* is the maximum utilisation of the average of the phases'
routings (every demand routed exactly once per phase, so the average routes every demand
exactly). The solver stops when ``primal <= (1 + epsilon) * dual``; the dual costs one more
Dijkstra per source, so far from the target it is evaluated every third phase only.

Since ``l_e = exp(eta * x_e / c_e) / c_e`` for the cumulative flow ``x``, the lengths are a
soft-max of the average routing's utilisations whose sharpness grows with the phases. The routing
needs that sharpness, but too sharp lengths stall the dual bound (on dense meshes such as
Globalcenter's K9); so the bound is evaluated at softened lengths
``exp(theta * eta * x_e / c_e) / c_e`` with ``theta <= 1`` adapted by probing half / double of the
current value at every third evaluation. Softening the routing itself (halving
``eta``) ruined the primal and was dropped. ``eta = 0.3`` was the fastest tried on Kdl. Where
the primal is optimal but its tight links need unequal dual weights (GtsPoland), no soft-max
of the utilisations is a good dual; after :data:`ASCENT_AFTER` evaluations without progress the
bound is also climbed directly: exponentiated supergradient steps on ``alpha / D`` (the
all-or-nothing loads are its supergradient) from the best lengths so far, steps shrinking as
``1 / sqrt(k)``, every step taken (a nonsmooth ascent), the best value kept. The first step
(:data:`ASCENT_STEP`) is sensitive: 0.5 halved GtsCe's time but took Janetbackbone to 45 s;
0.2 kept every Zoo network but GtsCe and Kdl under 3 s.

:func:`reference_phase` is a plain-Python version of the compiled phase (the test oracle).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from planner.budget import Budget
from planner.errors import ValidationError
from planner.flows import FlowAssignment, FlowRoutingProblem
from planner.registry import ProblemKind, register
from solvers.flows.reduction import Block, Reduction, assemble_paths, decompose_block, reduce_problem

#: Initial learning rate of the length updates.
ETA = 0.3
#: Dual evaluations without progress before the bound is also improved by supergradient ascent.
ASCENT_AFTER = 5
#: First step of the supergradient ascent (then divided by the square root of the step count).
ASCENT_STEP = 0.2
#: Lengths below this fraction of the largest are raised to it (no zero-length links).
LENGTH_FLOOR = 1e-30


def _lengths(x: np.ndarray, cap: np.ndarray, eta: float) -> np.ndarray:
    """``exp(eta * x_e / c_e) / c_e`` scaled to a largest value of 1 (overflow-free): the
    lengths the phases' multiplicative updates give, for any ``eta``."""
    z = eta * x / cap
    length = np.exp(z - z.max()) / cap
    length /= length.max()
    return np.maximum(length, LENGTH_FLOOR)


# ---------------------------------------------------------------------- compiled kernels
@numba.njit(cache=True, nogil=True)
def _dijkstra(indptr, heads, length, s, dist, pred, order, heap_v, heap_d):
    """Shortest paths from ``s`` (binary heap, lazy deletion). Fills ``dist``, ``pred`` (tree
    edge into every node, -1 at ``s`` / unreachable) and ``order`` (settling order); returns the
    number of settled nodes."""
    n = indptr.size - 1
    for v in range(n):
        dist[v] = np.inf
        pred[v] = -1
    dist[s] = 0.0
    size = 1
    heap_v[0] = s
    heap_d[0] = 0.0
    settled = 0
    while size > 0:
        d = heap_d[0]
        u = heap_v[0]
        size -= 1
        if size > 0:
            lv, ld = heap_v[size], heap_d[size]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= size:
                    break
                if c + 1 < size and heap_d[c + 1] < heap_d[c]:
                    c += 1
                if heap_d[c] >= ld:
                    break
                heap_v[i] = heap_v[c]
                heap_d[i] = heap_d[c]
                i = c
            heap_v[i] = lv
            heap_d[i] = ld
        if d > dist[u]:
            continue
        order[settled] = u
        settled += 1
        for e in range(indptr[u], indptr[u + 1]):
            v = heads[e]
            nd = d + length[e]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = e
                i = size
                size += 1
                while i > 0:
                    p = (i - 1) // 2
                    if heap_d[p] <= nd:
                        break
                    heap_v[i] = heap_v[p]
                    heap_d[i] = heap_d[p]
                    i = p
                heap_v[i] = v
                heap_d[i] = nd
    return settled


@numba.njit(cache=True, nogil=True)
def _phase(indptr, heads, tails, cap, length, src, dem_ptr, dem_dst, dem_val, scale, eta, x, xk):
    """One Fleischer phase: route ``scale * demand`` of every source on shortest-path trees,
    at most one capacity per link per step, updating ``length`` multiplicatively. Adds the
    flow to ``x`` (per edge) and ``xk`` (per source and edge). Returns the Dijkstra count."""
    n = indptr.size - 1
    m = heads.size
    dist = np.empty(n)
    pred = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    heap_v = np.empty(m + 1, dtype=np.int64)
    heap_d = np.empty(m + 1)
    rem = np.zeros(n)
    acc = np.zeros(n)
    runs = 0
    for k in range(src.size):
        s = src[k]
        for j in range(dem_ptr[k], dem_ptr[k + 1]):
            rem[dem_dst[j]] = dem_val[j] * scale
        left = 1.0
        while left > 1e-9:
            settled = _dijkstra(indptr, heads, length, s, dist, pred, order, heap_v, heap_d)
            runs += 1
            for j in range(settled):
                acc[order[j]] = rem[order[j]]
            for j in range(settled - 1, 0, -1):
                v = order[j]
                if acc[v] > 0:
                    acc[tails[pred[v]]] += acc[v]
            sigma = 1.0
            for j in range(1, settled):
                v = order[j]
                if acc[v] > 0:
                    r = cap[pred[v]] / acc[v]
                    if r < sigma:
                        sigma = r
            for j in range(1, settled):
                v = order[j]
                a = sigma * acc[v]
                if a > 0:
                    e = pred[v]
                    x[e] += a
                    xk[k, e] += a
                    length[e] *= math.exp(eta * a / cap[e])
            for j in range(dem_ptr[k], dem_ptr[k + 1]):
                rem[dem_dst[j]] *= 1.0 - sigma
            left *= 1.0 - sigma
        for j in range(dem_ptr[k], dem_ptr[k + 1]):
            rem[dem_dst[j]] = 0.0
    return runs


@numba.njit(cache=True, nogil=True)
def _aon(indptr, heads, tails, length, src, dem_ptr, dem_dst, dem_val):
    """All-or-nothing routing under ``length``: (edge loads, ``alpha``)."""
    n = indptr.size - 1
    m = heads.size
    dist = np.empty(n)
    pred = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    heap_v = np.empty(m + 1, dtype=np.int64)
    heap_d = np.empty(m + 1)
    acc = np.zeros(n)
    y = np.zeros(m)
    alpha = 0.0
    for k in range(src.size):
        settled = _dijkstra(indptr, heads, length, src[k], dist, pred, order, heap_v, heap_d)
        for j in range(settled):
            acc[order[j]] = 0.0
        for j in range(dem_ptr[k], dem_ptr[k + 1]):
            acc[dem_dst[j]] += dem_val[j]
            alpha += dem_val[j] * dist[dem_dst[j]]
        for j in range(settled - 1, 0, -1):
            v = order[j]
            if acc[v] > 0:
                e = pred[v]
                y[e] += acc[v]
                acc[tails[e]] += acc[v]
    return y, alpha


# ---------------------------------------------------------------------- plain-Python oracle
def reference_phase(indptr: np.ndarray, heads: np.ndarray, tails: np.ndarray, cap: np.ndarray,
                    length: np.ndarray, src: np.ndarray, dem_ptr: np.ndarray, dem_dst: np.ndarray,
                    dem_val: np.ndarray, scale: float, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Plain-Python (heapq) version of one phase, for tests. Returns (edge flow, new lengths).

    Ties between equal-length paths are broken as in the compiled kernel only up to heap
    order, so compare on instances without ties (random lengths).
    """
    n, m = indptr.size - 1, heads.size
    length = np.array(length, dtype=np.float64, copy=True)
    x = np.zeros(m)
    for k in range(src.size):
        s = int(src[k])
        rem = {int(dem_dst[j]): float(dem_val[j]) * scale for j in range(dem_ptr[k], dem_ptr[k + 1])}
        left = 1.0
        while left > 1e-9:
            dist = [math.inf] * n
            pred = [-1] * n
            dist[s] = 0.0
            heap = [(0.0, s)]
            order = []
            done = [False] * n
            while heap:
                d, u = heapq.heappop(heap)
                if done[u]:
                    continue
                done[u] = True
                order.append(u)
                for e in range(indptr[u], indptr[u + 1]):
                    v = int(heads[e])
                    if d + length[e] < dist[v]:
                        dist[v] = d + length[e]
                        pred[v] = e
                        heapq.heappush(heap, (dist[v], v))
            acc = [0.0] * n
            for v, amount in rem.items():
                acc[v] = amount
            for v in reversed(order[1:]):
                acc[int(tails[pred[v]])] += acc[v]
            sigma = min([1.0] + [cap[pred[v]] / acc[v] for v in order[1:] if acc[v] > 0])
            for v in order[1:]:
                if acc[v] > 0:
                    e = pred[v]
                    x[e] += sigma * acc[v]
                    length[e] *= math.exp(eta * sigma * acc[v] / cap[e])
            rem = {v: a * (1 - sigma) for v, a in rem.items()}
            left *= 1 - sigma
    return x, length


# ---------------------------------------------------------------------- driver
@dataclass(frozen=True, eq=False)
class BlockResult:
    """Multiplicative weights on one block."""

    block: Block
    sources: np.ndarray
    flow: np.ndarray
    source_flow: np.ndarray
    primal: float
    dual: float
    phases: int
    dijkstras: int


@dataclass(frozen=True, eq=False)
class MwuSolution:
    """Result of :func:`mwu_min_congestion`.

    Parameters
    ----------
    primal
        Maximum utilisation of the routing found (an upper bound on the optimum).
    dual
        Best lower bound on the optimum (bridges' fixed utilisation or a block's
        ``alpha / D``).
    loads
        Load of every edge of the routing.
    certified
        ``primal <= (1 + epsilon) * dual``.
    phases, dijkstras
        Work done, summed over the blocks.
    wall_s
        Seconds.
    blocks
        Per-block results (for path decomposition).
    """

    primal: float
    dual: float
    loads: np.ndarray
    certified: bool
    epsilon: float
    phases: int
    dijkstras: int
    wall_s: float
    reduction: Reduction
    blocks: list[BlockResult] = field(default_factory=list)

    @property
    def gap(self) -> float:
        """``primal / dual - 1`` (infinite without a positive dual)."""
        return self.primal / self.dual - 1 if self.dual > 0 else (0.0 if self.primal <= 0 else math.inf)


def _demand_csr(block: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((block.destinations, block.sources))
    s_all = block.sources[order]
    src, start = np.unique(s_all, return_index=True)
    dem_ptr = np.r_[start, s_all.size].astype(np.int64)
    return src.astype(np.int64), dem_ptr, block.destinations[order].astype(np.int64), block.sizes[order]


def _solve_block(block: Block, epsilon: float, floor: Callable[[], float], deadline: float | None,
                 max_phases: int | None, on_phase: Callable[[float, float], None] | None) -> BlockResult:
    g = block.graph
    indptr, heads, tails = g.indptr.astype(np.int64), g.indices.astype(np.int64), g.tails.astype(np.int64)
    cap = block.capacity
    src, dem_ptr, dem_dst, dem_val = _demand_csr(block)
    length = 1.0 / cap

    def bound(lengths: np.ndarray) -> float:
        """The dual bound ``alpha(l) / D(l)`` of lengths ``l`` (one Dijkstra per source)."""
        return _aon(indptr, heads, tails, lengths, src, dem_ptr, dem_dst, dem_val)[1] / float((lengths * cap).sum())

    dual = bound(length)
    x = np.zeros(heads.size)
    xk = np.zeros((src.size, heads.size))
    total = 0.0
    eta = ETA
    primal = math.inf
    phases = dijkstras = 0
    theta = 1.0  # dual lengths: exp(theta * eta * x / c) / c, theta adapted
    probe_down = True
    evaluations = 0
    stalled = 0
    dual_len = length.copy()
    ascent_len = None
    ascents = 0
    while True:
        scale = 1.0 / dual if dual > 0 else 1.0
        dijkstras += _phase(indptr, heads, tails, cap, length, src, dem_ptr, dem_dst, dem_val, scale, eta, x, xk)
        total += scale
        phases += 1
        primal = float((x / cap).max()) / total
        length = _lengths(x, cap, eta)
        # the dual costs Dijkstras per source: every phase near the target, else every third
        if phases <= 3 or primal <= (1 + 4 * epsilon) * dual or phases % 3 == 0:
            # evaluate at the current softening theta and, every third time, at a probe beside it
            # (half or double)
            evaluations += 1
            probe = theta * 0.5 if probe_down or theta >= 1.0 else min(1.0, theta * 2.0)
            tries = (theta, probe) if evaluations % 3 == 1 else (theta,)
            if len(tries) == 2:
                probe_down = not probe_down
            values = []
            for t in tries:
                lt = length if t == 1.0 else _lengths(x, cap, eta * t)
                values.append(bound(lt))
                dijkstras += src.size
            if len(values) == 2 and values[1] > values[0]:
                theta = probe
            best_here = max(values)
            if best_here > dual:
                dual = best_here
                dual_len = _lengths(x, cap, eta * theta)
                stalled = 0
            else:
                stalled += 1
            if stalled >= ASCENT_AFTER:
                # the soft-max family is stuck: exponentiated supergradient ascent on the bound
                # itself, from the best lengths (the gradient of alpha is the all-or-nothing load)
                if ascent_len is None:
                    ascent_len = dual_len.copy()
                y, a = _aon(indptr, heads, tails, ascent_len, src, dem_ptr, dem_dst, dem_val)
                dijkstras += src.size
                value = a / float((ascent_len * cap).sum())
                if value > dual:
                    dual, dual_len = value, ascent_len.copy()
                ascents += 1
                g = y / cap / max(value, 1e-300)
                ascent_len = ascent_len * np.exp((ASCENT_STEP / math.sqrt(ascents)) * (g - g.max()))
                ascent_len = np.maximum(ascent_len / ascent_len.max(), LENGTH_FLOOR)
        if on_phase is not None:
            on_phase(primal, dual)
        if primal <= (1 + epsilon) * max(dual, floor()):
            break
        if (deadline is not None and time.perf_counter() >= deadline) or \
                (max_phases is not None and phases >= max_phases):
            break
    return BlockResult(block, src, x / total, xk / total, primal, dual, phases, dijkstras)


def mwu_min_congestion(problem: FlowRoutingProblem, epsilon: float = 0.01, budget: Budget | None = None,
                       reduction: Reduction | None = None) -> MwuSolution:
    """Min-congestion routing by multiplicative weights, to a certified ``1 + epsilon`` gap.

    Parameters
    ----------
    problem
        Flows and capacitated graph.
    epsilon
        Target ``primal / dual - 1``.
    budget
        ``time_limit`` and ``max_iterations`` (phases per block) stop it early, uncertified;
        ``progress`` receives primal and dual after every phase.
    reduction
        A precomputed :func:`~solvers.flows.reduction.reduce_problem` of ``problem``.

    Raises
    ------
    ValidationError
        ``epsilon`` not positive.
    InfeasibleError
        ``flows[i]: a -> b disconnected`` for the first flow without a path.
    """
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise ValidationError("epsilon", f"must be positive ({epsilon})")
    budget = budget or Budget()
    clock = budget.start()
    started = time.perf_counter()
    red = reduction if reduction is not None else reduce_problem(problem)
    cap = problem.capacity
    fixed_u = red.fixed_utilisation(cap)
    deadline = None if budget.time_limit is None else started + budget.time_limit
    results: dict[int, BlockResult] = {}
    duals = [fixed_u]
    primals = [fixed_u]
    counter = [0]

    def on_phase(primal: float, dual: float) -> None:
        counter[0] += 1
        top_p = max(max(primals), primal)
        top_d = max(max(duals), dual)
        clock.report(counter[0], objective=top_p, bound=top_d, gap=top_p / top_d - 1 if top_d > 0 else None)

    # hardest blocks first: by the initial (1/c lengths) lower bound, largest first
    order = sorted(range(len(red.blocks)), key=lambda b: -red.blocks[b].sizes.sum())
    for b in order:
        res = _solve_block(red.blocks[b], epsilon, lambda: max(duals), deadline, budget.max_iterations, on_phase)
        results[b] = res
        duals.append(res.dual)
        primals.append(res.primal)
    loads = red.fixed_loads.copy()
    for res in results.values():
        np.add.at(loads, res.block.edges, res.flow)
    primal = float((loads / cap).max(initial=0.0))
    dual = max(duals)
    blocks = [results[b] for b in range(len(red.blocks))]
    return MwuSolution(primal, dual, loads, (dual > 0 and primal <= (1 + epsilon) * dual) or primal == 0, epsilon,
                       sum(r.phases for r in blocks), sum(r.dijkstras for r in blocks),
                       time.perf_counter() - started, red, blocks)


def solve_mwu(problem: FlowRoutingProblem, budget: Budget, epsilon: float = 0.01) -> FlowAssignment:
    """Min-congestion routing by multiplicative weights with a certified ``(1 + epsilon)`` gap,
    every flow split across the shortest paths found.

    Returns
    -------
    FlowAssignment
        ``stats``: ``dual_bound`` (never above the LP optimum), ``gap``, ``iterations``
        (phases), ``dijkstras``, ``time_s``, ``certified``, ``epsilon``.

    Raises
    ------
    ValidationError
        ``epsilon`` not positive.
    InfeasibleError
        ``flows[i]: a -> b disconnected`` for the first flow without a path.
    """
    sol = mwu_min_congestion(problem, epsilon, budget)
    splits: dict = {}
    for res in sol.blocks:
        splits.update(decompose_block(res.block, res.sources, res.source_flow, "source"))
    stats = {"dual_bound": sol.dual, "gap": sol.gap, "iterations": sol.phases, "dijkstras": sol.dijkstras,
             "time_s": sol.wall_s, "certified": sol.certified, "epsilon": epsilon}
    return assemble_paths(problem, sol.reduction, splits, solver="mwu", stats=stats)


register(
    "mwu",
    [ProblemKind.TRAFFIC_ENGINEERING, ProblemKind.FABRIC_ROUTING],
    solve_mwu,
    description="Multiplicative weights (Fleischer phases, Dijkstra per source) with a certified dual bound",
    capabilities=["split", "approximate", "certified", "parallel-edges"],
)
