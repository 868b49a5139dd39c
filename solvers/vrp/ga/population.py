"""Feasible and infeasible subpopulations with biased fitness and survivor selection."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from solvers.vrp.ga.individual import Individual, broken_pairs_distances
from solvers.vrp.ga.params import GaParams

CostFunction = Callable[[Individual], float]


class SubPopulation:
    """Individuals of one kind (feasible or infeasible) and their broken-pairs distance matrix."""

    def __init__(self, params: GaParams):
        self.params = params
        self.members: list[Individual] = []
        size = params.min_pop_size + params.generation_size + 1
        self.distances = np.zeros((size, size))

    def add(self, ind: Individual, cost_of: CostFunction) -> None:
        """Add ``ind``; run survivor selection when the subpopulation exceeds mu + lambda."""
        k = len(self.members)
        if k:
            d = broken_pairs_distances(ind, self.members)
            self.distances[k, :k] = d
            self.distances[:k, k] = d
        self.distances[k, k] = 0.0
        self.members.append(ind)
        if len(self.members) > self.params.min_pop_size + self.params.generation_size:
            self.survivors(cost_of)

    def _remove(self, k: int) -> None:
        size = len(self.members)
        keep = np.r_[0:k, k + 1:size]
        self.distances[:size - 1, :size - 1] = self.distances[np.ix_(keep, keep)]
        del self.members[k]

    def update_fitness(self, cost_of: CostFunction) -> np.ndarray:
        """Biased fitness: cost rank plus ``(1 - n_elite / size)`` times diversity rank (both in [0, 1])."""
        size = len(self.members)
        if size == 0:
            return np.zeros(0)
        if size == 1:
            self.members[0].biased_fitness = 0.0
            self.members[0].selection_score = 0.0
            return np.zeros(1)
        costs = np.array([cost_of(m) for m in self.members])
        dist = self.distances[:size, :size].copy()
        np.fill_diagonal(dist, np.inf)
        close = min(self.params.n_close, size - 1)
        diversity = np.partition(dist, close - 1, axis=1)[:, :close].mean(axis=1)
        cost_rank = np.empty(size)
        cost_rank[np.argsort(costs, kind="stable")] = np.arange(size) / (size - 1)
        div_rank = np.empty(size)
        div_rank[np.argsort(-diversity, kind="stable")] = np.arange(size) / (size - 1)
        weight = 1.0 - min(self.params.n_elite, size) / size
        biased = cost_rank + weight * div_rank
        for m, b in zip(self.members, biased, strict=True):
            m.biased_fitness = float(b)
            m.selection_score = -float(b)
        return biased

    def survivors(self, cost_of: CostFunction) -> None:
        """Remove individuals down to ``min_pop_size``: clones first, then the worst biased fitness."""
        while len(self.members) > self.params.min_pop_size:
            biased = self.update_fitness(cost_of)
            size = len(self.members)
            dist = self.distances[:size, :size].copy()
            np.fill_diagonal(dist, np.inf)
            clone = (dist == 0.0).any(axis=1)
            score = biased + np.where(clone, 10.0, 0.0)
            self._remove(int(np.argmax(score)))
        self.update_fitness(cost_of)


class Population:
    """The two subpopulations of hybrid genetic search."""

    def __init__(self, params: GaParams):
        self.feasible = SubPopulation(params)
        self.infeasible = SubPopulation(params)

    def add(self, ind: Individual, cost_of: CostFunction) -> None:
        """Add ``ind`` to the subpopulation matching its feasibility."""
        (self.feasible if ind.feasible else self.infeasible).add(ind, cost_of)

    def refresh(self, cost_of: CostFunction) -> None:
        """Recompute the biased fitness of both subpopulations."""
        self.feasible.update_fitness(cost_of)
        self.infeasible.update_fitness(cost_of)

    def all(self) -> list[Individual]:
        """Every individual."""
        return self.feasible.members + self.infeasible.members

    def __len__(self) -> int:
        return len(self.feasible.members) + len(self.infeasible.members)
