"""``routeplanner bench vrp``: our GA against OR-Tools and PyVRP at equal wall time.

Suites (fixed in code, chosen by rule, never by results):

- ``x-small``: 10 X instances (Uchoa et al. 2017) with 100–200 clients, ``x-medium``: 6 with
  300–500, ``x-large``: 3 with at least 800. The X instances of the size range, sorted by
  (clients, name), are taken at evenly spaced ranks (``round(linspace(0, count - 1, k))``), so
  smallest and largest are always in.
- ``solomon``: the first instance of each class, C101 C201 R101 R201 RC101 RC201.
- ``gh400``: the first instance of the three type-1 classes of Gehring-Homberger 400,
  C1_4_1 R1_4_1 RC1_4_1.
- ``road-small``, ``road-medium``: asymmetric VRPTW instances on real road networks
  (:mod:`datasets.generators.road_vrp`).
- ``gen-500``: 20 generated X-like CVRP instances with 500 clients
  (:func:`datasets.generators.vrp.generate_cvrp`), 10 with uniform and 10 with clustered
  clients, seeds 5001-5020 (outside every training and validation seed of the learned policy).

Gaps are to the best-known values of ``vrp/bks.csv`` where an instance has one; the road and
generated instances have none, and their gaps are to the best feasible objective of the same
bench run (every solver, time limit and seed; ``gap_reference`` in the records says which).

Wall time is measured around the solver
call, after a warm-up that compiles the GA's kernels (compilation is a one-off per machine, cached
by numba).
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from datasets.detect import load_problem
from datasets.generators.road_vrp import ROAD_SUITES
from datasets.location import data_dir, data_path
from datasets.vrplib import best_known
from planner.bench.records import BenchRecord
from planner.budget import Budget
from planner.errors import NotFoundError, PlannerError, ValidationError
from planner.registry import get_solver
from planner.vrp import VrpInstance, check_feasibility

#: Suite name -> (data folder, how to choose the instances).
GENERATED_SUITES: dict[str, tuple[str, ...]] = {
    "gen-500": tuple(f"gen:cvrp:n=500,seed={seed},distribution={distribution}"
                     for distribution, first in (("uniform", 5001), ("clustered", 5011))
                     for seed in range(first, first + 10)),
}
SUITES = ("x-small", "x-medium", "x-large", "solomon", "gh400", *ROAD_SUITES, *GENERATED_SUITES)
_X_RANGES = {"x-small": (100, 200, 10), "x-medium": (300, 500, 6), "x-large": (800, 10**9, 3)}
_SOLOMON = ("C101", "C201", "R101", "R201", "RC101", "RC201")
_GH400 = ("C1_4_1", "R1_4_1", "RC1_4_1")


def suite_instances(suite: str) -> list[tuple[str, str]]:
    """The ``(name, path)`` of every instance of ``suite`` (see the module notes).

    Raises
    ------
    NotFoundError
        For an unknown suite.
    DataNotFoundError
        When the data folder is missing.
    """
    if suite in _X_RANGES:
        low, high, count = _X_RANGES[suite]
        folder = data_path("vrp", "cvrp", "X")
        sizes = {}
        with (data_dir() / "vrp" / "bks.csv").open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row["instance"].startswith("X-n"):
                    sizes[row["instance"]] = int(row["n_customers"])
        names = sorted((n, name) for name, n in sizes.items()
                       if low <= n <= high and (folder / f"{name}.vrp").is_file())
        ranks = sorted({round(float(x)) for x in np.linspace(0, len(names) - 1, min(count, len(names)))})
        return [(names[k][1], str(folder / f"{names[k][1]}.vrp")) for k in ranks]
    if suite in ROAD_SUITES:
        return [(spec, spec) for spec in ROAD_SUITES[suite]]
    if suite in GENERATED_SUITES:
        return [(spec, spec) for spec in GENERATED_SUITES[suite]]
    if suite == "solomon":
        folder = data_path("vrp", "vrptw", "Solomon")
        return [(name, str(folder / f"{name}.vrp")) for name in _SOLOMON]
    if suite == "gh400":
        folder = data_path("vrp", "vrptw", "GH400")
        return [(name, str(folder / f"{name}.vrp")) for name in _GH400]
    raise NotFoundError("suite", f"unknown suite {suite!r} (known: {', '.join(SUITES)})")


@dataclass(frozen=True)
class VrpRun:
    """One solver run on one instance."""

    instance: str
    n: int
    solver: str
    time_limit: float
    seed: int
    objective: float | None
    gap_pct: float | None
    wall_s: float
    feasible: bool
    baseline: bool
    error: str | None = None


def run_one(instance: VrpInstance, solver: str, time_limit: float, seed: int, bks: float | None = None) -> VrpRun:
    """Solve once, time the call, check the solution independently; the gap is to ``bks`` (none
    without it)."""
    info = get_solver(solver)
    start = time.perf_counter()
    try:
        solution = info.solve(instance, Budget(time_limit=time_limit, seed=seed))
    except PlannerError as exc:
        wall = time.perf_counter() - start
        return VrpRun(instance.name, instance.n_clients, solver, time_limit, seed, None, None, wall, False,
                      info.baseline, error=str(exc))
    wall = time.perf_counter() - start
    report = check_feasibility(instance, solution)
    objective = report.objective
    gap = None if bks is None else 100.0 * (objective - bks) / bks
    return VrpRun(instance.name, instance.n_clients, solver, time_limit, seed, objective, gap, wall,
                  report.feasible, info.baseline)


def bench_vrp(suite: str, solvers: Sequence[str], time_limits: Sequence[float], seeds: int,
              progress: Callable[[str], None] | None = None,
              limits_for: Mapping[str, Sequence[float]] | None = None) -> tuple[list[VrpRun], list[BenchRecord]]:
    """Every solver on every instance of ``suite`` at every time limit and seed (1..seeds).

    Parameters
    ----------
    limits_for
        Optional solver -> the time limits it runs at (a subset of ``time_limits``), e.g. a
        construction heuristic whose result does not depend on the limit; by default every
        solver runs at every limit.
    """
    from solvers.vrp.ga import warm_up

    limits_for = dict(limits_for or {})
    for name in solvers:
        get_solver(name)
    for name, limits in limits_for.items():
        if name not in solvers:
            raise ValidationError("limits_for", f"{name!r} is not one of the solvers ({', '.join(solvers)})")
        if not set(limits) <= set(time_limits):
            raise ValidationError("limits_for", f"{name}: limits {sorted(limits)} not all in {sorted(time_limits)}")
    warm_up()
    if {"policy", "earli"} & set(solvers):
        from solvers.vrp.policy import warm_up as warm_up_policy

        warm_up_policy()  # torch and the checkpoint load before any clock starts
    runs: list[VrpRun] = []
    records: list[BenchRecord] = []
    for name, path in suite_instances(suite):
        instance = load_problem(path).problem  # a file (read_instance) or a generator/road spec
        bks = best_known(instance.name)
        instance_runs = []
        for limit in time_limits:
            for seed in range(1, seeds + 1):
                for solver in solvers:
                    if solver in limits_for and limit not in limits_for[solver]:
                        continue
                    if progress is not None:
                        progress(f"{name} · {solver} · {limit:g} s · seed {seed}")
                    instance_runs.append(run_one(instance, solver, limit, seed, bks))
        reference = "bks"
        if bks is None:
            instance_runs, reference = with_best_in_run_gaps(instance_runs), "best-in-run"
        for run in instance_runs:
            metrics = {"objective": run.objective, "gap_pct": run.gap_pct, "gap_reference": reference,
                       "wall_s": run.wall_s, "feasible": run.feasible, "n": run.n}
            if run.error:
                metrics["error"] = run.error
            records.append(BenchRecord(family="vrp", suite=suite, instance=name, solver=run.solver, seed=run.seed,
                                       budget_s=run.time_limit, baseline=run.baseline, metrics=metrics))
        runs.extend(instance_runs)
    return runs, records


def with_best_in_run_gaps(runs: Sequence[VrpRun]) -> list[VrpRun]:
    """``runs`` of one instance with gaps to their best feasible objective (none without any)."""
    feasible = [r.objective for r in runs if r.feasible and r.objective is not None]
    if not feasible:
        return list(runs)
    best = min(feasible)
    return [replace(r, gap_pct=None if r.objective is None or not r.feasible else 100.0 * (r.objective - best) / best)
            for r in runs]


def summarise_vrp(runs: Sequence[VrpRun]) -> list[dict[str, object]]:
    """Per (solver, time limit): mean gap, mean and max wall time over the limit, feasible share."""
    rows = []
    for solver in dict.fromkeys(r.solver for r in runs):
        for limit in sorted({r.time_limit for r in runs}):
            group = [r for r in runs if r.solver == solver and r.time_limit == limit]
            if not group:  # the solver did not run at this limit (``limits_for``)
                continue
            gaps = [r.gap_pct for r in group if r.gap_pct is not None and r.feasible]
            rows.append({
                "solver": solver, "time_limit": limit, "runs": len(group),
                "mean_gap_pct": statistics.fmean(gaps) if len(gaps) == len(group) and gaps else None,
                "mean_gap_feasible_runs": statistics.fmean(gaps) if gaps else None,
                "mean_wall_s": statistics.fmean(r.wall_s for r in group),
                "max_wall_over_limit_pct": max(100.0 * (r.wall_s / r.time_limit - 1.0) for r in group),
                "feasible": f"{sum(r.feasible for r in group)}/{len(group)}",
            })
    return rows
