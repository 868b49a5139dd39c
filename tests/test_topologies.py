"""GraphML topologies (Internet Topology Zoo, DRL+GNN) against the data README, its index.csv
and networkx; demand-matrix generators on them."""

from __future__ import annotations

import csv
import math

import networkx as nx
import numpy as np
import pytest

from datasets.generators.fabric import gravity_demands, random_demands, uniform_demands
from datasets.graphml import DEFAULT_CAPACITY_GBPS, list_topologies, read_topology, resolve_topology
from datasets.location import data_dir
from planner.errors import DataFormatError, DataNotFoundError, ValidationError
from planner.flows import DemandMatrix
from tests.conftest import requires_data

pytestmark = requires_data("topologies", "index.csv")


def _index_rows() -> list[dict[str, str]]:
    path = data_dir() / "topologies" / "index.csv"
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


#: The README table of the DRL+GNN topologies: nodes, links, diameter (hops), mean degree.
DRL_GNN_TABLE = {
    "nsfnet": (14, 21, 3, 3.00),
    "geant2": (24, 37, 6, 3.08),
    "gbn": (17, 26, 6, 3.06),
}


def test_index_lists_every_zoo_file() -> None:
    rows = _index_rows()
    zoo = [r for r in rows if r["file"].startswith("zoo_graphml/")]
    assert len(zoo) == 276
    names = set(list_topologies())
    assert {r["file"].split("/")[1].removesuffix(".graphml") for r in zoo} <= names
    assert {"nsfnet", "geant2", "gbn"} <= names and len(names) == 276 + 3


def test_every_zoo_file_matches_index() -> None:
    """All 276 Zoo files: node count, simple and raw link counts, largest component, nodes with
    coordinates and the metadata columns of index.csv."""
    rows = [r for r in _index_rows() if r["file"].startswith("zoo_graphml/")]
    assert rows
    for r in rows:
        path = data_dir() / "topologies" / r["file"]
        full = read_topology(path, largest_component=False)
        where = r["file"]
        assert full.n_nodes == int(r["nodes"]), where
        # index.csv counts self-loops as simple edges; the reader drops them (and says how many)
        assert full.n_links + full.metadata["self_loops"] == int(r["simple_edges"]), where
        assert full.metadata["components"] == int(r["components"]), where
        assert int((~np.isnan(full.coords).any(axis=1)).sum()) == int(r["nodes_with_latlon"]), where
        assert full.network == r["network"] and full.type == r["type"] and full.geo_extent == r["geo_extent"], where
        assert not full.graph.has_parallel_edges(), where
        assert np.all(full.graph.edge_attrs["capacity"] > 0), where
        if r["multigraph"] == "1":
            kept = read_topology(path, largest_component=False, parallel="keep")
            assert kept.n_links + kept.metadata["self_loops"] == int(r["raw_edges"]), where
            assert kept.graph.edge_attrs["capacity"].sum() == pytest.approx(full.graph.edge_attrs["capacity"].sum())
        else:
            assert int(r["raw_edges"]) == int(r["simple_edges"]), where
        if r["components"] != "1":
            lcc = read_topology(path)
            assert lcc.n_nodes == int(r["largest_cc"]), where
            assert lcc.metadata["dropped_nodes"] == int(r["nodes"]) - int(r["largest_cc"]), where
            assert nx.is_connected(nx.Graph(lcc.graph.to_networkx())), where
            assert lcc.labels.size == lcc.n_nodes


@pytest.mark.parametrize("name", sorted(DRL_GNN_TABLE))
def test_drl_gnn_topologies_match_readme_table(name: str) -> None:
    nodes, links, diameter, mean_degree = DRL_GNN_TABLE[name]
    topo = read_topology(name)
    assert topo.n_nodes == nodes and topo.n_links == links
    und = nx.Graph(topo.graph.to_networkx())
    assert nx.diameter(und) == diameter
    assert 2 * links / nodes == pytest.approx(mean_degree, abs=0.005)
    # no link speeds in these files: the environment's capacity 200 applies
    assert np.all(topo.graph.edge_attrs["capacity"] == 200.0)
    assert not topo.graph.edge_attrs["capacity_known"].any()
    assert np.all(np.isnan(topo.graph.edge_attrs["length_km"]))


def test_name_resolution_distinguishes_the_two_nsfnets() -> None:
    assert resolve_topology("Abilene").name == "Abilene.graphml"
    assert resolve_topology("nsfnet").name == "nsfnet_drlgnn.graphml"
    zoo = read_topology("Nsfnet")
    assert (zoo.n_nodes, zoo.n_links) == (13, 15)
    assert resolve_topology("abilene") == resolve_topology("Abilene")
    with pytest.raises(DataNotFoundError, match="NoSuchNet"):
        read_topology("NoSuchNet")
    with pytest.raises(DataNotFoundError):
        read_topology(data_dir() / "topologies" / "zoo_graphml" / "Missing.graphml")


def test_bad_files_and_options(tmp_path) -> None:
    bad = tmp_path / "bad.graphml"
    bad.write_text("name,nodes\nAbilene,11\n")
    with pytest.raises(DataFormatError, match=r"bad\.graphml"):
        read_topology(bad)
    with pytest.raises(ValidationError, match="parallel"):
        read_topology("Abilene", parallel="max")
    with pytest.raises(ValidationError, match="default_capacity_gbps"):
        read_topology("Abilene", default_capacity_gbps=0.0)


