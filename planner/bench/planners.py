"""``routeplanner bench planners``: our sampling planners against OMPL's, and FMT^x repairs
against full FMT* replans, in one run on this machine."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from datasets.generators.worlds import maze_world, one_wall_world, random_boxes_world
from planner.bench.records import BenchRecord
from planner.budget import Budget
from planner.errors import PlannerError
from planner.registry import get_solver
from planner.workspace import Box, PlanningProblem, check_path

WORLDS: dict[str, Callable[[], PlanningProblem]] = {
    "maze": maze_world,
    "one-wall": one_wall_world,
    "boxes3d-50": lambda: random_boxes_world(50, dim=3, seed=0),
}


@dataclass(frozen=True)
class PlannerRun:
    """One planner run on one world."""

    world: str
    planner: str
    seed: int
    budget_s: float
    cost: float
    wall_s: float
    collision_free: bool
    baseline: bool


def _optimum(problem: PlanningProblem) -> float | None:
    from solvers.sampling.visibility import visibility_graph_optimum

    try:
        return visibility_graph_optimum(problem).cost
    except PlannerError:
        return None


def _warm_up(planners: Iterable[str]) -> None:
    """Compile the numba kernels once, so no run pays for compilation."""
    problem = one_wall_world()
    for name in planners:
        if not name.startswith("ompl-"):
            # two iterations rarely reach the goal: only the compilation matters here
            with contextlib.suppress(PlannerError):
                get_solver(name, "motion-planning").solve(problem, Budget(max_iterations=2, seed=0))


def bench_planners(
    worlds: Sequence[str], planners: Sequence[str], budgets: Sequence[float], seeds: int,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRecord]:
    """Every planner on every world at every budget and seed; records of family ``planners``."""
    from solvers.sampling.ompl_baseline import plan_ompl

    _warm_up(planners)
    records = []
    for world_name in worlds:
        problem = WORLDS[world_name]()
        optimum = _optimum(problem)
        for planner in planners:
            for budget_s in budgets:
                for seed in range(seeds):
                    budget = Budget(time_limit=budget_s, seed=seed)
                    started = time.perf_counter()
                    try:
                        if planner.startswith("ompl-"):
                            path = plan_ompl(problem, budget, planner)
                        else:
                            path = get_solver(planner, "motion-planning").solve(problem, budget)
                        cost = path.cost
                        free = not check_path(problem, path)
                    except PlannerError:
                        cost, free = float("inf"), False
                    wall = time.perf_counter() - started
                    records.append(BenchRecord(
                        family="planners", suite=world_name, instance=problem.workspace.name, solver=planner,
                        seed=seed, budget_s=budget_s, baseline=planner.startswith("ompl-"),
                        metrics={"cost": cost, "cost_ratio": None if optimum is None else cost / optimum,
                                 "wall_s": wall, "collision_free": free, "optimum": optimum},
                    ))
                    if progress:
                        progress(f"{world_name} {planner} {budget_s:g}s seed {seed}: {cost:.2f}")
    return records


def bench_first_solution(world: str = "boxes3d-50", planners: Sequence[str] = ("informed-rrt*", "fmt*"),
                         seeds: int = 10, limit_s: float = 5.0) -> list[BenchRecord]:
    """Time to the first solution (stop condition ``first_solution``), records of family
    ``planners`` with ``budget_s`` the cap given to each run."""
    from solvers.sampling.fmt_star import FmtParams, plan_fmt_star
    from solvers.sampling.rrt_star import RrtStarParams, plan_rrt_star
    from solvers.sampling.stop import StopCondition

    first = StopCondition(first_solution=True)
    runners = {
        "rrt*": lambda p, b: plan_rrt_star(p, b, RrtStarParams(informed=False, stop=first)),
        "informed-rrt*": lambda p, b: plan_rrt_star(p, b, RrtStarParams(stop=first)),
        "fmt*": lambda p, b: plan_fmt_star(p, b, FmtParams(simplify=False, stop=first)),
    }
    problem = WORLDS[world]()
    records = []
    for planner in planners:
        with contextlib.suppress(PlannerError):
            runners[planner](problem, Budget(max_iterations=2, seed=0))  # compile first
        for seed in range(seeds):
            started = time.perf_counter()
            try:
                path = runners[planner](problem, Budget(time_limit=limit_s, seed=seed))
                cost, free = path.cost, not check_path(problem, path)
            except PlannerError:
                cost, free = float("inf"), False
            records.append(BenchRecord(
                family="planners", suite=f"{world}-first-solution", instance=problem.workspace.name,
                solver=planner, seed=seed, budget_s=limit_s, baseline=False,
                metrics={"cost": cost, "cost_ratio": None, "wall_s": time.perf_counter() - started,
                         "collision_free": free},
            ))
    return records


def bench_replanning(world: str = "one-wall", events: int = 20, n_samples: int = 10_000, seed: int = 0,
                     obstacle_size: float = 6.0) -> list[BenchRecord]:
    """FMT^x repair versus a full FMT* replan over the same samples, for ``events`` obstacle
    additions across the current path, each followed by its removal.

    ``replan_s`` times FMT* from scratch over the same samples (sample classification,
    neighbourhood search, expansion); ``replan_core_s`` times only the expansion over the
    session's cached neighbour graph, the strictest baseline."""
    from solvers.sampling.fmtx import ReplanningSession

    problem = WORLDS[world]()
    session = ReplanningSession(problem, n_samples=n_samples, seed=seed)
    session.plan()
    session.full_replan()  # compiled before timing
    rng = np.random.default_rng(seed)
    records: list[BenchRecord] = []
    done = 0
    attempts = 0
    while done < events and attempts < 50 * events:
        attempts += 1
        waypoints = session.path().waypoints
        k = int(rng.integers(1, len(waypoints) - 1))
        centre = 0.5 * (waypoints[k] + waypoints[k - 1])
        half = obstacle_size / 2
        box = Box(centre - half, centre + half)
        if box.contains(problem.start)[0] or box.contains(problem.goal)[0]:
            continue
        for change in ("add", "remove"):
            if change == "add":
                report = session.update_obstacles(added=[box])
            else:
                report = session.update_obstacles(removed=[len(session.workspace.obstacles) - 1])
            started = time.perf_counter()
            full = session.full_replan(reuse_neighbours=False)
            replan_s = time.perf_counter() - started
            started = time.perf_counter()
            session.full_replan(reuse_neighbours=True)
            replan_core_s = time.perf_counter() - started
            current = PlanningProblem(session.workspace, problem.start, problem.goal)
            records.append(BenchRecord(
                family="replanning", suite=world, instance=f"{problem.workspace.name}-{change}-{done}",
                solver="fmtx", seed=seed, budget_s=None, baseline=False,
                metrics={"repair_s": report.repair_s, "replan_s": replan_s,
                         "time_ratio": report.repair_s / replan_s,
                         "replan_core_s": replan_core_s, "time_ratio_core": report.repair_s / replan_core_s,
                         "cost_ratio_vs_replan": report.path.cost / full.cost,
                         "collision_free": not check_path(current, report.path),
                         "affected_nodes": report.affected, "event": change, "samples": n_samples},
            ))
        done += 1
    return records


def summarise_planners(records: Sequence[BenchRecord]) -> list[dict[str, object]]:
    """Median cost ratio (and share of collision-free runs) per world, planner and budget."""
    groups: dict[tuple[str, str, float], list[BenchRecord]] = {}
    for r in records:
        groups.setdefault((r.suite, r.solver, r.budget_s or 0.0), []).append(r)
    rows = []
    for (world, planner, budget_s), rs in sorted(groups.items()):
        ratios = [r.metrics["cost_ratio"] for r in rs if r.metrics["cost_ratio"] is not None]
        finite = [x for x in ratios if np.isfinite(x)]
        rows.append({
            "world": world, "planner": planner, "budget_s": budget_s,
            "median_cost_ratio": statistics.median(ratios) if ratios else None,
            "solved": f"{len(finite)}/{len(rs)}",
            "collision_free": f"{sum(bool(r.metrics['collision_free']) for r in rs)}/{len(rs)}",
            "median_wall_s": statistics.median(r.metrics["wall_s"] for r in rs),
        })
    return rows
