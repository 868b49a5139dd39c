"""Frank-Wolfe-family assignment (MSA, FW, CFW, BFW): Braess by hand, SiouxFalls against its
best-known flows, independent gap and conservation checks, SO against UE, parameters."""

from __future__ import annotations

import numpy as np
import pytest

from datasets.tntp import read_assignment_problem, read_tntp_link_flows, tntp_folder
from planner.assignment import (
    AssignmentProblem,
    flow_conservation_error,
    relative_gap,
    total_system_travel_time,
)
from planner.budget import Budget
from planner.errors import ValidationError
from planner.registry import ProblemKind, get_solver
from solvers.flows.frank_wolfe import METHODS, AssignmentParams, frank_wolfe
from tests.conftest import requires_data

# Braess (file order of links: 1->3, 1->4, 3->2, 3->4, 4->2), demand 6 from zone 1 to zone 2.
# Link costs (epsilon terms 1e-8 ignored): c13 = 10 x, c14 = 50 + x, c32 = 50 + x, c34 = 10 + x,
# c42 = 10 x. Paths P1 = 1-3-2, P2 = 1-4-2, P3 = 1-3-4-2.
# UE: equal path costs with f1 = f2 = a, f3 = 6 - 2a:
#     P1 = 10 (6 - a) + 50 + a = 110 - 9a;  P3 = 10 (6 - a) + 10 + (6 - 2a) + 10 (6 - a) = 136 - 22a
#     => 13 a = 26, a = 2: every path 2, each costs 92, TSTT = 552.
# SO: marginal costs 20x, 50 + 2x, 50 + 2x, 10 + 2x, 20x. Equalising P1 and P3 gives
#     170 - 18a = 262 - 44a, a = 92/26 > 3 (f3 < 0), so f3 = 0, a = 3; marginal P1 = 116 <= P3 = 130.
#     Flows 3, 3, 3, 0, 3; each path costs 83, TSTT = 498.
BRAESS_UE_FILE_ORDER = np.array([4.0, 2.0, 2.0, 2.0, 4.0])
BRAESS_SO_FILE_ORDER = np.array([3.0, 3.0, 3.0, 0.0, 3.0])


def _braess(objective: str) -> AssignmentProblem:
    return read_assignment_problem(tntp_folder("Braess-Example"), objective)


@requires_data("tntp", "Braess-Example")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("objective", ["ue", "so"])
def test_braess_textbook_equilibrium_and_optimum(method: str, objective: str) -> None:
    problem = _braess(objective)
    # FW zig-zags towards the SO corner solution (path 3 unused): give it a looser target.
    gap = {"msa": 1e-4, "fw": 1e-4}.get(method, 1e-9)
    result = frank_wolfe(problem, Budget(max_iterations=20_000), AssignmentParams(target_gap=gap), method)
    expected = BRAESS_UE_FILE_ORDER if objective == "ue" else BRAESS_SO_FILE_ORDER
    tol = {"msa": 2e-2, "fw": 1e-2}.get(method, 1e-3)
    np.testing.assert_allclose(problem.network.to_file_order(result.flows), expected, atol=tol)
    assert result.total_system_travel_time == pytest.approx(552.0 if objective == "ue" else 498.0, rel=1e-3)
    assert result.relative_gap <= gap


@pytest.fixture(scope="module")
def sioux_ue() -> AssignmentProblem:
    return read_assignment_problem(tntp_folder("SiouxFalls"), "ue")


@pytest.fixture(scope="module")
def sioux_so() -> AssignmentProblem:
    return read_assignment_problem(tntp_folder("SiouxFalls"), "so")


@requires_data("tntp", "SiouxFalls")
def test_siouxfalls_bfw_matches_best_known_flows(sioux_ue: AssignmentProblem) -> None:
    # The tightest gap BFW reaches in a few seconds here; the best-known file has gap ~1e-15.
    result = frank_wolfe(sioux_ue, Budget(time_limit=30), AssignmentParams(target_gap=1e-7), "bfw")
    assert result.relative_gap <= 1e-7
    best = read_tntp_link_flows(tntp_folder("SiouxFalls") / "SiouxFalls_flow.tntp", sioux_ue.network)
    np.testing.assert_allclose(result.flows, best, rtol=1e-3)
    # README: best-known Beckmann objective 4,231,335.287 (42.31335287107440 in units of 1e5).
    assert result.beckmann_objective == pytest.approx(4_231_335.287107, rel=1e-7)


