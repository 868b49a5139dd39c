"""Solver family package; importing it registers its solvers."""

from planner.registry import ProblemKind, register
from solvers.vrp.savings import solve_savings

register(
    "savings",
    [ProblemKind.CVRP, ProblemKind.VRPTW],
    solve_savings,
    description="Clarke-Wright parallel savings (capacity, time windows, route duration, fleet repair)",
    capabilities={"time-windows", "asymmetric"},
)

__all__ = ["solve_savings"]
