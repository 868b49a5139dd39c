"""Commands of the vehicle-routing family: ``routeplanner bench vrp``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.commands._output import console, err_console, print_rows, split_list


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``bench vrp``."""
    bench_app.command("vrp")(bench_vrp_command)


def bench_vrp_command(
    suite: Annotated[str, typer.Option(help="x-small, x-medium, x-large, solomon, gh400, road-small, road-medium "
                                            "or gen-500.")] = "x-small",
    solvers: Annotated[str, typer.Option(help="Comma-separated solvers; pyvrp needs the bench extra.")] = (
        "ga,ortools,pyvrp"),
    time_limits: Annotated[str, typer.Option(help="Comma-separated time limits in seconds.")] = "1,5,30",
    seeds: Annotated[int, typer.Option(help="Seeds per (instance, solver, time limit).")] = 3,
    limits_for: Annotated[str, typer.Option(help="Run some solvers at only some of the limits, e.g. "
                                                 "'policy=1;pyvrp=1,10' (default: every solver at every limit).")] = "",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the records here.")] = None,
) -> None:
    """Every solver on every instance of a suite at equal time limits: objective, gap to best-known
    (or, without one, to the best objective of the run)."""
    from planner.bench.records import write_records
    from planner.bench.vrp import bench_vrp, summarise_vrp
    from solvers.vrp.pyvrp_solver import pyvrp_available

    names = split_list(solvers)
    if "pyvrp" in names and not pyvrp_available():
        err_console.print("PyVRP not installed (pip install 'routeplanner[bench]'): skipping pyvrp")
        names = [n for n in names if n != "pyvrp"]
    limits = [float(t) for t in split_list(time_limits)]
    with console.status("benchmarking vehicle routing…") as status:
        runs, records = bench_vrp(suite, names, limits, seeds, progress=status.update,
                                  limits_for=parse_limits_for(limits_for))
    print_rows(f"bench vrp · {suite}", [
        {"instance": r.instance, "n": r.n, "solver": r.solver, "time_limit": r.time_limit, "seed": r.seed,
         "objective": r.objective, "gap_pct": r.gap_pct, "wall_s": r.wall_s, "feasible": r.feasible}
        for r in runs])
    if json_out is not None:  # first: the records are the run's result
        write_records(json_out, records)
        console.print(f"wrote {len(records)} records to {json_out}")
    print_rows(f"per-solver means · {suite}", summarise_vrp(runs))


def parse_limits_for(text: str) -> dict[str, list[float]]:
    """``"policy=1;pyvrp=1,10"`` -> ``{"policy": [1.0], "pyvrp": [1.0, 10.0]}``."""
    from planner.errors import ValidationError

    result: dict[str, list[float]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep, limits = part.partition("=")
        try:
            values = [float(v) for v in split_list(limits)]
        except ValueError:
            values = []
        if not sep or not name.strip() or not values:
            raise ValidationError("limits_for", f"expected 'solver=limit[,limit…]', got {part!r}")
        result[name.strip()] = values
    return result
