"""Uniform sampling of the free space and direct sampling of the informed set.

Once a solution of cost ``c_best`` exists, only states ``x`` with
``|x - start| + |x - goal| < c_best`` can improve it: the prolate hyperspheroid with foci at
start and goal, transverse diameter ``c_best`` and conjugate diameters
``sqrt(c_best**2 - c_min**2)`` (Gammell et al., "Informed RRT*", IROS 2014). It is sampled
directly by mapping the unit ball through ``C @ L`` and translating to the centre.
"""

from __future__ import annotations

import numpy as np


def sample_unit_ball(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in the ``dim``-dimensional unit ball."""
    x = rng.standard_normal((n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x * rng.random((n, 1)) ** (1.0 / dim)


def rotation_to_world_frame(start: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Rotation ``C`` taking the first axis onto the start-goal direction (Gammell et al., eq. 7)."""
    dim = start.size
    a1 = (goal - start) / np.linalg.norm(goal - start)
    m = np.outer(a1, np.eye(dim)[0])
    u, _, vt = np.linalg.svd(m)
    d = np.ones(dim)
    d[-1] = np.linalg.det(u) * np.linalg.det(vt.T)
    return u @ np.diag(d) @ vt


def sample_informed(
    n: int, start: np.ndarray, goal: np.ndarray, c_best: float, rng: np.random.Generator
) -> np.ndarray:
    """``n`` points uniform in the prolate hyperspheroid of foci ``start``/``goal`` and
    transverse diameter ``c_best`` (must exceed ``|goal - start|``)."""
    c_min = float(np.linalg.norm(goal - start))
    dim = start.size
    radii = np.full(dim, np.sqrt(max(c_best**2 - c_min**2, 0.0)) / 2.0)
    radii[0] = c_best / 2.0
    c = rotation_to_world_frame(start, goal)
    centre = (start + goal) / 2.0
    return (sample_unit_ball(n, dim, rng) * radii) @ c.T + centre


def informed_volume(start: np.ndarray, goal: np.ndarray, c_best: float) -> float:
    """Lebesgue measure of the informed set (the hyperspheroid)."""
    from math import gamma, pi

    dim = start.size
    c_min = float(np.linalg.norm(goal - start))
    unit = pi ** (dim / 2) / gamma(dim / 2 + 1)
    return unit * (c_best / 2.0) * (np.sqrt(max(c_best**2 - c_min**2, 0.0)) / 2.0) ** (dim - 1)


def sample_free(
    n: int, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator,
    start: np.ndarray | None = None, goal: np.ndarray | None = None, c_best: float = np.inf,
) -> np.ndarray:
    """``n`` samples from the box ``lower..upper``, or from the informed set intersected with
    it once ``c_best`` is finite (whichever region is smaller is sampled directly, the other by
    rejection). Samples are not collision-checked here."""
    if not np.isfinite(c_best) or start is None or goal is None:
        return rng.uniform(lower, upper, (n, lower.size))
    box_volume = float(np.prod(upper - lower))
    if informed_volume(start, goal, c_best) < box_volume:
        out: list[np.ndarray] = []
        got = 0
        while got < n:
            x = sample_informed(2 * (n - got) + 8, start, goal, c_best, rng)
            x = x[np.all((x >= lower) & (x <= upper), axis=1)]
            out.append(x)
            got += len(x)
        return np.vstack(out)[:n]
    out = []
    got = 0
    while got < n:
        x = rng.uniform(lower, upper, (2 * (n - got) + 8, lower.size))
        x = x[np.linalg.norm(x - start, axis=1) + np.linalg.norm(x - goal, axis=1) < c_best]
        out.append(x)
        got += len(x)
    return np.vstack(out)[:n]
