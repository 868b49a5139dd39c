"""Learned construction policy for CVRP/VRPTW (graph encoder + attention decoder, trained with
REINFORCE and a POMO baseline) and the EARLI hybrid that seeds the genetic algorithm with it.

Importing this package registers ``policy`` and ``earli`` without importing torch; torch is
loaded when a solver first runs (see :func:`warm_up`).
"""

from solvers.vrp.policy.earli import PolicyParams, solve_earli, solve_policy, warm_up

__all__ = ["PolicyParams", "solve_earli", "solve_policy", "warm_up"]
