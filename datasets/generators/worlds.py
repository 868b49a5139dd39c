"""Planning worlds: a maze, a one-wall world, random 2D/3D box worlds. Deterministic under seed."""

from __future__ import annotations

import numpy as np

from planner.errors import ValidationError
from planner.workspace import Ball, Box, PlanningProblem, Polygon, Workspace


def one_wall_world(size: float = 100.0, gap: float = 10.0) -> PlanningProblem:
    """A square with one wall across the middle, open at the top; start and goal on either side.

    The optimum passes the wall's upper corner: two straight segments.
    """
    if not 0 < gap < size / 2:
        raise ValidationError("gap", f"must be in (0, {size / 2}) ({gap})")
    wall = Box(np.array([0.45 * size, 0.0]), np.array([0.55 * size, size - gap]))
    ws = Workspace(np.zeros(2), np.full(2, size), (wall,), name="one-wall")
    return PlanningProblem(ws, np.array([0.1 * size, 0.5 * size]), np.array([0.9 * size, 0.5 * size]))


def maze_world(size: float = 100.0) -> PlanningProblem:
    """A 100×100 maze of walls, start bottom-left, goal top-right.

    Five staggered walls, alternately open at the bottom and at the top, force a zig-zag;
    the optimum touches eight wall corners.
    """
    t = 0.02 * size  # wall thickness
    walls = []
    xs = np.linspace(0.17, 0.83, 5) * size
    for i, x in enumerate(xs):
        if i % 2 == 0:   # attached to the bottom, open at the top
            walls.append(Box(np.array([x - t / 2, 0.0]), np.array([x + t / 2, 0.82 * size])))
        else:            # attached to the top, open at the bottom
            walls.append(Box(np.array([x - t / 2, 0.18 * size]), np.array([x + t / 2, size])))
    # a few blocks in the corridors so the world is not just a comb
    walls.append(Box(np.array([0.24, 0.40]) * size, np.array([0.30, 0.48]) * size))
    walls.append(Box(np.array([0.56, 0.52]) * size, np.array([0.62, 0.60]) * size))
    ws = Workspace(np.zeros(2), np.full(2, size), tuple(walls), name="maze")
    return PlanningProblem(ws, np.array([0.05, 0.05]) * size, np.array([0.95, 0.95]) * size)


def random_boxes_world(
    n_boxes: int = 50, dim: int = 3, size: float = 100.0, max_side: float = 15.0, seed: int = 0
) -> PlanningProblem:
    """A cube (or square) with ``n_boxes`` random axis-aligned boxes, start and goal at
    opposite corners (kept free)."""
    if dim not in (2, 3):
        raise ValidationError("dim", f"must be 2 or 3 ({dim})")
    if n_boxes < 0:
        raise ValidationError("n_boxes", f"must be non-negative ({n_boxes})")
    rng = np.random.default_rng(seed)
    start, goal = np.full(dim, 0.05 * size), np.full(dim, 0.95 * size)
    boxes: list[Box] = []
    while len(boxes) < n_boxes:
        side = rng.uniform(0.3 * max_side, max_side, dim)
        lo = rng.uniform(0, size - side)
        box = Box(lo, lo + side)
        if not (box.contains(start)[0] or box.contains(goal)[0]):
            boxes.append(box)
    ws = Workspace(np.zeros(dim), np.full(dim, size), tuple(boxes), name=f"boxes{dim}d-{n_boxes}-s{seed}")
    return PlanningProblem(ws, start, goal)


def single_obstacle_world(kind: str = "box") -> PlanningProblem:
    """One convex obstacle between start and goal (box, polygon or circle)."""
    obstacles = {
        "box": Box(np.array([40.0, 30.0]), np.array([60.0, 70.0])),
        "polygon": Polygon(np.array([[40.0, 35.0], [60.0, 30.0], [62.0, 65.0], [45.0, 72.0]])),
        "circle": Ball(np.array([50.0, 50.0]), 20.0),
    }
    if kind not in obstacles:
        raise ValidationError("kind", f"unknown obstacle kind {kind!r} (box, polygon, circle)")
    ws = Workspace(np.zeros(2), np.full(2, 100.0), (obstacles[kind],), name=f"single-{kind}")
    return PlanningProblem(ws, np.array([10.0, 50.0]), np.array([90.0, 52.0]))
