"""Fabric routing: the LP optimum against hand-computed values, Theorem 1 splitting, the
other policies, failures, and the independent assignment check."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from datasets.generators.fabric import all_to_all, permutation, ring_allreduce
from planner.budget import Budget
from planner.errors import InfeasibleError, ValidationError
from planner.flows import FlowRoutingProblem, Workload, check_flow_assignment
from planner.graph.fabric import fail_links, leaf_spine
from solvers.flows.ecmp import ecmp_monte_carlo
from solvers.flows.lp import min_congestion_lp, solve_lp
from solvers.flows.splitting import ecmp_x, minimal_split, single_path, spray, theorem1_pieces
from solvers.flows.whatif import what_if


@pytest.fixture(scope="module")
def anchor() -> FlowRoutingProblem:
    """16x16 leaf-spine, 24 hosts per leaf, ring with every flow crossing the spines."""
    fabric = leaf_spine(16, 16, 24)
    return FlowRoutingProblem(fabric.graph, ring_allreduce(fabric, 100.0, placement="strided"))


def _valid(problem, assignment):
    assert check_flow_assignment(problem, assignment) == []
    return assignment


@pytest.mark.parametrize("backend", ["glop", "pdlp"])
def test_lp_anchor_is_one_and_a_half(anchor, backend):
    # every leaf sends 24 flows of one link rate over 16 uplinks: 24/16 = 1.5 by the cut bound,
    # and spraying reaches it
    a = _valid(anchor, solve_lp(anchor, Budget(), backend))
    assert a.stats["lp_optimum"] == pytest.approx(1.5, abs=1e-7)
    assert a.max_congestion == pytest.approx(1.5, abs=1e-7)


def test_lp_tiny_fabric_by_hand():
    # 2 spines, 2 leaves, 3 hosts per leaf, uplinks of 50: three cross flows of 100 from leaf0
    # share 2 x 50 of uplink -> U = 300 / 100 = 3.0; host links carry 100/100 = 1
    fabric = leaf_spine(2, 2, 3, uplink_gbps=50.0)
    hosts = fabric.hosts
    wl = Workload(hosts[:3], hosts[3:], np.full(3, 100.0))
    problem = FlowRoutingProblem(fabric.graph, wl)
    assert min_congestion_lp(problem).optimum == pytest.approx(3.0, abs=1e-9)
    _valid(problem, solve_lp(problem, Budget()))


def test_lp_matches_networkx_max_flow_single_commodity():
    # one commodity: min congestion = demand / max-flow value (networkx, independent)
    fabric = leaf_spine(3, 2, 2, uplink_gbps=40.0)
    g = fabric.graph
    s, t = int(fabric.hosts[0]), int(fabric.hosts[-1])
    problem = FlowRoutingProblem(g, Workload([s], [t], [90.0]))
    nxg = nx.DiGraph()
    for e in range(g.n_edges):
        nxg.add_edge(int(g.tails[e]), int(g.indices[e]), capacity=float(g.edge_attrs["capacity"][e]))
    value = nx.maximum_flow_value(nxg, s, t)
    assert min_congestion_lp(problem).optimum == pytest.approx(90.0 / value, rel=1e-9)


def test_anchor_policies(anchor):
    single = _valid(anchor, single_path(anchor, Budget()))
    assert single.max_congestion == pytest.approx(2.0)  # ceil(24/16) whole flows on some uplink
    assert single.pieces_per_flow.max() == 1
    sprayed = _valid(anchor, spray(anchor, Budget()))
    assert sprayed.max_congestion == pytest.approx(1.5)
    x8 = _valid(anchor, ecmp_x(anchor, Budget(seed=0), 8))
    assert 1.5 <= x8.max_congestion <= 24 / 8 + 1e-9
    mean, p99 = ecmp_monte_carlo(anchor, 20)
    assert mean > 2.0 and p99 >= mean


def test_minimal_split_theorem1_anchor(anchor):
    a = _valid(anchor, minimal_split(anchor, Budget()))
    r, s = 24, 16
    g = math.gcd(r, s)
    assert a.pieces_per_flow.max() == s // g == theorem1_pieces(r, s) == 2
    assert a.max_congestion == pytest.approx(1.5, abs=1e-9)
    # r/g pieces of size 1/(s/g) on every uplink: 3 half-flows = 150 Gb/s
    cap = anchor.capacity
    ls = anchor.graph.edge_attrs["layer"] == 1
    assert np.allclose(a.loads[ls], 150.0)
    assert np.allclose(a.loads[ls] / cap[ls], (r / g) / (s / g))


@pytest.mark.parametrize("r,s", [(3, 4), (6, 4), (5, 8), (8, 8), (12, 8)])
def test_minimal_split_equal_flows_one_leaf(r, s):
    # leaf0 sends r equal flows to distinct hosts of leaf1 over uplinks that are the bottleneck
    # (fast host links): Theorem 1 pieces, loads r/s per uplink
    fabric = leaf_spine(s, 2, max(r, 1), host_link_gbps=1000.0, uplink_gbps=100.0)
    hosts = fabric.hosts
    wl = Workload(hosts[:r], hosts[fabric.hosts.size // 2:][:r], np.full(r, 100.0))
    problem = FlowRoutingProblem(fabric.graph, wl)
    a = _valid(problem, minimal_split(problem, Budget()))
    assert a.pieces_per_flow.max() == s // math.gcd(r, s)
    up = (problem.graph.edge_attrs["layer"] == 1) & (problem.graph.edge_attrs["up"] == 1) & \
        (problem.graph.tails == s)  # leaf0's uplinks
    assert np.allclose(a.loads[up], 100.0 * r / s)
    assert a.max_congestion == pytest.approx(min_congestion_lp(problem).optimum, abs=1e-9)


@pytest.mark.parametrize("make", [
    lambda f: ring_allreduce(f, 100.0, placement="random", seed=3),
    lambda f: ring_allreduce(f, 100.0, placement="locality"),
    lambda f: permutation(f, 100.0, seed=2),
    lambda f: all_to_all(f, 100.0, ranks=40, placement="random", seed=1),
])
def test_minimal_split_reaches_lp(make):
    fabric = leaf_spine(8, 8, 6)
    problem = FlowRoutingProblem(fabric.graph, make(fabric))
    a = _valid(problem, minimal_split(problem, Budget()))
    assert a.max_congestion == pytest.approx(min_congestion_lp(problem).optimum, abs=1e-9)
    assert a.pieces_per_flow.max() <= 8


def test_failure_disconnecting_a_demand_names_it():
    fabric = leaf_spine(2, 2, 2)
    g = fabric.graph
    problem = FlowRoutingProblem(g, Workload.from_node_ids(g, [("host0-0", "host1-1")], [10.0]))
    cut = FlowRoutingProblem(fail_links(g, [("host1-1", "leaf1")]), problem.workload)
    with pytest.raises(InfeasibleError, match=r"flows\[0\].*host0-0 -> host1-1"):
        solve_lp(cut, Budget())
    with pytest.raises(InfeasibleError, match="host0-0 -> host1-1"):
        what_if(problem, solve_lp, links=[("host1-1", "leaf1")])


def test_what_if_spine_uplink_failure_moves_flows():
    fabric = leaf_spine(4, 2, 4)
    hosts = fabric.hosts
    problem = FlowRoutingProblem(fabric.graph, Workload(hosts[:4], hosts[4:], np.full(4, 100.0)))
    r = what_if(problem, solve_lp, links=[("leaf0", "spine0")])
    assert r.congestion_before == pytest.approx(1.0)
    assert r.congestion_after == pytest.approx(400.0 / 300.0)  # 3 uplinks left
    assert r.moved_flows.size >= 1
    with pytest.raises(ValidationError):
        minimal_split(FlowRoutingProblem(fail_links(fabric.graph, [("leaf0", "spine0")]), problem.workload),
                      Budget())


def test_theorem1_bound_unequal_flows_by_hand():
    from solvers.flows.splitting import theorem1_bound

    # equal flows: s / gcd(r, s)
    assert theorem1_bound(np.full(6, 100.0), 4).tolist() == [2] * 6
    assert theorem1_bound(np.full(3, 100.0), 4).tolist() == [4] * 3
    # 200, 200, 100, 100 = 6 units of 100 over 4 spines: a unit in 4/gcd(6,4) = 2 pieces,
    # a 2-unit flow in 4 pieces, never more than the 4 spines
    assert theorem1_bound(np.array([200.0, 200.0, 100.0, 100.0]), 4).tolist() == [4, 4, 2, 2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leaf_spine_pair_lp_equals_arc_lp(seed):
    # the pair form (two-hop paths only) against the arc form over all paths of the graph
    fabric = leaf_spine(4, 5, 3)
    rng = np.random.default_rng(seed)
    hosts = fabric.hosts
    src = rng.choice(hosts, 25)
    dst = rng.choice(hosts, 25)
    keep = src != dst
    problem = FlowRoutingProblem(fabric.graph, Workload(src[keep], dst[keep], rng.uniform(10, 150, keep.sum())))
    pair = min_congestion_lp(problem, formulation="leaf-spine")
    arc = min_congestion_lp(problem, formulation="arc")
    assert pair.formulation == "leaf-spine" and arc.formulation == "arc"
    assert pair.optimum == pytest.approx(arc.optimum, rel=1e-8)
    for sol in (pair, arc):
        _valid(problem, solve_lp(problem, Budget()))
        assert (sol.loads / problem.capacity).max() == pytest.approx(sol.optimum, rel=1e-8)


def test_bridges_carry_fixed_loads_path_graph():
    # a path a - b - c - d (every link a bridge, capacities 10, 20, 5): loads are forced
    from planner.graph.csr import Graph
    from solvers.flows.reduction import reduce_problem

    t = np.array([0, 1, 1, 2, 2, 3])
    h = np.array([1, 0, 2, 1, 3, 2])
    cap = np.array([10.0, 10.0, 20.0, 20.0, 5.0, 5.0])
    g = Graph.from_edges(4, t, h, {"capacity": cap}, node_ids=np.array(["a", "b", "c", "d"]))
    wl = Workload.from_node_ids(g, [("a", "d"), ("d", "b"), ("b", "c")], [4.0, 2.0, 6.0])
    problem = FlowRoutingProblem(g, wl)
    red = reduce_problem(problem)
    assert red.is_bridge.all() and red.blocks == []
    expected = {("a", "b"): 4.0, ("b", "c"): 10.0, ("c", "d"): 4.0, ("d", "c"): 2.0, ("c", "b"): 2.0}
    for e in range(g.n_edges):
        key = (g.node_ids[g.tails[e]], g.node_ids[g.indices[e]])
        assert red.fixed_loads[e] == pytest.approx(expected.get(key, 0.0))
    # max utilisation: c -> d carries 4 of 5
    assert min_congestion_lp(problem).optimum == pytest.approx(0.8)
    _valid(problem, solve_lp(problem, Budget()))


@pytest.mark.parametrize("workload", ["ring", "permutation", "all-to-all"])
def test_minimal_split_bench_cases_within_theorem1(workload):
    from planner.bench.fabric import make_workload

    fabric = leaf_spine(8, 8, 6)
    for seed in range(3):
        problem = FlowRoutingProblem(fabric.graph, make_workload(fabric, workload, seed))
        a = _valid(problem, minimal_split(problem, Budget()))
        assert a.max_congestion == pytest.approx(min_congestion_lp(problem).optimum, abs=1e-9)
        bound = a.stats["theorem1_pieces"]
        assert np.all(a.pieces_per_flow <= bound) and a.stats["within_theorem1"]
