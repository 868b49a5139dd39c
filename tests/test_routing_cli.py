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


@requires_data("osm", "monaco.drive.osm.bz2")
def test_route_and_matrix_commands_match_dijkstra(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(location.CACHE_ENV, str(tmp_path))
    road = read_osm("monaco", simplify=False)
    nodes, _ = SpatialIndex(road).nearest_nodes(np.array(POINTS))
    want = DijkstraRouter(road.graph).distance_matrix(nodes)
    out = tmp_path / "route.geojson"
    result = runner.invoke(app, ["route", "monaco", "--from", "43.7384,7.4246", "--to", "43.7500,7.4400",
                                 "--geojson", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["cost"] == pytest.approx(want[0, 1], rel=1e-9)
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
    assert "nearest node" in str(far.exception)
