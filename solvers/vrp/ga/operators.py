"""Genetic operators registered in a deap toolbox: order crossover and binary tournament.

Both draw from a numpy generator passed by the caller (deap's own operators use the global
``random`` module, which would make runs depend on global state).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from deap import base

from solvers.vrp.ga.individual import Individual


def order_crossover(parent1: np.ndarray, parent2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Order crossover (OX, Oliver et al. 1987) of two giant tours.

    A random slice ``[i, j]`` of ``parent1`` is copied in place; the other positions are filled,
    from ``j + 1`` on and wrapping around, with the remaining clients in the order ``parent2``
    visits them starting after ``j``.
    """
    n = parent1.size
    if n < 2:
        return parent1.copy()
    i, j = sorted(rng.choice(n, size=2, replace=False))
    child = np.empty(n, dtype=np.int64)
    segment = parent1[i:j + 1]
    child[i:j + 1] = segment
    rotated = np.roll(parent2, -(j + 1))
    in_segment = np.zeros(int(max(parent1.max(), parent2.max())) + 1, dtype=bool)
    in_segment[segment] = True
    fill = rotated[~in_segment[rotated]]
    positions = (j + 1 + np.arange(fill.size)) % n
    child[positions] = fill
    return child


def binary_tournament(population: Sequence[Individual], rng: np.random.Generator) -> Individual:
    """The better (lower biased fitness) of two individuals drawn at random."""
    a = population[int(rng.integers(len(population)))]
    b = population[int(rng.integers(len(population)))]
    return a if a.selection_score >= b.selection_score else b


def make_toolbox() -> base.Toolbox:
    """A deap toolbox with ``mate`` (:func:`order_crossover`) and ``select`` (:func:`binary_tournament`)."""
    toolbox = base.Toolbox()
    toolbox.register("mate", order_crossover)
    toolbox.register("select", binary_tournament)
    return toolbox