@requires_data("tntp", "SiouxFalls")
@pytest.mark.parametrize("method", METHODS)
def test_reported_gap_is_the_independent_gap_and_flow_is_conserved(method: str, sioux_ue: AssignmentProblem) -> None:
    target = 1e-2 if method == "msa" else 1e-4
    result = frank_wolfe(sioux_ue, Budget(time_limit=30), AssignmentParams(target_gap=target), method)
    reported = result.history[-1][2]
    independent = relative_gap(sioux_ue, result.flows)
    assert reported == pytest.approx(independent, rel=1e-9, abs=1e-14)
    assert independent <= target
    assert flow_conservation_error(sioux_ue, result.flows) <= 1e-6 * sioux_ue.demand.total
    assert result.iterations == result.history[-1][0] == len(result.history)


@requires_data("tntp", "SiouxFalls")
@pytest.mark.parametrize("method", ["fw", "cfw", "bfw"])
def test_exact_line_search_never_increases_the_objective(method: str, sioux_ue: AssignmentProblem) -> None:
    result = frank_wolfe(sioux_ue, Budget(max_iterations=60), AssignmentParams(target_gap=0.0), method)
    objectives = np.array([h[3] for h in result.history])
    assert np.all(np.diff(objectives) <= 1e-9 * objectives[0])
    assert result.iterations == 60


@requires_data("tntp", "SiouxFalls")
def test_system_optimum_beats_equilibrium_and_meets_marginal_cost_conditions(
        sioux_ue: AssignmentProblem, sioux_so: AssignmentProblem) -> None:
    ue = frank_wolfe(sioux_ue, Budget(time_limit=30), AssignmentParams(target_gap=1e-6), "bfw")
    so = frank_wolfe(sioux_so, Budget(time_limit=30), AssignmentParams(target_gap=1e-6), "bfw")
    # Marginal-cost optimality: the flows are an equilibrium under marginal costs.
    assert relative_gap(sioux_so, so.flows) <= 1e-6
    assert so.objective == "so" and so.relative_gap <= 1e-6
    tstt_so = total_system_travel_time(sioux_so.network, so.flows)
    tstt_ue = total_system_travel_time(sioux_ue.network, ue.flows)
    assert tstt_so < tstt_ue
    # The UE flows are feasible for SO, so they cannot beat its optimum (up to the gap).
    assert so.beckmann_objective >= ue.beckmann_objective * (1 - 1e-6)
    assert flow_conservation_error(sioux_so, so.flows) <= 1e-6 * sioux_so.demand.total


@requires_data("tntp", "SiouxFalls")
def test_budget_limits_progress_and_cancel(sioux_ue: AssignmentProblem) -> None:
    events = []
    result = frank_wolfe(sioux_ue, Budget(max_iterations=5, progress=events.append),
                         AssignmentParams(target_gap=0.0), "bfw")
    assert result.iterations == 5 and [e.iteration for e in events] == [1, 2, 3, 4, 5]
    assert all(e.gap is not None and e.gap > 0 for e in events)
    budget = Budget()
    budget.cancel.set()
    assert frank_wolfe(sioux_ue, budget, AssignmentParams(target_gap=0.0), "fw").iterations == 1
    capped = frank_wolfe(sioux_ue, Budget(), AssignmentParams(target_gap=0.0, max_iterations=3), "cfw")
    assert capped.iterations == 3


def test_bad_parameters_and_arguments() -> None:
    with pytest.raises(ValidationError, match="target_gap"):
        AssignmentParams(target_gap=-1.0)
    with pytest.raises(ValidationError, match="target_gap"):
        AssignmentParams(target_gap=float("nan"))
    with pytest.raises(ValidationError, match="max_iterations"):
        AssignmentParams(max_iterations=0)
    with pytest.raises(ValidationError, match="problem"):
        frank_wolfe("not a problem", Budget())  # type: ignore[arg-type]


@requires_data("tntp", "Braess-Example")
def test_unknown_method_and_wrong_params_type() -> None:
    problem = _braess("ue")
    with pytest.raises(ValidationError, match="method"):
        frank_wolfe(problem, Budget(), None, "newton")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="params"):
        frank_wolfe(problem, Budget(), {"target_gap": 1e-3})  # type: ignore[arg-type]


@requires_data("tntp", "Braess-Example")
@pytest.mark.parametrize("name", METHODS)
def test_registered_and_take_parameters(name: str) -> None:
    info = get_solver(name, ProblemKind.TRAFFIC_ASSIGNMENT)
    result = info.solve(_braess("ue"), Budget(max_iterations=5000), AssignmentParams(target_gap=1e-3))
    assert result.solver == name and result.relative_gap <= 1e-3
