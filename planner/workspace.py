"""Continuous planning workspaces (2D/3D) with obstacles, planning problems and paths.

Collision checks are exact for straight segments: a segment collides with an obstacle if any of
its points lies in the obstacle's interior or on its boundary (no sampling, so no corner
cutting). All checks are vectorised over segments.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import DataFormatError, DataNotFoundError, FieldViolation, ValidationError


def _finite(name: str, values: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
        raise ValidationError(name, f"shape {arr.shape}, expected {tuple('*' if s is None else s for s in shape)}")
    if not np.all(np.isfinite(arr)):
        raise ValidationError(name, "contains NaN or infinite values")
    return arr


@dataclass(frozen=True)
class Box:
    """Axis-aligned box ``lo <= x <= hi`` (2D rectangle or 3D cuboid)."""

    lo: np.ndarray
    hi: np.ndarray

    def __post_init__(self) -> None:
        lo = _finite("lo", self.lo, (None,))
        hi = _finite("hi", self.hi, (lo.size,))
        if np.any(hi <= lo):
            raise ValidationError("hi", f"must exceed lo in every dimension (lo={lo}, hi={hi})")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @property
    def dim(self) -> int:
        return self.lo.size

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies in the closed box."""
        p = np.atleast_2d(points)
        return np.all((p >= self.lo) & (p <= self.hi), axis=1)

    def hits_segments(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each segment ``a[i]-b[i]`` meets the closed box (slab method, exact)."""
        d = b - a
        t0 = np.zeros(len(a))
        t1 = np.ones(len(a))
        with np.errstate(divide="ignore", invalid="ignore"):
            for k in range(self.dim):
                parallel = d[:, k] == 0
                outside = parallel & ((a[:, k] < self.lo[k]) | (a[:, k] > self.hi[k]))
                ta = (self.lo[k] - a[:, k]) / d[:, k]
                tb = (self.hi[k] - a[:, k]) / d[:, k]
                near = np.where(parallel, -np.inf, np.minimum(ta, tb))
                far = np.where(parallel, np.inf, np.maximum(ta, tb))
                t0 = np.maximum(t0, near)
                t1 = np.minimum(t1, far)
                t1 = np.where(outside, -1.0, t1)
        return t0 <= t1


@dataclass(frozen=True)
class Ball:
    """Circle (2D) or sphere (3D) of ``radius`` around ``center``."""

    center: np.ndarray
    radius: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", _finite("center", self.center, (None,)))
        if not (np.isfinite(self.radius) and self.radius > 0):
            raise ValidationError("radius", f"must be positive ({self.radius})")

    @property
    def dim(self) -> int:
        return self.center.size

    def contains(self, points: np.ndarray) -> np.ndarray:
        p = np.atleast_2d(points)
        return np.sum((p - self.center) ** 2, axis=1) <= self.radius**2

    def hits_segments(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each segment comes within ``radius`` of the centre (closest point, exact)."""
        d = b - a
        dd = np.sum(d * d, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dd > 0, np.sum((self.center - a) * d, axis=1) / dd, 0.0)
        closest = a + np.clip(t, 0.0, 1.0)[:, None] * d
        return np.sum((closest - self.center) ** 2, axis=1) <= self.radius**2


@dataclass(frozen=True)
class Polygon:
    """Simple polygon in 2D, vertices in order (either orientation)."""

    vertices: np.ndarray

    def __post_init__(self) -> None:
        v = _finite("vertices", self.vertices, (None, 2))
        if len(v) < 3:
            raise ValidationError("vertices", f"a polygon needs at least 3 vertices ({len(v)})")
        area2 = np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])
        if area2 == 0:
            raise ValidationError("vertices", "polygon has zero area")
        object.__setattr__(self, "vertices", v)

    @property
    def dim(self) -> int:
        return 2

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Closed point-in-polygon test (even-odd rule, boundary counts as inside)."""
        p = np.atleast_2d(points)
        v, w = self.vertices, np.roll(self.vertices, -1, axis=0)
        x, y = p[:, 0:1], p[:, 1:2]
        crosses = (v[:, 1] > y) != (w[:, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = v[:, 0] + (y - v[:, 1]) * (w[:, 0] - v[:, 0]) / (w[:, 1] - v[:, 1])
        inside = np.sum(crosses & (x < xint), axis=1) % 2 == 1
        on_edge = np.any(_segments_intersect(p[:, None, :], p[:, None, :], v[None], w[None]), axis=1)
        return inside | on_edge

    def hits_segments(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """A segment meets the polygon if it crosses an edge or an endpoint is inside."""
        v, w = self.vertices, np.roll(self.vertices, -1, axis=0)
        cross = np.any(_segments_intersect(a[:, None, :], b[:, None, :], v[None], w[None]), axis=1)
        return cross | self.contains(a)


def _orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    return (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])


def _on_segment(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Whether r (collinear with p-q) lies within the bounding box of p-q."""
    return (
        (np.minimum(p[..., 0], q[..., 0]) <= r[..., 0]) & (r[..., 0] <= np.maximum(p[..., 0], q[..., 0]))
        & (np.minimum(p[..., 1], q[..., 1]) <= r[..., 1]) & (r[..., 1] <= np.maximum(p[..., 1], q[..., 1]))
    )


