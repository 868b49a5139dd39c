"""The exact minimum-maximum-utilisation multicommodity flow, as a linear program solved by
OR-Tools (GLOP simplex or PDLP first-order).

Formulation (edge form, commodities aggregated by source node)::

    minimise U
    s.t.  sum_out f[k, e] - sum_in f[k, e] = b_k(v)         for every commodity k, node v
          sum_k f[k, e] + fixed_e <= U * capacity_e         for every edge e
          f >= 0

where commodity ``k`` is everything leaving one source node, ``b_k(source) = total``,
``b_k(t) = -demand(source, t)``. Two exact reductions keep it small:

* stub nodes (a node whose only neighbour is one other node, e.g. a host on its leaf) can only
  send and receive over their one link, so that link's load is fixed in advance (``fixed_e``)
  and the demand is moved to the neighbour; no commodity may route through a stub;
* commodities are aggregated by source or by destination, whichever gives fewer.

The optimum is exact for the LP; :func:`solve_lp` also decomposes every commodity's edge flow
into paths so that the result is a :class:`~planner.flows.FlowAssignment` like every other
policy's.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from planner.budget import Budget
from planner.errors import InfeasibleError, ValidationError
from planner.flows import FlowAssignment, FlowRoutingProblem
from planner.registry import ProblemKind, register

Backend = Literal["glop", "pdlp"]
BACKENDS: tuple[str, ...] = ("glop", "pdlp")
#: Flow below this (relative to the largest demand) is treated as zero in the decomposition.
_FLOW_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class LpSolution:
    """The LP's optimum and its edge flows.

    Parameters
    ----------
    optimum
        Minimum over all fractional routings of the maximum utilisation.
    loads
        Load on every graph edge at the optimum (fixed stub loads included).
    commodity_sources
        Node of every aggregated commodity (its source, or its destination when ``by`` is
        ``"destination"``).
    commodity_flow
        ``(n_commodities, n_edges)`` flow of every commodity on every edge.
    by
        ``"source"`` or ``"destination"``.
    backend
        ``"glop"`` or ``"pdlp"``.
    wall_s
        Seconds to build and solve.
    n_variables
        Size of the LP.
    """

    optimum: float
    loads: np.ndarray
    commodity_sources: np.ndarray
    commodity_flow: np.ndarray
    moved_sources: np.ndarray
    moved_destinations: np.ndarray
    by: str
    backend: str
    wall_s: float
    n_variables: int


def _stubs(problem: FlowRoutingProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node: its only neighbour (-1 if not a stub), its up edge (stub -> neighbour) and its
    down edge (neighbour -> stub), -1 where there is none."""
    g = problem.graph
    n, tails, heads = g.n_nodes, g.tails, g.indices
    out_deg = np.bincount(tails, minlength=n)
    in_deg = np.bincount(heads, minlength=n)
    neighbour = np.full(n, -1, dtype=np.int64)
    up = np.full(n, -1, dtype=np.int64)
    down = np.full(n, -1, dtype=np.int64)
    cand = np.flatnonzero((out_deg == 1) & (in_deg == 1))
    for v in cand:
        e_out = int(g.indptr[v])
        w = int(heads[e_out])
        back = np.flatnonzero((tails == w) & (heads == v))
        if back.size == 1 and w != v:
            neighbour[v], up[v], down[v] = w, e_out, int(back[0])
    # a stub whose neighbour is itself a stub (a 2-node component) keeps both as real nodes
    both = (neighbour >= 0) & (neighbour[np.maximum(neighbour, 0)] >= 0)
    neighbour[both], up[both], down[both] = -1, -1, -1
    return neighbour, up, down


def _check_connected(problem: FlowRoutingProblem) -> None:
    """Raise InfeasibleError naming the first flow whose destination is unreachable."""
    from scipy.sparse import csgraph

    wl = problem.workload
    if wl.n_flows == 0:
        return
    adj = problem.graph.to_scipy()
    _n_comp, labels = csgraph.connected_components(adj, directed=True, connection="strong")
    bad = np.flatnonzero(labels[wl.sources] != labels[wl.destinations])
    if bad.size == 0:
        return
    # strong components differ; confirm by reachability (directed graphs need not be symmetric)
    for i in bad:
        reach = csgraph.breadth_first_order(adj, int(wl.sources[i]), directed=True, return_predecessors=False)
        if not np.isin(wl.destinations[i], reach):
            raise InfeasibleError(f"flows[{int(i)}]", f"{problem.flow_label(int(i))} disconnected (no path)")


