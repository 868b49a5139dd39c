"""Snapping (lat, lon) points to the Monaco road network, checked by brute force."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest

from datasets.location import CACHE_ENV
from datasets.osm import read_osm
from planner.errors import ValidationError
from planner.graph.road import RoadNetwork
from planner.graph.spatial import SpatialIndex
from tests.conftest import requires_data

pytestmark = requires_data("osm", "monaco.drive.osm.bz2")

R = 6_371_009.0


@pytest.fixture(scope="module")
def monaco(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoadNetwork]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
        yield read_osm("monaco")


@pytest.fixture(scope="module")
def index(monaco: RoadNetwork) -> SpatialIndex:
    return SpatialIndex(monaco)


def local_xy(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """The test's own flat projection around (lat0, lon0), metres."""
    k = R * np.pi / 180
    return np.column_stack([(lon - lon0) * k * np.cos(np.radians(lat0)), (lat - lat0) * k])


def brute_force_edge_distances(net: RoadNetwork, lat: np.ndarray, lon: np.ndarray,
                               exclude: int | None = None) -> np.ndarray:
    """Distance of every point to the closest point of any edge shape (but ``exclude``), by
    trying them all."""
    lat0, lon0 = float(np.mean(lat)), float(np.mean(lon))
    pts = local_xy(net.geometry_coords[:, 1], net.geometry_coords[:, 0], lat0, lon0)
    q = local_xy(lat, lon, lat0, lon0)
    owner = np.repeat(np.arange(net.n_edges), np.diff(net.geometry_offsets))
    keep = owner[:-1] == owner[1:]  # consecutive points of the same edge
    if exclude is not None:
        keep &= owner[:-1] != exclude
    a, b = pts[:-1][keep], pts[1:][keep]
    out = np.empty(len(q))
    for i, p in enumerate(q):
        ab, ap = b - a, p - a
        t = np.clip(np.einsum("ij,ij->i", ap, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-18), 0, 1)
        out[i] = np.min(np.hypot(*(ap - t[:, None] * ab).T))
    return out


def points_near_roads(net: RoadNetwork, n: int, spread_m: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    nodes = net.graph.coords[rng.integers(0, net.n_nodes, n)]
    jitter = rng.normal(0, spread_m, (n, 2)) / (R * np.pi / 180)
    lat = nodes[:, 1] + jitter[:, 1]
    lon = nodes[:, 0] + jitter[:, 0] / np.cos(np.radians(nodes[:, 1]))
    return np.column_stack([lat, lon])


def test_nearest_edges_equal_brute_force(monaco: RoadNetwork, index: SpatialIndex) -> None:
    points = points_near_roads(monaco, 300, 80.0, seed=1)
    snaps = index.nearest_edges(points)
    expected = brute_force_edge_distances(monaco, points[:, 0], points[:, 1])
    np.testing.assert_allclose(snaps.distances_m, expected, rtol=1e-3, atol=0.05)
    # the snapped point is on the edge returned, at the fraction returned
    for i in range(0, 300, 15):
        s = snaps[i]
        shape = monaco.edge_geometry(s.edge)
        xy = local_xy(shape[:, 1], shape[:, 0], s.lat, s.lon)
        seg = np.hypot(*np.diff(xy, axis=0).T)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        along = s.fraction * cum[-1]
        j = min(np.searchsorted(cum, along, side="right") - 1, len(seg) - 1)
        point = xy[j] + (along - cum[j]) / max(seg[j], 1e-12) * (xy[j + 1] - xy[j])
        assert np.hypot(*point) < 0.05  # metres from the snapped (lat, lon)
        q = local_xy(np.array([points[i, 0]]), np.array([points[i, 1]]), s.lat, s.lon)[0]
        assert np.hypot(*q) == pytest.approx(s.distance_m, rel=1e-3, abs=0.05)


def test_point_on_a_one_way_edge_snaps_to_it_with_its_fraction(monaco: RoadNetwork, index: SpatialIndex) -> None:
    g = monaco.graph
    off = monaco.geometry_offsets
    candidates = np.flatnonzero(g.edge_attrs["oneway"] & (np.diff(off) >= 4) & (g.edge_attrs["length"] > 100))
    checked = 0
    for e in candidates[:40]:
        shape = monaco.edge_geometry(e)
        lat0, lon0 = float(shape[0, 1]), float(shape[0, 0])
        xy = local_xy(shape[:, 1], shape[:, 0], lat0, lon0)
        seg = np.hypot(*np.diff(xy, axis=0).T)
        j = int(np.argmax(seg))  # the middle of the longest segment
        point_xy = 0.5 * (xy[j] + xy[j + 1])
        fraction = (seg[:j].sum() + 0.5 * seg[j]) / seg.sum()
        k = R * np.pi / 180
        lat = lat0 + point_xy[1] / k
        lon = lon0 + point_xy[0] / (k * np.cos(np.radians(lat0)))
        if brute_force_edge_distances(monaco, np.array([lat]), np.array([lon]), exclude=e)[0] < 1.0:
            continue  # another way runs here too (a duplicate or overlapping way)
        snap = index.nearest_edge(lat, lon)
        assert snap.edge == e
        assert snap.fraction == pytest.approx(fraction, abs=1e-4)
        assert snap.distance_m < 0.01
        assert (snap.lat, snap.lon) == pytest.approx((lat, lon), abs=1e-7)
        checked += 1
        if checked == 5:
            break
    assert checked == 5


def test_nearest_nodes_equal_brute_force(monaco: RoadNetwork, index: SpatialIndex) -> None:
    points = points_near_roads(monaco, 200, 150.0, seed=2)
    nodes, dist = index.nearest_nodes(points)
    c = monaco.graph.coords
    for i, (lat, lon) in enumerate(points):
        p1, p2 = np.radians(lat), np.radians(c[:, 1])
        a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(c[:, 0] - lon) / 2) ** 2
        great_circle = 2 * R * np.arcsin(np.sqrt(a))
        assert great_circle[nodes[i]] <= great_circle.min() + 0.05
        assert dist[i] == pytest.approx(great_circle[nodes[i]], rel=1e-3, abs=0.05)
    assert index.nearest_node(*points[0]) == nodes[0]


