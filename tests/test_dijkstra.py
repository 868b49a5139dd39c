"""Plain Dijkstra: the heapq reference against scipy on random graphs, and our CSR road graph
against networkx on the osmnx graph of Heidelberg."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.osm import osm_path
from planner.budget import Budget
from planner.errors import InfeasibleError, NotFoundError, ValidationError
from planner.graph import Graph
from planner.graph.road import DEFAULT_FALLBACK_SPEED_KPH, DEFAULT_SPEEDS_KPH, RoadNetwork, build_road_network
from planner.paths import Route, ShortestPathProblem, route_from_predecessors
from planner.registry import ProblemKind, get_solver
from solvers.paths.dijkstra import (
    DijkstraRouter,
    csgraph_matrix,
    dijkstra_reference,
    distance_matrix,
    one_to_many,
    shortest_path,
)
from tests.conftest import requires_data


@st.composite
def random_graphs(draw: st.DrawFn) -> Graph:
    n = draw(st.integers(1, 20))
    m = draw(st.integers(0, 70))
    tails = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    heads = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    weights = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.0, 50.0)), min_size=m, max_size=m))
    return Graph.from_edges(n, tails, heads, {"w": weights}, node_ids=np.arange(n) * 10 + 5)


def check_route(graph: Graph, route: Route, source: int, target: int, weight: str) -> None:
    assert route.source == source and route.target == target
    assert np.array_equal(graph.tails[route.edges], route.nodes[:-1])
    assert np.array_equal(graph.heads[route.edges], route.nodes[1:])
    assert route.cost == pytest.approx(float(graph.edge_attrs[weight][route.edges].sum()), abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(random_graphs())
def test_reference_equals_scipy_and_routes_are_optimal(g: Graph) -> None:
    router = DijkstraRouter(g, "w")
    matrix = router.distance_matrix(np.arange(g.n_nodes))
    for s in range(g.n_nodes):
        ref, pred = dijkstra_reference(g, s, "w")
        # scipy stores zero weights as the tiniest float: equal up to n * 5e-324
        np.testing.assert_allclose(router.one_to_many(s), ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(matrix[s], ref, rtol=1e-12, atol=1e-12)
        for t in range(g.n_nodes):
            if math.isinf(ref[t]):
                with pytest.raises(InfeasibleError):
                    router.shortest_path(s, t)
                continue
            route = router.shortest_path(s, t)
            check_route(g, route, s, t, "w")
            assert route.cost == pytest.approx(ref[t], abs=1e-9)
            # the reference's own tree gives a route of the same cost
            if t != s:
                assert g.heads[pred[t]] == t


@settings(max_examples=80, deadline=None)
@given(random_graphs())
def test_fast_sparse_matrix_equals_graph_to_scipy(g: Graph) -> None:
    ours, theirs = csgraph_matrix(g, "w"), g.to_scipy("w")
    ours.sort_indices()
    theirs.sort_indices()
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    np.testing.assert_array_equal(ours.indices, theirs.indices)
    np.testing.assert_array_equal(ours.data, theirs.data)


def test_parallel_edges_take_the_cheapest_edge_of_each_hop() -> None:
    # 0 -> 1 twice (7 then 2), 1 -> 2 twice (1 then 4)
    g = Graph.from_edges(3, [0, 0, 1, 1], [1, 1, 2, 2], {"w": [7.0, 2.0, 1.0, 4.0], "length": [1.0, 2.0, 3.0, 4.0]})
    route = shortest_path(g, 0, 2, "w")
    assert route.edges.tolist() == [1, 2]
    assert route.cost == 3.0 and route.length_m == 5.0 and math.isnan(route.travel_time_s)
    assert route.node_ids(g).tolist() == [0, 1, 2]


def test_unreachable_pair_raises_in_shortest_path_and_is_inf_in_matrices() -> None:
    g = Graph.from_edges(4, [0, 1, 3], [1, 2, 2], {"w": [1.0, 1.0, 1.0]}, node_ids=[100, 101, 102, 103])
    with pytest.raises(InfeasibleError, match=r"route\[102->100\]: no path from node 102 to node 100"):
        shortest_path(g, 2, 0, "w")
    m = distance_matrix(g, [0, 3], [2, 0], "w")
    assert m.tolist() == [[2.0, 0.0], [1.0, math.inf]]
    assert one_to_many(g, 3, None, "w").tolist() == [math.inf, math.inf, 1.0, 0.0]
    assert one_to_many(g, 0, [2], "w", limit=1.5).tolist() == [math.inf]  # beyond the search radius
    with pytest.raises(InfeasibleError):
        route_from_predecessors(g, np.array([-9999, 0, 1, -9999]), 0, 3, "w")


def test_problem_validation() -> None:
    g = Graph.from_edges(2, [0], [1], {"w": [1.0], "neg": [-1.0], "nan": [math.nan]})
    with pytest.raises(ValidationError, match=r"^source: node index 5 outside 0..1"):
        ShortestPathProblem(g, 5, 0, "w")
    with pytest.raises(ValidationError, match=r"^target: must be a dense node index"):
        ShortestPathProblem(g, 0, 1.0, "w")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"^weight: unknown edge attribute 'time' \(has: nan, neg, w\)"):
        ShortestPathProblem(g, 0, 1, "time")
    for weight in ("neg", "nan"):
        with pytest.raises(ValidationError, match="non-negative"):
            ShortestPathProblem(g, 0, 1, weight)
    with pytest.raises(NotFoundError, match="unknown node id 7"):
        ShortestPathProblem.from_node_ids(g, 0, 7, "w")
    with pytest.raises(ValidationError, match=r"^targets\[1\]: node index 9"):
        distance_matrix(g, [0], [1, 9], "w")
    assert shortest_path(g, 1, 1, "w").nodes.tolist() == [1]  # the empty route


def test_registered_solver_solves_the_problem() -> None:
    g = Graph.from_edges(3, [0, 1, 0], [1, 2, 2], {"w": [1.0, 1.0, 5.0]})
    info = get_solver("dijkstra", ProblemKind.SHORTEST_PATH)
    route = info.solve(ShortestPathProblem(g, 0, 2, "w"), Budget())
    assert route.nodes.tolist() == [0, 1, 2] and route.cost == 2.0


def test_route_geojson_follows_the_edge_shapes() -> None:
    g = Graph.from_edges(3, [0, 1], [1, 2], {"length": [10.0, 20.0], "travel_time": [1.0, 2.0],
                                             "highway": np.zeros(2, dtype=np.uint8)},
                         coords=[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    shapes = np.array([[0.0, 0.0], [0.5, 0.2], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    net = RoadNetwork(g, ("motorway",), np.array([0, 3, 5]), shapes)
    route = shortest_path(g, 0, 2, "length")
    feature = route.to_geojson(net)
    assert feature["geometry"]["coordinates"] == [[0.0, 0.0], [0.5, 0.2], [1.0, 0.0], [1.0, 1.0]]
    assert feature["properties"]["length_m"] == 30.0 and feature["properties"]["travel_time_s"] == 3.0
    assert route.coordinates(g).tolist() == [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]


# ---------------------------------------------------------------------- Heidelberg vs networkx
def osmnx_reference(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Largest SCC with speeds and travel times done by osmnx itself (the independent side).

    The one policy we share is which class a merged edge belongs to (osmnx keeps an arbitrary
    one: the list comes from a set); everything else is osmnx's own code.
    """
    import osmnx as ox

    order = [*DEFAULT_SPEEDS_KPH, "road"]
    H = ox.truncate.largest_component(G, strongly=True).copy()
    for _, _, data in H.edges(data=True):
        values = data["highway"] if isinstance(data["highway"], list) else [data["highway"]]
        values = [p for v in values for p in v.split(";")]
        data["highway"] = min(values, key=lambda c: (order.index(c) if c in order else len(order), c))
    classes = {d["highway"] for _, _, d in H.edges(data=True)}
    ox.add_edge_speeds(H, hwy_speeds={c: DEFAULT_SPEEDS_KPH.get(c, DEFAULT_FALLBACK_SPEED_KPH) for c in classes})
    return ox.add_edge_travel_times(H)