def _segments_intersect(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Closed segment intersection test a-b versus c-d, broadcasting over leading axes."""
    o1, o2 = _orient(a, b, c), _orient(a, b, d)
    o3, o4 = _orient(c, d, a), _orient(c, d, b)
    proper = (o1 * o2 < 0) & (o3 * o4 < 0)
    touch = (
        ((o1 == 0) & _on_segment(a, b, c)) | ((o2 == 0) & _on_segment(a, b, d))
        | ((o3 == 0) & _on_segment(c, d, a)) | ((o4 == 0) & _on_segment(c, d, b))
    )
    return proper | touch


Obstacle = Box | Ball | Polygon


@dataclass(frozen=True)
class Workspace:
    """A bounded 2D or 3D space with obstacles.

    Parameters
    ----------
    lower, upper
        Corners of the bounding box (length 2 or 3).
    obstacles
        Boxes, balls and (2D only) polygons.
    name
        Human-readable name.
    """

    lower: np.ndarray
    upper: np.ndarray
    obstacles: tuple[Obstacle, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        lower = _finite("bounds.lower", self.lower, (None,))
        upper = _finite("bounds.upper", self.upper, (lower.size,))
        if lower.size not in (2, 3):
            raise ValidationError("bounds", f"dimension must be 2 or 3 ({lower.size})")
        if np.any(upper <= lower):
            raise ValidationError("bounds.upper", "must exceed bounds.lower in every dimension")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        object.__setattr__(self, "obstacles", tuple(self.obstacles))
        bad = [
            FieldViolation(f"obstacles[{i}]", f"{type(o).__name__} of dimension {o.dim} in a {lower.size}D workspace")
            for i, o in enumerate(self.obstacles) if o.dim != lower.size
        ]
        if bad:
            raise ValidationError(bad)

    @property
    def dim(self) -> int:
        """2 or 3."""
        return self.lower.size

    def in_bounds(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies inside the bounding box."""
        p = np.atleast_2d(points)
        return np.all((p >= self.lower) & (p <= self.upper), axis=1)

    def point_free(self, points: np.ndarray) -> np.ndarray:
        """Whether each point is in bounds and outside every obstacle."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        free = self.in_bounds(p)
        for obstacle in self.obstacles:
            free &= ~obstacle.contains(p)
        return free

    def segments_free(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each straight segment ``a[i]-b[i]`` stays in bounds and touches no obstacle."""
        a = np.atleast_2d(np.asarray(a, dtype=np.float64))
        b = np.atleast_2d(np.asarray(b, dtype=np.float64))
        free = self.in_bounds(a) & self.in_bounds(b)  # the box is convex: endpoints suffice
        for obstacle in self.obstacles:
            if not free.any():
                break
            idx = np.flatnonzero(free)
            free[idx] &= ~obstacle.hits_segments(a[idx], b[idx])
        return free


@dataclass(frozen=True)
class PlanningProblem:
    """Find a collision-free path from ``start`` to ``goal`` in ``workspace``."""

    workspace: Workspace
    start: np.ndarray
    goal: np.ndarray

    def __post_init__(self) -> None:
        ws = self.workspace
        for name in ("start", "goal"):
            point = _finite(name, getattr(self, name), (ws.dim,))
            if not ws.in_bounds(point)[0]:
                raise ValidationError(name, f"{point.tolist()} is outside the workspace bounds")
            for i, obstacle in enumerate(ws.obstacles):
                if obstacle.contains(point)[0]:
                    raise ValidationError(name, f"{point.tolist()} is inside obstacles[{i}]")
            object.__setattr__(self, name, point)


@dataclass(frozen=True)
class PlannedPath:
    """A polyline path and its cost (Euclidean length).

    Parameters
    ----------
    waypoints
        ``(k, dim)`` points from start to goal.
    planner
        Name of the planner that found it.
    runtime_s
        Planning time.
    tree
        Optional ``(m, 2, dim)`` array of the search tree's edges, for drawing.
    """

    waypoints: np.ndarray
    cost: float = field(init=False)
    planner: str = ""
    runtime_s: float = 0.0
    tree: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        w = np.asarray(self.waypoints, dtype=np.float64)
        object.__setattr__(self, "waypoints", w)
        object.__setattr__(self, "cost", path_length(w))


def path_length(waypoints: np.ndarray) -> float:
    """Euclidean length of a polyline."""
    w = np.asarray(waypoints, dtype=np.float64)
    return float(np.sum(np.linalg.norm(np.diff(w, axis=0), axis=1))) if len(w) > 1 else 0.0


def check_path(problem: PlanningProblem, path: PlannedPath, atol: float = 1e-9) -> list[FieldViolation]:
    """Every reason ``path`` is not a valid solution of ``problem`` (empty list if valid)."""
    w = path.waypoints
    problems: list[FieldViolation] = []
    if w.ndim != 2 or w.shape[1] != problem.workspace.dim or len(w) < 2:
        return [FieldViolation("waypoints", f"shape {w.shape} is not a polyline in {problem.workspace.dim}D")]
    if np.linalg.norm(w[0] - problem.start) > atol:
        problems.append(FieldViolation("waypoints[0]", "does not start at the start point"))
    if np.linalg.norm(w[-1] - problem.goal) > atol:
        problems.append(FieldViolation(f"waypoints[{len(w) - 1}]", "does not end at the goal point"))
    free = problem.workspace.segments_free(w[:-1], w[1:])
    problems += [FieldViolation(f"segments[{i}]", "collides with an obstacle or leaves the bounds")
                 for i in np.flatnonzero(~free)]
    return problems


def _obstacle_from_json(i: int, spec: dict[str, Any]) -> Obstacle:
    kind = spec.get("type")
    try:
        if kind == "box":
            return Box(np.asarray(spec["lo"]), np.asarray(spec["hi"]))
        if kind in ("circle", "sphere", "ball"):
            return Ball(np.asarray(spec["center"]), float(spec["radius"]))
        if kind == "polygon":
            return Polygon(np.asarray(spec["vertices"]))
    except KeyError as exc:
        raise ValidationError(f"obstacles[{i}].{exc.args[0]}", "missing") from None
    except ValidationError as exc:
        raise ValidationError([FieldViolation(f"obstacles[{i}].{v.field}", v.reason) for v in exc.violations]) from None
    raise ValidationError(f"obstacles[{i}].type", f"unknown obstacle type {kind!r} (box, circle, sphere, polygon)")


def read_world(path: str | Path) -> PlanningProblem:
    """Read a planning problem from a JSON world file.

    The file holds ``{"bounds": [[x0, y0], [x1, y1]], "start": [...], "goal": [...],
    "obstacles": [{"type": "box", "lo": [...], "hi": [...]}, {"type": "circle", "center": [...],
    "radius": r}, {"type": "polygon", "vertices": [[...], ...]}]}``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(path)
    try:
        spec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, f"not a JSON world file ({exc})") from None
    if not isinstance(spec, dict):
        raise DataFormatError(path, "top level must be a JSON object")
    return world_from_dict(spec, name=path.stem)


def world_from_dict(spec: dict[str, Any], name: str = "") -> PlanningProblem:
    """Build a planning problem from the dictionary form of :func:`read_world`."""
    for key in ("bounds", "start", "goal"):
        if key not in spec:
            raise ValidationError(key, "missing")
    bounds: Sequence[Any] = spec["bounds"]
    if len(bounds) != 2:
        raise ValidationError("bounds", "must be [lower_corner, upper_corner]")
    obstacles = tuple(_obstacle_from_json(i, o) for i, o in enumerate(spec.get("obstacles", [])))
    workspace = Workspace(np.asarray(bounds[0]), np.asarray(bounds[1]), obstacles, name=name)
    return PlanningProblem(workspace, np.asarray(spec["start"]), np.asarray(spec["goal"]))
