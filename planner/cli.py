"""The ``routeplanner`` command line.

Every command calls the same Python API the server uses; errors raised on purpose
(:class:`planner.errors.PlannerError`) are printed as one clear line and exit with status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from planner.budget import Budget
from planner.commands._output import console, err_console, print_summary, progress_printer
from planner.errors import PlannerError
from planner.registry import ProblemKind, get_solver, list_solvers

app = typer.Typer(
    name="routeplanner",
    help="Route-planning optimisation: vehicle routing, road routing, traffic assignment, fabrics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(help="Data sets: what is available and where it comes from.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
bench_app = typer.Typer(help="Benchmarks: solvers side by side, same run, JSON records (shared/BENCH.md).",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")


#: Solver used by ``routeplanner solve`` when none is named, per problem kind.
DEFAULT_SOLVERS = {
    ProblemKind.CVRP: "savings",
    ProblemKind.VRPTW: "savings",
    ProblemKind.TRAFFIC_ASSIGNMENT: "bfw",
}


def _human_size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@app.command("solvers")
def solvers_command(
    kind: Annotated[str | None, typer.Option(help="Only solvers of this problem kind.")] = None,
) -> None:
    """List the registered solvers."""
    table = Table(title="Registered solvers")
    for column in ("name", "problem kinds", "capabilities", "baseline", "description"):
        table.add_column(column)
    for info in list_solvers(kind):
        table.add_row(
            info.name,
            ", ".join(sorted(k.value for k in info.kinds)),
            ", ".join(sorted(info.capabilities)),
            "yes" if info.baseline else "",
            info.description,
        )
    console.print(table)


@datasets_app.command("list")
def datasets_list() -> None:
    """Show every known data set: files present in the data directory, sizes, download address."""
    from datasets.location import CATALOGUE, DATA_ENV, data_dir

    root = data_dir()
    table = Table(title=f"Data sets in {root}" + ("" if root.is_dir() else f" (missing: set {DATA_ENV})"))
    for column in ("data set", "instances", "size", "description", "download"):
        table.add_column(column, overflow="fold")
    for dataset in CATALOGUE:
        files = dataset.files()
        folder = dataset.path()
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        table.add_row(dataset.name, str(len(files)) if files else "absent",
                      _human_size(size) if size else "-", dataset.description, dataset.url)
    table.add_row("synthetic", "any", "-", "generated CVRP/VRPTW: gen:cvrp:n=100,seed=1 / gen:vrptw:n=200", "-")
    console.print(table)




def _summarise_vrp(loaded: Any, solution: Any, wall_s: float) -> tuple[dict[str, Any], bool]:
    from planner.vrp import check_feasibility

    report = check_feasibility(loaded.problem, solution)
    objective = report.objective
    summary: dict[str, Any] = {
        "instance": loaded.name,
        "clients": loaded.problem.n_clients,
        "routes": len(solution.routes),
        "objective": objective,
        "best_known": loaded.best_known,
        "gap_pct": None if not loaded.best_known else 100.0 * (objective - loaded.best_known) / loaded.best_known,
        "feasible": report.feasible,
        "violations": [str(v) for v in report.violations],
        "wall_s": wall_s,
    }
    return summary, report.feasible


def _summarise_assignment(loaded: Any, result: Any, wall_s: float) -> tuple[dict[str, Any], bool]:
    from planner.assignment import beckmann_objective, flow_conservation_error, relative_gap

    problem = loaded.problem
    flows = result.flows
    conservation = flow_conservation_error(problem, flows)
    summary = {
        "network": loaded.name,
        "links": problem.network.graph.n_edges,
        "beckmann_objective": beckmann_objective(problem.network, flows),
        "total_system_travel_time": result.total_system_travel_time,
        "relative_gap": relative_gap(problem, flows),
        "flow_conservation_error": conservation,
        "iterations": result.iterations,
        "wall_s": wall_s,
    }
    return summary, conservation <= 1e-6 * max(1.0, float(problem.demand.total))


def _write_solution(loaded: Any, solution: Any, out: Path) -> None:
    if loaded.kind in (ProblemKind.CVRP, ProblemKind.VRPTW):
        from datasets.vrplib import write_solution

        write_solution(out, solution)
    elif loaded.kind == ProblemKind.TRAFFIC_ASSIGNMENT:
        from datasets.tntp import write_tntp_flows

        write_tntp_flows(out, loaded.problem, solution)


@app.command("solve")
def solve_command(
    instance: Annotated[str, typer.Argument(
        help="Instance file (.vrp, Solomon VRPLIB), TNTP folder, data-set name, or gen:cvrp:n=100,seed=1.",
    )] = "gen:cvrp:n=100,seed=1",
    solver: Annotated[str | None, typer.Option(help="Solver name (see `routeplanner solvers`).")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Seconds.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write the solution here (.sol / TNTP flow file).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Solve one instance, validate the result independently, and print a summary."""
    from datasets.detect import load_problem

    with console.status(f"loading {instance}…"):
        loaded = load_problem(instance)
    name = solver or DEFAULT_SOLVERS.get(loaded.kind)
    if name is None:
        raise PlannerError(f"no default solver for {loaded.kind.value}: pass --solver")
    info = get_solver(name, loaded.kind)
    with console.status(f"solving {loaded.name} with {info.name}…") as status:
        budget = Budget(time_limit=time_limit, seed=seed, progress=progress_printer(status))
        clock = budget.start()
        solution = info.solve(loaded.problem, budget)
        wall_s = clock.elapsed()
    if loaded.kind in (ProblemKind.CVRP, ProblemKind.VRPTW):
        summary, ok = _summarise_vrp(loaded, solution, wall_s)
    else:
        summary, ok = _summarise_assignment(loaded, solution, wall_s)
    summary = {"solver": info.name, "kind": loaded.kind.value, **summary}
    if out is not None:
        _write_solution(loaded, solution, out)
        summary["written_to"] = str(out)
    print_summary(f"{loaded.name} · {info.name}", summary, as_json)
    if not ok:
        raise typer.Exit(code=1)










def _register_command_modules() -> None:
    from planner.commands import register_all

    register_all(app, bench_app)


_register_command_modules()


def main() -> None:
    """Entry point of the ``routeplanner`` console script."""
    try:
        app()
    except PlannerError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
