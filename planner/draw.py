"""Pictures of planning worlds: obstacles, search tree and path (matplotlib, SVG or PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from planner.errors import ValidationError
from planner.workspace import Ball, Box, PlannedPath, Polygon, Workspace


def draw_world(
    path: str | Path,
    workspace: Workspace,
    plans: Sequence[tuple[PlannedPath, str, str]] = (),
    tree: np.ndarray | None = None,
    title: str = "",
    highlight: Sequence[Box | Ball | Polygon] = (),
) -> Path:
    """Draw a 2D workspace to ``path`` (``.svg`` or ``.png``).

    Parameters
    ----------
    plans
        ``(path, colour, label)`` triples drawn over the obstacles.
    tree
        ``(m, 2, 2)`` tree edges, drawn thin and light.
    highlight
        Obstacles drawn in a warning colour (e.g. the one just added).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Circle, Rectangle
    from matplotlib.patches import Polygon as PolygonPatch

    if workspace.dim != 2:
        raise ValidationError("workspace", "only 2D worlds can be drawn")
    out = Path(path)
    if out.suffix.lower() not in (".svg", ".png"):
        raise ValidationError("svg", f"picture must be .svg or .png ({out.name})")
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.set_xlim(workspace.lower[0], workspace.upper[0])
    ax.set_ylim(workspace.lower[1], workspace.upper[1])
    ax.set_aspect("equal")
    if tree is not None and len(tree):
        ax.add_collection(LineCollection(tree, colors="#9ab", linewidths=0.3, alpha=0.6))
    marked = {id(o) for o in highlight}
    for obstacle in workspace.obstacles:
        colour = "#d62728" if id(obstacle) in marked else "#444"
        if isinstance(obstacle, Box):
            ax.add_patch(Rectangle(obstacle.lo, *(obstacle.hi - obstacle.lo), color=colour))
        elif isinstance(obstacle, Ball):
            ax.add_patch(Circle(obstacle.center, obstacle.radius, color=colour))
        else:
            ax.add_patch(PolygonPatch(obstacle.vertices, closed=True, color=colour))
    for plan, colour, label in plans:
        w = plan.waypoints
        ax.plot(w[:, 0], w[:, 1], color=colour, linewidth=2, label=f"{label} ({plan.cost:.2f})")
    if plans:
        w = plans[0][0].waypoints
        ax.plot(*w[0], "o", color="green")
        ax.plot(*w[-1], "*", color="gold", markersize=14, markeredgecolor="black")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out
