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
