"""Alternative routes: every returned route is a real path that meets the three criteria, checked
independently with scipy's Dijkstra (stretch against the exact optimum, sharing from edge sets,
and T-local optimality by brute force over every sub-path of cost up to T) on random pairs of
Monaco and Heidelberg; baselines and errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.sparse import csgraph

from datasets.osm import read_osm
from planner.errors import InfeasibleError, ValidationError
from planner.graph import Graph
from solvers.paths.alternatives import AlternativeParameters, AlternativeRouter, alternative_routes
from solvers.paths.cch import CustomizableHierarchy
from solvers.paths.ch import ContractionHierarchy
from solvers.paths.dijkstra import DijkstraRouter, csgraph_matrix
from solvers.paths.link_costs import LinkCostModel
from tests.conftest import requires_data

PARAMS = AlternativeParameters()


def check_routes(graph: Graph, costs: np.ndarray, routes, source: int, target: int, params=PARAMS) -> None:
    """Assert the criteria of every route independently of the code under test."""
    matrix = csgraph_matrix(graph.with_edge_attrs(_c=costs), "_c")
    optimum = csgraph.dijkstra(matrix, indices=source)[target]
    earlier: list[np.ndarray] = []
    for k, route in enumerate(routes):
        edges = np.asarray(route.edges)
        nodes = np.asarray(route.nodes)
        assert nodes[0] == source and nodes[-1] == target
        assert np.array_equal(graph.tails[edges], nodes[:-1]) and np.array_equal(graph.indices[edges], nodes[1:])
        assert np.unique(nodes).size == nodes.size  # simple path
        cost = float(costs[edges].sum())
        assert cost == pytest.approx(route.cost, rel=1e-9)
        assert cost <= params.max_stretch * optimum * (1 + 1e-9)  # stretch
        if k == 0:
            assert cost == pytest.approx(optimum, rel=1e-9)
        else:
            shared = np.isin(edges, np.concatenate(earlier))
            assert costs[edges[shared]].sum() <= params.max_sharing * cost + 1e-9  # sharing
            assert tuple(edges) not in {tuple(e) for e in earlier}
        earlier.append(edges)
        assert brute_force_locally_optimal(matrix, costs, nodes, edges, params.local_optimality), k


def brute_force_locally_optimal(matrix, costs: np.ndarray, nodes: np.ndarray, edges: np.ndarray,
                                fraction: float, dist: np.ndarray | None = None) -> bool:
    """T-local optimality by brute force: every sub-path of cost <= T is a shortest path
    (``dist``: Dijkstra rows from the route's nodes, bounded by at least ``T``)."""
    window = fraction * float(costs[edges].sum())
    prefix = np.concatenate([[0.0], np.cumsum(costs[edges])])
    if dist is None:
        dist = csgraph.dijkstra(matrix, indices=nodes[:-1], limit=window * (1 + 1e-6) + 1e-9)
    for i in range(nodes.size - 1):
        j_end = int(np.searchsorted(prefix, prefix[i] + window * (1 + 1e-12), side="right"))
        for j in range(i + 1, j_end):
            if prefix[j] - prefix[i] > dist[i, nodes[j]] * (1 + 1e-9) + 1e-9:
                return False
    return True


def _pairs(graph: Graph, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, graph.n_nodes, size=(3 * n, 2))
    return pairs[pairs[:, 0] != pairs[:, 1]][:n]


@requires_data("osm", "monaco.drive.osm.bz2")
def test_alternatives_meet_the_criteria_on_monaco() -> None:
    graph = read_osm("monaco", simplify=False).graph
    ch = ContractionHierarchy.build(graph)
    router = AlternativeRouter(ch)
    costs = graph.edge_attr("travel_time").astype(float)
    found = 0
    for s, t in _pairs(graph, 15, seed=1):
        res = router.alternatives(int(s), int(t))
        check_routes(graph, costs, res.routes, int(s), int(t))
        assert np.all(res.locally_optimal) and np.all(res.stretch <= 1.25 + 1e-9)
        assert np.all(res.sharing <= 0.75)
        found += len(res) - 1
        via = router.via_node(int(s), int(t))
        check_routes(graph, costs, via.routes, int(s), int(t))
    assert found > 0  # the search does find alternatives


@pytest.mark.slow
@requires_data("osm", "heidelberg.drive.osm.bz2")
def test_alternatives_meet_the_criteria_on_heidelberg_personal_costs() -> None:
    road = read_osm("heidelberg", simplify=False)
    graph = road.graph
    costs = LinkCostModel.from_request("mix", ["motorway"]).costs(road)
    hierarchy = CustomizableHierarchy.build(graph).customize(costs)
    router = AlternativeRouter(hierarchy)
    found = 0
    for s, t in _pairs(graph, 8, seed=2):
        res = router.alternatives(int(s), int(t))
        check_routes(graph, costs, res.routes, int(s), int(t))
        found += len(res) - 1
    assert found > 0


def test_plain_penalty_loop_and_errors() -> None:
    # a ladder: two parallel roads 0-1-2-3 and 4-5-6-7 with rungs; alternatives exist
    tails, heads, w = [], [], []
    for a, b, c in [(0, 1, 1), (1, 2, 1), (2, 3, 1), (4, 5, 1.1), (5, 6, 1.1), (6, 7, 1.1), (0, 4, 0.2), (3, 7, 0.2),
                    (7, 3, 0.2), (4, 0, 0.2)]:
        tails += [a, b]
        heads += [b, a]
        w += [c, c]
    tails.append(8)  # node 8 can leave but nothing reaches it
    heads.append(0)
    w.append(1.0)
    graph = Graph.from_edges(9, tails, heads, {"travel_time": w})
    ch = ContractionHierarchy.build(graph)
    plain = AlternativeRouter(ch, AlternativeParameters.plain(k=2)).alternatives(0, 3)
    assert len(plain) == 2 and plain.routes[0].cost == pytest.approx(3.0)
    assert plain.routes[1].cost == pytest.approx(0.2 + 3.3 + 0.2)
    assert plain.method == "penalty-loop"
    best = AlternativeRouter(ch).alternatives(0, 3)
    check_routes(graph, graph.edge_attr("travel_time"), best.routes, 0, 3)
    with pytest.raises(InfeasibleError, match="no path"):
        AlternativeRouter(ch).alternatives(0, 8)
    with pytest.raises(ValidationError, match="source"):
        AlternativeRouter(ch).alternatives(-1, 3)
    with pytest.raises(ValidationError, match="max_stretch"):
        AlternativeParameters(max_stretch=0.9)
    with pytest.raises(ValidationError, match="via_candidates"):
        AlternativeParameters(via_candidates=-1)
    # boosting alone and boosting before via routes return valid routes too
    for params in (AlternativeParameters(via_candidates=0), AlternativeParameters(via_first=False)):
        res = AlternativeRouter(ch, params).alternatives(0, 3)
        check_routes(graph, graph.edge_attr("travel_time"), res.routes, 0, 3, params)
        assert len(res) >= 2  # the far road 0-4-5-6-7-3 is an alternative
    # the cached per-thread router follows an in-place customisation of a CCH
    w = graph.edge_attr("travel_time").astype(float)
    topology = CustomizableHierarchy(graph, np.arange(graph.n_nodes), "travel_time")
    custom = topology.customize(w)
    first = alternative_routes(custom, 0, 3)
    assert first.optimum == pytest.approx(3.0)
    w2 = w.copy()
    w2[np.isin(graph.tails, [0, 1, 2, 3]) & np.isin(graph.indices, [0, 1, 2, 3])] *= 3.0  # the near road slows
    topology.customize(w2, into=custom)
    second = alternative_routes(custom, 0, 3)
    assert second.optimum == pytest.approx(3.7)  # now the far road
    check_routes(graph, w2, second.routes, 0, 3)
    assert math.isfinite(DijkstraRouter(graph).one_to_many(0, [3])[0])


@requires_data("osm", "monaco.drive.osm.bz2")
def test_corridor_distances_and_exact_local_optimality_on_monaco() -> None:
    graph = read_osm("monaco", simplify=False).graph
    costs = graph.edge_attr("travel_time").astype(float)
    matrix = csgraph_matrix(graph, "travel_time")
    router = AlternativeRouter(ContractionHierarchy.build(graph))
    rng = np.random.default_rng(5)
    verdicts = set()
    for s, t in _pairs(graph, 4, seed=3):
        s, t = int(s), int(t)
        d_s = csgraph.dijkstra(matrix, indices=s)
        d_t = csgraph.dijkstra(matrix.T.tocsr(), indices=t)
        # the pruned double sweep: exactly the corridor, with exact distances on it
        nodes, d_from, d_to, optimum = router._corridor(s, t, 1.25)
        assert optimum == pytest.approx(d_s[t], rel=1e-12)
        score = d_s + d_t
        assert set(np.flatnonzero(score <= 1.25 * optimum * (1 - 1e-9)).tolist()) <= set(nodes.tolist())
        assert np.all(score[nodes] <= 1.25 * optimum * (1 + 1e-9))
        np.testing.assert_allclose(d_from[nodes], d_s[nodes], rtol=1e-12)
        np.testing.assert_allclose(d_to[nodes], d_t[nodes], rtol=1e-12)
        assert np.all(np.isinf(np.delete(d_from, nodes)))
        # the exact T-test agrees with brute force on via routes s -> v -> t through the corridor
        _, pred = csgraph.dijkstra(matrix, indices=s, return_predecessors=True)
        _, pred_t = csgraph.dijkstra(matrix.T.tocsr(), indices=t, return_predecessors=True)
        for v in rng.choice(nodes, size=min(8, nodes.size), replace=False).tolist():
            up = [v]
            while up[-1] != s:
                up.append(int(pred[up[-1]]))
            down = [v]
            while down[-1] != t:
                down.append(int(pred_t[down[-1]]))
            route_nodes = np.asarray(up[::-1] + down[1:], dtype=np.int64)
            if np.unique(route_nodes).size != route_nodes.size or route_nodes.size < 2:
                continue
            edges = np.asarray([_cheapest_edge(graph, costs, a, b) for a, b in itertools.pairwise(route_nodes)])
            dist = csgraph.dijkstra(matrix, indices=route_nodes[:-1], limit=0.5 * float(costs[edges].sum()) * 1.01)
            for fraction in (0.1, 0.25, 0.5):
                want = brute_force_locally_optimal(matrix, costs, route_nodes, edges, fraction, dist)
                got = router.criteria.locally_optimal(route_nodes, edges, fraction, d_s, d_t)
                plain = router.criteria.locally_optimal(route_nodes, edges, fraction)
                assert got == want == plain, (s, t, v, fraction)
                verdicts.add(want)
    assert verdicts == {True, False}  # both outcomes were exercised


def _cheapest_edge(graph: Graph, costs: np.ndarray, a: int, b: int) -> int:
    edges = np.arange(graph.indptr[a], graph.indptr[a + 1])
    edges = edges[graph.indices[edges] == b]
    return int(edges[np.argmin(costs[edges])])
