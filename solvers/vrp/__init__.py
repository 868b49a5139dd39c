"""Solver family package; importing it registers its solvers."""

from planner.registry import ProblemKind, register
from solvers.vrp.ga import solve_ga
from solvers.vrp.ortools_solver import solve_ortools
from solvers.vrp.policy import solve_earli, solve_policy  # noqa: F401  (registers policy, earli)
from solvers.vrp.pyvrp_solver import solve_pyvrp
from solvers.vrp.savings import solve_savings

register(
    "savings",
    [ProblemKind.CVRP, ProblemKind.VRPTW],
    solve_savings,
    description="Clarke-Wright parallel savings (capacity, time windows, route duration, fleet repair)",
    capabilities={"time-windows", "asymmetric"},
)
register(
    "ga",
    [ProblemKind.CVRP, ProblemKind.VRPTW],
    solve_ga,
    description="Hybrid genetic search: giant tours, optimal split, OX, penalties, numba local search",
    capabilities={"time-windows", "asymmetric", "anytime", "initial-population"},
)
register(
    "ortools",
    [ProblemKind.CVRP, ProblemKind.VRPTW],
    solve_ortools,
    description="OR-Tools routing, guided local search (baseline)",
    capabilities={"time-windows", "asymmetric"},
    baseline=True,
)
register(
    "pyvrp",
    [ProblemKind.CVRP, ProblemKind.VRPTW],
    solve_pyvrp,
    description="PyVRP hybrid genetic search (baseline; bench extra)",
    capabilities={"time-windows", "asymmetric"},
    baseline=True,
)

__all__ = ["solve_ga", "solve_ortools", "solve_pyvrp", "solve_savings"]
