"""One unit of batch work: solve one instance with one solver under one budget, in any process.

:func:`solve_task` is what every executor runs (a local worker process or a Ray task). It never
raises: a failure becomes a result with ``status = "error"`` and the error message, so one bad
instance never stops a batch.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any

#: Version of the result-file layout; a result of another version is not reused on resume.
RESULT_FORMAT = 1
#: Most progress points kept per result (evenly thinned, last one always kept).
MAX_PROGRESS_POINTS = 200
#: Problem kinds a batch solves.
VRP_KINDS = ("cvrp", "vrptw")


@dataclass(frozen=True)
class BatchTask:
    """What to solve and how.

    Parameters
    ----------
    source
        Instance file, data-set name, ``gen:`` or ``road:`` spec (anything
        :func:`datasets.detect.load_problem` reads).
    suite
        Suite the instance belongs to (the suite name, the folder of a file, ``gen`` or ``road``).
    solver
        Registered solver name.
    seed
        Seed of the solver.
    time_limit
        Seconds per instance, or ``None``.
    max_iterations
        Iteration limit in the solver's unit, or ``None``. With an iteration limit and no time
        limit a seeded solver gives the same result in every process and on every machine.
    """

    source: str
    suite: str
    solver: str
    seed: int = 0
    time_limit: float | None = None
    max_iterations: int | None = None

    def key(self) -> dict[str, Any]:
        """The task's identity as plain JSON values (stored in its result file)."""
        return asdict(self)

    def digest(self) -> str:
        """Short hash of :meth:`key`, part of the result file name."""
        return hashlib.sha256(json.dumps(self.key(), sort_keys=True).encode()).hexdigest()[:10]

    def label(self) -> str:
        """A file-name-safe label of the source (file stem or spec)."""
        text = self.source.rstrip("/").rsplit("/", 1)[-1]
        for suffix in (".vrp", ".txt", ".json"):
            if text.endswith(suffix):
                text = text[: -len(suffix)]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
        return safe[:80] or "instance"

    def file_name(self) -> str:
        """Name of the task's result file."""
        return f"{self.label()}--{self.solver}-s{self.seed}-{self.digest()}.json"


def _thin(points: list[list[float]]) -> list[list[float]]:
    if len(points) <= MAX_PROGRESS_POINTS:
        return points
    step = len(points) / (MAX_PROGRESS_POINTS - 1)
    kept = [points[int(k * step)] for k in range(MAX_PROGRESS_POINTS - 1)]
    return [*kept, points[-1]]


def error_result(task: BatchTask, error: str, wall_s: float = 0.0, detail: str | None = None) -> dict[str, Any]:
    """The result recorded for a task that failed."""
    return {
        "format": RESULT_FORMAT, "task": task.key(), "status": "error", "instance": task.label(),
        "suite": task.suite, "solver": task.solver, "seed": task.seed, "time_limit": task.time_limit,
        "max_iterations": task.max_iterations, "error": error, "traceback": detail, "wall_s": wall_s,
        "objective": None, "gap_pct": None, "feasible": False,
    }


def solve_task(task: BatchTask) -> dict[str, Any]:
    """Load, solve, check independently; never raises.

    Returns
    -------
    dict
        The result as plain JSON values: ``task`` (its key), ``status`` (``"ok"`` or
        ``"error"``), ``instance``, ``suite``, ``solver``, ``seed``, ``n_clients``, ``kind``,
        ``objective`` (recomputed by :func:`planner.vrp.check_feasibility`), ``best_known``,
        ``gap_pct``, ``feasible``, ``violations``, ``routes`` (client indices per route),
        ``wall_s`` (around the solver call), ``load_s``, ``iterations``, ``progress``
        (``[elapsed_s, objective]`` per improvement), ``coords`` when the instance has them, and
        ``error`` for a failure.
    """
    from planner.errors import PlannerError

    started = time.perf_counter()
    try:
        return _solve(task)
    except PlannerError as exc:
        return error_result(task, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
    except Exception as exc:  # a batch records every failure and goes on
        return error_result(task, f"{type(exc).__name__}: {exc}", time.perf_counter() - started,
                            traceback.format_exc(limit=8))


def _solve(task: BatchTask) -> dict[str, Any]:
    from datasets.detect import load_problem
    from planner.budget import Budget, ProgressEvent
    from planner.errors import ValidationError
    from planner.registry import get_solver
    from planner.vrp import check_feasibility

    t0 = time.perf_counter()
    loaded = load_problem(task.source)
    load_s = time.perf_counter() - t0
    if loaded.kind.value not in VRP_KINDS:
        raise ValidationError("instance", f"{loaded.name} is a {loaded.kind.value} problem; batch solves "
                                          f"vehicle-routing instances ({', '.join(VRP_KINDS)})")
    info = get_solver(task.solver, loaded.kind)
    events: list[list[float]] = []

    def on_progress(event: ProgressEvent) -> None:
        if event.objective is not None:
            events.append([float(event.elapsed_s), float(event.objective)])

    budget = Budget(time_limit=task.time_limit, max_iterations=task.max_iterations, seed=task.seed,
                    progress=on_progress)
    t1 = time.perf_counter()
    solution = info.solve(loaded.problem, budget)
    wall_s = time.perf_counter() - t1
    instance = loaded.problem
    report = check_feasibility(instance, solution)
    objective = float(report.objective)
    bks = loaded.best_known
    result: dict[str, Any] = {
        "format": RESULT_FORMAT, "task": task.key(), "status": "ok", "instance": loaded.name,
        "source": loaded.source, "suite": task.suite, "solver": info.name, "baseline": info.baseline,
        "seed": task.seed, "time_limit": task.time_limit, "max_iterations": task.max_iterations,
        "kind": loaded.kind.value, "n_clients": instance.n_clients, "objective": objective,
        "best_known": bks, "gap_pct": None if not bks else 100.0 * (objective - bks) / bks,
        "feasible": report.feasible, "violations": [str(v) for v in report.violations][:50],
        "n_routes": solution.n_routes, "routes": [r.tolist() for r in solution.routes if r.size],
        "wall_s": wall_s, "load_s": load_s, "iterations": solution.iterations,
        "progress": _thin(events), "error": None,
    }
    if instance.coords is not None:
        result["coords"] = [[round(float(x), 6), round(float(y), 6)] for x, y in instance.coords]
    return result
