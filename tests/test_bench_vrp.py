"""``bench vrp``: the generated suite, per-solver time limits and best-in-run gaps."""

from __future__ import annotations

import pytest

from datasets.detect import load_problem
from planner.bench import vrp as bench
from planner.commands.vrp import parse_limits_for
from planner.errors import ValidationError
from planner.vrp import check_feasibility


def test_gen_500_suite_is_ten_uniform_and_ten_clustered_500_client_instances():
    specs = [path for _, path in bench.suite_instances("gen-500")]
    assert len(specs) == 20 and len(set(specs)) == 20
    assert sum("distribution=uniform" in s for s in specs) == 10
    assert sum("distribution=clustered" in s for s in specs) == 10
    instance = load_problem(specs[0]).problem
    assert instance.n_clients == 500


def _run(solver: str, objective: float | None, feasible: bool = True) -> bench.VrpRun:
    return bench.VrpRun("i", 10, solver, 1.0, 1, objective, None, 0.1, feasible, False)


def test_best_in_run_gaps_are_to_the_best_feasible_objective():
    runs = [_run("a", 110.0), _run("b", 100.0), _run("c", 90.0, feasible=False), _run("d", None, feasible=False)]
    gaps = [r.gap_pct for r in bench.with_best_in_run_gaps(runs)]
    assert gaps == [pytest.approx(10.0), pytest.approx(0.0), None, None]
    assert [r.gap_pct for r in bench.with_best_in_run_gaps(runs[2:])] == [None, None]


def test_limits_for_parses_and_rejects_bad_text():
    assert parse_limits_for("") == {}
    assert parse_limits_for("policy=1; pyvrp=1,10") == {"policy": [1.0], "pyvrp": [1.0, 10.0]}
    for bad in ("policy", "=1", "policy=", "policy=fast"):
        with pytest.raises(ValidationError) as err:
            parse_limits_for(bad)
        assert err.value.field == "limits_for"


def test_bench_runs_solvers_only_at_their_limits_with_independent_gaps(monkeypatch):
    spec = "gen:cvrp:n=25,seed=3"
    monkeypatch.setitem(bench.GENERATED_SUITES, "tiny", (spec,))
    with pytest.raises(ValidationError):
        bench.bench_vrp("tiny", ["savings", "ga"], [0.2, 0.4], 1, limits_for={"savings": [5.0]})
    with pytest.raises(ValidationError):
        bench.bench_vrp("tiny", ["ga"], [0.2], 1, limits_for={"savings": [0.2]})
    runs, records = bench.bench_vrp("tiny", ["savings", "ga"], [0.2, 0.4], 1, limits_for={"savings": [0.2]})
    assert sorted((r.solver, r.time_limit) for r in runs) == [("ga", 0.2), ("ga", 0.4), ("savings", 0.2)]
    instance = load_problem(spec).problem
    objectives = [r.objective for r in runs]
    assert all(r.feasible for r in runs)
    best = min(objectives)
    for run, record in zip(runs, records, strict=True):
        assert record.metrics["gap_reference"] == "best-in-run"
        assert run.gap_pct == pytest.approx(100.0 * (run.objective - best) / best)
        assert record.metrics["gap_pct"] == run.gap_pct
    summary = {(row["solver"], row["time_limit"]): row for row in bench.summarise_vrp(runs)}
    assert set(summary) == {("ga", 0.2), ("ga", 0.4), ("savings", 0.2)}
    assert summary["savings", 0.2]["runs"] == 1 and summary["savings", 0.2]["feasible"] == "1/1"
    # the objective is the independent checker's
    from planner.registry import get_solver

    solution = get_solver("savings").solve(instance, None)
    assert check_feasibility(instance, solution).objective == pytest.approx(
        next(r.objective for r in runs if r.solver == "savings"))


def test_bench_command_with_limits_for_writes_records_and_a_summary(monkeypatch, tmp_path):
    import json

    from typer.testing import CliRunner

    from planner.cli import app

    monkeypatch.setitem(bench.GENERATED_SUITES, "tiny", ("gen:cvrp:n=20,seed=4",))
    out = tmp_path / "vrp.json"
    result = CliRunner().invoke(app, ["bench", "vrp", "--suite", "tiny", "--solvers", "savings,ga", "--time-limits",
                                      "0.2,0.3", "--seeds", "1", "--limits-for", "savings=0.2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "per-solver means" in result.output
    text = out.read_text()
    records = json.loads(text) if text.lstrip().startswith("[") else [json.loads(line) for line in text.splitlines()]
    assert sorted((r["solver"], r["budget_s"]) for r in records) == [("ga", 0.2), ("ga", 0.3), ("savings", 0.2)]
    bad = CliRunner().invoke(app, ["bench", "vrp", "--suite", "tiny", "--solvers", "savings", "--time-limits", "0.2",
                                   "--limits-for", "savings"])
    assert isinstance(bad.exception, ValidationError) and bad.exception.field == "limits_for"
