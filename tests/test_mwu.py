"""Multiplicative-weights min-congestion routing: its certificate against the exact LP."""

from __future__ import annotations

import pytest

from datasets.generators.fabric import gravity_demands, random_demands
from datasets.location import data_dir
from planner.budget import Budget
from planner.errors import InfeasibleError, ValidationError
from planner.flows import FlowRoutingProblem, Workload, check_flow_assignment
from planner.graph.fabric import fail_node, leaf_spine
from solvers.flows.lp import min_congestion_lp
from solvers.flows.mwu import solve_mwu


def _zoo(name: str):
    if not (data_dir() / "topologies").exists():
        pytest.skip("topology data absent (../shared/data/topologies)")
    from datasets.graphml import read_topology

    return read_topology(name)


@pytest.mark.parametrize("name", ["Abilene", "nsfnet", "Geant2012", "gbn"])
def test_dual_below_lp_below_primal(name):
    topo = _zoo(name)
    problem = FlowRoutingProblem(topo.graph, gravity_demands(topo, 100.0, seed=1))
    a = solve_mwu(problem, Budget(max_iterations=300), epsilon=0.01)
    assert check_flow_assignment(problem, a) == []
    lp = min_congestion_lp(problem).optimum
    assert a.stats["dual_bound"] <= lp * (1 + 1e-7)
    assert a.max_congestion >= lp * (1 - 1e-7)
    assert a.max_congestion <= 1.1 * lp


def test_fabric_random_demands_certificate():
    fabric = leaf_spine(4, 4, 3)
    problem = FlowRoutingProblem(fabric.graph, random_demands(fabric.graph, 500.0, seed=4, density=0.3))
    a = solve_mwu(problem, Budget(max_iterations=200))
    lp = min_congestion_lp(problem).optimum
    assert a.stats["dual_bound"] <= lp * (1 + 1e-7) <= a.max_congestion * (1 + 2e-7)
    assert check_flow_assignment(problem, a) == []


def test_disconnected_demand_named():
    fabric = leaf_spine(2, 2, 2)
    g = fail_node(fabric.graph, "leaf1")
    problem = FlowRoutingProblem(g, Workload.from_node_ids(g, [("host0-0", "host0-1"), ("host0-0", "host1-0")],
                                                           [1.0, 1.0]))
    with pytest.raises(InfeasibleError, match=r"flows\[1\].*host0-0 -> host1-0"):
        solve_mwu(problem, Budget())


def test_bad_epsilon():
    fabric = leaf_spine(2, 2, 1)
    problem = FlowRoutingProblem(fabric.graph, Workload(fabric.hosts[:1], fabric.hosts[1:], [1.0]))
    with pytest.raises(ValidationError, match="epsilon"):
        solve_mwu(problem, Budget(), epsilon=0.0)


def test_compiled_phase_matches_reference():
    import numpy as np

    from solvers.flows.mwu import _phase, reference_phase

    fabric = leaf_spine(3, 4, 2)
    g = fabric.graph
    rng = np.random.default_rng(7)
    cap = rng.uniform(50, 150, g.n_edges)
    length = rng.uniform(0.5, 1.5, g.n_edges) / cap  # random lengths: no ties
    src = np.array([4, 6], dtype=np.int64)
    dem_ptr = np.array([0, 2, 3], dtype=np.int64)
    dem_dst = np.array([5, 9, 3], dtype=np.int64)
    dem_val = np.array([80.0, 120.0, 60.0])
    x_ref, l_ref = reference_phase(g.indptr, g.indices, g.tails, cap, length, src, dem_ptr, dem_dst, dem_val,
                                   2.0, 0.3)
    x = np.zeros(g.n_edges)
    xk = np.zeros((2, g.n_edges))
    l_new = length.copy()
    _phase(g.indptr.astype(np.int64), g.indices.astype(np.int64), g.tails.astype(np.int64), cap, l_new, src,
           dem_ptr, dem_dst, dem_val, 2.0, 0.3, x, xk)
    np.testing.assert_allclose(x, x_ref, rtol=1e-12)
    np.testing.assert_allclose(l_new, l_ref, rtol=1e-12)
    np.testing.assert_allclose(xk.sum(axis=0), x, rtol=1e-12)
    assert x.sum() > 0 and (x > cap).any()  # steps capped at one capacity per link were needed


@pytest.mark.parametrize("name", ["Abilene", pytest.param("Cogentco", marks=pytest.mark.slow)])
def test_certified_gap_reached(name):
    from solvers.flows.mwu import mwu_min_congestion

    topo = _zoo(name)
    problem = FlowRoutingProblem(topo.graph, gravity_demands(topo, 100.0, seed=1))
    sol = mwu_min_congestion(problem, 0.01)
    assert sol.certified and sol.primal <= 1.01 * sol.dual * (1 + 1e-12)
    assert sol.primal == pytest.approx(float((sol.loads / problem.capacity).max()))
