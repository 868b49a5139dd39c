"""``routeplanner batch``: solve many vehicle-routing instances, locally or on Ray, resumably."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from planner.commands._output import console, err_console, print_rows


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``batch``."""
    app.command("batch")(batch_command)


def _gap(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} %"


def batch_command(
    inputs: Annotated[list[str], typer.Argument(
        help="Instance files, folders, globs, suites (x-small, solomon, road-small, ...), gen:/road: specs.")],
    solver: Annotated[str, typer.Option(help="Solver name (see `routeplanner solvers`).")] = "ga",
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Seconds per instance.")] = None,
    max_iterations: Annotated[int | None, typer.Option(
        "--max-iterations", help="Iteration budget per instance (deterministic under --seed).")] = None,
    seed: Annotated[int, typer.Option(help="Solver seed.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Parallel solves (default: every core).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder: results/*.json, summary.json, summary.csv.")] = Path(
        "batch-out"),
    executor: Annotated[str, typer.Option(help="local (process pool) or ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address (ray://host:10001, auto).")] = None,
    rerun_failed: Annotated[bool, typer.Option(
        "--rerun-failed/--keep-failed", help="Run instances that failed before again.")] = True,
) -> None:
    """Solve every instance with one solver; one result file each, summaries, resumable."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from planner.batch import BatchState, expand_inputs, make_executor, make_tasks, run_batch

    items = expand_inputs(inputs)
    tasks = make_tasks(items, solver, seed=seed, time_limit=time_limit, max_iterations=max_iterations)
    runner = make_executor(executor, workers, address)
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[gaps]}"), console=err_console,
    )
    with progress:
        bar = progress.add_task(f"{solver} · {executor}", total=len(tasks), gaps="")

        def on_update(state: BatchState, result: dict[str, Any] | None) -> None:
            text = f"best gap {_gap(state.best_gap)} · mean {_gap(state.mean_gap)}"
            if state.skipped:
                text += f" · {state.skipped} resumed"
            if state.failed:
                text += f" · [red]{state.failed} failed"
            if result is None:
                progress.reset(bar, total=state.total, completed=state.skipped, gaps=text)
            else:
                progress.update(bar, completed=state.skipped + state.done, gaps=text)
                if result.get("status") != "ok":
                    progress.console.print(f"[red]failed[/] {result.get('instance')}: {result.get('error')}")

        outcome = run_batch(tasks, out, executor=runner, rerun_failed=rerun_failed, on_update=on_update)
    rows = [{"instance": r.get("instance"), "status": r.get("status"), "objective": r.get("objective"),
             "gap_pct": r.get("gap_pct"), "feasible": r.get("feasible"), "wall_s": r.get("wall_s")}
            for r in outcome.results]
    if len(rows) <= 50:
        print_rows(f"batch · {solver}", rows)
    ok = [r for r in outcome.results if r.get("status") == "ok"]
    infeasible = sum(1 for r in ok if not r.get("feasible"))
    console.print(f"{len(outcome.results)} instances: {len(ok)} solved ({outcome.skipped} resumed), "
                  f"{outcome.failed} failed, {infeasible} infeasible · {outcome.summary_json} · {outcome.summary_csv}")
    if outcome.failed or infeasible:
        raise typer.Exit(code=1)
