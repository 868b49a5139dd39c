"""Link-based traffic assignment: MSA, Frank-Wolfe, conjugate and bi-conjugate Frank-Wolfe.

Every iteration computes the problem's link costs at the current flows (generalized costs for
user equilibrium, marginal costs for system optimum), loads all demand on shortest paths
(:func:`planner.assignment.all_or_nothing`, compiled Dijkstra from every origin), and moves the
flows towards a target point:

* ``msa``: towards the all-or-nothing flows ``y`` with step ``1 / k``;
* ``fw``: towards ``y`` with the exact step (bisection on the directional derivative of the
  objective: Beckmann for ``ue``, total system travel time for ``so``);
* ``cfw``: towards a point ``s`` on the segment between ``y`` and the previous target made
  conjugate to the previous direction under the diagonal Hessian (Mitradjieva & Lindberg 2013);
* ``bfw``: towards a convex combination of ``y`` and the two previous targets, conjugate to the
  two previous directions (bi-conjugate, same paper).

The relative gap at the current flows falls out of each all-or-nothing step for free
(``sum_od d_od SP_od = y . c``); the solver stops when it reaches
:attr:`AssignmentParams.target_gap`, the budget's iteration or time limit, or a cancel. The
result's numbers are recomputed independently by
:meth:`planner.assignment.AssignmentResult.evaluate`.

Reference: M. Mitradjieva, P. O. Lindberg (2013), "The Stiff Is Moving — Conjugate Direction
Frank-Wolfe Methods with Applications to Traffic Assignment", Transportation Science 47(2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from planner.assignment import AssignmentProblem, AssignmentResult, all_or_nothing
from planner.budget import Budget
from planner.errors import ValidationError
from planner.registry import ProblemKind, register
from solvers.flows.link_kernels import costs_into, derivatives_into, exact_line_search, link_parameters

Method = Literal["msa", "fw", "cfw", "bfw"]

#: Methods this module implements.
METHODS: tuple[str, ...] = ("msa", "fw", "cfw", "bfw")

#: Largest weight a conjugate step gives the previous target (keeps the direction from
#: collapsing onto the previous one; AequilibraE and the paper use the same safeguard).
_MAX_CONJUGATE_WEIGHT = 0.99999


@dataclass(frozen=True)
class AssignmentParams:
    """Parameters of the assignment solvers.

    Parameters
    ----------
    target_gap
        Stop once the relative gap is at or below this (``0`` runs until the budget ends).
    line_search_halvings
        Bisection steps of the exact line search (step accurate to ``2 ** -halvings``).
    max_iterations
        Iteration limit; the budget's ``max_iterations`` applies too (the smaller wins).

    Raises
    ------
    ValidationError
        ``target_gap: must be finite and non-negative (-1.0)`` and the like.
    """

    target_gap: float = 1e-6
    line_search_halvings: int = 60
    max_iterations: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.target_gap) and self.target_gap >= 0):
            raise ValidationError("target_gap", f"must be finite and non-negative ({self.target_gap})")
        if not 1 <= self.line_search_halvings <= 200:
            raise ValidationError("line_search_halvings", f"must be in 1..200 ({self.line_search_halvings})")
        if self.max_iterations is not None and self.max_iterations < 1:
            raise ValidationError("max_iterations", f"must be at least 1 ({self.max_iterations})")


def check_inputs(problem: AssignmentProblem, params: AssignmentParams | None) -> AssignmentParams:
    """Validate the arguments every assignment solver takes; return the parameters to use."""
    if not isinstance(problem, AssignmentProblem):
        raise ValidationError("problem", f"must be an AssignmentProblem, got {type(problem).__name__}")
    if params is None:
        return AssignmentParams()
    if not isinstance(params, AssignmentParams):
        raise ValidationError("params", f"must be an AssignmentParams, got {type(params).__name__}")
    return params


def _gap(total: float, best: float) -> float:
    if total == 0.0:
        return 0.0
    return (total - best) / total


def frank_wolfe(problem: AssignmentProblem, budget: Budget, params: AssignmentParams | None = None,
                method: Method = "bfw") -> AssignmentResult:
    """Solve a UE or SO assignment with a Frank-Wolfe-family method.

    Parameters
    ----------
    problem
        The assignment problem (``objective`` ``"ue"`` or ``"so"``).
    budget
        Time and iteration limits, cancel flag and progress callback (called every iteration
        with the objective and the relative gap of the current flows).
    params
        Target gap and line-search settings (default :class:`AssignmentParams`).
    method
        ``"msa"``, ``"fw"``, ``"cfw"`` or ``"bfw"``.

    Returns
    -------
    AssignmentResult
        The flows of the last iterate and their independent evaluation; ``history`` holds
        ``(iteration, elapsed_s, relative_gap, objective)`` of every iteration.
    """
    params = check_inputs(problem, params)
    if method not in METHODS:
        raise ValidationError("method", f"unknown {method!r} (known: {', '.join(METHODS)})")
    clock = budget.start()
    net, demand = problem.network, problem.demand
    so = problem.objective == "so"
    fft, b, power, cap, fixed = link_parameters(problem)
    m = net.n_links
    costs = np.empty(m)
    hessian = np.empty(m)
    costs_into(np.zeros(m), fft, b, power, cap, fixed, so, costs)
    x = all_or_nothing(net, demand, costs)
    history: list[tuple[int, float, float, float]] = []
    s_prev: np.ndarray | None = None  # previous target point s_{k-1}
    s_prev2: np.ndarray | None = None  # s_{k-2}
    last_step = 1.0
    iteration = 1
    limit = params.max_iterations
    while True:
        costs_into(x, fft, b, power, cap, fixed, so, costs)
        y = all_or_nothing(net, demand, costs)
        gap = _gap(float(x @ costs), float(y @ costs))
        objective = problem.objective_value(x)
        history.append((iteration, clock.elapsed(), gap, objective))
        clock.report(iteration, objective=objective, gap=gap)
        if gap <= params.target_gap or clock.should_stop(iteration) or (limit is not None and iteration >= limit):
            break
        iteration += 1
        if method == "msa":
            x = x + (y - x) / iteration
            continue
        target = y
        if method in ("cfw", "bfw") and s_prev is not None:
            derivatives_into(x, fft, b, power, cap, so, hessian)
            if method == "bfw" and s_prev2 is not None and last_step < 1.0:
                target = _biconjugate_target(x, y, s_prev, s_prev2, hessian, last_step)
            else:
                target = _conjugate_target(x, y, s_prev, hessian)
        direction = target - x
        step = exact_line_search(x, direction, fft, b, power, cap, fixed, so, params.line_search_halvings)
        x = np.maximum(x + step * direction, 0.0)
        s_prev2, s_prev = s_prev, target
        last_step = step
        if step >= 1.0 or step <= 0.0:  # the target became the iterate (or no move): restart conjugacy
            s_prev2 = s_prev = None
    elapsed = clock.elapsed()
    result = AssignmentResult.evaluate(problem, x, solver=method, iterations=iteration, history=history,
                                       elapsed_s=elapsed)
    return replace(result, elapsed_s=elapsed)


def _conjugate_target(x: np.ndarray, y: np.ndarray, s_prev: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """``s = a s_prev + (1 - a) y`` with ``(s - x)`` conjugate to ``(s_prev - x)`` under ``diag(hessian)``."""
    prev_dir = s_prev - x
    numerator = float(prev_dir @ (hessian * (y - x)))
    denominator = float(prev_dir @ (hessian * (y - s_prev)))
    a = numerator / denominator if denominator != 0.0 else 0.0
    a = min(max(a, 0.0), _MAX_CONJUGATE_WEIGHT)
    return a * s_prev + (1.0 - a) * y


def _biconjugate_target(x: np.ndarray, y: np.ndarray, s_prev: np.ndarray, s_prev2: np.ndarray,
                        hessian: np.ndarray, last_step: float) -> np.ndarray:
    """Bi-conjugate target ``b0 y + b1 s_prev + b2 s_prev2`` (Mitradjieva & Lindberg 2013, eq. 14-16)."""
    fw_dir = y - x
    prev_dir = s_prev - x
    combo = last_step * s_prev - x + (1.0 - last_step) * s_prev2
    den_mu = float(combo @ (hessian * (s_prev2 - s_prev)))
    mu = -float(combo @ (hessian * fw_dir)) / den_mu if den_mu != 0.0 else 0.0
    mu = max(0.0, mu)
    den_nu = float(prev_dir @ (hessian * prev_dir))
    nu = (-float(prev_dir @ (hessian * fw_dir)) / den_nu if den_nu != 0.0 else 0.0) + mu * last_step / (1.0 - last_step)
    nu = max(0.0, nu)
    beta0 = 1.0 / (1.0 + mu + nu)
    return beta0 * y + (nu * beta0) * s_prev + (mu * beta0) * s_prev2


def _solver(method: Method):
    def solve(problem: AssignmentProblem, budget: Budget, params: AssignmentParams | None = None) -> AssignmentResult:
        return frank_wolfe(problem, budget, params, method)

    solve.__name__ = f"solve_{method}"
    solve.__doc__ = f"{method.upper()} assignment: :func:`frank_wolfe` with ``method={method!r}``."
    return solve


solve_msa = _solver("msa")
solve_fw = _solver("fw")
solve_cfw = _solver("cfw")
solve_bfw = _solver("bfw")

_CAPS = ["ue", "so", "relative-gap", "first-thru-node", "parallel-edges"]
register("msa", [ProblemKind.TRAFFIC_ASSIGNMENT], solve_msa,
         description="Method of successive averages (step 1/k) on compiled all-or-nothing loads", capabilities=_CAPS)
register("fw", [ProblemKind.TRAFFIC_ASSIGNMENT], solve_fw,
         description="Frank-Wolfe with exact line search", capabilities=_CAPS)
register("cfw", [ProblemKind.TRAFFIC_ASSIGNMENT], solve_cfw,
         description="Conjugate Frank-Wolfe (Mitradjieva & Lindberg 2013), exact line search", capabilities=_CAPS)
register("bfw", [ProblemKind.TRAFFIC_ASSIGNMENT], solve_bfw,
         description="Bi-conjugate Frank-Wolfe (Mitradjieva & Lindberg 2013), exact line search", capabilities=_CAPS)
