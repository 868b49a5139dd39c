"""ECMP routing and the flow-routing vocabulary: loads against an independent recomputation,
paths against networkx shortest paths, determinism, the statistical anchor of the data README,
and bad inputs."""

from __future__ import annotations

import itertools
from dataclasses import replace

import networkx as nx
import numpy as np
import pytest

from datasets.generators.fabric import gravity_demands, permutation, ring_allreduce
from planner.budget import Budget
from planner.errors import InfeasibleError, ValidationError
from planner.flows import (
    DemandMatrix,
    FlowAssignment,
    FlowRoutingProblem,
    Workload,
    check_flow_assignment,
    link_loads,
)
from planner.graph.fabric import fail_links, fail_node, fat_tree, leaf_spine
from planner.registry import ProblemKind, get_solver
from solvers.flows.ecmp import ecmp_monte_carlo, solve_ecmp
from tests.conftest import requires_data


def _loads_by_hand(problem: FlowRoutingProblem, assignment: FlowAssignment) -> np.ndarray:
    """Plain-Python load recomputation, independent of link_loads and FlowAssignment.from_flat."""
    loads = [0.0] * problem.graph.n_edges
    for i in range(problem.workload.n_flows):
        for edges, fraction in assignment.splits(i):
            for e in edges.tolist():
                loads[e] += float(problem.workload.sizes[i]) * fraction
    return np.array(loads)


def _check_shortest(problem: FlowRoutingProblem, assignment: FlowAssignment) -> None:
    g = problem.graph
    nxg = g.to_networkx()
    ids = g.node_ids
    for i in range(problem.workload.n_flows):
        (edges, fraction), = assignment.splits(i)
        assert fraction == 1.0
        s, d = ids[problem.workload.sources[i]], ids[problem.workload.destinations[i]]
        walk = [ids[g.tails[edges[0]]]] + [ids[h] for h in g.indices[edges]]
        assert walk[0] == s and walk[-1] == d
        assert all(nxg.has_edge(a, b) for a, b in itertools.pairwise(walk))
        assert len(edges) == nx.shortest_path_length(nxg, s, d)


@pytest.mark.parametrize(
    "make",
    [
        lambda: (leaf_spine(4, 6, 3), "random"),
        lambda: (fat_tree(4), "random"),
        lambda: (fat_tree(6), "strided"),
    ],
)
def test_ecmp_paths_are_shortest_and_loads_recompute(make) -> None:
    fabric, placement = make()
    for wl in (ring_allreduce(fabric, 40.0, placement=placement, seed=2), permutation(fabric, 25.0, seed=1)):
        problem = FlowRoutingProblem(fabric.graph, wl)
        result = solve_ecmp(problem, Budget(seed=7))
        assert check_flow_assignment(problem, result) == []
        by_hand = _loads_by_hand(problem, result)
        assert np.allclose(result.loads, by_hand)
        assert result.max_congestion == pytest.approx(np.max(by_hand / fabric.graph.edge_attrs["capacity"]))
        assert np.all(result.pieces_per_flow == 1)
        _check_shortest(problem, result)


def test_same_seed_same_result_and_seeds_differ() -> None:
    fabric = leaf_spine(8, 8, 8)
    problem = FlowRoutingProblem(fabric.graph, ring_allreduce(fabric, 100.0, placement="strided"))
    a = solve_ecmp(problem, Budget(seed=11))
    b = solve_ecmp(problem, Budget(seed=11))
    assert np.array_equal(a.path_edges, b.path_edges) and np.array_equal(a.loads, b.loads)
    others = [solve_ecmp(problem, Budget(seed=s)).path_edges for s in range(12, 16)]
    assert any(not np.array_equal(a.path_edges, o) for o in others)


def test_per_hop_choice_is_uniform_over_spines() -> None:
    """Statistical: 4000 flows leaf0 -> leaf1 over 4 spines; each spine's share within 5
    standard deviations of 1/4 (fails by chance with probability ~1e-6)."""
    fabric = leaf_spine(4, 2, 1)
    g = fabric.graph
    n = 4000
    h0, h1 = fabric.hosts
    problem = FlowRoutingProblem(g, Workload(np.full(n, h0), np.full(n, h1), np.ones(n)))
    result = solve_ecmp(problem, Budget(seed=3))
    leaf0 = g.index_of("leaf0")
    up = [result.loads[g.edge_index(leaf0, g.index_of(f"spine{s}"))] for s in range(4)]
    sd = np.sqrt(n * 0.25 * 0.75)
    assert sum(up) == n and all(abs(u - n / 4) < 5 * sd for u in up)


