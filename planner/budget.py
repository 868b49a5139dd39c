"""What a solver is given besides its problem: time, iterations, seed, progress and cancel."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from planner.errors import ValidationError


@dataclass(frozen=True)
class ProgressEvent:
    """A snapshot a solver reports while it runs.

    Parameters
    ----------
    elapsed_s
        Seconds since the solve started.
    iteration
        Iterations done so far (the solver's own unit).
    objective
        Best objective found so far, or ``None`` before the first solution.
    bound
        A lower bound on the optimum, where the solver has one.
    gap
        Relative gap the solver reports (relative gap for traffic assignment, gap to the bound
        or to a best-known value for others), where known.
    """

    elapsed_s: float
    iteration: int
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None


@dataclass(frozen=True)
class Budget:
    """Limits and hooks every solver takes.

    Parameters
    ----------
    time_limit
        Wall-clock seconds, or ``None`` for no limit. Solvers return their best solution when
        it expires.
    max_iterations
        Iteration limit in the solver's own unit, or ``None``.
    seed
        Seed of every random choice the solver makes; same seed, same result.
    progress
        Called with a :class:`ProgressEvent` whenever the solver has news.
    cancel
        Set it (from another thread) to stop the solver early; it returns its best so far.
    """

    time_limit: float | None = None
    max_iterations: int | None = None
    seed: int = 0
    progress: Callable[[ProgressEvent], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.time_limit is not None and not (self.time_limit > 0 and math.isfinite(self.time_limit)):
            raise ValidationError("time_limit", f"must be a positive number of seconds ({self.time_limit})")
        if self.max_iterations is not None and self.max_iterations < 1:
            raise ValidationError("max_iterations", f"must be at least 1 ({self.max_iterations})")
        if self.seed < 0:
            raise ValidationError("seed", f"must be non-negative ({self.seed})")

    def start(self) -> Stopwatch:
        """Start the clock for one solve."""
        return Stopwatch(self)


class Stopwatch:
    """The running clock of one solve under a :class:`Budget`."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the solve started."""
        return time.perf_counter() - self.started

    def remaining(self) -> float:
        """Seconds left under the time limit (``inf`` without one)."""
        if self.budget.time_limit is None:
            return math.inf
        return self.budget.time_limit - self.elapsed()

    def should_stop(self, iteration: int = 0) -> bool:
        """Whether the time or iteration limit is reached or the solve was cancelled."""
        b = self.budget
        return (
            b.cancel.is_set()
            or (b.max_iterations is not None and iteration >= b.max_iterations)
            or (b.time_limit is not None and self.elapsed() >= b.time_limit)
        )

    def report(self, iteration: int, objective: float | None = None, bound: float | None = None,
               gap: float | None = None) -> None:
        """Send a :class:`ProgressEvent` to the budget's progress callback, if any."""
        if self.budget.progress is not None:
            self.budget.progress(ProgressEvent(self.elapsed(), iteration, objective, bound, gap))
