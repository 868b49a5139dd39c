"""The exact minimum-maximum-utilisation multicommodity flow, as a linear program solved by
OR-Tools (GLOP simplex or PDLP first-order).

Two formulations, both exact:

* **General (arc form)**, for any network: the problem is first split along its bridges
  (:mod:`solvers.flows.reduction`: bridge loads are fixed, every 2-edge-connected block is
  independent), then every block is the LP::

      minimise U
      s.t.  sum_out f[k, e] - sum_in f[k, e] = b_k(v)     for every commodity k, node v
            sum_k f[k, e] <= U * capacity_e               for every edge e
            f >= 0

  with commodities aggregated by source node (or by destination, whichever gives fewer). The
  optimum is the largest of the blocks' optima and the bridges' fixed utilisations.
* **Leaf-spine (pair form)**, for complete leaf-spine fabrics from
  :func:`~planner.graph.fabric.leaf_spine`: every cross-leaf path is leaf -> spine -> leaf, so
  the LP is over ``y[a, b, j]`` (traffic of leaf pair ``(a, b)`` through spine ``j``)::

      minimise U
      s.t.  sum_j y[a, b, j] = D[a, b]
            sum_b y[a, b, j] <= U * up_capacity[a, j],   sum_a y[a, b, j] <= U * down_capacity[j, b]

  with host links fixed. Longer (leaf-spine-leaf-spine-leaf) routes cannot lower the optimum
  there: every leaf's uplinks and downlinks have one rate, so the cut bounds of the leaves are
  attained by two-hop routes (checked against the arc form in the tests). Its size is
  ``pairs x spines`` instead of ``leaves x edges``.

:func:`solve_lp` decomposes the optimum into paths, a :class:`~planner.flows.FlowAssignment`
like every other policy's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp

from planner.budget import Budget
from planner.errors import InfeasibleError, ValidationError
from planner.flows import FlowAssignment, FlowRoutingProblem
from planner.registry import ProblemKind, register
from solvers.flows.reduction import Block, Reduction, assemble_paths, check_connected, decompose_block, reduce_problem

Backend = Literal["glop", "pdlp"]
BACKENDS: tuple[str, ...] = ("glop", "pdlp")
Formulation = Literal["auto", "arc", "leaf-spine"]

#: Kept for callers of the old name.
_check_connected = check_connected


@dataclass(frozen=True, eq=False)
class BlockLp:
    """The arc-form LP optimum of one block."""

    block: Block
    optimum: float
    commodity_nodes: np.ndarray
    commodity_flow: np.ndarray
    by: str


@dataclass(frozen=True, eq=False)
class LpSolution:
    """The LP's optimum and its flows.

    Parameters
    ----------
    optimum
        Minimum over all fractional routings of the maximum utilisation.
    loads
        Load on every graph edge at the optimum.
    formulation
        ``"arc"`` or ``"leaf-spine"``.
    backend
        ``"glop"`` or ``"pdlp"``.
    wall_s
        Seconds to build and solve (reduction included).
    n_variables
        Total size of the LP(s) solved.
    reduction, blocks
        Arc form: the bridge reduction and every block's optimum and commodity flows.
    pair_flow
        Leaf-spine form: ``(pairs, spines)`` traffic of every leaf pair through every spine,
        with ``pairs`` the ``(a, b)`` leaf numbers.
    """

    optimum: float
    loads: np.ndarray
    formulation: str
    backend: str
    wall_s: float
    n_variables: int
    reduction: Reduction | None = None
    blocks: list[BlockLp] = field(default_factory=list)
    pairs: np.ndarray | None = None
    pair_flow: np.ndarray | None = None


def _solve_model(var_lo, var_hi, obj, A, lo, hi, backend: str, time_limit: float | None) -> np.ndarray:
    from ortools.linear_solver.python import model_builder_helper as mbh

    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(var_lo, var_hi, obj, lo, hi, A.tocsr())
    solver = mbh.ModelSolverHelper(backend)
    if backend == "pdlp":
        solver.set_solver_specific_parameters(
            "termination_criteria { simple_optimality_criteria {"
            " eps_optimal_relative: 1e-10 eps_optimal_absolute: 1e-10 } }")
    if time_limit is not None:
        solver.set_time_limit_in_seconds(max(0.01, float(time_limit)))
    solver.solve(model)
    if not solver.has_solution():
        raise InfeasibleError("lp", f"{backend} found no solution ({solver.status_string() or solver.status()})")
    return np.asarray(solver.variable_values(), dtype=np.float64)


def _block_lp(block: Block, backend: str, time_limit: float | None) -> tuple[BlockLp, int]:
    g = block.graph
    n, me = g.n_nodes, g.n_edges
    cap = block.capacity
    src, dst, size = block.sources, block.destinations, block.sizes
    by = "source" if np.unique(src).size <= np.unique(dst).size else "destination"
    key, other = (src, dst) if by == "source" else (dst, src)
    comm, comm_of = np.unique(key, return_inverse=True)
    K = comm.size
    b = np.zeros((K, n))
    np.add.at(b, (comm_of, other), -size)
    np.add.at(b, (comm_of, key), size)
    if by == "destination":
        b = -b
    nv = K * me + 1
    cols = np.arange(me)
    inc = sp.csr_array((np.r_[np.ones(me), -np.ones(me)], (np.r_[g.tails, g.indices], np.r_[cols, cols])),
                       shape=(n, me))
    conservation = sp.hstack([sp.kron(sp.identity(K, format="csr"), inc, format="csr"),
                              sp.csr_array((K * n, 1))], format="csr")
    capacity_rows = sp.hstack([sp.hstack([sp.identity(me, format="csr")] * K, format="csr"),
                               sp.csr_array(-cap.reshape(-1, 1))], format="csr")
    A = sp.vstack([conservation, capacity_rows], format="csr")
    rhs = b.ravel()
    obj = np.zeros(nv)
    obj[-1] = 1.0
    x = _solve_model(np.zeros(nv), np.full(nv, np.inf), obj, A, np.r_[rhs, np.full(me, -np.inf)],
                     np.r_[rhs, np.zeros(me)], backend, time_limit)
    flow = np.maximum(x[:-1].reshape(K, me), 0.0)
    optimum = float((flow.sum(axis=0) / cap).max(initial=0.0))
    return BlockLp(block, max(optimum, float(x[-1])) if K else 0.0, comm, flow, by), nv


def _arc_lp(problem: FlowRoutingProblem, backend: str, time_limit: float | None) -> LpSolution:
    started = time.perf_counter()
    red = reduce_problem(problem)
    cap = problem.capacity
    loads = red.fixed_loads.copy()
    blocks, nv = [], 0
    for block in red.blocks:
        left = None if time_limit is None else time_limit - (time.perf_counter() - started)
        if left is not None and left <= 0:
            raise InfeasibleError("lp", f"time limit ({time_limit} s) reached before every block was solved")
        res, size = _block_lp(block, backend, left)
        blocks.append(res)
        nv += size
        np.add.at(loads, block.edges, res.commodity_flow.sum(axis=0))
    optimum = max([red.fixed_utilisation(cap)] + [b.optimum for b in blocks])
    return LpSolution(optimum, loads, "arc", backend, time.perf_counter() - started, nv, red, blocks)


def _leaf_spine_lp(problem: FlowRoutingProblem, backend: str, time_limit: float | None) -> LpSolution:
    from solvers.flows.splitting import leaf_spine_index

    started = time.perf_counter()
    ix = leaf_spine_index(problem)
    wl, cap = problem.workload, problem.capacity
    S, L = ix.spines, ix.leaves
    m = problem.graph.n_edges
    live = wl.sizes > 0
    loads = np.bincount(ix.host_up[wl.sources[live]], wl.sizes[live], m)
    loads += np.bincount(ix.host_down[wl.destinations[live]], wl.sizes[live], m)
    a, b = ix.host_leaf[wl.sources], ix.host_leaf[wl.destinations]
    cross = live & (a != b)
    pair_key, inv = np.unique(a[cross] * L + b[cross], return_inverse=True)
    demand = np.bincount(inv, wl.sizes[cross], pair_key.size)
    P = pair_key.size
    pa, pb = pair_key // L, pair_key % L
    fixed_u = float((loads / cap).max(initial=0.0))
    if P == 0:
        return LpSolution(fixed_u, loads, "leaf-spine", backend, time.perf_counter() - started, 0,
                          pairs=np.zeros((0, 2), dtype=np.int64), pair_flow=np.zeros((0, S)))
    nv = P * S + 1
    var = np.arange(P * S).reshape(P, S)
    rows_pair = sp.csr_array((np.ones(P * S), (np.repeat(np.arange(P), S), var.ravel())), shape=(P, nv))
    j = np.tile(np.arange(S), P)
    up_row = np.repeat(pa, S) * S + j          # (a, j)
    down_row = j * L + np.repeat(pb, S)        # (j, b)
    up_cap = cap[ix.up].ravel()                # row a*S + j
    down_cap = cap[ix.down].ravel()            # row j*L + b
    rows_up = sp.csr_array((np.r_[np.ones(P * S), -up_cap], (np.r_[up_row, np.arange(L * S)],
                                                              np.r_[var.ravel(), np.full(L * S, nv - 1)])),
                           shape=(L * S, nv))
    rows_down = sp.csr_array((np.r_[np.ones(P * S), -down_cap], (np.r_[down_row, np.arange(S * L)],
                                                                  np.r_[var.ravel(), np.full(S * L, nv - 1)])),
                             shape=(S * L, nv))
    A = sp.vstack([rows_pair, rows_up, rows_down], format="csr")
    lo = np.r_[demand, np.full(2 * L * S, -np.inf)]
    hi = np.r_[demand, np.zeros(2 * L * S)]
    obj = np.zeros(nv)
    obj[-1] = 1.0
    var_lo = np.zeros(nv)
    var_lo[-1] = fixed_u
    x = _solve_model(var_lo, np.full(nv, np.inf), obj, A, lo, hi, backend, time_limit)
    y = np.maximum(x[:-1].reshape(P, S), 0.0)
    y *= (demand / np.maximum(y.sum(axis=1), 1e-300))[:, None]  # exact row sums
    np.add.at(loads, ix.up[pa[:, None], np.arange(S)[None, :]].ravel(), y.ravel())
    np.add.at(loads, ix.down[np.arange(S)[None, :], pb[:, None]].ravel(), y.ravel())
    optimum = max(fixed_u, float((loads / cap).max(initial=0.0)))
    return LpSolution(optimum, loads, "leaf-spine", backend, time.perf_counter() - started, nv,
                      pairs=np.stack([pa, pb], axis=1), pair_flow=y)


def _is_complete_leaf_spine(problem: FlowRoutingProblem) -> bool:
    from solvers.flows.splitting import leaf_spine_index

    if problem.graph.metadata.get("fabric") != "leaf-spine":
        return False
    try:
        leaf_spine_index(problem)
    except ValidationError:
        return False
    return True


def min_congestion_lp(problem: FlowRoutingProblem, backend: Backend = "glop",
                      time_limit: float | None = None, formulation: Formulation = "auto") -> LpSolution:
    """Solve the min-max-utilisation multicommodity LP.

    Parameters
    ----------
    problem
        Flows and capacitated graph.
    backend
        ``"glop"`` (dual simplex, exact vertex) or ``"pdlp"`` (first-order, for large LPs;
        solved to relative tolerance 1e-10).
    time_limit
        Seconds for the solver, or ``None``.
    formulation
        ``"leaf-spine"`` (pair form, complete leaf-spine fabrics with host-to-host flows),
        ``"arc"`` (any network) or ``"auto"`` (pair form where it applies).

    Raises
    ------
    ValidationError
        Unknown ``backend`` or ``formulation``, or ``"leaf-spine"`` on another network.
    InfeasibleError
        ``flows[i]: a -> b disconnected`` for a flow without a path, or the solver failing.
    """
    if backend not in BACKENDS:
        raise ValidationError("backend", f"unknown LP backend {backend!r} (known: {', '.join(BACKENDS)})")
    if formulation not in ("auto", "arc", "leaf-spine"):
        raise ValidationError("formulation", f"unknown formulation {formulation!r} (known: auto, arc, leaf-spine)")
    if formulation == "leaf-spine" or (formulation == "auto" and _is_complete_leaf_spine(problem)):
        return _leaf_spine_lp(problem, backend, time_limit)
    return _arc_lp(problem, backend, time_limit)


def decompose(problem: FlowRoutingProblem, solution: LpSolution, *, solver: str = "lp") -> FlowAssignment:
    """Paths and fractions of every flow from the LP's flows.

    Arc form: every block's commodity flows are peeled into paths (fewest hops over edges still
    carrying flow, bottleneck amount) for each induced demand, and joined across bridges;
    cycles in the LP solution are dropped, so loads can only fall. Leaf-spine form: every flow
    of a leaf pair is split over the spines in the pair's proportions.
    """
    stats = {"lp_optimum": solution.optimum, "backend": solution.backend, "lp_wall_s": solution.wall_s,
             "n_variables": solution.n_variables, "formulation": solution.formulation}
    if solution.formulation == "leaf-spine":
        from solvers.flows.splitting import leaf_spine_index, route_over_spines

        ix = leaf_spine_index(problem)
        wl = problem.workload
        a, b = ix.host_leaf[wl.sources], ix.host_leaf[wl.destinations]
        L = ix.leaves
        share = {}
        for (pa, pb), row in zip(solution.pairs.tolist(), solution.pair_flow, strict=True):
            total = row.sum()
            share[pa * L + pb] = row / total if total > 0 else np.full(row.size, 1.0 / row.size)
        spine_lists, frac_lists = [], []
        for i in range(wl.n_flows):
            if a[i] == b[i]:
                spine_lists.append(np.zeros(0, dtype=np.int64))
                frac_lists.append(np.zeros(0))
                continue
            row = share.get(int(a[i] * L + b[i]), np.full(ix.spines, 1.0 / ix.spines))
            used = np.flatnonzero(row > 1e-12)
            spine_lists.append(used)
            frac_lists.append(row[used] / row[used].sum())
        pieces = np.array([max(1, s.size) for s in spine_lists], dtype=np.int64)
        return route_over_spines(problem, ix, spine_lists, frac_lists, pieces, solver, stats)
    splits: dict = {}
    for blk in solution.blocks:
        splits.update(decompose_block(blk.block, blk.commodity_nodes, blk.commodity_flow, blk.by))
    return assemble_paths(problem, solution.reduction, splits, solver=solver, stats=stats)


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