def test_point_far_from_every_road_names_the_point_and_distance(monaco: RoadNetwork, index: SpatialIndex) -> None:
    lat, lon = 43.7384, 7.4246
    far_lat = lat + 50_000 / (R * np.pi / 180)  # 50 km north, in the Alps
    points = np.array([[lat, lon], [far_lat, lon]])
    with pytest.raises(ValidationError) as info:
        index.nearest_edges(points)
    message = str(info.value)
    assert message.startswith("points[1]: ") and "km from the nearest road (max 1.0 km)" in message
    reported_km = float(message.split(": ")[1].split(" km")[0])
    expected = brute_force_edge_distances(monaco, np.array([far_lat]), np.array([lon]))[0] / 1000
    assert reported_km == pytest.approx(expected, abs=0.06)
    assert 40 < reported_km < 55
    with pytest.raises(ValidationError, match=r"^point: .* from the nearest node \(max 1\.0 km\)"):
        index.nearest_node(far_lat, lon)
    assert index.nearest_edges(points, max_distance_m=100_000).edges.size == 2


@pytest.mark.parametrize(("bad", "where"), [
    ((float("nan"), 7.42), "points[1]"), ((91.0, 7.42), "points[1]"), ((43.7, 181.0), "points[1]"),
    ((43.7, float("inf")), "points[1]"),
])
def test_invalid_coordinates_are_validation_errors(index: SpatialIndex, bad: tuple[float, float], where: str) -> None:
    with pytest.raises(ValidationError, match="^" + re.escape(where) + ": invalid coordinate"):
        index.nearest_edges([[43.7384, 7.4246], bad])
    with pytest.raises(ValidationError, match=r"^point: invalid coordinate"):
        index.nearest_node(*bad)


def test_shape_of_points_is_checked(index: SpatialIndex) -> None:
    with pytest.raises(ValidationError, match=r"^points: expected an \(n, 2\)"):
        index.nearest_edges(np.zeros((3, 3)))
    with pytest.raises(ValidationError, match="max_distance_m"):
        SpatialIndex(index.network, max_distance_m=-1)
