"""The traffic-assignment model: cost functions against calculus done numerically, all-or-nothing
on Braess by hand, shortest paths with the first-thru-node rule against networkx, conservation
and optimality of AON flows on every TNTP network, and bad inputs."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numba
import numpy as np
import pytest
from scipy.integrate import quad

from datasets.tntp import read_assignment_problem, read_tntp_link_flows
from planner.assignment import (
    AssignmentProblem,
    AssignmentResult,
    Demand,
    TrafficNetwork,
    all_or_nothing,
    beckmann_objective,
    flow_conservation_error,
    link_costs,
    relative_gap,
    shortest_path_costs,
    shortest_path_travel_time,
    system_optimal_costs,
    total_system_travel_time,
)
from planner.budget import Budget
from planner.errors import InfeasibleError, ValidationError
from planner.registry import ProblemKind, get_solver
from tests.conftest import data_file, requires_data

NETWORKS = ["SiouxFalls", "Anaheim", "Barcelona", "Chicago-Sketch", "Eastern-Massachusetts", "Braess-Example"]


# --------------------------------------------------------------------------------- helpers
def toy_network(**overrides: object) -> TrafficNetwork:
    """Zones 1, 2; node 3 in between; a parallel pair 3 -> 2. Links in file order:
    0: 1->3, 1: 3->2 (slow), 2: 3->2 (fast), 3: 2->1, 4: 1->2 (long way)."""
    kwargs: dict[str, object] = dict(
        capacity=[10.0, 5.0, 8.0, 20.0, 4.0],
        free_flow_time=[1.0, 4.0, 2.0, 3.0, 9.0],
        bpr_b=[0.15, 0.5, 1.0, 0.0, 0.15],
        bpr_power=[4.0, 2.0, 1.0, 0.0, 4.0],
        length=[1.0, 2.0, 3.0, 4.0, 5.0],
        toll=[0.0, 10.0, 0.0, 0.0, 5.0],
        n_zones=2,
    )
    kwargs.update(overrides)
    return TrafficNetwork.from_links(3, [1, 3, 3, 2, 1], [3, 2, 2, 1, 2], **kwargs)  # type: ignore[arg-type]


def braess() -> AssignmentProblem:
    return read_assignment_problem("Braess-Example")


def zone_blocking_digraph(net: TrafficNetwork, weights: np.ndarray, keep_zones: set[int]) -> nx.DiGraph:
    """networkx graph of ``net`` (cheapest of parallel links) without the zone nodes (nodes below
    first thru node) other than ``keep_zones``: such nodes cannot be passed through."""
    g = nx.DiGraph()
    tails, heads = net.tail_ids.tolist(), net.head_ids.tolist()
    for t, h, w in zip(tails, heads, weights.tolist(), strict=True):
        if (t < net.first_thru_node and t not in keep_zones) or (h < net.first_thru_node and h not in keep_zones):
            continue
        if not g.has_edge(t, h) or g[t][h]["weight"] > w:
            g.add_edge(t, h, weight=w)
    return g


def networkx_distances(net: TrafficNetwork, weights: np.ndarray, origin: int,
                       cache: dict[str, nx.DiGraph] | None = None) -> dict[int, float]:
    """Shortest-path costs from zone ``origin`` by networkx on a graph where the other zones
    below first thru node keep only their in-links (paths may end there, not pass through)."""
    if net.first_thru_node == 1 and cache is not None and "all" in cache:
        return nx.single_source_dijkstra_path_length(cache["all"], origin)
    g = zone_blocking_digraph(net, weights, {origin})
    for t, h, w in zip(net.tail_ids.tolist(), net.head_ids.tolist(), weights.tolist(), strict=True):
        into_zone = h < net.first_thru_node and (t >= net.first_thru_node or t == origin)
        if into_zone and (not g.has_edge(t, h) or g[t][h]["weight"] > w):
            g.add_edge(t, h, weight=w)
    if net.first_thru_node == 1 and cache is not None:
        cache["all"] = g
    return nx.single_source_dijkstra_path_length(g, origin)


# --------------------------------------------------------------------------------- cost functions
def test_link_costs_follow_the_bpr_formula_with_generalized_terms() -> None:
    net = toy_network(toll_factor=0.5, distance_factor=0.25)
    x = np.array([3.0, 7.0, 2.0, 1.0, 0.0])
    costs = net.to_file_order(link_costs(net, net.from_file_order(x)))
    fft, b, p = [1.0, 4.0, 2.0, 3.0, 9.0], [0.15, 0.5, 1.0, 0.0, 0.15], [4.0, 2.0, 1.0, 0.0, 4.0]
    cap, length, toll = [10.0, 5.0, 8.0, 20.0, 4.0], [1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 10.0, 0.0, 0.0, 5.0]
    expected = [fft[i] * (1 + b[i] * (x[i] / cap[i]) ** p[i]) + 0.5 * toll[i] + 0.25 * length[i] for i in range(5)]
    np.testing.assert_allclose(costs, expected, rtol=1e-14)


def test_beckmann_is_the_integral_and_so_costs_the_derivative() -> None:
    net = toy_network(toll_factor=0.5, distance_factor=0.25)
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 15, net.n_links)
    one_link = np.eye(net.n_links)
    integral = sum(quad(lambda s, e=e: link_costs(net, s * one_link[e])[e], 0, x[e], epsabs=1e-12)[0]
                   for e in range(net.n_links))
    assert beckmann_objective(net, x) == pytest.approx(integral, rel=1e-10)
    # marginal cost = d(x c(x))/dx, by central differences
    h = 1e-5
    tstt = lambda f: f * link_costs(net, f)  # noqa: E731
    numeric = (tstt(x + h) - tstt(x - h)) / (2 * h)
    np.testing.assert_allclose(system_optimal_costs(net, x), numeric, rtol=1e-7)
    assert total_system_travel_time(net, x) == pytest.approx(float(np.sum(x * link_costs(net, x))), rel=1e-14)
    time_only = np.sum(x * (link_costs(net, x) - net.fixed_cost))
    assert total_system_travel_time(net, x, generalized=False) == pytest.approx(time_only, rel=1e-14)


def test_constant_cost_and_zero_capacity_links_are_exact() -> None:
    # power 0 with b 0 (Barcelona) and capacity 0 with b 0: cost = fft whatever the flow
    net = toy_network(bpr_b=[0.0, 0.5, 1.0, 0.0, 0.15], bpr_power=[0.0, 2.0, 1.0, 0.0, 4.0],
                      capacity=[0.0, 5.0, 8.0, 20.0, 4.0])
    x = net.from_file_order(np.array([1e9, 0.0, 0.0, 1e9, 0.0]))
    costs = net.to_file_order(link_costs(net, x))
    assert costs[0] == 1.0 and costs[3] == 3.0
    assert net.to_file_order(system_optimal_costs(net, x))[0] == 1.0


# --------------------------------------------------------------------------------- Braess by hand
@requires_data("tntp", "Braess-Example")
def test_braess_all_or_nothing_by_hand() -> None:
    problem = braess()
    net = problem.network
    # file: 1->3 (1e-8 + 10x), 1->4 (50 + x), 3->2 (50 + x), 3->4 (10 + x), 4->2 (1e-8 + 10x); 6 trips 1->2.
    # Free flow: 1-3-4-2 costs 10 + 2e-8 < 50 + 1e-8 on the other two routes, so all 6 go 1-3-4-2.
    result = get_solver("aon", ProblemKind.TRAFFIC_ASSIGNMENT).solve(problem, Budget())
    np.testing.assert_array_equal(net.to_file_order(result.flows), [6.0, 0.0, 0.0, 6.0, 6.0])
    np.testing.assert_allclose(net.to_file_order(result.costs), [60 + 1e-8, 50, 50, 16, 60 + 1e-8], rtol=1e-12)
    # sum x c = 6 * (60 + 16 + 60) = 816 (+ 1.2e-7); shortest route at these costs: 1-3-2 or 1-4-2 = 110
    total = 6 * (2 * (60 + 1e-8) + 16)
    assert result.total_system_travel_time == pytest.approx(total, rel=1e-12)
    assert result.relative_gap == pytest.approx((total - 6 * (110 + 1e-8)) / total, rel=1e-12)
    # Beckmann: integral of (1e-8 + 10 s) to 6 twice, of (10 + s) to 6
    assert result.beckmann_objective == pytest.approx(2 * (6e-8 + 180) + (60 + 18), rel=1e-12)
    assert result.iterations == 1 and result.solver == "aon" and len(result.history) == 1
    assert result.history[0][2] == result.relative_gap


@requires_data("tntp", "Braess-Example")
def test_braess_equilibrium_and_system_optimum_by_hand() -> None:
    ue = braess()
    net = ue.network
    # the textbook equilibrium: 2 trips on each of the three routes, every route costs 92 ...
    x_ue = net.from_file_order(np.array([4.0, 2.0, 2.0, 2.0, 4.0]))
    # ... up to the 1e-8 free-flow times: outer routes 92 + 1e-8, the middle one 92 + 2e-8, so
    # sum x c = 552 + 8e-8 and sum d SP = 6 (92 + 1e-8): gap = 2e-8 / 552
    assert relative_gap(ue, x_ue) == pytest.approx(2e-8 / 552, rel=1e-4)
    assert shortest_path_travel_time(net, ue.demand, link_costs(net, x_ue)) == pytest.approx(6 * 92, rel=1e-9)
    # without using the middle link (3 + 3): every used route costs 83 < 92, yet it is not an equilibrium
    x_so = net.from_file_order(np.array([3.0, 3.0, 3.0, 0.0, 3.0]))
    assert relative_gap(ue, x_so) > 0.01
    # ... it is the system optimum: marginal costs 60 + 56 = 116 on both routes, 130 via 3->4
    so = dataclasses.replace(ue, objective="so")
    assert abs(relative_gap(so, x_so)) < 1e-9
    assert total_system_travel_time(net, x_so) == pytest.approx(6 * 83, rel=1e-9)
    assert total_system_travel_time(net, x_so) < total_system_travel_time(net, x_ue)
    assert so.objective_value(x_so) == total_system_travel_time(net, x_so)


# --------------------------------------------------------------------------------- shortest paths
@pytest.mark.parametrize("name", ["Anaheim", "Barcelona"])
def test_shortest_path_costs_with_first_thru_node_match_networkx(name: str) -> None:
    data_file("tntp", name)
    problem = read_assignment_problem(name)
    net = problem.network
    assert net.first_thru_node == net.n_zones + 1 > 1
    flows = read_tntp_link_flows(name, net)
    costs = link_costs(net, flows * 1.3)  # congested costs, not the free-flow ones
    ours = shortest_path_costs(net, costs)
    zones = range(1, net.n_zones + 1)
    # 1. per origin: the graph without the other zones (a path may end at any zone, so
    #    destinations are added back with only their in-links)
    for o in zones:
        dist = networkx_distances(net, costs, o)
        expected = [dist.get(d, math.inf) if d != o else 0.0 for d in zones]
        np.testing.assert_allclose(ours[o - 1], expected, rtol=1e-12, atol=1e-12)
    # 2. a sample of pairs: the graph with every zone removed but the origin and the destination
    rng = np.random.default_rng(7)
    for o, d in rng.integers(1, net.n_zones + 1, size=(25, 2)).tolist():
        if o == d:
            continue
        g = zone_blocking_digraph(net, costs, {o, d})
        assert nx.dijkstra_path_length(g, o, d) == pytest.approx(ours[o - 1, d - 1], rel=1e-12)
    # the rule matters here: letting paths pass through zones makes some pairs cheaper
    everywhere = shortest_path_costs(dataclasses.replace(net, first_thru_node=1), costs)
    assert np.all(everywhere <= ours + 1e-9) and np.any(everywhere < ours - 1e-6)
    # a subset of origins gives the same rows
    np.testing.assert_array_equal(shortest_path_costs(net, costs, origins=[3, 1]), ours[[2, 0]])


def test_first_thru_node_rule_on_a_toy_network() -> None:
    # zones 1, 2, 3; 1 -> 3 -> 2 costs 2, the direct link 1 -> 2 costs 5
    kwargs = dict(capacity=[1.0] * 3, free_flow_time=[1.0, 1.0, 5.0], bpr_b=0.0, n_zones=3)
    passable = TrafficNetwork.from_links(3, [1, 3, 1], [3, 2, 2], first_thru_node=1, **kwargs)  # type: ignore[arg-type]
    blocked = dataclasses.replace(passable, first_thru_node=4)
    c = link_costs(passable, np.zeros(3))
    assert shortest_path_costs(passable, c)[0].tolist() == [0.0, 2.0, 1.0]
    assert shortest_path_costs(blocked, c)[0].tolist() == [0.0, 5.0, 1.0]
    demand = Demand.from_entries(3, [1], [2], [4.0])
    assert passable.to_file_order(all_or_nothing(passable, demand, c)).tolist() == [4.0, 4.0, 0.0]
    assert blocked.to_file_order(all_or_nothing(blocked, demand, c)).tolist() == [0.0, 0.0, 4.0]


def test_parallel_links_load_the_specific_cheapest_link() -> None:
    net = toy_network()
    demand = Demand.from_entries(2, [1], [2], [5.0])
    # file link 2 (3->2, fft 2) is cheaper than its parallel link 1 (fft 4), and 1-3-2 (3) beats 1->2 (9)
    x = net.to_file_order(all_or_nothing(net, demand, link_costs(net, np.zeros(net.n_links))))
    assert x.tolist() == [5.0, 0.0, 5.0, 0.0, 0.0]
    # make the first of the pair the cheaper one: the flow moves to it
    costs = net.to_file_order(link_costs(net, np.zeros(net.n_links)))
    costs[2] = 10.0
    x = net.to_file_order(all_or_nothing(net, demand, net.from_file_order(costs)))
    assert x.tolist() == [5.0, 5.0, 0.0, 0.0, 0.0]
    # closing links with inf reroutes; closing all routes is infeasible
    costs[[1, 2]] = np.inf
    x = net.to_file_order(all_or_nothing(net, demand, net.from_file_order(costs)))
    assert x.tolist() == [0.0, 0.0, 0.0, 0.0, 5.0]
    costs[4] = np.inf
    with pytest.raises(InfeasibleError) as info:
        all_or_nothing(net, demand, net.from_file_order(costs))
    assert info.value.field == "demand[1->2]"


# --------------------------------------------------------------------------------- AON on real data
@pytest.mark.parametrize("name", NETWORKS)
def test_aon_flows_conserve_flow_and_use_only_shortest_paths(name: str) -> None:
    data_file("tntp", name)
    check_aon(read_assignment_problem(name))


@pytest.mark.slow
@requires_data("tntp", "Berlin-Center")
def test_aon_on_berlin_center_and_its_duplicate_links() -> None:
    problem = read_assignment_problem("Berlin-Center")
    flows = check_aon(problem, networkx_origins=2)
    net = problem.network
    costs = problem.free_flow_costs()
    keys = net.tail_ids * (net.n_nodes + 1) + net.head_ids
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    duplicated = np.flatnonzero(counts > 1)
    assert duplicated.size == 6  # Berlin-Center README: six duplicated node pairs
    for k in duplicated:
        pair = np.flatnonzero(inverse == k)
        loaded = pair[flows[pair] > 0]
        assert loaded.size <= 1  # all-or-nothing picks one link of the pair ...
        if loaded.size:
            assert costs[loaded[0]] == costs[pair].min()  # ... a cheapest one


def check_aon(problem: AssignmentProblem, networkx_origins: int | None = None) -> np.ndarray:
    """AON flows at free-flow cost: conservation, cost equal to sum d * SP (so every path used is
    a shortest one, SP from networkx), no flow through zones below first thru node."""
    net, demand = problem.network, problem.demand
    costs = problem.free_flow_costs()
    flows = all_or_nothing(net, demand, costs)
    assert flows.min() >= 0
    assert flow_conservation_error(problem, flows) <= 1e-9 * max(1.0, demand.total)
    # through flow at a blocked zone: what leaves it is exactly what starts there
    if net.first_thru_node > 1:
        g = net.graph
        out = np.bincount(g.tails, weights=flows, minlength=net.n_nodes)[: net.n_blocked]
        np.testing.assert_allclose(out[: net.n_zones], demand.origin_totals()[: out.size], rtol=1e-12, atol=1e-6)
    # sum x c equals sum d SP, with SP computed by networkx
    origins = np.flatnonzero(demand.origin_totals() > 0) + 1
    if networkx_origins is not None:
        origins = origins[:networkx_origins]
    sp_total = 0.0
    cache: dict[str, nx.DiGraph] = {}
    for o in origins.tolist():
        dist = networkx_distances(net, costs, o, cache)
        row = demand.matrix[o - 1]
        sp_total += math.fsum(row[d - 1] * dist[d] for d in np.flatnonzero(row > 0) + 1)
    if networkx_origins is None:
        assert math.fsum(flows * costs) == pytest.approx(sp_total, rel=1e-12, abs=1e-9)
    assert shortest_path_travel_time(net, demand, costs) == pytest.approx(math.fsum(flows * costs), rel=1e-12)
    return flows


@requires_data("tntp", "Chicago-Sketch")
def test_aon_is_deterministic_whatever_the_thread_count() -> None:
    problem = read_assignment_problem("Chicago-Sketch")
    costs = problem.free_flow_costs()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = all_or_nothing(problem.network, problem.demand, costs)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = all_or_nothing(problem.network, problem.demand, costs)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


@requires_data("tntp", "SiouxFalls")
def test_result_evaluation_is_independent_of_the_solver() -> None:
    problem = read_assignment_problem("SiouxFalls")
    flows = read_tntp_link_flows("SiouxFalls", problem.network)
    result = AssignmentResult.evaluate(problem, flows, solver="file", iterations=0)
    assert result.beckmann_objective == pytest.approx(4_231_335.287107, rel=1e-9)  # data README
    assert result.objective_value == result.beckmann_objective
    assert abs(result.relative_gap) < 1e-8
    assert not result.flows.flags.writeable
    aon = get_solver("aon").solve(problem, Budget())
    assert aon.beckmann_objective > result.beckmann_objective  # the equilibrium minimises Beckmann
    assert aon.relative_gap == pytest.approx(relative_gap(problem, aon.flows), rel=1e-14)


# --------------------------------------------------------------------------------- demand
def test_demand_drops_and_counts_intrazonal_trips() -> None:
    demand = Demand(np.array([[5.0, 1.0, 0.0], [2.0, 0.0, 3.0], [0.0, 4.0, 7.5]]))
    assert demand.total == 10.0
    assert demand.intrazonal == 12.5 and demand.intrazonal_pairs == 2
    assert demand.total_with_intrazonal == 22.5
    assert np.all(np.diagonal(demand.matrix) == 0)
    assert not demand.matrix.flags.writeable
    entries = Demand.from_entries(3, [1, 1, 2, 3], [2, 2, 2, 1], [1.0, 0.5, 9.0, 4.0])
    assert entries.pair(1, 2) == 1.5 and entries.pair(3, 1) == 4.0
    assert entries.intrazonal == 9.0
    doubled = entries.scaled(2.0)
    assert doubled.total == 2 * entries.total and doubled.intrazonal == 18.0


@pytest.mark.parametrize(
    ("matrix", "field", "reason"),
    [
        ([[0.0, 1.0], [-1.0, 0.0]], "demand[2->1]", "negative (-1.0)"),
        ([[0.0, math.nan], [1.0, 0.0]], "demand[1->2]", "not a number (nan)"),
        ([[0.0, math.inf], [1.0, 0.0]], "demand[1->2]", "not finite (inf)"),
    ],
)
def test_bad_demand_values(matrix: list[list[float]], field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        Demand(np.array(matrix))
    assert (info.value.field, info.value.reason) == (field, reason)


def test_negative_demand_names_the_pair() -> None:
    with pytest.raises(ValidationError) as info:
        Demand.from_entries(9, [3], [7], [-1.0])
    assert str(info.value) == "demand[3->7]: negative (-1.0)"


def test_unknown_zone() -> None:
    with pytest.raises(ValidationError, match=r"demand\[3->99\]: unknown zone 99 \(zones are 1..24\)"):
        Demand.from_entries(24, [3], [99], [1.0])
    with pytest.raises(ValidationError, match="unknown zone 0"):
        Demand.from_entries(24, [0], [2], [1.0])
    with pytest.raises(ValidationError, match="unknown zone 5"):
        shortest_path_costs(toy_network(), np.ones(5), origins=[5])
    with pytest.raises(ValidationError, match=r"demand: has 3 zones, the network 2"):
        AssignmentProblem(toy_network(), Demand(np.zeros((3, 3))))


# --------------------------------------------------------------------------------- problem validation
def test_zero_or_negative_capacity_on_congestible_link() -> None:
    demand = Demand.from_entries(2, [1], [2], [1.0])
    for cap in (0.0, -5.0):
        net = toy_network(capacity=[10.0, 5.0, cap, 20.0, 4.0])
        with pytest.raises(ValidationError) as info:
            AssignmentProblem(net, demand)
        assert info.value.field == "links[2].capacity"
        assert info.value.reason == f"must be positive on a link with b > 0 ({cap})"
    # with b = 0 the capacity does not matter
    AssignmentProblem(toy_network(capacity=[10.0, 5.0, 0.0, 20.0, 4.0], bpr_b=[0.15, 0.5, 0.0, 0.0, 0.15]), demand)


def test_od_pair_without_path() -> None:
    net = TrafficNetwork.from_links(3, [1, 3], [3, 2], capacity=[1.0, 1.0], free_flow_time=[1.0, 1.0], n_zones=2)
    AssignmentProblem(net, Demand.from_entries(2, [1], [2], [1.0]))
    with pytest.raises(InfeasibleError) as info:
        AssignmentProblem(net, Demand.from_entries(2, [1, 2], [2, 1], [1.0, 2.0]))
    assert info.value.field == "demand[2->1]"
    assert "no path from zone 2 to zone 1" in info.value.reason
    # zero demand needs no path
    AssignmentProblem(net, Demand.from_entries(2, [2], [1], [0.0]))


@pytest.mark.parametrize(
    ("override", "field", "reason"),
    [
        ({"free_flow_time": [1.0, -4.0, 2.0, 3.0, 9.0]}, "links[1].free_flow_time", "negative (-4.0)"),
        ({"bpr_b": [0.15, 0.5, math.nan, 0.0, 0.15]}, "links[2].bpr_b", "not a number (nan)"),
        ({"bpr_power": [4.0, 2.0, 1.0, -1.0, 4.0]}, "links[3].bpr_power", "negative (-1.0)"),
        ({"length": [1.0, 2.0, 3.0, 4.0, math.inf]}, "links[4].length", "not finite (inf)"),
        ({"n_zones": 4}, "n_zones", "must be in 1..3 (4)"),
        ({"toll_factor": -1.0}, "toll_factor", "must be finite and non-negative (-1.0)"),
    ],
)
def test_bad_network_values(override: dict, field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        toy_network(**override)
    assert (info.value.field, info.value.reason) == (field, reason)


def test_bad_flows_costs_and_objective() -> None:
    net = toy_network()
    problem = AssignmentProblem(net, Demand.from_entries(2, [1], [2], [1.0]))
    with pytest.raises(ValidationError, match=r"flows: shape \(4,\)"):
        link_costs(net, np.zeros(4))
    bad = net.from_file_order(np.array([0.0, 0.0, 0.0, -2.0, 0.0]))
    with pytest.raises(ValidationError, match=r"flows\[3\]: negative \(-2.0\)"):
        beckmann_objective(net, bad)
    with pytest.raises(ValidationError, match=r"link_costs\[0\]"):
        all_or_nothing(net, problem.demand, net.from_file_order(np.array([-1.0, 1, 1, 1, 1])))
    with pytest.raises(ValidationError, match="objective"):
        AssignmentProblem(net, problem.demand, objective="fastest")  # type: ignore[arg-type]


def test_link_order_maps_file_rows() -> None:
    # tails not sorted in the file (as in Eastern-Massachusetts): graph order differs from file order
    net = TrafficNetwork.from_links(3, [3, 1, 2, 1], [1, 2, 3, 3], capacity=[1.0, 2.0, 3.0, 4.0],
                                    free_flow_time=[1.0, 1.0, 1.0, 1.0], n_zones=3)
    assert net.to_file_order(net.capacity).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert net.to_file_order(net.tail_ids).tolist() == [3, 1, 2, 1]
    np.testing.assert_array_equal(net.from_file_order(net.to_file_order(net.capacity)), net.capacity)
    np.testing.assert_array_equal(net.link_order[net.edge_of_link], np.arange(4))
    values = net.link_values_from_table([1, 1, 2, 3], [3, 2, 3, 1], [40.0, 20.0, 30.0, 10.0])
    np.testing.assert_array_equal(values, net.capacity * 10)
    with pytest.raises(ValidationError, match=r"flows\[3\]: no \(further\) link 2 -> 1"):
        net.link_values_from_table([1, 1, 2, 2], [3, 2, 3, 1], [1.0, 1.0, 1.0, 1.0])


def test_aon_solver_is_registered() -> None:
    info = get_solver("aon", ProblemKind.TRAFFIC_ASSIGNMENT)
    assert ProblemKind.TRAFFIC_ASSIGNMENT in info.kinds
    problem = AssignmentProblem(toy_network(), Demand.from_entries(2, [1, 2], [2, 1], [5.0, 2.0]), objective="so")
    events = []
    result = info.solve(problem, Budget(progress=events.append))
    assert result.objective == "so" and result.objective_value == result.total_system_travel_time
    assert problem.network.to_file_order(result.flows).tolist() == [5.0, 0.0, 5.0, 2.0, 0.0]
    assert [e.iteration for e in events] == [1]


@requires_data("tntp", "Chicago-Sketch")
def test_network_carries_its_trip_table() -> None:
    from datasets.tntp import read_tntp_network

    net = read_tntp_network("Chicago-Sketch")
    assert net.demand is not None
    # data README: 1,260,907.44 trips in the file, 123,414 of them intrazonal
    assert net.demand.total_with_intrazonal == pytest.approx(1_260_907.44, abs=1e-3)
    assert net.demand.intrazonal == pytest.approx(123_414.0, abs=1e-6)
    assert read_tntp_network("Chicago-Sketch", with_demand=False).demand is None
    doubled = AssignmentProblem(net, net.demand.scaled(2.0))  # the README's advice for testing
    assert doubled.demand.total == pytest.approx(2 * net.demand.total, rel=1e-15)
