"""Commands of traffic assignment: ``routeplanner assign`` and ``routeplanner bench assignment``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from planner.budget import Budget, ProgressEvent
from planner.commands._output import console, err_console, format_value, split_list
from planner.registry import ProblemKind, get_solver


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``assign`` and ``bench assignment``."""
    app.command("assign")(assign_command)
    bench_app.command("assignment")(bench_assignment_command)


def assign_command(
    network: Annotated[str, typer.Argument(help="TNTP network folder, net file, or a network name (SiouxFalls).")],
    algorithm: Annotated[str, typer.Option(help="msa, fw, cfw, bfw or gradient-projection.")] = "bfw",
    gap: Annotated[float, typer.Option(help="Target relative gap.")] = 1e-6,
    so: Annotated[bool, typer.Option("--so", help="System optimum instead of user equilibrium.")] = False,
    time_limit: Annotated[float | None, typer.Option("--time", help="Time limit in seconds.")] = None,
    max_iterations: Annotated[int | None, typer.Option("--iterations", help="Iteration limit.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the link flows here (TNTP flow format).")] = None,
    every: Annotated[int, typer.Option(help="Print every N-th iteration (0: none).")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Solve a static traffic assignment and print its convergence as it goes."""
    from datasets.tntp import read_assignment_problem, write_tntp_flows
    from solvers.flows.frank_wolfe import AssignmentParams

    problem = read_assignment_problem(network, "so" if so else "ue")
    info = get_solver(algorithm, ProblemKind.TRAFFIC_ASSIGNMENT)
    printer = err_console if as_json else console

    def on_progress(event: ProgressEvent) -> None:
        if every and event.iteration % every == 0:
            printer.print(f"iter {event.iteration:6d}  {event.elapsed_s:8.2f} s  gap {event.gap:.3e}  "
                          f"objective {event.objective:,.6f}")

    budget = Budget(time_limit=time_limit, max_iterations=max_iterations, progress=on_progress)
    result = info.solve(problem, budget, AssignmentParams(target_gap=gap))
    summary: dict[str, Any] = {
        "network": problem.network.name or network, "algorithm": info.name, "objective": problem.objective,
        "relative_gap": result.relative_gap, "target_gap": gap, "iterations": result.iterations,
        "seconds": result.elapsed_s, "beckmann_objective": result.beckmann_objective,
        "total_system_travel_time": result.total_system_travel_time,
    }
    if out is not None:
        summary["flows_file"] = str(write_tntp_flows(out, problem, result))
    if as_json:
        console.print_json(json.dumps(summary))
    else:
        table = Table(title=f"{summary['network']} · {info.name} · {problem.objective.upper()}", show_header=False)
        for key, value in summary.items():
            table.add_row(key, format_value(value))
        console.print(table)


def bench_assignment_command(
    networks: Annotated[str, typer.Option(help="Comma-separated TNTP networks.")] = (
        "SiouxFalls,Anaheim,Chicago-Sketch,Berlin-Center"),
    gaps: Annotated[str, typer.Option(help="Comma-separated target relative gaps.")] = "1e-4,1e-6",
    solvers: Annotated[str, typer.Option(help="Our solvers, comma-separated.")] = "bfw,gradient-projection",
    peers: Annotated[str, typer.Option(help="AequilibraE algorithms (aequilibrae-bfw, ...); empty for none.")] = (
        "aequilibrae-bfw"),
    high_precision: Annotated[str, typer.Option(
        "--high-precision", help="Extra solver:gap runs on every network, e.g. gradient-projection:1e-10.")] = "",
    time_limit: Annotated[float, typer.Option("--time", help="Time limit per run of ours, seconds.")] = 300.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the records here.")] = None,
) -> None:
    """Our assignment solvers and AequilibraE on the same networks, same run, same target gaps."""
    from planner.bench.assignment import Measurement, run_bench, speed_ratios
    from planner.bench.records import write_records

    extra = []
    for item in split_list(high_precision):
        solver, _, gap_text = item.partition(":")
        extra.append((solver, float(gap_text)))

    def show(m: Measurement) -> None:
        err_console.print(f"{m.network:16s} {m.solver:22s} gap {m.target_gap:.0e}: {m.wall_s:8.2f} s, "
                          f"{m.iterations} it, reached {m.independent_gap:.2e}")

    measurements = run_bench(split_list(networks), [float(g) for g in split_list(gaps)], split_list(solvers),
                             split_list(peers), extra, time_limit, on_measurement=show,
                             on_skip=lambda reason: err_console.print(f"[yellow]{reason}[/yellow]"))
    table = Table(title="traffic assignment (Beckmann objective; rel. diff. to best-known flow file)")
    for column in ("network", "solver", "target gap", "reached gap", "iterations", "wall s", "objective",
                   "rel diff best", "reached"):
        table.add_column(column)
    for m in measurements:
        table.add_row(m.network, m.solver, f"{m.target_gap:.0e}", f"{m.independent_gap:.2e}", str(m.iterations),
                      f"{m.wall_s:.2f}", f"{m.objective:,.4f}",
                      "-" if m.rel_diff_best is None else f"{m.rel_diff_best:.1e}", format_value(m.reached))
    console.print(table)
    ratios = speed_ratios(measurements)
    if ratios:
        speed = Table(title="fastest of ours vs AequilibraE (target: ratio <= 0.333)")
        for column in ratios[0]:
            speed.add_column(column)
        for row in ratios:
            speed.add_row(*(f"{v:.0e}" if k == "gap" else format_value(v) for k, v in row.items()))
        console.print(speed)
    if json_out is not None:
        write_records(json_out, [m.record(time_limit) for m in measurements])
        console.print(f"wrote {len(measurements)} records to {json_out}")
