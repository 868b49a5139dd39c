"""Contraction hierarchies against independent shortest-path codes: networkx on Monaco, scipy's
Dijkstra on Heidelberg and on random graphs (parallel edges, zero weights, unreachable pairs),
reweighting, matrices and the on-disk cache."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets import location
from datasets.osm import read_osm
from planner.budget import Budget
from planner.errors import DataFormatError, InfeasibleError, ValidationError
from planner.graph import Graph
from planner.paths import ShortestPathProblem
from planner.registry import ProblemKind, get_solver
from solvers.paths.cch import CustomizableHierarchy
from solvers.paths.ch import ChParameters, ContractionHierarchy, cache_path, load_or_build
from solvers.paths.dijkstra import DijkstraRouter
from tests.conftest import requires_data

N_PAIRS = 500


@pytest.fixture(scope="module")
def monaco():
    return read_osm("monaco", simplify=False).graph


@pytest.fixture(scope="module")
def heidelberg():
    return read_osm("heidelberg", simplify=False).graph


def _pairs(graph: Graph, n_sources: int, n_targets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, graph.n_nodes, n_sources), rng.integers(0, graph.n_nodes, n_targets)


@requires_data("osm", "monaco.drive.osm.bz2")
def test_ch_matches_networkx_on_monaco(monaco: Graph) -> None:
    ch = ContractionHierarchy.build(monaco)
    nxg = monaco.to_networkx(multigraph=True)
    sources, targets = _pairs(monaco, 25, 20, seed=3)  # 25 x 20 = 500 pairs
    checked = 0
    for s in sources:
        lengths = nx.single_source_dijkstra_path_length(nxg, monaco.node_ids[s].item(), weight="travel_time")
        for t in targets:
            want = lengths.get(monaco.node_ids[t].item(), math.inf)
            assert ch.distance(int(s), int(t)) == pytest.approx(want, rel=1e-9, abs=1e-9)
            route = ch.shortest_path(int(s), int(t))
            assert route.cost == pytest.approx(want, rel=1e-9, abs=1e-9)
            assert route.source == s and route.target == t
            checked += 1
    assert checked == N_PAIRS


@requires_data("osm", "heidelberg.drive.osm.bz2")
def test_ch_matches_dijkstra_on_heidelberg_both_weights(heidelberg: Graph) -> None:
    sources, targets = _pairs(heidelberg, 25, 20, seed=4)
    for weight in ("travel_time", "length"):
        ch = ContractionHierarchy.build(heidelberg, weight)
        want = DijkstraRouter(heidelberg, weight).distance_matrix(sources, targets)
        got = np.array([[ch.distance(int(s), int(t)) for t in targets] for s in sources])
        np.testing.assert_allclose(got, want, rtol=1e-9)
        np.testing.assert_allclose(ch.distance_matrix(sources, targets), want, rtol=1e-9)
        # routes are real paths of the graph with the claimed cost
        w = heidelberg.edge_attr(weight)
        for i in range(10):
            route = ch.shortest_path(int(sources[i]), int(targets[i]))
            assert np.array_equal(heidelberg.tails[route.edges[1:]], heidelberg.indices[route.edges[:-1]])
            assert float(w[route.edges].sum()) == pytest.approx(want[i, i], rel=1e-9)


@requires_data("osm", "heidelberg.drive.osm.bz2")
def test_reweighting_equals_dijkstra_on_new_weights(heidelberg: Graph) -> None:
    ch = ContractionHierarchy.build(heidelberg, "travel_time")
    rng = np.random.default_rng(7)
    new = heidelberg.edge_attr("travel_time") * rng.uniform(0.5, 3.0, heidelberg.n_edges)
    new[rng.random(heidelberg.n_edges) < 0.01] = np.inf  # a few closed roads
    re = ch.reweighted(new)
    assert np.array_equal(np.argsort(re.arcs.rank), np.argsort(ch.arcs.rank))  # order kept
    g2 = heidelberg.with_edge_attrs(custom=new)
    sources, targets = _pairs(heidelberg, 20, 25, seed=8)
    want = DijkstraRouter(g2, "custom").distance_matrix(sources, targets)
    got = np.array([[re.distance(int(s), int(t)) for t in targets] for s in sources])
    np.testing.assert_allclose(got, want, rtol=1e-9)
    # customizable CH (nested dissection order): exact for the new costs, routes costed in them
    custom = CustomizableHierarchy.build(heidelberg).customize(new)
    got = np.array([[custom.distance(int(s), int(t)) for t in targets] for s in sources])
    np.testing.assert_allclose(got, want, rtol=1e-9)
    np.testing.assert_allclose(custom.distance_matrix(sources, targets), want, rtol=1e-9)
    for i in range(10):
        if np.isfinite(want[i, i]):
            route = custom.shortest_path(int(sources[i]), int(targets[i]))
            assert route.cost == pytest.approx(want[i, i], rel=1e-9)
            assert route.cost == pytest.approx(float(new[route.edges].sum()), rel=1e-12)


@requires_data("osm", "monaco.drive.osm.bz2")
def test_cache_round_trip(monaco: Graph, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(location.CACHE_ENV, str(tmp_path))
    built = load_or_build(monaco, "length")
    path = cache_path(monaco, "length")
    assert path.is_file() and path.parent == tmp_path
    loaded = load_or_build(monaco, "length")
    assert loaded.from_cache and not built.from_cache
    assert loaded.preprocess_s == built.preprocess_s > 0.0
    for key in ("rank", "src", "dst", "w", "child1", "child2", "orig"):
        assert np.array_equal(getattr(loaded.arcs, key), getattr(built.arcs, key))
    sources, targets = _pairs(monaco, 5, 5, seed=9)
    np.testing.assert_array_equal(loaded.distance_matrix(sources, targets), built.distance_matrix(sources, targets))
    # another weight has another key; a damaged file is rebuilt, not trusted
    assert cache_path(monaco, "travel_time") != path
    path.write_bytes(b"not an npz")
    with pytest.raises(DataFormatError):
        ContractionHierarchy.load(path, monaco, "length")
    assert not load_or_build(monaco, "length").from_cache


@st.composite
def random_graphs(draw: st.DrawFn) -> Graph:
    n = draw(st.integers(1, 25))
    m = draw(st.integers(0, 80))
    tails = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    heads = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    weights = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.0, 50.0)), min_size=m, max_size=m))
    return Graph.from_edges(n, tails, heads, {"w": weights})


@settings(max_examples=60, deadline=None)
@given(random_graphs(), st.integers(1, 3))
def test_ch_matches_dijkstra_on_random_graphs(graph: Graph, settle_limit: int) -> None:
    ch = ContractionHierarchy.build(graph, "w", ChParameters(settle_limit=settle_limit, simulation_settle_limit=1))
    nodes = np.arange(graph.n_nodes)
    want = DijkstraRouter(graph, "w").distance_matrix(nodes)
    got = np.array([[ch.distance(int(s), int(t)) for t in nodes] for s in nodes])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ch.distance_matrix(nodes), want, rtol=1e-9, atol=1e-12)
    for s in nodes:
        for t in nodes:
            if math.isfinite(want[s, t]):
                route = ch.shortest_path(int(s), int(t))
                assert route.cost == pytest.approx(want[s, t], rel=1e-9, abs=1e-12)
    # customizable CH on a random order, customised with reversed-looking costs
    order = np.random.default_rng(graph.n_edges).permutation(graph.n_nodes)
    costs = graph.edge_attr("w")[::-1].copy()
    topology = CustomizableHierarchy(graph, order, "w")
    custom = topology.customize(costs)
    want_c = DijkstraRouter(graph.with_edge_attrs(c=costs), "c").distance_matrix(nodes)
    got = np.array([[custom.distance(int(s), int(t)) for t in nodes] for s in nodes])
    np.testing.assert_allclose(got, want_c, rtol=1e-9, atol=1e-12)
    for s in nodes[:5]:
        for t in nodes:
            if math.isfinite(want_c[s, t]):
                assert custom.shortest_path(int(s), int(t)).cost == pytest.approx(want_c[s, t], rel=1e-9, abs=1e-12)
    # in place: the same object now answers for the graph's own costs, routes included
    assert topology.customize(into=custom) is custom
    got = np.array([[custom.distance(int(s), int(t)) for t in nodes] for s in nodes])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(custom.distance_matrix(nodes), want, rtol=1e-9, atol=1e-12)
    for s in nodes[:5]:
        for t in nodes:
            if math.isfinite(want[s, t]):
                route = custom.shortest_path(int(s), int(t))
                assert route.cost == pytest.approx(want[s, t], rel=1e-9, abs=1e-12)
                assert route.cost == pytest.approx(float(graph.edge_attr("w")[route.edges].sum()), rel=1e-9, abs=1e-12)
    with pytest.raises(ValidationError, match="into"):
        CustomizableHierarchy(graph, order, "w").customize(into=custom)


def test_unreachable_pair_is_inf_and_a_clear_error() -> None:
    graph = Graph.from_edges(4, [0, 1, 2], [1, 0, 3], {"w": [1.0, 2.0, 1.0]}, node_ids=np.array([10, 11, 12, 13]))
    ch = ContractionHierarchy.build(graph, "w")
    assert ch.distance(0, 3) == math.inf
    assert ch.distance(2, 3) == 1.0
    assert ch.distance_matrix([0, 2], [3])[0, 0] == math.inf
    with pytest.raises(InfeasibleError, match="no path from node 10 to node 13"):
        ch.shortest_path(0, 3)
    with pytest.raises(ValidationError, match="target"):
        ch.distance(0, 4)
    with pytest.raises(ValidationError, match="weights"):
        ch.reweighted(np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValidationError, match="weights"):
        ch.reweighted(np.ones(2))


def test_registered_solver(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(location.CACHE_ENV, str(tmp_path))
    info = get_solver("ch", ProblemKind.SHORTEST_PATH)
    graph = Graph.from_edges(3, [0, 1, 0], [1, 2, 2], {"w": [1.0, 1.0, 5.0]}, name="tiny-ch-test")
    route = info.solve(ShortestPathProblem(graph, 0, 2, "w"), Budget())
    assert route.cost == 2.0 and list(route.nodes) == [0, 1, 2]


@pytest.mark.parametrize("city", [
    pytest.param("monaco", marks=requires_data("osm", "monaco.drive.osm.bz2")),
    pytest.param("heidelberg", marks=requires_data("osm", "heidelberg.drive.osm.bz2")),
])
def test_every_query_method_matches_networkx_on_500_pairs(city: str, request) -> None:
    """CH, customised CCH and Dijkstra (point to point and matrices) give networkx's cost on 500
    random pairs of each city, ``inf`` where networkx finds no path."""
    graph: Graph = request.getfixturevalue(city)
    nxg = graph.to_networkx(multigraph=True)
    sources, targets = _pairs(graph, 25, 20, seed=11)
    want = np.empty((sources.size, targets.size))
    for i, s in enumerate(sources):
        lengths = nx.single_source_dijkstra_path_length(nxg, graph.node_ids[s].item(), weight="travel_time")
        want[i] = [lengths.get(graph.node_ids[t].item(), math.inf) for t in targets]
    ch = ContractionHierarchy.build(graph)
    cch = CustomizableHierarchy.build(graph).customize()
    dijkstra = DijkstraRouter(graph, "travel_time")
    np.testing.assert_allclose(ch.distance_matrix(sources, targets), want, rtol=1e-9)
    np.testing.assert_allclose(dijkstra.distance_matrix(sources, targets), want, rtol=1e-9)
    for i, s in enumerate(sources):
        for j, t in enumerate(targets):
            for router in (ch, cch):
                assert router.distance(int(s), int(t)) == pytest.approx(want[i, j], rel=1e-9, abs=1e-9)
            if math.isfinite(want[i, j]):
                for router in (ch, cch, dijkstra):
                    assert router.shortest_path(int(s), int(t)).cost == pytest.approx(want[i, j], rel=1e-9, abs=1e-9)
