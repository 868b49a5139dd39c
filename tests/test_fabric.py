"""Fabric generators, failures and collective workloads, checked against networkx and the
closed-form counts of leaf-spine and k-ary fat-tree fabrics."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from datasets.generators.fabric import all_to_all, permutation, place_ranks, ring_allreduce
from planner.errors import ValidationError
from planner.graph.fabric import (
    LAYER_CORE,
    LAYER_HOST,
    LAYER_LEAF_SPINE,
    ROLE_HOST,
    ROLE_LEAF,
    ROLE_SPINE,
    fail_links,
    fail_node,
    fat_tree,
    leaf_spine,
)


def _undirected(graph) -> nx.Graph:
    return nx.Graph(graph.to_networkx())


# ---------------------------------------------------------------------- leaf-spine
@pytest.mark.parametrize(("S", "L", "H"), [(1, 1, 1), (2, 3, 4), (4, 8, 2), (16, 16, 24), (8, 5, 1)])
def test_leaf_spine_degrees_and_counts(S: int, L: int, H: int) -> None:
    f = leaf_spine(S, L, H)
    g = f.graph
    assert g.n_nodes == S + L + L * H
    assert g.n_edges == 2 * (L * S + L * H)
    out_deg, in_deg = g.out_degree(), g.in_degree()
    expected = np.where(f.roles == ROLE_LEAF, S + H, np.where(f.roles == ROLE_SPINE, L, 1))
    assert np.array_equal(out_deg, expected)
    assert np.array_equal(in_deg, expected)
    assert f.nodes_with_role("spine").size == S and f.nodes_with_role("leaf").size == L
    assert f.n_hosts == L * H and np.all(f.roles[f.hosts] == ROLE_HOST)
    # every edge has its reverse, and no parallel edges
    und = _undirected(g)
    assert und.number_of_edges() * 2 == g.n_edges and not g.has_parallel_edges()
    # each host hangs off the leaf its name says, through its only link
    for host, leaf in zip(f.hosts, f.host_leaf, strict=True):
        name = str(g.node_ids[host])
        assert str(g.node_ids[leaf]) == "leaf" + name[len("host"):].split("-")[0]
        assert list(und.neighbors(name)) == [str(g.node_ids[leaf])]


@pytest.mark.parametrize(("S", "L", "H"), [(2, 3, 4), (4, 4, 3)])
def test_leaf_spine_host_hop_counts(S: int, L: int, H: int) -> None:
    f = leaf_spine(S, L, H)
    und = _undirected(f.graph)
    names = [str(f.graph.node_ids[h]) for h in f.hosts]
    dist = dict(nx.all_pairs_shortest_path_length(und))
    for (a, la), (b, lb) in itertools.permutations(zip(names, f.host_leaf, strict=True), 2):
        assert dist[a][b] == (2 if la == lb else 4)


def test_leaf_spine_rates_and_oversubscription() -> None:
    f = leaf_spine(4, 2, 12, host_link_gbps=25.0, oversubscription=3.0)
    cap, layer = f.graph.edge_attrs["capacity"], f.graph.edge_attrs["layer"]
    # 12 hosts x 25 Gb/s = 300 Gb/s per leaf; 3:1 means 100 Gb/s of uplink over 4 spines
    assert np.allclose(cap[layer == LAYER_LEAF_SPINE], 25.0)
    assert np.allclose(cap[layer == LAYER_HOST], 25.0)
    f = leaf_spine(8, 4, 32, host_link_gbps=100.0, oversubscription=2.0)
    uplink = f.graph.edge_attrs["capacity"][f.graph.edge_attrs["layer"] == LAYER_LEAF_SPINE]
    assert np.allclose(uplink, 32 * 100.0 / (8 * 2.0))
    # per leaf: host bandwidth / uplink bandwidth == the ratio asked for
    leaf = f.nodes_with_role("leaf")[0]
    g = f.graph
    out = slice(g.indptr[leaf], g.indptr[leaf + 1])
    is_up = g.edge_attrs["up"][out] == 1
    host_bw = g.edge_attrs["capacity"][out][~is_up].sum()
    up_bw = g.edge_attrs["capacity"][out][is_up].sum()
    assert host_bw / up_bw == pytest.approx(2.0)
    assert np.allclose(leaf_spine(2, 2, 2, host_link_gbps=40.0).graph.edge_attrs["capacity"], 40.0)
    explicit = leaf_spine(2, 2, 2, uplink_gbps=400.0).graph
    assert np.allclose(explicit.edge_attrs["capacity"][explicit.edge_attrs["layer"] == LAYER_LEAF_SPINE], 400.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"spines": 0, "leaves": 2, "hosts_per_leaf": 2}, "spines"),
        ({"spines": 2, "leaves": -1, "hosts_per_leaf": 2}, "leaves"),
        ({"spines": 2, "leaves": 2, "hosts_per_leaf": 1.5}, "hosts_per_leaf"),
        ({"spines": 2, "leaves": 2, "hosts_per_leaf": 2, "host_link_gbps": 0.0}, "host_link_gbps"),
        ({"spines": 2, "leaves": 2, "hosts_per_leaf": 2, "uplink_gbps": -5.0}, "uplink_gbps"),
        ({"spines": 2, "leaves": 2, "hosts_per_leaf": 2, "oversubscription": float("nan")}, "oversubscription"),
        ({"spines": 2, "leaves": 2, "hosts_per_leaf": 2, "uplink_gbps": 10.0, "oversubscription": 2.0},
         "oversubscription"),
    ],
)
def test_leaf_spine_rejects_bad_parameters(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        leaf_spine(**kwargs)
    assert err.value.field == field


# ---------------------------------------------------------------------- fat tree
@pytest.mark.parametrize("k", [2, 4, 8])
def test_fat_tree_counts_and_degrees(k: int) -> None:
    f = fat_tree(k)
    g = f.graph
    half = k // 2
    assert g.n_nodes == half * half + k * k + k**3 // 4
    assert f.n_hosts == k**3 // 4
    assert g.n_edges == 2 * (3 * k**3 // 4)
    switches = f.roles != ROLE_HOST
    assert np.all(g.out_degree()[switches] == k) and np.all(g.in_degree()[switches] == k)
    assert np.all(g.out_degree()[~switches] == 1)
    und = _undirected(g)
    assert nx.is_connected(und) and und.number_of_edges() * 2 == g.n_edges
    # every core reaches every pod through exactly one aggregation switch
    for c in f.nodes_with_role("core"):
        pods = [v.split("-")[0] for v in und.neighbors(str(g.node_ids[c]))]
        assert sorted(pods) == sorted(f"agg{p}" for p in range(k))
    layer = g.edge_attrs["layer"]
    assert (layer == LAYER_CORE).sum() == (layer == LAYER_HOST).sum() == (layer == LAYER_LEAF_SPINE).sum()


@pytest.mark.parametrize("k", [4, 8])
def test_fat_tree_host_hop_counts(k: int) -> None:
    f = fat_tree(k)
    und = _undirected(f.graph)
    names = [str(f.graph.node_ids[h]) for h in f.hosts]
    rng = np.random.default_rng(0)
    sample = names if k == 4 else [names[i] for i in rng.choice(len(names), 24, replace=False)]
    for a in sample:
        dist = nx.single_source_shortest_path_length(und, a)
        pa, ea, _ = a[len("host"):].split("-")
        for b in names:
            if b == a:
                continue
            pb, eb, _ = b[len("host"):].split("-")
            expected = 2 if (pa, ea) == (pb, eb) else 4 if pa == pb else 6
            assert dist[b] == expected


@pytest.mark.parametrize(("k", "field"), [(3, "k"), (0, "k"), (-4, "k"), (4.0, "k")])
def test_fat_tree_rejects_bad_k(k, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        fat_tree(k)
    assert err.value.field == field
    with pytest.raises(ValidationError, match="link_gbps"):
        fat_tree(4, link_gbps=0.0)


# ---------------------------------------------------------------------- failures
def test_fail_links_and_node_keep_nodes_and_drop_both_directions() -> None:
    f = leaf_spine(3, 2, 2)
    g = f.graph
    cut = fail_links(g, [("leaf0", "spine1")])
    assert cut.n_nodes == g.n_nodes and cut.n_edges == g.n_edges - 2
    und = _undirected(cut)
    assert not und.has_edge("leaf0", "spine1") and und.has_edge("leaf1", "spine1")
    one_way = fail_links(g, [g.edge_index(g.index_of("leaf0"), g.index_of("spine2"))], both_directions=False)
    assert one_way.n_edges == g.n_edges - 1
    nx_one_way = one_way.to_networkx()
    assert not nx_one_way.has_edge("leaf0", "spine2") and nx_one_way.has_edge("spine2", "leaf0")
    down = fail_node(g, "spine0")
    assert down.n_nodes == g.n_nodes
    assert down.out_degree()[g.index_of("spine0")] == 0 and down.in_degree()[g.index_of("spine0")] == 0
    assert down.n_edges == g.n_edges - 2 * 2
    with pytest.raises(ValidationError, match=r"links\[1\]"):
        fail_links(g, [("leaf0", "spine0"), ("leaf0", "leaf1")])
    with pytest.raises(ValidationError, match=r"links\[0\]"):
        fail_links(g, [("leaf0", "spine9")])
    with pytest.raises(ValidationError, match="node"):
        fail_node(g, "spine7")


# ---------------------------------------------------------------------- workloads
def test_ring_placements() -> None:
    f = leaf_spine(4, 4, 3)
    leaf_of = dict(zip(f.hosts.tolist(), f.host_leaf.tolist(), strict=True))
    ring = ring_allreduce(f, 50.0)
    assert np.array_equal(ring.sources, f.hosts)
    assert np.array_equal(ring.destinations, np.roll(f.hosts, -1)) and np.all(ring.sizes == 50.0)
    strided = place_ranks(f, placement="strided")
    assert sorted(strided.tolist()) == f.hosts.tolist()
    leaves = [leaf_of[h] for h in strided.tolist()]
    assert all(a != b for a, b in zip(leaves, leaves[1:] + leaves[:1], strict=True))
    r1 = ring_allreduce(f, 1.0, placement="random", seed=5)
    r2 = ring_allreduce(f, 1.0, placement="random", seed=5)
    r3 = ring_allreduce(f, 1.0, placement="random", seed=6)
    assert np.array_equal(r1.sources, r2.sources) and not np.array_equal(r1.sources, r3.sources)
    for wl in (r1, ring_allreduce(f, 1.0, ranks=5, placement="random")):
        # a ring: every rank sends once and receives once
        assert sorted(wl.sources.tolist()) == sorted(wl.destinations.tolist())
        assert len(set(wl.sources.tolist())) == wl.n_flows
    with pytest.raises(ValidationError, match="ranks"):
        ring_allreduce(f, 1.0, ranks=13)
    with pytest.raises(ValidationError, match="placement"):
        ring_allreduce(f, 1.0, placement="scattered")
    with pytest.raises(ValidationError, match="size"):
        ring_allreduce(f, -1.0)


def test_all_to_all_and_permutation() -> None:
    f = fat_tree(4)
    a2a = all_to_all(f, 10.0)
    pairs = set(zip(a2a.sources.tolist(), a2a.destinations.tolist(), strict=True))
    assert a2a.n_flows == len(pairs) == 16 * 15
    assert pairs == {(a, b) for a in f.hosts.tolist() for b in f.hosts.tolist() if a != b}
    p = permutation(f, 10.0, seed=3)
    assert np.array_equal(np.sort(p.destinations), f.hosts) and np.all(p.sources != p.destinations)
    assert np.array_equal(p.destinations, permutation(f, 10.0, seed=3).destinations)
    assert any(not np.array_equal(p.destinations, permutation(f, 10.0, seed=s).destinations) for s in range(4, 8))
