"""``routeplanner route`` / ``matrix`` on Monaco, checked against scipy's Dijkstra between the
snapped nodes, and the input parsers' errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from datasets import location
from datasets.osm import read_osm
from planner.cli import app
from planner.commands.routing import parse_lat_lon, read_points_csv
from planner.errors import DataFormatError, ValidationError
from planner.graph.spatial import SpatialIndex
from solvers.paths.dijkstra import DijkstraRouter
from solvers.paths.snapped import reverse_edge
from tests.conftest import requires_data

runner = CliRunner()
POINTS = [(43.7384, 7.4246), (43.7500, 7.4400), (43.7300, 7.4200)]


def test_parse_lat_lon_and_points_csv(tmp_path) -> None:
    assert parse_lat_lon("41.15,-8.61", "from") == (41.15, -8.61)
    with pytest.raises(ValidationError, match="from"):
        parse_lat_lon("41.15", "from")
    with pytest.raises(ValidationError, match="out of range"):
        parse_lat_lon("95,0", "to")
    good = tmp_path / "p.csv"
    good.write_text("name,Lon,Lat\na,7.42,43.73\nb,7.44,43.75\n")
    np.testing.assert_array_equal(read_points_csv(good), [[43.73, 7.42], [43.75, 7.44]])
    bare = tmp_path / "bare.csv"
    bare.write_text("43.73,7.42\n43.75,7.44\n")
    np.testing.assert_array_equal(read_points_csv(bare), [[43.73, 7.42], [43.75, 7.44]])
    bad = tmp_path / "bad.csv"
    bad.write_text("lat,lon\n43.7,x\n")
    with pytest.raises(DataFormatError, match="two numbers"):
        read_points_csv(bad)


def _expected_point_cost(road, router: DijkstraRouter, a: tuple[float, float], b: tuple[float, float]) -> float:
    """Cheapest cost between two points snapped onto their nearest edges, from scipy distances
    between the snapped edges' end nodes plus the partial edges (either direction of a two-way
    street)."""
    index = SpatialIndex(road)
    w = road.graph.edge_attr("travel_time")
    sa, sb = index.nearest_edge(*a), index.nearest_edge(*b)
    starts = [(road.graph.indices[sa.edge], (1 - sa.fraction) * w[sa.edge])]
    finishes = [(road.graph.tails[sb.edge], sb.fraction * w[sb.edge])]
    ra, rb = reverse_edge(road, sa.edge), reverse_edge(road, sb.edge)
    if ra >= 0:
        starts.append((road.graph.indices[ra], sa.fraction * w[ra]))
    if rb >= 0:
        finishes.append((road.graph.tails[rb], (1 - sb.fraction) * w[rb]))
    return min(ca + router.one_to_many(int(u), [int(v)])[0] + cb for u, ca in starts for v, cb in finishes)


@requires_data("osm", "monaco.drive.osm.bz2")
def test_route_and_matrix_commands_match_dijkstra(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(location.CACHE_ENV, str(tmp_path))
    road = read_osm("monaco", simplify=False)
    nodes, _ = SpatialIndex(road).nearest_nodes(np.array(POINTS))
    router = DijkstraRouter(road.graph)
    want = router.distance_matrix(nodes)
    out = tmp_path / "route.geojson"
    result = runner.invoke(app, ["route", "monaco", "--from", "43.7384,7.4246", "--to", "43.7500,7.4400",
                                 "--geojson", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["cost"] == pytest.approx(_expected_point_cost(road, router, POINTS[0], POINTS[1]), rel=1e-9)
    feature = json.loads(out.read_text())
    assert feature["geometry"]["type"] == "LineString" and len(feature["geometry"]["coordinates"]) > 2
    csv_file = tmp_path / "points.csv"
    csv_file.write_text("lat,lon\n" + "\n".join(f"{a},{b}" for a, b in POINTS) + "\n")
    table = tmp_path / "matrix.csv"
    result = runner.invoke(app, ["matrix", "monaco", str(csv_file), "--out", str(table)])
    assert result.exit_code == 0, result.output
    got = np.loadtxt(table, delimiter=",")
    np.testing.assert_allclose(got, want, atol=1e-3)
    far = runner.invoke(app, ["route", "monaco", "--from", "10,10", "--to", "43.75,7.44"])
    assert far.exit_code != 0 and isinstance(far.exception, ValidationError)
    assert far.exception.field == "from" and "nearest road" in str(far.exception)


@requires_data("osm", "monaco.drive.osm.bz2")
def test_route_alternatives_and_personal_costs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(location.CACHE_ENV, str(tmp_path))
    out = tmp_path / "routes.geojson"
    result = runner.invoke(app, ["route", "monaco", "--from", "43.7384,7.4246", "--to", "43.7500,7.4400",
                                 "--alternatives", "3", "--geojson", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == summary["routes"] >= 1
    costs = [f["properties"]["cost"] for f in doc["features"]]
    assert costs[0] == pytest.approx(summary["cost"]) and all(c <= 1.25 * costs[0] + 1e-6 for c in costs)
    result = runner.invoke(app, ["route", "monaco", "--from", "43.7384,7.4246", "--to", "43.7500,7.4400",
                                 "--cost", "length", "--json"])
    assert result.exit_code == 0, result.output
    by_length = json.loads(result.output[result.output.index("{"):])
    assert by_length["length_m"] <= summary["length_m"] + 1e-6  # the shortest route is not longer
    bad = runner.invoke(app, ["route", "monaco", "--from", "43.7384,7.4246", "--to", "43.75,7.44", "--cost", "x"])
    assert isinstance(bad.exception, ValidationError) and bad.exception.field == "cost"
