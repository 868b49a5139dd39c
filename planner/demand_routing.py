"""The online demand-routing vocabulary (Almasan et al., DRL+GNN): problem and result.

A :class:`DemandRoutingProblem` is a topology whose undirected links all have ``capacity``,
plus the rules of the episodes: demands of a bandwidth drawn from ``demand_sizes`` arrive one at
a time between uniform random node pairs; a policy routes each on one of the ``k`` shortest
candidate paths of its pair; the episode ends at the first demand that does not fit. The
problem asks a policy (a solver of kind ``demand-routing``) to play ``episodes`` episodes of
the demand sequences fixed by ``seed``; the same ``(seed, episodes)`` gives every policy the
same demands. A :class:`DemandRoutingResult` holds the per-episode score (routed bandwidth /
largest demand size, the paper's episode reward) and demand count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from planner.errors import ValidationError
from planner.graph.csr import Graph


@dataclass(frozen=True, eq=False)
class DemandRoutingProblem:
    """Episodes of online demand routing on a topology.

    Parameters
    ----------
    graph
        The topology (directed edges are read as undirected links; must be connected).
    name
        Name of the topology (for reports).
    capacity
        Capacity of every link (the paper: 200).
    demand_sizes
        Demand bandwidths, drawn uniformly (the paper: 8, 32, 64).
    k
        Candidate paths per pair (the paper: 4).
    episodes
        Episodes to play.
    seed
        Seed of the demand sequences.
    """

    graph: Graph
    name: str = ""
    capacity: float = 200.0
    demand_sizes: tuple[float, ...] = (8.0, 32.0, 64.0)
    k: int = 4
    episodes: int = 100
    seed: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.graph, Graph):
            raise ValidationError("graph", f"must be a planner Graph, got {type(self.graph).__name__}")
        if self.graph.n_nodes < 2:
            raise ValidationError("graph.n_nodes", f"needs at least 2 nodes ({self.graph.n_nodes})")
        if not (math.isfinite(self.capacity) and self.capacity > 0):
            raise ValidationError("capacity", f"must be positive and finite ({self.capacity})")
        if not self.demand_sizes:
            raise ValidationError("demand_sizes", "empty")
        for i, d in enumerate(self.demand_sizes):
            if not (math.isfinite(d) and d > 0):
                raise ValidationError(f"demand_sizes[{i}]", f"must be positive and finite ({d})")
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            raise ValidationError("k", f"must be an integer >= 1 ({self.k!r})")
        if not isinstance(self.episodes, int) or self.episodes < 1:
            raise ValidationError("episodes", f"must be an integer >= 1 ({self.episodes!r})")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValidationError("seed", f"must be a non-negative integer ({self.seed!r})")


@dataclass(frozen=True)
class DemandRoutingResult:
    """What a policy achieved on a :class:`DemandRoutingProblem`.

    Parameters
    ----------
    solver
        The policy's registered name.
    score
        Per episode: routed bandwidth / largest demand size.
    routed
        Per episode: number of demands routed.
    wall_s
        Seconds spent playing.
    info
        Solver-specific notes (checkpoint, ...).
    """

    solver: str
    score: np.ndarray
    routed: np.ndarray
    wall_s: float
    info: dict[str, object] = field(default_factory=dict)

    @property
    def mean_score(self) -> float:
        """Mean score per episode (the paper's "mean routed demand per episode")."""
        return float(np.mean(self.score))

    @property
    def score_stderr(self) -> float:
        """Standard error of :attr:`mean_score` (sample standard deviation; 0 for one episode)."""
        n = np.size(self.score)
        return float(np.std(self.score, ddof=1) / math.sqrt(n)) if n > 1 else 0.0

    @property
    def mean_routed(self) -> float:
        """Mean number of demands routed per episode."""
        return float(np.mean(self.routed))