def min_congestion_lp(problem: FlowRoutingProblem, backend: Backend = "glop",
                      time_limit: float | None = None) -> LpSolution:
    """Solve the min-max-utilisation multicommodity LP.

    Parameters
    ----------
    problem
        Flows and capacitated graph.
    backend
        ``"glop"`` (dual simplex, exact vertex) or ``"pdlp"`` (first-order, for large LPs;
        solved to relative tolerance 1e-8).
    time_limit
        Seconds for the solver, or ``None``.

    Raises
    ------
    ValidationError
        Unknown ``backend``.
    InfeasibleError
        ``flows[i]: a -> b disconnected`` for a flow without a path, or the solver failing.
    """
    import time

    from ortools.linear_solver.python import model_builder_helper as mbh

    if backend not in BACKENDS:
        raise ValidationError("backend", f"unknown LP backend {backend!r} (known: {', '.join(BACKENDS)})")
    started = time.perf_counter()
    _check_connected(problem)
    g, wl = problem.graph, problem.workload
    n, m = g.n_nodes, g.n_edges
    cap = problem.capacity
    tails, heads = g.tails, g.indices
    neighbour, up, down = _stubs(problem)
    src, dst, size = wl.sources.copy(), wl.destinations.copy(), wl.sizes
    fixed = np.zeros(m)
    s_stub = neighbour[src] >= 0
    np.add.at(fixed, up[src[s_stub]], size[s_stub])
    src[s_stub] = neighbour[src[s_stub]]
    d_stub = neighbour[dst] >= 0
    np.add.at(fixed, down[dst[d_stub]], size[d_stub])
    dst[d_stub] = neighbour[dst[d_stub]]
    live = (src != dst) & (size > 0)
    stub_edge = np.zeros(m, dtype=bool)
    stub_edge[up[up >= 0]] = True
    stub_edge[down[down >= 0]] = True
    lp_edges = np.flatnonzero(~stub_edge)
    me = lp_edges.size
    by = "source" if np.unique(src[live]).size <= np.unique(dst[live]).size else "destination"
    key = src[live] if by == "source" else dst[live]
    other = dst[live] if by == "source" else src[live]
    comm, comm_of = np.unique(key, return_inverse=True)
    K = comm.size
    # supplies: b[k, v]
    b = np.zeros((K, n))
    np.add.at(b, (comm_of, other), -size[live])
    np.add.at(b, (comm_of, key), size[live])
    if by == "destination":
        b = -b
    u_lb = float((fixed / cap).max(initial=0.0))
    nv = K * me + 1
    # incidence of the LP edges (node x edge): +1 at tail, -1 at head
    et, eh = tails[lp_edges], heads[lp_edges]
    cols = np.arange(me)
    inc = sp.csr_array((np.r_[np.ones(me), -np.ones(me)], (np.r_[et, eh], np.r_[cols, cols])), shape=(n, me))
    conservation = sp.kron(sp.identity(K, format="csr"), inc, format="csr")
    conservation = sp.hstack([conservation, sp.csr_array((K * n, 1))], format="csr")
    capacity_rows = sp.hstack(
        [sp.hstack([sp.identity(me, format="csr")] * K, format="csr") if K else sp.csr_array((me, 0)),
         sp.csr_array(-cap[lp_edges].reshape(-1, 1))], format="csr")
    A = sp.vstack([conservation, capacity_rows], format="csr")
    rhs_eq = b.ravel()
    lo = np.r_[rhs_eq, np.full(me, -np.inf)]
    hi = np.r_[rhs_eq, -fixed[lp_edges]]
    obj = np.zeros(nv)
    obj[-1] = 1.0
    var_lo = np.zeros(nv)
    var_lo[-1] = u_lb
    var_hi = np.full(nv, np.inf)
    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(var_lo, var_hi, obj, lo, hi, A.tocsr())
    solver = mbh.ModelSolverHelper(backend)
    if backend == "pdlp":
        solver.set_solver_specific_parameters(
            "termination_criteria { simple_optimality_criteria {"
            " eps_optimal_relative: 1e-8 eps_optimal_absolute: 1e-8 } }")
    if time_limit is not None:
        solver.set_time_limit_in_seconds(float(time_limit))
    solver.solve(model)
    if not solver.has_solution():
        raise InfeasibleError("lp", f"{backend} found no solution ({solver.status_string() or solver.status()})")
    x = np.asarray(solver.variable_values(), dtype=np.float64)
    optimum = max(float(x[-1]), u_lb)
    flow = np.zeros((K, m))
    flow[:, lp_edges] = np.maximum(x[:-1].reshape(K, me), 0.0)
    loads = flow.sum(axis=0) + fixed
    return LpSolution(optimum, loads, comm, flow, src, dst, by, backend, time.perf_counter() - started, nv)


def _bfs_path(indptr: np.ndarray, heads: np.ndarray, flow: np.ndarray, s: int, t: int,
              tol: float) -> list[int] | None:
    """Edge indices of a fewest-hop s -> t path over edges carrying more than ``tol``."""
    pred = {s: -1}
    queue = deque([s])
    while queue:
        u = queue.popleft()
        if u == t:
            break
        for e in range(indptr[u], indptr[u + 1]):
            v = int(heads[e])
            if flow[e] > tol and v not in pred:
                pred[v] = e
                queue.append(v)
    if t not in pred:
        return None
    path, v = [], t
    while v != s:
        e = pred[v]
        path.append(e)
        v = int(_tail_of(indptr, e))
    return path[::-1]


def _tail_of(indptr: np.ndarray, e: int) -> int:
    return int(np.searchsorted(indptr, e, side="right") - 1)


