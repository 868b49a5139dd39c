"""Stop conditions of the anytime planners, beyond the budget's time and iteration limits."""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.errors import ValidationError


@dataclass(frozen=True)
class StopCondition:
    """When an anytime planner may stop before its budget runs out.

    Parameters
    ----------
    first_solution
        Stop as soon as any solution exists.
    cost_threshold
        Stop once the best cost is at or below this value.
    """

    first_solution: bool = False
    cost_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.cost_threshold is not None and not self.cost_threshold > 0:
            raise ValidationError("cost_threshold", f"must be positive ({self.cost_threshold})")

    def reached(self, best_cost: float) -> bool:
        """Whether a run whose best cost so far is ``best_cost`` may stop."""
        if not math.isfinite(best_cost):
            return False
        return self.first_solution or (self.cost_threshold is not None and best_cost <= self.cost_threshold)
