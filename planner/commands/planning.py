"""Commands of the sampling planners: ``routeplanner plan`` and ``routeplanner bench planners``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from planner.budget import Budget
from planner.commands._output import (
    console,
    err_console,
    print_rows,
    print_summary,
    progress_printer,
    split_list,
)
from planner.registry import ProblemKind, get_solver


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``plan`` and ``bench planners``."""
    app.command("plan")(plan_command)
    bench_app.command("planners")(bench_planners_command)


def plan_command(
    world: Annotated[str, typer.Argument(help="World JSON file, or a built-in world: maze, one-wall, boxes3d-50.")],
    planner: Annotated[str, typer.Option(help="Planner: rrt*, informed-rrt*, fmt*, fmtx.")] = "informed-rrt*",
    time: Annotated[float, typer.Option("--time", help="Seconds.")] = 0.5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    svg: Annotated[Path | None, typer.Option(help="Draw obstacles, tree and path (.svg or .png).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Plan a collision-free path in a continuous world and check it exactly."""
    from planner.bench.planners import WORLDS
    from planner.workspace import check_path, read_world

    problem = WORLDS[world]() if world in WORLDS else read_world(world)
    info = get_solver(planner, ProblemKind.MOTION_PLANNING)
    with console.status(f"planning with {info.name}…") as status:
        path = info.solve(problem, Budget(time_limit=time, seed=seed, progress=progress_printer(status)))
    violations = check_path(problem, path)
    summary: dict[str, Any] = {
        "world": problem.workspace.name or world, "planner": info.name, "cost": path.cost,
        "waypoints": len(path.waypoints), "collision_free": not violations, "runtime_s": path.runtime_s,
    }
    if svg is not None:
        from planner.draw import draw_world

        draw_world(svg, problem.workspace, [(path, "#1f77b4", info.name)], tree=path.tree,
                   title=f"{summary['world']} · {info.name} · cost {path.cost:.2f}")
        summary["picture"] = str(svg)
    if as_json:
        summary["path"] = path.waypoints.tolist()
    print_summary(f"{summary['world']} · {info.name}", summary, as_json)
    if violations:
        raise typer.Exit(code=1)


def bench_planners_command(
    worlds: Annotated[str, typer.Option(help="Comma-separated worlds.")] = "maze,one-wall",
    planners: Annotated[str, typer.Option(help="Comma-separated planners; ompl-* need the bench extra.")] = (
        "rrt*,informed-rrt*,fmt*,ompl-informed-rrt*,ompl-bit*,ompl-fmt*"),
    budgets: Annotated[str, typer.Option(help="Comma-separated time limits in seconds.")] = "0.1,0.5,2",
    seeds: Annotated[int, typer.Option(help="Seeds per (world, planner, budget).")] = 10,
    replanning_events: Annotated[int, typer.Option(help="FMT^x events (0 to skip).")] = 20,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the records here.")] = None,
) -> None:
    """Our planners against OMPL's at equal time, and FMT^x repairs against full replans."""
    from planner.bench.planners import bench_first_solution, bench_planners, bench_replanning, summarise_planners
    from planner.bench.records import write_records
    from solvers.sampling.ompl_baseline import ompl_available

    names = split_list(planners)
    if not ompl_available():
        skipped = [n for n in names if n.startswith("ompl-")]
        if skipped:
            err_console.print(f"OMPL not installed (pip install 'routeplanner[bench]'): skipping {', '.join(skipped)}")
        names = [n for n in names if not n.startswith("ompl-")]
    with console.status("benchmarking planners…") as status:
        records = bench_planners(split_list(worlds), names, [float(b) for b in split_list(budgets)], seeds,
                                 progress=status.update)
        status.update("benchmarking time to a first solution in 3D…")
        first = bench_first_solution(seeds=seeds)
        records += first
        if replanning_events:
            status.update("benchmarking FMT^x repairs…")
            records += bench_replanning(events=replanning_events)
    print_rows("Median cost ÷ optimum", summarise_planners([r for r in records if r.family == "planners"]))
    rows = []
    for planner in sorted({r.solver for r in first}):
        times = [r.metrics["wall_s"] for r in first if r.solver == planner]
        rows.append({"world": first[0].suite, "planner": planner, "runs": len(times),
                     "first_solution_ms_p50": 1e3 * float(np.median(times)),
                     "first_solution_ms_max": 1e3 * float(np.max(times)),
                     "collision_free": f"{sum(bool(r.metrics['collision_free']) for r in first if r.solver == planner)}"
                                       f"/{len(times)}"})
    print_rows("Time to a first solution", rows)
    repairs = [r for r in records if r.family == "replanning"]
    if repairs:
        rows = []
        for event in ("add", "remove"):
            rs = [r.metrics for r in repairs if r.metrics["event"] == event]
            ratios = np.array([m["time_ratio"] for m in rs])
            core = np.array([m["time_ratio_core"] for m in rs])
            costs = np.array([m["cost_ratio_vs_replan"] for m in rs])
            rows.append({"event": event, "events": len(rs),
                         "repair_ms_p50": 1e3 * float(np.median([m["repair_s"] for m in rs])),
                         "replan_ms_p50": 1e3 * float(np.median([m["replan_s"] for m in rs])),
                         "time_ratio_p50": float(np.median(ratios)), "time_ratio_max": float(ratios.max()),
                         "core_ratio_p50": float(np.median(core)),
                         "cost_ratio_min": float(costs.min()), "cost_ratio_max": float(costs.max()),
                         "collision_free": f"{sum(bool(m['collision_free']) for m in rs)}/{len(rs)}"})
        print_rows("FMT^x repair vs full FMT* replan (same samples)", rows)
    if json_out is not None:
        write_records(json_out, records)
        console.print(f"wrote {len(records)} records to {json_out}")