def test_ring_anchor_16x16_leaf_spine() -> None:
    """Statistical check against the README anchor (ECMP mean max congestion 5.85, p99 8) on a
    16-spine, 16-leaf fabric with 24 hosts per leaf, flows of one link capacity, ranks placed on
    random hosts: over 300 seeds (placement and hash both drawn from the seed) the mean must lie
    in 4.5..7.5 and the p99 in 7..10. The standard deviation of one draw is about 0.8, so the
    mean of 300 is known to +-0.05; the band is loose on purpose."""
    fabric = leaf_spine(16, 16, 24)
    values = []
    for seed in range(300):
        wl = ring_allreduce(fabric, 100.0, placement="random", seed=seed)
        values.append(solve_ecmp(FlowRoutingProblem(fabric.graph, wl), Budget(seed=seed)).max_congestion)
    values = np.array(values)
    assert 4.5 <= values.mean() <= 7.5
    assert 7.0 <= np.percentile(values, 99) <= 10.0
    # with locality placement only one flow per leaf crosses the spines: no collision possible
    local = FlowRoutingProblem(fabric.graph, ring_allreduce(fabric, 100.0, placement="locality"))
    assert ecmp_monte_carlo(local, 5) == (1.0, 1.0)
    # the hash alone on a fixed strided ring (24 flows per leaf over 16 uplinks)
    strided = FlowRoutingProblem(fabric.graph, ring_allreduce(fabric, 100.0, placement="strided"))
    mean, p99 = ecmp_monte_carlo(strided, range(200))
    assert 4.5 <= mean <= 7.5 and mean <= p99 <= 10.0


def test_registry_and_traffic_engineering_on_a_topology() -> None:
    info = get_solver("ecmp", ProblemKind.FABRIC_ROUTING)
    assert ProblemKind.TRAFFIC_ENGINEERING in info.kinds and info.baseline
    fabric = fat_tree(4)
    problem = FlowRoutingProblem(fabric.graph, permutation(fabric, 10.0, seed=0))
    assert check_flow_assignment(problem, info.solve(problem, Budget(seed=1))) == []


@requires_data("topologies", "zoo_graphml", "Abilene.graphml")
def test_ecmp_on_abilene_with_gravity_demands() -> None:
    from datasets.graphml import read_topology

    topo = read_topology("Abilene")
    problem = FlowRoutingProblem(topo.graph, gravity_demands(topo, 50.0, seed=0))
    assert problem.workload.n_flows == topo.n_nodes * (topo.n_nodes - 1)
    result = solve_ecmp(problem, Budget(seed=0))
    assert check_flow_assignment(problem, result) == []
    assert np.allclose(result.loads, _loads_by_hand(problem, result))
    _check_shortest(problem, result)


def test_check_flow_assignment_names_the_broken_field() -> None:
    fabric = leaf_spine(2, 2, 2)
    problem = FlowRoutingProblem(fabric.graph, ring_allreduce(fabric, 10.0))
    good = solve_ecmp(problem, Budget(seed=0))
    assert check_flow_assignment(problem, good) == []
    frac = good.fractions.copy()
    frac[3] = 0.5
    fields = [v.field for v in check_flow_assignment(problem, replace(good, fractions=frac))]
    assert fields == ["flows[3].fractions"]
    edges = good.path_edges.copy()
    p = good.path_ptr[1]
    edges[p], edges[p + 1] = edges[p + 1], edges[p]  # a walk that no longer starts at the source
    fields = [v.field for v in check_flow_assignment(problem, replace(good, path_edges=edges))]
    assert fields and all(f == "flows[1].paths[0]" for f in fields)
    loads = good.loads.copy()
    loads[5] += 1.0
    fields = [v.field for v in check_flow_assignment(problem, replace(good, loads=loads))]
    assert fields[0] == "loads[5]"
    assert [v.field for v in check_flow_assignment(problem, replace(good, max_congestion=9.0))] == ["max_congestion"]
    # a split flow: two spines, half each, via from_paths
    g = fabric.graph
    h0, h1 = g.index_of("host0-0"), g.index_of("host1-0")
    two = FlowRoutingProblem(g, Workload([h0], [h1], [10.0]))
    paths = [[np.array([g.edge_index(a, b) for a, b in itertools.pairwise(walk)])
              for walk in ([h0, g.index_of("leaf0"), g.index_of(f"spine{s}"), g.index_of("leaf1"), h1]
                           for s in range(2))]]
    split = FlowAssignment.from_paths(two, paths, [[0.5, 0.5]], np.array([2]))
    assert check_flow_assignment(two, split) == []
    assert split.max_congestion == pytest.approx(10.0 / 100.0)
    assert np.allclose(split.loads, link_loads(g, paths, [[0.5, 0.5]], np.array([10.0])))


