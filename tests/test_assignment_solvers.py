"""High-precision path-based gradient projection: 1e-10 gaps, best-known objectives and flows,
SO optimality, select-link analysis against the link flows, errors."""

from __future__ import annotations

import numpy as np
import pytest

from datasets.tntp import read_assignment_problem, read_tntp_link_flows, tntp_folder
from planner.assignment import AssignmentProblem, flow_conservation_error, relative_gap
from planner.budget import Budget
from planner.errors import ValidationError
from planner.registry import ProblemKind, get_solver
from solvers.flows.frank_wolfe import AssignmentParams, frank_wolfe
from solvers.flows.gradient_projection import gradient_projection_paths
from tests.conftest import requires_data
from tests.test_frank_wolfe import BRAESS_SO_FILE_ORDER, BRAESS_UE_FILE_ORDER

#: Best-known Beckmann objectives quoted in the data README (SiouxFalls in vehicle units).
BEST_KNOWN = {"SiouxFalls": 4_231_335.28710744, "Barcelona": 1_265_654.92203176}


@requires_data("tntp", "Braess-Example")
@pytest.mark.parametrize("objective", ["ue", "so"])
def test_braess_by_hand(objective: str) -> None:
    problem = read_assignment_problem(tntp_folder("Braess-Example"), objective)
    result, paths = gradient_projection_paths(problem, Budget(max_iterations=500), AssignmentParams(target_gap=1e-12))
    expected = BRAESS_UE_FILE_ORDER if objective == "ue" else BRAESS_SO_FILE_ORDER
    np.testing.assert_allclose(problem.network.to_file_order(result.flows), expected, atol=1e-6)
    # UE uses all three paths with 2 each; SO the two outer paths with 3 each.
    assert sorted(np.round(paths.flows[0], 6)) == ([2.0, 2.0, 2.0] if objective == "ue" else [3.0, 3.0])


@pytest.fixture(scope="module")
def sioux_ue() -> AssignmentProblem:
    return read_assignment_problem(tntp_folder("SiouxFalls"), "ue")


@requires_data("tntp", "SiouxFalls")
def test_siouxfalls_to_1e10_matches_best_known_flows_link_by_link(sioux_ue: AssignmentProblem) -> None:
    result, _ = gradient_projection_paths(sioux_ue, Budget(time_limit=60), AssignmentParams(target_gap=1e-10))
    independent = relative_gap(sioux_ue, result.flows)
    assert independent <= 1e-10
    assert result.history[-1][2] == pytest.approx(independent, rel=1e-6, abs=1e-15)
    best = read_tntp_link_flows(tntp_folder("SiouxFalls") / "SiouxFalls_flow.tntp", sioux_ue.network)
    np.testing.assert_allclose(result.flows, best, rtol=1e-6)
    assert result.beckmann_objective == pytest.approx(BEST_KNOWN["SiouxFalls"], rel=1e-10)
    assert flow_conservation_error(sioux_ue, result.flows) <= 1e-6 * sioux_ue.demand.total


@requires_data("tntp", "Barcelona")
def test_barcelona_constant_cost_links_and_zones_not_passed_through() -> None:
    problem = read_assignment_problem(tntp_folder("Barcelona"))
    result, _ = gradient_projection_paths(problem, Budget(time_limit=60), AssignmentParams(target_gap=1e-10))
    assert relative_gap(problem, result.flows) <= 1e-10
    assert result.beckmann_objective == pytest.approx(BEST_KNOWN["Barcelona"], rel=1e-8)
    assert flow_conservation_error(problem, result.flows) <= 1e-6 * problem.demand.total


