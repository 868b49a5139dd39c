"""Hybrid genetic search for CVRP and VRPTW: giant tours, optimal split, order crossover,
penalised infeasible solutions, diversity management and compiled local search."""

from solvers.vrp.ga.params import GaParams, StoppingCriterion
from solvers.vrp.ga.solver import solve_ga, warm_up

__all__ = ["GaParams", "StoppingCriterion", "solve_ga", "warm_up"]