def test_bad_workloads() -> None:
    fabric = leaf_spine(2, 2, 2)
    g = fabric.graph
    h = fabric.hosts
    with pytest.raises(ValidationError, match=r"flows\[1\]\.size: negative"):
        Workload(h[:2], h[2:4], [1.0, -3.0])
    with pytest.raises(ValidationError, match=r"flows\[0\]\.size: not finite"):
        Workload(h[:1], h[1:2], [float("nan")])
    with pytest.raises(ValidationError, match=r"flows\[1\]: source equals destination"):
        Workload(h[:2], [h[1], h[1]], [1.0, 1.0])
    with pytest.raises(ValidationError, match=r"flows\[0\]\.destination: unknown node index 99"):
        FlowRoutingProblem(g, Workload(h[:1], [99], [1.0]))
    with pytest.raises(ValidationError, match=r"flows\[1\]\.destination: unknown node 'host7-0'"):
        Workload.from_node_ids(g, [("host0-0", "host1-1"), ("host0-1", "host7-0")], 1.0)
    with pytest.raises(ValidationError, match="sizes"):
        Workload(h[:2], h[2:4], [1.0])
    with pytest.raises(ValidationError, match="sizes: must be numbers"):
        Workload(h[:1], h[1:2], ["big"])
    with pytest.raises(ValidationError, match="matrix: must be numbers"):
        DemandMatrix([[0.0, "x"], [1.0, 0.0]])


def test_any_budget_seed_hashes() -> None:
    """Budget accepts any non-negative seed; seeds beyond 64 bits must route, not overflow."""
    fabric = leaf_spine(4, 2, 1)
    h0, h1 = fabric.hosts
    problem = FlowRoutingProblem(fabric.graph, Workload([h0], [h1], [1.0]))
    big = solve_ecmp(problem, Budget(seed=2**70 + 5))
    assert check_flow_assignment(problem, big) == []
    assert np.array_equal(big.path_edges, solve_ecmp(problem, Budget(seed=2**70 + 5)).path_edges)


def test_failures_reroute_or_name_the_disconnected_flow() -> None:
    fabric = leaf_spine(4, 4, 3)
    wl = ring_allreduce(fabric, 10.0, placement="strided")
    # a failed spine: everything still routes, and nothing touches the spine
    down = fail_node(fabric.graph, "spine2")
    result = solve_ecmp(FlowRoutingProblem(down, wl), Budget(seed=0))
    spine = down.index_of("spine2")
    assert not np.any((down.tails[result.path_edges] == spine) | (down.indices[result.path_edges] == spine))
    assert check_flow_assignment(FlowRoutingProblem(down, wl), result) == []
    # cutting host3-1 off its leaf disconnects the flows from and to it
    cut = fail_links(fabric.graph, [("host3-1", "leaf3")])
    lost = cut.index_of("host3-1")
    first = int(np.flatnonzero((wl.sources == lost) | (wl.destinations == lost))[0])
    label = f"{cut.node_ids[wl.sources[first]]} -> {cut.node_ids[wl.destinations[first]]}"
    with pytest.raises(InfeasibleError) as err:
        solve_ecmp(FlowRoutingProblem(cut, wl), Budget(seed=0))
    assert str(err.value) == f"flows[{first}]: {label} disconnected"
    assert "host3-1" in label
    with pytest.raises(ValidationError, match="seeds"):
        ecmp_monte_carlo(FlowRoutingProblem(fabric.graph, wl), [])
