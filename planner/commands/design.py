"""Commands of network design: ``routeplanner design`` and ``routeplanner bench design``.

``routeplanner train design-surrogate`` (in :mod:`planner.commands.train`) trains the surrogate
the ``surrogate`` method uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from planner.budget import Budget
from planner.commands._output import console, err_console, format_value, print_summary, progress_printer, split_list
from planner.registry import ProblemKind, get_solver

METHODS = {"exact": "design-ga-exact", "surrogate": "design-ga-surrogate"}


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``design`` and ``bench design``."""
    app.command("design")(design_command)
    bench_app.command("design")(bench_design_command)


def _link(network: Any, row: int) -> str:
    e = int(network.edge_of_link[row])
    return f"{row} ({network.tail_ids[e]}->{network.head_ids[e]})"


def design_command(
    network: Annotated[str, typer.Argument(help="TNTP network name or folder (SiouxFalls, Eastern-Massachusetts).")],
    budget: Annotated[float | None, typer.Option(help="Budget in cost units (lane cost = length x "
                                                      "--cost-per-length); default: --budget-share.")] = None,
    budget_share: Annotated[float, typer.Option(help="Budget as a share of the cost of a lane on every "
                                                     "link.")] = 0.1,
    cost_per_length: Annotated[float, typer.Option(help="Cost of one extra lane per unit of length.")] = 1.0,
    reversal: Annotated[bool, typer.Option(help="Allow lane reversal on two-way links.")] = True,
    method: Annotated[str, typer.Option(help="exact (assignment fitness) or surrogate (GNN fitness, best "
                                             "designs re-solved exactly).")] = "surrogate",
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Seconds for the GA.")] = None,
    generations: Annotated[int, typer.Option(help="GA generation limit.")] = 200,
    population: Annotated[int, typer.Option(help="GA population size.")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    checkpoint: Annotated[Path | None, typer.Option(help="Surrogate checkpoint (default: the shipped one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Choose links for an extra lane (within the budget) and lanes to reverse, minimising the total
    system travel time at user equilibrium; print the design and TSTT before and after."""
    import torch

    from datasets.tntp import read_assignment_problem
    from planner.errors import ValidationError
    from solvers.design.ga import GaParams
    from solvers.design.problem import NetworkDesignProblem
    from solvers.design.solver import DesignParams

    if method not in METHODS:
        raise ValidationError("method", f"unknown {method!r} (known: {', '.join(METHODS)})")
    torch.set_num_threads(1)
    problem = NetworkDesignProblem.from_assignment(
        read_assignment_problem(network), budget=budget, budget_share=budget_share,
        cost_per_lane_length=cost_per_length, reversal=reversal)
    info = get_solver(METHODS[method], ProblemKind.NETWORK_DESIGN)
    params = DesignParams(ga=GaParams(population_size=population, generations=generations), checkpoint=checkpoint)
    printer = err_console if as_json else console
    with printer.status(f"designing with {info.name}…") as status:
        solution = info.solve(problem, Budget(time_limit=time_limit, seed=seed, progress=progress_printer(status)),
                              params)
    net = problem.assignment.network
    summary: dict[str, Any] = {
        "network": net.name or network, "method": method, "solver": info.name, "budget": problem.budget,
        "cost": solution.design.cost, "tstt_before": solution.base_tstt, "tstt_after": solution.tstt,
        "improvement_pct": solution.improvement_pct, "predicted_tstt": solution.predicted_tstt,
        "relative_gap": solution.evaluation.relative_gap, "generations": solution.generations,
        "exact_solves": solution.exact_solves, "seconds": solution.elapsed_s, "stopped_by": solution.stopped_by,
    }
    if as_json:
        summary["added_lanes"] = list(solution.design.added_lanes)
        summary["reversals"] = [list(r) for r in solution.design.reversals]
    else:
        summary["added_lanes"] = [_link(net, r) for r in solution.design.added_lanes]
        summary["reversals"] = [f"{_link(net, a)} -> {_link(net, b)}" for a, b in solution.design.reversals]
    print_summary(f"{summary['network']} · network design · {info.name}", summary, as_json)


def bench_design_command(
    networks: Annotated[str, typer.Option(help="Comma-separated TNTP networks.")] = "SiouxFalls,Eastern-Massachusetts",
    budget_share: Annotated[float, typer.Option(help="Budget as a share of the cost of a lane on every "
                                                     "link.")] = 0.1,
    generations: Annotated[int, typer.Option(help="GA generation limit (both GAs).")] = 200,
    stall: Annotated[int, typer.Option(help="Stop after this many generations without improvement.")] = 40,
    population: Annotated[int, typer.Option(help="GA population size (both GAs).")] = 40,
    reevaluate: Annotated[int, typer.Option(help="Best surrogate designs re-solved exactly.")] = 10,
    seed: Annotated[int, typer.Option(help="GA seed.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the records here.")] = None,
) -> None:
    """Exact-fitness GA vs surrogate GA (same run): exact TSTT, time, gap and time ratio."""
    import torch

    from planner.bench.design import DesignMeasurement, run_bench
    from planner.bench.records import write_records

    torch.set_num_threads(1)

    def show(m: DesignMeasurement) -> None:
        err_console.print(f"{m.network:22s} {m.solver:20s} TSTT {m.tstt:,.1f} ({m.improvement_pct:+.2f} %) "
                          f"{m.wall_s:8.2f} s, {m.generations} generations ({m.stopped_by})")

    measurements = run_bench(split_list(networks), budget_share=budget_share, generations=generations,
                             stall_generations=stall, population=population, reevaluate=reevaluate, seed=seed,
                             on_measurement=show)
    table = Table(title="network design: exact GA vs surrogate GA (targets: gap <= 1.5 %, time ratio <= 0.10); "
                        "TSTT of the chosen design by exact assignment")
    for column in ("network", "solver", "base TSTT", "TSTT", "impr. %", "wall s", "gens", "stop", "UE solves",
                   "gap to exact %", "time ratio", "held-out TSTT MAPE %", "flow WAPE %"):
        table.add_column(column)
    for m in measurements:
        s = m.surrogate or {}
        table.add_row(m.network, m.solver, f"{m.base_tstt:,.1f}", f"{m.tstt:,.1f}", f"{m.improvement_pct:.2f}",
                      f"{m.wall_s:.2f}", str(m.generations), m.stopped_by, str(m.exact_solves),
                      f"{m.gap_to_exact_pct:+.2f}", f"{m.time_ratio:.3f}", format_value(s.get("tstt_mape_pct")),
                      format_value(s.get("flow_wape_pct")))
    (console if console.is_terminal else Console(width=220)).print(table)
    if json_out is not None:
        write_records(json_out, [m.record(budget_share) for m in measurements])
        console.print(f"wrote {len(measurements)} records to {json_out}")
