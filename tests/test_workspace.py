"""Workspaces: exact segment collision checks against shapely and against dense sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import DataFormatError, ValidationError
from planner.workspace import Ball, Box, PlannedPath, Polygon, Workspace, check_path, read_world

# coordinates on a quarter grid: exact in floating point, and touching cases happen often
coord = st.integers(-20, 60).map(lambda k: k / 4)
segments = st.lists(st.tuples(coord, coord, coord, coord), min_size=1, max_size=30)


def _shapely_hits(geom: shapely.Geometry, segs: np.ndarray) -> np.ndarray:
    lines = shapely.linestrings([[(s[0], s[1]), (s[2], s[3])] for s in segs])
    return shapely.intersects(lines, geom)


@settings(max_examples=80, deadline=None)
@given(segments)
def test_box_segments_equal_shapely(segs: list[tuple[float, float, float, float]]) -> None:
    s = np.asarray(segs)
    box = Box(np.array([2.0, 3.0]), np.array([7.0, 4.5]))
    ours = box.hits_segments(s[:, :2], s[:, 2:])
    assert np.array_equal(ours, _shapely_hits(shapely.box(2.0, 3.0, 7.0, 4.5), s))


@settings(max_examples=80, deadline=None)
@given(segments)
def test_polygon_segments_equal_shapely(segs: list[tuple[float, float, float, float]]) -> None:
    s = np.asarray(segs)
    vertices = np.array([[0.0, 0.0], [8.0, 1.0], [4.0, 3.0], [9.0, 9.0], [1.0, 6.0]])  # non-convex
    ours = Polygon(vertices).hits_segments(s[:, :2], s[:, 2:])
    assert np.array_equal(ours, _shapely_hits(shapely.Polygon(vertices), s))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*[st.floats(-3.0, 3.0)] * 6), min_size=1, max_size=20))
def test_ball_segments_agree_with_dense_sampling(segs: list[tuple[float, ...]]) -> None:
    s = np.asarray(segs)
    ball = Ball(np.array([0.2, -0.1, 0.3]), 1.1)
    exact = ball.hits_segments(s[:, :3], s[:, 3:])
    t = np.linspace(0, 1, 2001)
    pts = s[:, None, :3] + t[None, :, None] * (s[:, None, 3:] - s[:, None, :3])
    sampled = np.any(np.linalg.norm(pts - ball.center, axis=2) <= ball.radius, axis=1)
    # sampling can only miss a hit, never invent one
    assert np.all(exact[sampled])
    # and the closest distance confirms the exact answer
    closest = np.min(np.linalg.norm(pts - ball.center, axis=2), axis=1)
    assert np.all(closest[exact] <= ball.radius + 1e-2)


def test_corner_touch_counts_as_collision() -> None:
    box = Box(np.array([0.0, 0.0]), np.array([1.0, 1.0]))
    assert not box.hits_segments(np.array([[-1.0, 1.5]]), np.array([[1.0, 3.0]]))[0]
    assert box.hits_segments(np.array([[-1.0, 2.0]]), np.array([[2.0, -1.0]]))[0]  # through (1,0)-(0,1)
    assert box.hits_segments(np.array([[-1.0, -1.0]]), np.array([[0.0, 0.0]]))[0]  # ends on corner


def test_world_file_and_path_check(tmp_path) -> None:
    world = {
        "bounds": [[0, 0], [10, 10]],
        "start": [1, 1],
        "goal": [9, 9],
        "obstacles": [{"type": "box", "lo": [4, 0], "hi": [6, 8]}, {"type": "circle", "center": [8, 2], "radius": 1}],
    }
    path = tmp_path / "w.json"
    path.write_text(json.dumps(world))
    problem = read_world(path)
    straight = PlannedPath(np.array([[1.0, 1.0], [9.0, 9.0]]))
    assert [v.field for v in check_path(problem, straight)] == ["segments[0]"]
    around = PlannedPath(np.array([[1.0, 1.0], [4.0, 8.5], [6.0, 8.5], [9.0, 9.0]]))
    assert check_path(problem, around) == []
    assert around.cost == pytest.approx(
        np.hypot(3, 7.5) + 2 + np.hypot(3, 0.5)
    )


@pytest.mark.parametrize(
    ("world", "message"),
    [
        ({"bounds": [[0, 0], [10, 10]], "start": [5, 5], "goal": [9, 9],
          "obstacles": [{"type": "box", "lo": [4, 4], "hi": [6, 6]}]},
         r"start: \[5\.0, 5\.0\] is inside obstacles\[0\]"),
        ({"bounds": [[0, 0], [10, 10]], "start": [1, 1], "goal": [11, 9]}, "goal: .* outside the workspace bounds"),
        ({"bounds": [[0, 0], [10, 10]], "start": [1, 1], "goal": [9, 9],
          "obstacles": [{"type": "circle", "center": [5, 5], "radius": -1}]},
         r"obstacles\[0\]\.radius: must be positive"),
        ({"bounds": [[0, 0], [10, 10]], "start": [1, 1], "goal": [9, 9],
          "obstacles": [{"type": "cone"}]}, r"obstacles\[0\]\.type: unknown obstacle type"),
        ({"bounds": [[0, 0], [10, 10]], "goal": [9, 9]}, "start: missing"),
        ({"bounds": [[0, 0, 0], [10, 10, 10]], "start": [1, 1, 1], "goal": [9, 9, 9],
          "obstacles": [{"type": "polygon", "vertices": [[0, 0], [1, 0], [0, 1]]}]},
         r"obstacles\[0\]: Polygon of dimension 2"),
    ],
)
def test_bad_worlds_name_the_field(tmp_path, world: dict, message: str) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(world))
    with pytest.raises(ValidationError, match=message):
        read_world(path)


def test_malformed_world_file(tmp_path) -> None:
    path = tmp_path / "w.json"
    path.write_text("{not json")
    with pytest.raises(DataFormatError, match="not a JSON world file"):
        read_world(path)


def test_workspace_rejects_nan_bounds() -> None:
    with pytest.raises(ValidationError, match=r"bounds\.lower: contains NaN"):
        Workspace(np.array([np.nan, 0.0]), np.array([1.0, 1.0]))