def decompose(problem: FlowRoutingProblem, solution: LpSolution, *, solver: str = "lp") -> FlowAssignment:
    """Paths and fractions of every flow from the LP's commodity edge flows.

    Each aggregated commodity's flow is peeled into paths (fewest hops over edges still carrying
    flow, bottleneck amount) towards each of its sinks; every original flow between the same
    (moved) pair gets the same split. Cycles in the LP solution are dropped, so loads can only
    fall; the maximum congestion stays the optimum.
    """
    g, wl = problem.graph, problem.workload
    neighbour, up, down = _stubs(problem)
    indptr, heads = g.indptr, g.indices
    src, dst = solution.moved_sources, solution.moved_destinations
    tol = _FLOW_TOL * max(1.0, float(wl.sizes.max(initial=0.0)))
    comm_index = {int(c): k for k, c in enumerate(solution.commodity_sources)}
    pair_split: dict[tuple[int, int], tuple[list[list[int]], list[float]]] = {}
    pair_total: dict[tuple[int, int], float] = {}
    for i in range(wl.n_flows):
        if src[i] != dst[i] and wl.sizes[i] > 0:
            pair_total[(int(src[i]), int(dst[i]))] = pair_total.get((int(src[i]), int(dst[i])), 0.0) + wl.sizes[i]
    residual = solution.commodity_flow.copy()
    for (a, z), total in pair_total.items():
        k = comm_index[a if solution.by == "source" else z]
        f = residual[k]
        paths, amounts, left = [], [], total
        while left > tol:
            p = _bfs_path(indptr, heads, f, a, z, tol)
            if p is None:
                break
            amount = min(left, float(f[p].min()))
            f[p] -= amount
            paths.append(p)
            amounts.append(amount)
            left -= amount
        if not paths:
            raise InfeasibleError(f"pair[{g.node_ids[a]}->{g.node_ids[z]}]", "LP flow carries nothing for it")
        amounts_arr = np.asarray(amounts)
        pair_split[(a, z)] = (paths, (amounts_arr / amounts_arr.sum()).tolist())
    paths_out: list[list[np.ndarray]] = []
    fracs_out: list[list[float]] = []
    for i in range(wl.n_flows):
        s0, d0 = int(wl.sources[i]), int(wl.destinations[i])
        head = [int(up[s0])] if neighbour[s0] >= 0 else []
        tail = [int(down[d0])] if neighbour[d0] >= 0 else []
        a, z = int(src[i]), int(dst[i])
        if a == z:
            paths_out.append([np.asarray(head + tail, dtype=np.int64)])
            fracs_out.append([1.0])
            continue
        if (a, z) not in pair_split:  # a zero-size flow: any path
            p = _bfs_path(indptr, heads, np.ones(g.n_edges), a, z, 0.5) or []
            paths_out.append([np.asarray(head + p + tail, dtype=np.int64)])
            fracs_out.append([1.0])
            continue
        plist, flist = pair_split[(a, z)]
        paths_out.append([np.asarray(head + p + tail, dtype=np.int64) for p in plist])
        fracs_out.append(list(flist))
    return FlowAssignment.from_paths(problem, paths_out, fracs_out, solver=solver,
                                     stats={"lp_optimum": solution.optimum, "backend": solution.backend,
                                            "lp_wall_s": solution.wall_s, "n_variables": solution.n_variables})


def solve_lp(problem: FlowRoutingProblem, budget: Budget, backend: Backend = "glop") -> FlowAssignment:
    """Exact min-max-utilisation routing (LP by OR-Tools), decomposed into paths.

    ``stats["lp_optimum"]`` is the LP optimum; ``max_congestion`` equals it up to the solver's
    tolerance. Raises InfeasibleError naming the first disconnected flow.
    """
    clock = budget.start()
    solution = min_congestion_lp(problem, backend, None if budget.time_limit is None else clock.remaining())
    result = decompose(problem, solution, solver=f"lp-{backend}" if backend != "glop" else "lp")
    clock.report(1, objective=result.max_congestion, bound=solution.optimum)
    return FlowAssignment(result.loads, result.flow_ptr, result.path_ptr, result.path_edges, result.fractions,
                          result.max_congestion, result.pieces_per_flow, result.solver,
                          {**result.stats, "time_s": clock.elapsed()})


def solve_lp_pdlp(problem: FlowRoutingProblem, budget: Budget) -> FlowAssignment:
    """:func:`solve_lp` with the PDLP backend."""
    return solve_lp(problem, budget, "pdlp")


register(
    "lp",
    [ProblemKind.FABRIC_ROUTING, ProblemKind.TRAFFIC_ENGINEERING],
    solve_lp,
    description="Exact min-max-utilisation multicommodity LP (OR-Tools GLOP), decomposed into paths",
    capabilities=["exact", "split", "parallel-edges"],
    baseline=True,
)
register(
    "lp-pdlp",
    [ProblemKind.FABRIC_ROUTING, ProblemKind.TRAFFIC_ENGINEERING],
    solve_lp_pdlp,
    description="Min-max-utilisation multicommodity LP solved by OR-Tools PDLP (first-order)",
    capabilities=["exact", "split", "parallel-edges"],
    baseline=True,
)