@requires_data("tntp", "SiouxFalls")
def test_system_optimum_conditions_and_no_worse_than_equilibrium(sioux_ue: AssignmentProblem) -> None:
    so_problem = read_assignment_problem(tntp_folder("SiouxFalls"), "so")
    so, _ = gradient_projection_paths(so_problem, Budget(time_limit=30), AssignmentParams(target_gap=1e-9))
    ue, _ = gradient_projection_paths(sioux_ue, Budget(time_limit=30), AssignmentParams(target_gap=1e-9))
    assert relative_gap(so_problem, so.flows) <= 1e-9  # equilibrium under marginal costs
    assert so.total_system_travel_time <= ue.total_system_travel_time
    # BFW's SO solution cannot be better than the (more exact) path-based optimum
    bfw = frank_wolfe(so_problem, Budget(time_limit=30), AssignmentParams(target_gap=1e-5), "bfw")
    assert bfw.total_system_travel_time >= so.total_system_travel_time * (1 - 1e-12)


@requires_data("tntp", "SiouxFalls")
def test_select_link_adds_up_to_the_link_flow(sioux_ue: AssignmentProblem) -> None:
    result, paths = gradient_projection_paths(sioux_ue, Budget(time_limit=30), AssignmentParams(target_gap=1e-8))
    net = sioux_ue.network
    for row in (0, 17, 75):
        edge = int(net.edge_of_link[row])
        users = paths.select_link(edge)
        assert sum(users.values()) == pytest.approx(result.flows[edge], rel=1e-9)
        # every user's share is at most its demand, and every path really crosses the link
        for (o, d), flow in users.items():
            assert 0 < flow <= sioux_ue.demand.pair(o, d) * (1 + 1e-12)
    # path flows of every OD pair add up to its demand
    for k in range(paths.origins.size):
        demand = sioux_ue.demand.pair(int(paths.origins[k]), int(paths.destinations[k]))
        assert paths.flows[k].sum() == pytest.approx(demand, rel=1e-12)
    with pytest.raises(ValidationError, match="edge"):
        paths.select_link(10_000)


@requires_data("tntp", "Anaheim")
def test_reported_gap_is_recomputed_from_scratch_only_when_near_the_target(monkeypatch) -> None:
    import solvers.flows.gradient_projection as gp

    problem = read_assignment_problem(tntp_folder("Anaheim"))
    exact_calls = []

    def counting_gap(p: AssignmentProblem, flows: np.ndarray) -> float:
        exact_calls.append(flows.copy())
        return relative_gap(p, flows)

    monkeypatch.setattr(gp, "relative_gap", counting_gap)
    result, _ = gradient_projection_paths(problem, Budget(time_limit=60), AssignmentParams(target_gap=1e-8))
    # the solver's gap is the from-scratch gap of the flows it returns, and meets the target
    independent = relative_gap(problem, result.flows)
    assert result.relative_gap == pytest.approx(independent, rel=1e-9, abs=1e-16)
    assert result.history[-1][2] == result.relative_gap <= 1e-8
    np.testing.assert_array_equal(exact_calls[-1], result.flows)
    # the first iteration loads one path per OD pair, so no estimate exists and no exact gap is
    # computed there; far from the target the exact sweep is skipped too
    assert len(exact_calls) < result.iterations - 1
    assert result.history[0][2] == np.inf
    # every later entry is a gap, exact or estimated
    gaps = [h[2] for h in result.history[1:]]
    assert all(0 <= g < 1 for g in gaps)


@requires_data("tntp", "SiouxFalls")
def test_stopping_on_the_iteration_limit_still_reports_the_exact_gap(sioux_ue: AssignmentProblem) -> None:
    result, _ = gradient_projection_paths(sioux_ue, Budget(max_iterations=3), AssignmentParams(target_gap=1e-12))
    assert result.iterations == 3
    independent = relative_gap(sioux_ue, result.flows)
    assert result.relative_gap == pytest.approx(independent, rel=1e-9) and independent > 1e-12
    assert result.history[-1][2] == result.relative_gap