@pytest.fixture(scope="module")
def heidelberg() -> tuple[RoadNetwork, nx.MultiDiGraph]:
    import osmnx as ox

    G = ox.graph_from_xml(osm_path("heidelberg"), retain_all=True)
    assert (len(G), G.number_of_edges()) == (5557, 13062)  # README: simplified, all components
    return build_road_network(G), osmnx_reference(G)


@requires_data("osm", "heidelberg.drive.osm.bz2")
@pytest.mark.slow
def test_heidelberg_edges_and_distances_equal_networkx(heidelberg: tuple[RoadNetwork, nx.MultiDiGraph]) -> None:
    net, H = heidelberg
    g = net.graph
    assert (g.n_nodes, g.n_edges) == (len(H), H.number_of_edges()) == (5170, 12282)
    # every (tail, head) pair carries the same lengths and travel times as osmnx's edges
    ours: dict[tuple[int, int], list[tuple[float, float]]] = {}
    ids = g.node_ids.tolist()
    for e, (u, v) in enumerate(zip(g.tails.tolist(), g.heads.tolist(), strict=True)):
        ours.setdefault((ids[u], ids[v]), []).append((g.edge_attrs["length"][e], g.edge_attrs["travel_time"][e]))
    theirs: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for u, v, d in H.edges(data=True):
        theirs.setdefault((u, v), []).append((d["length"], d["travel_time"]))
    assert ours.keys() == theirs.keys()
    for key, values in theirs.items():
        np.testing.assert_allclose(sorted(ours[key]), sorted(values), rtol=1e-9)

    rng = np.random.default_rng(2024)
    pairs = rng.integers(0, g.n_nodes, size=(200, 2))
    for weight in ("length", "travel_time"):
        router = DijkstraRouter(g, weight)
        matrix = router.distance_matrix(np.unique(pairs[:, 0]), np.unique(pairs[:, 1]))
        rows = np.searchsorted(np.unique(pairs[:, 0]), pairs[:, 0])
        cols = np.searchsorted(np.unique(pairs[:, 1]), pairs[:, 1])
        for (s, t), from_matrix in zip(pairs, matrix[rows, cols], strict=True):
            expected, _ = nx.bidirectional_dijkstra(H, ids[s], ids[t], weight=weight)
            route = router.shortest_path(int(s), int(t))
            assert route.cost == pytest.approx(expected, rel=1e-9)
            assert from_matrix == pytest.approx(expected, rel=1e-9)
            check_route(g, route, int(s), int(t), weight)
