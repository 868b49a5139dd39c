"""OSM road networks: counts against the data README, speeds, shapes, caching and errors."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from datasets.location import CACHE_ENV
from datasets.osm import osm_cities, osm_path, read_osm
from planner.errors import DataFormatError, DataNotFoundError, NotFoundError, ValidationError
from planner.graph.road import (
    DEFAULT_SPEEDS_KPH,
    STANDARD_HIGHWAY_CLASSES,
    RoadNetwork,
    build_road_network,
    parse_maxspeed,
    road_class,
)
from planner.paths import ShortestPathProblem
from tests.conftest import requires_data

MONACO = requires_data("osm", "monaco.drive.osm.bz2")
HEIDELBERG = requires_data("osm", "heidelberg.drive.osm.bz2")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private cache directory for this module."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(path))
        yield path


@pytest.fixture(scope="module")
def monaco(cache: Path) -> RoadNetwork:
    return read_osm("monaco")


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance on the sphere osmnx uses (radius 6,371,009 m)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_009 * np.arcsin(np.sqrt(a))


# ---------------------------------------------------------------------- tag parsing (no data)
@pytest.mark.parametrize(("value", "kph"), [
    ("50", 50.0), ("50 km/h", 50.0), ("30 mph", 30 * 1.609344), ("20mph", 20 * 1.609344),
    ("10 knots", 18.52), ("50;70", 60.0), ("50|30", 40.0), (["50", "30"], 40.0), (["70", "none"], 70.0),
    ("7,5", 7.5), (50, 50.0),
])
def test_maxspeed_parses_numbers_units_and_lists(value: object, kph: float) -> None:
    assert parse_maxspeed(value) == pytest.approx(kph)


@pytest.mark.parametrize("value", ["PT:urban", "DE:rural", "none", "signals", "walk", "variable", "", None,
                                   float("nan"), ["none", "walk"], "0", "-30"])
def test_maxspeed_without_a_number_is_nan(value: object) -> None:
    assert math.isnan(parse_maxspeed(value))


def test_road_class_takes_the_most_important_of_a_list() -> None:
    assert road_class(["residential", "secondary", "tertiary"]) == "secondary"
    assert road_class(["residential", "secondary"]) == road_class(["secondary", "residential"])
    assert road_class("unclassified;tertiary") == "tertiary"
    assert road_class(["escape", "busway"]) == "busway"  # unknown classes: alphabetical
    assert road_class(None) == "unknown"


# ---------------------------------------------------------------------- Monaco (file path)
@MONACO
def test_monaco_counts_equal_readme(monaco: RoadNetwork) -> None:
    # README: simplified, largest strongly connected component: 1,258 nodes / 2,523 edges
    # (MultiDiGraph edges: parallel edges kept, as in our graph)
    assert (monaco.n_nodes, monaco.n_edges) == (1258, 2523)
    assert monaco.graph.has_parallel_edges()
    assert monaco.name == "monaco"
    assert "osm" in osm_path("monaco").parts and "monaco" in osm_cities()


@MONACO
def test_monaco_weak_component_counts_equal_readme(cache: Path) -> None:
    weak = read_osm("monaco", strongly_connected=False)
    assert (weak.n_nodes, weak.n_edges) == (1274, 2543)  # README "default load" column
    # the toll=yes ways (A8 toll station) hang off the strongly connected core
    assert weak.graph.edge_attrs["toll"].any()


@MONACO
def test_travel_time_is_length_over_speed_and_speeds_follow_the_table(monaco: RoadNetwork) -> None:
    g = monaco.graph
    speed, length = g.edge_attrs["speed_kph"], g.edge_attrs["length"]
    np.testing.assert_allclose(g.edge_attrs["travel_time"], length / (speed / 3.6), rtol=1e-12)
    assert np.all(speed > 0) and np.all(np.isfinite(speed))
    # Monaco's motorway carries maxspeed; its untagged residential streets get OSRM's 25 km/h
    names = monaco.highway_names()
    residential = speed[names == "residential"]
    assert np.median(residential) == DEFAULT_SPEEDS_KPH["residential"]
    assert set(monaco.highway_classes[: len(STANDARD_HIGHWAY_CLASSES)]) == set(STANDARD_HIGHWAY_CLASSES)


@MONACO
def test_edge_shapes_run_from_tail_to_head_and_measure_the_edge_length(monaco: RoadNetwork) -> None:
    g = monaco.graph
    off, pts = monaco.geometry_offsets, monaco.geometry_coords
    np.testing.assert_array_equal(pts[off[:-1]], g.coords[g.tails])
    np.testing.assert_array_equal(pts[off[1:] - 1], g.coords[g.heads])
    # osmnx's length is the great-circle length of the shape: recompute it from our arrays
    seg = haversine_m(pts[:-1, 0], pts[:-1, 1], pts[1:, 0], pts[1:, 1])
    seg[off[1:-1] - 1] = 0.0  # no segment between the last point of one edge and the next edge
    per_edge = np.add.reduceat(np.append(seg, 0.0), off[:-1])
    np.testing.assert_allclose(per_edge, g.edge_attrs["length"], rtol=1e-6, atol=0.01)
    assert np.any(np.diff(off) > 2)  # simplified edges keep their curves


@MONACO
def test_cache_round_trip_gives_identical_arrays(monaco: RoadNetwork, cache: Path) -> None:
    files = sorted(cache.glob("osm-monaco-*.npz"))
    assert files, "the first load did not write a cache file"
    started = time.perf_counter()
    again = read_osm("monaco")
    assert time.perf_counter() - started < 2.0
    a, b = monaco.graph, again.graph
    for name in ("indptr", "indices", "node_ids", "coords"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.edge_attrs.keys() == b.edge_attrs.keys()
    for key in a.edge_attrs:
        assert a.edge_attrs[key].dtype == b.edge_attrs[key].dtype
        np.testing.assert_array_equal(a.edge_attrs[key], b.edge_attrs[key])
    np.testing.assert_array_equal(monaco.geometry_offsets, again.geometry_offsets)
    np.testing.assert_array_equal(monaco.geometry_coords, again.geometry_coords)
    assert monaco.highway_classes == again.highway_classes
    assert dict(a.metadata) == dict(b.metadata)


@MONACO
def test_cache_is_keyed_by_options_and_rebuilt_when_damaged(monaco: RoadNetwork, cache: Path) -> None:
    before = set(cache.glob("osm-monaco-*.npz"))
    slow = read_osm("monaco", speeds={**DEFAULT_SPEEDS_KPH, "residential": 12.5})
    after = set(cache.glob("osm-monaco-*.npz"))
    assert len(after - before) == 1  # other options, other file
    residential = slow.highway_names() == "residential"
    untagged = residential & (slow.graph.edge_attrs["speed_kph"] == 12.5)
    assert untagged.sum() > 100
    (new_file,) = after - before
    new_file.write_bytes(b"not an npz file")
    rebuilt = read_osm("monaco", speeds={**DEFAULT_SPEEDS_KPH, "residential": 12.5})
    np.testing.assert_array_equal(rebuilt.graph.edge_attrs["travel_time"], slow.graph.edge_attrs["travel_time"])
    assert RoadNetwork.load(new_file).n_edges == slow.n_edges  # and the cache file was rewritten


@MONACO
def test_unknown_osm_node_id_is_not_found(monaco: RoadNetwork) -> None:
    with pytest.raises(NotFoundError, match="unknown node id 42"):
        monaco.node_index(42)
    with pytest.raises(NotFoundError, match="unknown node id 42"):
        ShortestPathProblem.from_node_ids(monaco.graph, int(monaco.graph.node_ids[0]), 42)


# ---------------------------------------------------------------------- errors
def test_unknown_city_lists_the_available_ones() -> None:
    with pytest.raises(DataNotFoundError, match="available"):
        read_osm("atlantis")


def test_malformed_xml_is_a_data_format_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.osm"
    bad.write_text("<osm><node id='1' lat='1' lon='2'></osm")
    with pytest.raises(DataFormatError, match=r"broken\.osm"):
        build_road_network(bad, cache=False)


def test_pbf_is_refused_with_a_hint(tmp_path: Path) -> None:
    pbf = tmp_path / "city.osm.pbf"
    pbf.write_bytes(b"\x00")
    with pytest.raises(DataFormatError, match=r"\.drive\.osm\.bz2"):
        build_road_network(pbf)


def test_missing_file_is_data_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError):
        build_road_network(tmp_path / "nowhere.osm")


@pytest.mark.parametrize("speeds", [{"residential": -5.0}, {"residential": float("nan")}, {"primary": 0}])
def test_bad_speed_table_is_a_validation_error(tmp_path: Path, speeds: dict[str, float]) -> None:
    with pytest.raises(ValidationError, match="speeds"):
        build_road_network(tmp_path / "nowhere.osm", speeds=speeds)


# ---------------------------------------------------------------------- Heidelberg (file path)
@HEIDELBERG
@pytest.mark.slow
def test_heidelberg_counts_equal_readme(cache: Path) -> None:
    simplified = read_osm("heidelberg")
    # README: simplified, largest strongly connected component: 5,170 nodes / 12,282 edges
    assert (simplified.n_nodes, simplified.n_edges) == (5170, 12282)
    # parallel edges are kept (as in the README's MultiDiGraph count), not collapsed
    g = simplified.graph
    distinct = np.unique(g.tails * g.n_nodes + g.heads).size
    assert distinct < g.n_edges
    # every edge stays inside one strongly connected component: all nodes reach each other
    count, _ = g.strongly_connected_components()
    assert count == 1