def test_a_network_without_any_cost_stops_at_once_with_gap_zero() -> None:
    from planner.assignment import Demand, TrafficNetwork

    # two parallel free links between zones 1 and 2 and one back: every path costs 0
    net = TrafficNetwork.from_links(2, [1, 1, 2], [2, 2, 1], capacity=[1.0, 1.0, 1.0],
                                    free_flow_time=[0.0, 0.0, 0.0], bpr_b=0.0, n_zones=2)
    problem = AssignmentProblem(net, Demand(np.array([[0.0, 5.0], [3.0, 0.0]])))
    result, _ = gradient_projection_paths(problem, Budget(max_iterations=50), AssignmentParams(target_gap=1e-12))
    assert result.iterations == 2 and result.relative_gap == 0.0
    assert flow_conservation_error(problem, result.flows) <= 1e-12


@requires_data("tntp", "Chicago-Sketch")
@pytest.mark.slow
def test_chicago_sketch_against_bfw_and_the_best_known_objective() -> None:
    problem = read_assignment_problem(tntp_folder("Chicago-Sketch"))
    result, _ = gradient_projection_paths(problem, Budget(time_limit=120), AssignmentParams(target_gap=1e-6))
    assert relative_gap(problem, result.flows) <= 1e-6
    best = read_tntp_link_flows(tntp_folder("Chicago-Sketch") / "ChicagoSketch_flow.tntp", problem.network)
    best_objective = problem.objective_value(best)
    assert result.beckmann_objective == pytest.approx(best_objective, rel=1e-7)
    assert result.beckmann_objective >= best_objective * (1 - 1e-12)
    bfw = frank_wolfe(problem, Budget(time_limit=120), AssignmentParams(target_gap=1e-3), "bfw")
    assert bfw.beckmann_objective >= result.beckmann_objective
    assert flow_conservation_error(problem, result.flows) <= 1e-6 * problem.demand.total


@requires_data("tntp", "Braess-Example")
def test_registered_with_parameters() -> None:
    info = get_solver("gradient-projection", ProblemKind.TRAFFIC_ASSIGNMENT)
    assert "high-precision" in info.capabilities and "select-link" in info.capabilities
    problem = read_assignment_problem(tntp_folder("Braess-Example"))
    result = info.solve(problem, Budget(), AssignmentParams(target_gap=1e-9))
    assert result.solver == "gradient-projection" and result.relative_gap <= 1e-9
    with pytest.raises(ValidationError, match="params"):
        info.solve(problem, Budget(), 1e-9)


# ------------------------------------------------------------------------------------------ CLI and bench
@requires_data("tntp", "Braess-Example")
@pytest.mark.parametrize("extra", [[], ["--so"]])
def test_assign_command_writes_flows_that_read_back(tmp_path, extra: list[str]) -> None:
    import json

    from typer.testing import CliRunner

    from planner.cli import app

    out = tmp_path / "flows.tntp"
    folder = str(tntp_folder("Braess-Example"))
    result = CliRunner().invoke(app, ["assign", folder, "--algorithm", "gradient-projection", "--gap", "1e-10",
                                      "--out", str(out), "--json", *extra])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["relative_gap"] <= 1e-10 and summary["objective"] == ("so" if extra else "ue")
    problem = read_assignment_problem(folder)
    flows = read_tntp_link_flows(out, problem.network)
    expected = BRAESS_SO_FILE_ORDER if extra else BRAESS_UE_FILE_ORDER
    np.testing.assert_allclose(problem.network.to_file_order(flows), expected, atol=1e-6)


@requires_data("tntp", "SiouxFalls")
def test_bench_records_use_the_assignment_schema(tmp_path) -> None:
    from planner.bench.assignment import run_bench, speed_ratios

    measurements = run_bench(["SiouxFalls"], [1e-3], ["bfw", "gradient-projection"], peers=[])
    assert [m.solver for m in measurements] == ["bfw", "gradient-projection"]
    for m in measurements:
        assert m.reached and m.rel_diff_best is not None and 0 <= m.rel_diff_best < 1e-3
        record = m.record(60.0).to_json()
        assert record["family"] == "assignment" and record["baseline"] is False
        assert record["metrics"]["target_gap"] == 1e-3
    assert speed_ratios(measurements) == []  # no peer measured, no ratio claimed
