"""Fast approximate min-congestion multicommodity flow by Dijkstra on reweighted link costs
(multiplicative weights, Garg-Koenemann / Fleischer family), with a certified bound.

Each iteration sets the length of every link exponential in its current utilisation,
``w_e = exp(beta * (u_e - u_max)) / c_e`` (the gradient of the soft-max of the utilisations),
routes every demand on a shortest path under ``w`` (one compiled Dijkstra per source), and moves
the flow towards that all-or-nothing routing by the step that minimises the soft-max (line
search). The flow is therefore a convex combination of shortest-path routings: every flow is
split across the paths found.

Certificate: for any lengths ``w >= 0`` and any routing with maximum utilisation ``U``,
``sum_j d_j dist_w(j) <= sum_e w_e load_e <= U sum_e w_e c_e``, so
``alpha(w) / D(w) = sum_j d_j dist_w(j) / sum_e w_e c_e`` is a lower bound on the LP optimum
(the *dual bound*); the best over all iterations is kept. The primal (the maximum utilisation
of the current flow) is an upper bound. The solver stops when
``primal <= (1 + epsilon) * dual``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from planner.budget import Budget
from planner.errors import ValidationError
from planner.flows import FlowAssignment, FlowRoutingProblem
from planner.registry import ProblemKind, register


@numba.njit(cache=True, nogil=True)
def _aon(indptr, heads, weight, sources, demand, pred_out):
    """All-or-nothing routing of ``demand[k, v]`` from ``sources[k]`` on shortest paths under
    ``weight``. Returns (edge loads, sum of demand * distance); ``pred_out[k, v]`` gets the
    tree edge into ``v`` (-1 at the root or unreachable)."""
    n = indptr.size - 1
    m = heads.size
    loads = np.zeros(m)
    alpha = 0.0
    dist = np.empty(n)
    order = np.empty(n, dtype=np.int64)
    heap_v = np.empty(m + 1, dtype=np.int64)
    heap_d = np.empty(m + 1)
    acc = np.empty(n)
    tail_of = np.empty(m, dtype=np.int64)
    for u in range(n):
        for e in range(indptr[u], indptr[u + 1]):
            tail_of[e] = u
    for k in range(sources.size):
        s = sources[k]
        pred = pred_out[k]
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
            if size > 0:  # sift down the last element from the root
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
                    heap_v[i], heap_d[i] = heap_v[c], heap_d[c]
                    i = c
                heap_v[i], heap_d[i] = lv, ld
            if d > dist[u]:
                continue
            order[settled] = u
            settled += 1
            for e in range(indptr[u], indptr[u + 1]):
                v = heads[e]
                nd = d + weight[e]
                if nd < dist[v]:
                    dist[v] = nd
                    pred[v] = e
                    i = size
                    size += 1
                    while i > 0:
                        p = (i - 1) // 2
                        if heap_d[p] <= nd:
                            break
                        heap_v[i], heap_d[i] = heap_v[p], heap_d[p]
                        i = p
                    heap_v[i], heap_d[i] = v, nd
        for v in range(n):
            acc[v] = demand[k, v]
            if demand[k, v] > 0:
                alpha += demand[k, v] * dist[v]
        for j in range(settled - 1, 0, -1):
            v = order[j]
            e = pred[v]
            if e >= 0 and acc[v] > 0:
                loads[e] += acc[v]
                acc[tail_of[e]] += acc[v]
    return loads, alpha


def _softmax_value(util: np.ndarray, beta: float) -> float:
    top = util.max()
    return top + math.log(np.exp(beta * (util - top)).sum()) / beta


def _line_search(x: np.ndarray, y: np.ndarray, cap: np.ndarray, beta: float) -> float:
    """Step in [0, 1] minimising the soft-max of ((1 - g) x + g y) / cap (golden section)."""
    ux, uy = x / cap, y / cap
    lo, hi = 0.0, 1.0
    phi = (math.sqrt(5) - 1) / 2
    a, b = hi - phi * (hi - lo), lo + phi * (hi - lo)
    fa = _softmax_value(ux + a * (uy - ux), beta)
    fb = _softmax_value(ux + b * (uy - ux), beta)
    for _ in range(40):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - phi * (hi - lo)
            fa = _softmax_value(ux + a * (uy - ux), beta)
        else:
            lo, a, fa = a, b, fb
            b = lo + phi * (hi - lo)
            fb = _softmax_value(ux + b * (uy - ux), beta)
    return (lo + hi) / 2


def solve_mwu(problem: FlowRoutingProblem, budget: Budget, epsilon: float = 0.01) -> FlowAssignment:
    """Min-congestion routing by multiplicative weights with a certified ``(1 + epsilon)`` gap.

    Parameters
    ----------
    problem
        Flows and capacitated graph.
    budget
        ``time_limit`` / ``max_iterations`` stop it early (the certificate then says how far
        it got); ``progress`` receives primal and dual every iteration.
    epsilon
        Target relative gap ``primal / dual - 1``.

    Returns
    -------
    FlowAssignment
        ``stats``: ``dual_bound`` (never above the LP optimum), ``gap``, ``iterations``,
        ``time_s``, ``certified`` (gap reached).

    Raises
    ------
    InfeasibleError
        ``flows[i]: a -> b disconnected`` for the first flow without a path.
    """
    from solvers.flows.lp import _check_connected

    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise ValidationError("epsilon", f"must be positive ({epsilon})")
    clock = budget.start()
    _check_connected(problem)
    g, wl = problem.graph, problem.workload
    n, m = g.n_nodes, g.n_edges
    cap = problem.capacity
    live = wl.sizes > 0
    sources, row = np.unique(wl.sources[live], return_inverse=True)
    demand = np.zeros((sources.size, n))
    np.add.at(demand, (row, wl.destinations[live]), wl.sizes[live])
    indptr, heads = g.indptr.astype(np.int64), g.indices.astype(np.int64)
    pred = np.empty((sources.size, n), dtype=np.int64)
    x, _ = _aon(indptr, heads, 1.0 / cap, sources, demand, pred)
    trees: dict[bytes, int] = {pred.tobytes(): 0}  # distinct routings seen, and their weights
    preds: list[np.ndarray] = [pred.copy()]
    coeffs = np.ones(1)
    dual, it, primal = 0.0, 0, float((x / cap).max(initial=0.0))
    log_m = math.log(max(m, 2))
    while True:
        it += 1
        util = x / cap
        primal = float(util.max(initial=0.0))
        if primal <= 0:
            break
        smooth = max(epsilon, 0.5 * 0.95 ** it)  # continuation: sharpen the soft-max gradually
        beta = max(4.0, 2.0 * log_m / (smooth * primal))
        w = np.exp(beta * (util - primal)) / cap
        y, alpha = _aon(indptr, heads, w, sources, demand, pred)
        dual = max(dual, alpha / float((w * cap).sum()))
        clock.report(it, objective=primal, bound=dual, gap=primal / dual - 1 if dual > 0 else None)
        if dual > 0 and primal <= (1 + epsilon) * dual:
            break
        if clock.should_stop(it):
            break
        gamma = _line_search(x, y, cap, beta)
        if gamma <= 0:
            continue
        x = (1 - gamma) * x + gamma * y
        coeffs *= 1 - gamma
        key = pred.tobytes()
        if key not in trees:
            trees[key] = len(preds)
            preds.append(pred.copy())
            coeffs = np.append(coeffs, 0.0)
        coeffs[trees[key]] += gamma
    primal = float((x / cap).max(initial=0.0))
    result = _paths(problem, sources, row, preds, coeffs)
    stats = {"dual_bound": dual, "gap": primal / dual - 1 if dual > 0 else math.inf, "iterations": it,
             "time_s": clock.elapsed(), "certified": dual > 0 and primal <= (1 + epsilon) * dual,
             "epsilon": epsilon}
    return FlowAssignment(result.loads, result.flow_ptr, result.path_ptr, result.path_edges, result.fractions,
                          result.max_congestion, result.pieces_per_flow, "mwu", stats)


def _paths(problem: FlowRoutingProblem, sources: np.ndarray, row: np.ndarray, preds: list[np.ndarray],
           coeffs: np.ndarray) -> FlowAssignment:
    """Every flow's distinct tree paths over the iterations, weighted by the iterations'
    convex-combination coefficients."""
    g, wl = problem.graph, problem.workload
    tails = g.tails
    live_idx = np.flatnonzero(wl.sizes > 0)
    row_of = np.full(wl.n_flows, -1, dtype=np.int64)
    row_of[live_idx] = row
    paths: list[list[np.ndarray]] = []
    fracs: list[list[float]] = []
    keep = coeffs > 1e-15
    stack = [p for p, k in zip(preds, keep, strict=True) if k]
    weights = coeffs[keep] / coeffs[keep].sum()
    for i in range(wl.n_flows):
        k = int(row_of[i])
        d = int(wl.destinations[i])
        found: dict[bytes, list] = {}
        for pred, c in zip(stack if k >= 0 else stack[:1], weights if k >= 0 else [1.0], strict=True):
            same = np.flatnonzero(sources == wl.sources[i])
            kk = k if k >= 0 else (int(same[0]) if same.size else -1)
            if kk < 0:
                break
            edges = []
            v = d
            while v != wl.sources[i]:
                e = int(pred[kk, v])
                edges.append(e)
                v = int(tails[e])
            key = np.asarray(edges[::-1], dtype=np.int64)
            b = key.tobytes()
            if b in found:
                found[b][1] += c
            else:
                found[b] = [key, c]
        if not found:  # zero-size flow whose source sends nothing else: fewest-hop path
            from solvers.flows.lp import _bfs_path

            p = _bfs_path(g.indptr, g.indices, np.ones(g.n_edges), int(wl.sources[i]), d, 0.5) or []
            found[b"0"] = [np.asarray(p, dtype=np.int64), 1.0]
        total = sum(v[1] for v in found.values())
        paths.append([v[0] for v in found.values()])
        fracs.append([v[1] / total for v in found.values()])
    return FlowAssignment.from_paths(problem, paths, fracs, solver="mwu")


register(
    "mwu",
    [ProblemKind.TRAFFIC_ENGINEERING, ProblemKind.FABRIC_ROUTING],
    solve_mwu,
    description="Multiplicative weights (Dijkstra on exponential link costs) with a certified dual bound",
    capabilities=["split", "approximate", "certified", "parallel-edges"],
)