def _haversine_reference(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    # spherical law of cosines: an independent formula for the same great-circle distance
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0088 * math.acos(max(-1.0, min(1.0, c)))


def test_abilene_coordinates_lengths_and_capacities() -> None:
    topo = read_topology("Abilene")
    raw = nx.read_graphml(data_dir() / "topologies" / "zoo_graphml" / "Abilene.graphml")
    assert (topo.n_nodes, topo.n_links) == (11, 14)
    g = topo.graph
    assert g.edge_attrs["length_km"].shape == (g.n_edges,)
    for e in range(g.n_edges):
        u, v = g.tails[e], g.indices[e]
        du, dv = raw.nodes[str(g.node_ids[u])], raw.nodes[str(g.node_ids[v])]
        assert topo.coords[u].tolist() == [du["Longitude"], du["Latitude"]]
        expected = _haversine_reference(du["Longitude"], du["Latitude"], dv["Longitude"], dv["Latitude"])
        assert g.edge_attrs["length_km"][e] == pytest.approx(expected, rel=1e-6)
        speed = raw.edges[str(g.node_ids[u]), str(g.node_ids[v])].get("LinkSpeedRaw")
        want = speed / 1e9 if speed else DEFAULT_CAPACITY_GBPS
        assert g.edge_attrs["capacity"][e] == pytest.approx(want)
    labels = {raw.nodes[str(i)]["label"] for i in g.node_ids}
    assert set(topo.labels.tolist()) == labels and "Chicago" in labels


def test_missing_coordinates_give_nan_lengths() -> None:
    rows = [r for r in _index_rows() if r["file"].startswith("zoo_graphml/") and r["components"] == "1"
            and 0 < int(r["nodes_with_latlon"]) < int(r["nodes"])]
    topo = read_topology(data_dir() / "topologies" / rows[0]["file"])
    missing = np.isnan(topo.coords).any(axis=1)
    assert missing.sum() == int(rows[0]["nodes"]) - int(rows[0]["nodes_with_latlon"])
    g = topo.graph
    touches_missing = missing[g.tails] | missing[g.indices]
    assert np.all(np.isnan(g.edge_attrs["length_km"][touches_missing]))
    assert np.all(np.isfinite(g.edge_attrs["length_km"][~touches_missing]))


def test_parallel_link_policies() -> None:
    row = next(r for r in _index_rows() if r["multigraph"] == "1" and r["components"] == "1")
    path = data_dir() / "topologies" / row["file"]
    raw = nx.read_graphml(path)
    summed = read_topology(path, parallel="sum", default_capacity_gbps=1.0)
    least = read_topology(path, parallel="min", default_capacity_gbps=1.0)
    kept = read_topology(path, parallel="keep", default_capacity_gbps=1.0)
    assert kept.graph.has_parallel_edges() and not summed.graph.has_parallel_edges()
    for topo in (summed, least):
        g = topo.graph
        for e in range(g.n_edges):
            a, b = str(g.node_ids[g.tails[e]]), str(g.node_ids[g.indices[e]])
            caps = [d["LinkSpeedRaw"] / 1e9 if d.get("LinkSpeedRaw") else 1.0 for d in raw[a][b].values()]
            want = sum(caps) if topo is summed else min(caps)
            assert g.edge_attrs["capacity"][e] == pytest.approx(want)
            assert g.edge_attrs["multiplicity"][e] == len(caps)


def test_demand_generators() -> None:
    topo = read_topology("Abilene")
    n = topo.n_nodes
    grav = gravity_demands(topo, 100.0, seed=1)
    assert isinstance(grav, DemandMatrix) and grav.matrix.shape == (n, n)
    assert grav.total == pytest.approx(100.0) and np.all(np.diag(grav.matrix) == 0)
    assert np.array_equal(grav.matrix, gravity_demands(topo, 100.0, seed=1).matrix)
    assert not np.array_equal(grav.matrix, gravity_demands(topo, 100.0, seed=2).matrix)
    # gravity structure: T[s, d] T[s', d'] == T[s, d'] T[s', d] off the diagonal (rank one)
    m = grav.matrix
    assert m[0, 1] * m[2, 3] == pytest.approx(m[0, 3] * m[2, 1])
    uni = uniform_demands(topo, 55.0)
    off = ~np.eye(n, dtype=bool)
    assert np.allclose(uni.matrix[off], 55.0 / (n * (n - 1)))
    rnd = random_demands(topo, 10.0, seed=4, density=0.5)
    assert rnd.total == pytest.approx(10.0) and 0 < np.count_nonzero(rnd.matrix) < n * (n - 1)
    assert rnd.to_workload().n_flows == np.count_nonzero(rnd.matrix)
    with pytest.raises(ValidationError, match="total"):
        uniform_demands(topo, -1.0)
    with pytest.raises(ValidationError, match=r"matrix\[1, 1\]"):
        DemandMatrix(np.diag([0.0, 2.0, 0.0]))
    with pytest.raises(ValidationError, match=r"matrix\[0, 2\]"):
        DemandMatrix(np.array([[0, 1, -2], [0, 0, 0], [0, 0, 0]]))
