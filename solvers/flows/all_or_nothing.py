"""All-or-nothing traffic assignment: every OD flow on one shortest path at free-flow cost.

The baseline every equilibrium solver starts from (and improves on): one compiled Dijkstra per
origin under the problem's link costs at zero flow, demand pushed down each shortest-path tree
(see :func:`planner.assignment.all_or_nothing`). For a ``so`` problem the zero-flow marginal
costs are used, which equal the zero-flow link costs. The result is evaluated independently
(:meth:`planner.assignment.AssignmentResult.evaluate`): its relative gap says how far from
equilibrium free-flow routing leaves the network.
"""

from __future__ import annotations

from dataclasses import replace

from planner.assignment import AssignmentProblem, AssignmentResult, all_or_nothing
from planner.budget import Budget
from planner.errors import ValidationError
from planner.registry import ProblemKind, register


def solve_all_or_nothing(problem: AssignmentProblem, budget: Budget) -> AssignmentResult:
    """Assign all demand to free-flow shortest paths.

    Parameters
    ----------
    problem
        The assignment problem.
    budget
        Only its progress callback is used: the method is a single step, reported once as
        iteration 1.

    Returns
    -------
    AssignmentResult
        Link flows, their generalized costs, objectives and relative gap; ``iterations == 1``.
    """
    if not isinstance(problem, AssignmentProblem):
        raise ValidationError("problem", f"must be an AssignmentProblem, got {type(problem).__name__}")
    clock = budget.start()
    network = problem.network
    flows = all_or_nothing(network, problem.demand, problem.free_flow_costs())
    elapsed = clock.elapsed()
    result = AssignmentResult.evaluate(problem, flows, solver="aon", iterations=1, elapsed_s=elapsed)
    history = ((1, elapsed, result.relative_gap, result.objective_value),)
    clock.report(1, objective=result.objective_value, gap=result.relative_gap)
    return replace(result, history=history)

register(
    "aon",
    [ProblemKind.TRAFFIC_ASSIGNMENT],
    solve_all_or_nothing,
    description="All-or-nothing assignment at free-flow cost (baseline; compiled Dijkstra per origin)",
    capabilities=["exact-shortest-paths", "parallel-edges", "first-thru-node"],
)
