"""The command line, run as a user runs it (typer's runner, real data where present)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from planner.cli import app
from tests.conftest import data_file

runner = CliRunner()


def _solve_json(*args: str) -> dict:
    result = runner.invoke(app, ["solve", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_solve_default_instance_is_feasible() -> None:
    summary = _solve_json()
    assert summary["kind"] == "cvrp" and summary["solver"] == "savings"
    assert summary["feasible"] is True and summary["clients"] == 100
    assert summary["objective"] > 0 and summary["gap_pct"] is None


def test_solve_x_instance_prints_gap_to_best_known(tmp_path) -> None:
    path = data_file("vrp", "cvrp", "X", "X-n101-k25.vrp")
    out = tmp_path / "x.sol"
    summary = _solve_json(str(path), "--solver", "savings", "--out", str(out))
    assert summary["feasible"] is True
    assert summary["best_known"] == 27591
    assert 0 < summary["gap_pct"] < 15
    assert summary["gap_pct"] == pytest.approx(100 * (summary["objective"] - 27591) / 27591)
    from datasets.vrplib import read_solution

    written = read_solution(out)
    assert len(written.routes) == summary["routes"]


def test_solve_solomon_instance_by_name() -> None:
    data_file("vrp", "vrptw", "Solomon", "C101.vrp")
    summary = _solve_json("C101", "--solver", "savings")
    assert summary["kind"] == "vrptw" and summary["feasible"] is True
    assert summary["best_known"] == pytest.approx(827.3)
    assert summary["gap_pct"] >= 0


def test_solve_tntp_network_all_or_nothing(tmp_path) -> None:
    data_file("tntp", "SiouxFalls")
    out = tmp_path / "flows.tntp"
    summary = _solve_json("SiouxFalls", "--solver", "aon", "--out", str(out))
    assert summary["kind"] == "traffic-assignment" and summary["links"] == 76
    assert summary["flow_conservation_error"] < 1e-6
    assert summary["relative_gap"] > 0  # AON at free-flow cost is far from equilibrium
    assert out.read_text().count("\n") >= 76


def test_solvers_and_datasets_commands_list_things() -> None:
    result = runner.invoke(app, ["solvers"])
    assert result.exit_code == 0
    for name in ("savings", "dijkstra", "aon", "ecmp"):
        assert name in result.output
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0
    assert "cvrp/X" in result.output and "tntp" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["solve", "/nonexistent/file.vrp"], "no such file"),
        (["solve", "gen:cvrp:n=10", "--solver", "dijkstra"], "no solver 'dijkstra' for cvrp"),
        (["solve", "gen:tsp:n=10"], "unknown generator 'tsp'"),
        (["solve", "gen:cvrp:n=10,seed=x"], "generator option"),
        (["solve", "gen:cvrp:n=10", "--time-limit", "-1"], "time_limit: must be a positive"),
    ],
)
def test_bad_input_gives_one_clear_line_and_status_2(args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_wrong_format_file_is_rejected(tmp_path) -> None:
    bogus = tmp_path / "notes.vrp"
    bogus.write_text("hello, this is not an instance\n")
    proc = subprocess.run([sys.executable, "-m", "planner.cli", "solve", str(bogus)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and str(bogus) in proc.stderr and "Traceback" not in proc.stderr
