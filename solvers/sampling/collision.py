"""Compiled exact collision checks for the sampling planners.

:class:`CompiledWorld` flattens a :class:`~planner.workspace.Workspace` into arrays that the
numba kernels below read. The semantics are those of :mod:`planner.workspace` (closed obstacles,
exact segment tests, no sampling along segments); :meth:`Workspace.segments_free` is the
pure-numpy reference the tests compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from planner.workspace import Ball, Box, Polygon, Workspace


@dataclass(frozen=True)
class CompiledWorld:
    """A workspace as flat arrays for the numba kernels."""

    lower: np.ndarray
    upper: np.ndarray
    box_lo: np.ndarray      # (nb, dim)
    box_hi: np.ndarray      # (nb, dim)
    ball_center: np.ndarray  # (nc, dim)
    ball_radius: np.ndarray  # (nc,)
    poly_edges: np.ndarray  # (ne, 4): x0, y0, x1, y1
    poly_ptr: np.ndarray    # (npoly + 1,) offsets into poly_edges

    @classmethod
    def from_workspace(cls, ws: Workspace) -> CompiledWorld:
        dim = ws.dim
        boxes = [o for o in ws.obstacles if isinstance(o, Box)]
        balls = [o for o in ws.obstacles if isinstance(o, Ball)]
        polys = [o for o in ws.obstacles if isinstance(o, Polygon)]
        edges = [np.hstack([p.vertices, np.roll(p.vertices, -1, axis=0)]) for p in polys]
        ptr = np.zeros(len(polys) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in edges], out=ptr[1:])
        return cls(
            lower=ws.lower.copy(),
            upper=ws.upper.copy(),
            box_lo=np.array([b.lo for b in boxes]).reshape(-1, dim),
            box_hi=np.array([b.hi for b in boxes]).reshape(-1, dim),
            ball_center=np.array([b.center for b in balls]).reshape(-1, dim),
            ball_radius=np.array([b.radius for b in balls], dtype=np.float64),
            poly_edges=np.vstack(edges) if edges else np.zeros((0, 4)),
            poly_ptr=ptr,
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays in the order the kernels take them."""
        return (self.lower, self.upper, self.box_lo, self.box_hi, self.ball_center, self.ball_radius,
                self.poly_edges, self.poly_ptr)

    def segment_free(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether the segment a-b is collision-free and in bounds."""
        return bool(segment_free(np.asarray(a, np.float64), np.asarray(b, np.float64), *self.arrays()))

    def segments_free(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`segment_free` over rows of ``a`` and ``b``."""
        return segments_free(np.ascontiguousarray(a, np.float64), np.ascontiguousarray(b, np.float64),
                             *self.arrays())

    def points_free(self, p: np.ndarray) -> np.ndarray:
        """Whether each point is in bounds and outside every obstacle."""
        p = np.ascontiguousarray(np.atleast_2d(p), np.float64)
        return segments_free(p, p, *self.arrays())


@nb.njit(cache=True, inline="always")
def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@nb.njit(cache=True, inline="always")
def _on_seg(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> bool:
    return min(ax, bx) <= cx <= max(ax, bx) and min(ay, by) <= cy <= max(ay, by)


@nb.njit(cache=True)
def _segments_cross(ax, ay, bx, by, cx, cy, dx, dy) -> bool:
    o1 = _orient(ax, ay, bx, by, cx, cy)
    o2 = _orient(ax, ay, bx, by, dx, dy)
    o3 = _orient(cx, cy, dx, dy, ax, ay)
    o4 = _orient(cx, cy, dx, dy, bx, by)
    if o1 * o2 < 0 and o3 * o4 < 0:
        return True
    return (
        (o1 == 0 and _on_seg(ax, ay, bx, by, cx, cy)) or (o2 == 0 and _on_seg(ax, ay, bx, by, dx, dy))
        or (o3 == 0 and _on_seg(cx, cy, dx, dy, ax, ay)) or (o4 == 0 and _on_seg(cx, cy, dx, dy, bx, by))
    )


@nb.njit(cache=True)
def _point_in_polygon(px: float, py: float, edges: np.ndarray, lo: int, hi: int) -> bool:
    inside = False
    for e in range(lo, hi):
        x0, y0, x1, y1 = edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3]
        if _orient(x0, y0, x1, y1, px, py) == 0 and _on_seg(x0, y0, x1, y1, px, py):
            return True
        if (y0 > py) != (y1 > py):
            xint = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
            if px < xint:
                inside = not inside
    return inside


@nb.njit(cache=True)
def segment_free(a, b, lower, upper, box_lo, box_hi, ball_center, ball_radius, poly_edges, poly_ptr) -> bool:
    """Exact closed-obstacle test of one segment (see :class:`CompiledWorld`)."""
    dim = a.shape[0]
    for k in range(dim):
        if a[k] < lower[k] or a[k] > upper[k] or b[k] < lower[k] or b[k] > upper[k]:
            return False
    # boxes: slab method
    for i in range(box_lo.shape[0]):
        t0, t1 = 0.0, 1.0
        hit = True
        for k in range(dim):
            d = b[k] - a[k]
            if d == 0.0:
                if a[k] < box_lo[i, k] or a[k] > box_hi[i, k]:
                    hit = False
                    break
            else:
                ta = (box_lo[i, k] - a[k]) / d
                tb = (box_hi[i, k] - a[k]) / d
                if ta > tb:
                    ta, tb = tb, ta
                t0 = max(t0, ta)
                t1 = min(t1, tb)
                if t0 > t1:
                    hit = False
                    break
        if hit:
            return False
    # balls: closest point on the segment
    for i in range(ball_radius.shape[0]):
        dd = 0.0
        dot = 0.0
        for k in range(dim):
            d = b[k] - a[k]
            dd += d * d
            dot += (ball_center[i, k] - a[k]) * d
        t = 0.0 if dd == 0.0 else min(1.0, max(0.0, dot / dd))
        dist2 = 0.0
        for k in range(dim):
            c = a[k] + t * (b[k] - a[k]) - ball_center[i, k]
            dist2 += c * c
        if dist2 <= ball_radius[i] * ball_radius[i]:
            return False
    # polygons (2D): an edge crossing, or the start inside
    for p in range(poly_ptr.shape[0] - 1):
        lo, hi = poly_ptr[p], poly_ptr[p + 1]
        if _point_in_polygon(a[0], a[1], poly_edges, lo, hi):
            return False
        for e in range(lo, hi):
            if _segments_cross(a[0], a[1], b[0], b[1], poly_edges[e, 0], poly_edges[e, 1],
                               poly_edges[e, 2], poly_edges[e, 3]):
                return False
    return True


@nb.njit(cache=True)
def segments_free(a, b, lower, upper, box_lo, box_hi, ball_center, ball_radius, poly_edges, poly_ptr) -> np.ndarray:
    """:func:`segment_free` for every row of ``a`` and ``b``."""
    out = np.empty(a.shape[0], dtype=np.bool_)
    for i in range(a.shape[0]):
        out[i] = segment_free(a[i], b[i], lower, upper, box_lo, box_hi, ball_center, ball_radius,
                              poly_edges, poly_ptr)
    return out
