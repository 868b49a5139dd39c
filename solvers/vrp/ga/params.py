"""Parameters of the genetic algorithm and its stopping criterion."""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.budget import Stopwatch
from planner.errors import ValidationError


@dataclass(frozen=True)
class GaParams:
    """Hybrid-genetic-search parameters (defaults after Vidal 2022, scaled for short runs).

    Parameters
    ----------
    min_pop_size
        Individuals kept per subpopulation (feasible / infeasible) after survivor selection (mu).
    generation_size
        Offspring added before a survivor selection is triggered (lambda).
    n_elite
        Individuals protected by the cost rank in the biased fitness.
    n_close
        Neighbours averaged for the diversity contribution (broken-pairs distance).
    granular_size
        Granular neighbours per client in the local search.
    target_feasible
        Wanted fraction of feasible offspring; penalties adapt towards it.
    repair_probability
        Chance that an infeasible offspring is repaired with ten-fold penalties.
    initial_size
        Individuals of the initial population (built-in and given seeds together).
    initial_time_share
        At most this share of the time limit is spent building the initial population.
    penalty_interval
        Offspring between two penalty updates (each looks at the last ``4 * penalty_interval``).
    seeds
        Built-in seed methods cycled through for the initial population.
    swap_star
        Whether the local search runs SWAP* between route pairs (Vidal 2022) after the granular
        moves; used on instances without time windows or route duration limit only.
    """

    min_pop_size: int = 25
    generation_size: int = 40
    n_elite: int = 4
    n_close: int = 5
    granular_size: int = 20
    target_feasible: float = 0.2
    repair_probability: float = 0.5
    initial_size: int = 100
    initial_time_share: float = 0.15
    penalty_interval: int = 25
    seeds: tuple[str, ...] = ("savings", "nearest-neighbour", "random")
    swap_star: bool = True

    def __post_init__(self) -> None:
        for name in ("min_pop_size", "generation_size", "n_close", "granular_size", "initial_size",
                     "penalty_interval"):
            if getattr(self, name) < 1:
                raise ValidationError(name, f"must be at least 1 ({getattr(self, name)})")
        if not 0 <= self.n_elite <= self.min_pop_size:
            raise ValidationError("n_elite", f"must be between 0 and min_pop_size ({self.n_elite})")
        for name in ("target_feasible", "repair_probability", "initial_time_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValidationError(name, f"must be in [0, 1] ({getattr(self, name)})")


@dataclass(frozen=True)
class StoppingCriterion:
    """When the search stops: wall time, iterations, iterations without improvement.

    The budget's cancel flag, time limit and iteration limit always apply too; this object adds
    ``max_no_improvement`` and may tighten the others.

    Parameters
    ----------
    max_runtime
        Seconds, or ``None``.
    max_iterations
        Offspring generated, or ``None``.
    max_no_improvement
        Consecutive offspring without a new best feasible solution, or ``None``.
    """

    max_runtime: float | None = None
    max_iterations: int | None = None
    max_no_improvement: int | None = None

    def __post_init__(self) -> None:
        if self.max_runtime is not None and not (self.max_runtime > 0 and math.isfinite(self.max_runtime)):
            raise ValidationError("max_runtime", f"must be a positive number of seconds ({self.max_runtime})")
        for name in ("max_iterations", "max_no_improvement"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValidationError(name, f"must be at least 1 ({value})")

    def should_stop(self, clock: Stopwatch, iteration: int, no_improvement: int) -> bool:
        """Whether to stop after ``iteration`` offspring, ``no_improvement`` of them without progress."""
        if clock.should_stop(iteration):
            return True
        if self.max_runtime is not None and clock.elapsed() >= self.max_runtime:
            return True
        if self.max_iterations is not None and iteration >= self.max_iterations:
            return True
        return self.max_no_improvement is not None and no_improvement >= self.max_no_improvement
