"""The CSR graph type, checked against networkx as an independent implementation."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from planner.errors import DataFormatError, NotFoundError, ValidationError
from planner.graph import Graph


@st.composite
def random_graphs(draw: st.DrawFn) -> Graph:
    n = draw(st.integers(1, 25))
    m = draw(st.integers(0, 80))
    tails = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    heads = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    weights = draw(st.lists(st.floats(0.0, 100.0), min_size=m, max_size=m))
    ids = np.arange(n, dtype=np.int64) * 7 + 1000
    return Graph.from_edges(n, tails, heads, {"w": weights}, node_ids=ids, name="random")


def test_from_edges_sorts_by_tail_and_keeps_attributes_aligned() -> None:
    g, order = Graph.from_edges_with_order(3, [2, 0, 1, 0], [0, 1, 2, 2], {"w": [4.0, 1.0, 3.0, 2.0]})
    assert g.indptr.tolist() == [0, 2, 3, 4]
    assert g.indices.tolist() == [1, 2, 2, 0]
    assert g.edge_attrs["w"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert order.tolist() == [1, 3, 2, 0]
    assert g.tails.tolist() == [0, 0, 1, 2]


@settings(max_examples=60, deadline=None)
@given(random_graphs())
def test_shortest_distances_equal_networkx(g: Graph) -> None:
    ours = dijkstra(g.to_scipy("w"), directed=True)
    nxg = g.to_networkx()
    for i, source in enumerate(g.node_ids.tolist()):
        lengths = nx.single_source_dijkstra_path_length(nxg, source, weight="w")
        expected = np.full(g.n_nodes, np.inf)
        for node, dist in lengths.items():
            expected[g.index_of(node)] = dist
        np.testing.assert_allclose(ours[i], expected, rtol=1e-12, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(random_graphs())
def test_strong_components_equal_networkx(g: Graph) -> None:
    count, labels = g.strongly_connected_components()
    components = list(nx.strongly_connected_components(g.to_networkx()))
    assert count == len(components)
    for comp in components:
        assert len({labels[g.index_of(v)] for v in comp}) == 1
    sub, edges = g.largest_strongly_connected_component()
    assert sub.n_nodes == max(len(c) for c in components)
    assert np.array_equal(sub.node_ids[sub.tails], g.node_ids[g.tails[edges]])
    assert np.array_equal(sub.edge_attrs["w"], g.edge_attrs["w"][edges])


@settings(max_examples=40, deadline=None)
@given(random_graphs())
def test_reverse_swaps_every_edge(g: Graph) -> None:
    r, order = g.reverse()
    assert np.array_equal(r.tails, g.indices[order])
    assert np.array_equal(r.indices, g.tails[order])
    assert np.array_equal(np.sort(r.in_degree()), np.sort(g.out_degree()))


def test_parallel_edges_keep_the_cheapest_in_scipy_and_all_in_networkx() -> None:
    g = Graph.from_edges(2, [0, 0, 0], [1, 1, 1], {"w": [5.0, 2.0, 9.0]})
    assert g.has_parallel_edges()
    assert g.to_scipy("w")[0, 1] == 2.0
    assert g.edge_index(0, 1, weight="w") == 1
    assert g.to_networkx().number_of_edges() == 3


def test_zero_weight_edges_stay_edges() -> None:
    g = Graph.from_edges(3, [0, 1], [1, 2], {"w": [0.0, 0.0]})
    dist = dijkstra(g.to_scipy("w"), indices=0)
    assert np.all(np.isfinite(dist))
    assert dist.max() < 1e-300


def test_save_load_roundtrip(tmp_path) -> None:
    g = Graph.from_edges(
        3, [0, 1, 2], [1, 2, 0], {"length": [1.5, 2.5, 3.5], "kind": np.array([1, 2, 3], np.int8)},
        node_ids=np.array(["a", "b", "c"]), coords=np.arange(6.0).reshape(3, 2),
        node_attrs={"zone": np.array([True, False, False])}, name="tri",
        metadata={"source": "test", "units": "m"},
    )
    path = tmp_path / "g.npz"
    g.save(path)
    h = Graph.load(path)
    assert h.name == "tri" and h.metadata == {"source": "test", "units": "m"}
    for key in ("indptr", "indices", "node_ids", "coords"):
        assert np.array_equal(getattr(g, key), getattr(h, key))
    assert h.edge_attrs["kind"].dtype == np.int8
    assert np.array_equal(h.node_attrs["zone"], g.node_attrs["zone"])
    assert h.index_of("c") == 2


def test_load_rejects_a_file_that_is_not_a_graph(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_text("not an npz")
    with pytest.raises(DataFormatError, match="not a routeplanner graph file"):
        Graph.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(DataFormatError, match="format version"):
        Graph.load(other)


def test_unknown_node_id_names_the_id() -> None:
    g = Graph.from_edges(2, [0], [1], node_ids=np.array([10, 20]), name="tiny")
    with pytest.raises(NotFoundError, match="unknown node id 30 in graph tiny"):
        g.index_of(30)
    assert g.index_of(np.int64(20)) == 1


def test_bad_construction_names_the_field() -> None:
    with pytest.raises(ValidationError, match=r"^tails: node index outside 0\.\.1"):
        Graph.from_edges(2, [0, 5], [1, 0])
    with pytest.raises(ValidationError, match=r"edge_attrs\['w'\]: length"):
        Graph.from_edges(2, [0], [1], {"w": [1.0, 2.0]})
    with pytest.raises(ValidationError, match="coords"):
        Graph.from_edges(2, [0], [1], coords=np.zeros((3, 2)))
    with pytest.raises(ValidationError, match="not unique"):
        Graph.from_edges(2, [0], [1], node_ids=np.array([1, 1])).index_of(1)
    with pytest.raises(NotFoundError, match="edge attribute: 'speed' not in graph"):
        Graph.from_edges(2, [0], [1], {"w": [1.0]}).edge_attr("speed")


def test_subgraph_keeps_only_inner_edges() -> None:
    g = Graph.from_edges(4, [0, 1, 2, 3, 0], [1, 2, 3, 0, 2], {"w": [1.0, 2.0, 3.0, 4.0, 5.0]})
    sub, edges = g.subgraph(np.array([0, 1, 2]))
    assert sub.n_nodes == 3
    assert sorted(zip(sub.tails.tolist(), sub.indices.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]
    assert sorted(g.edge_attrs["w"][edges].tolist()) == [1.0, 2.0, 5.0]
