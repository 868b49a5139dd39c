"""Batch solving: many instances, one solver, result files that make a batch resumable.

Layout of the output folder::

    OUT/results/<instance>--<solver>-s<seed>-<hash>.json   one result per task (see solve_task)
    OUT/summary.json                                       BENCH.md records (family "vrp")
    OUT/summary.csv                                        one row per task

A result file is written atomically (temporary file, then rename) as soon as its task finishes,
so a batch killed at any moment leaves only complete files. Run again with the same arguments, a
batch skips every task whose result file holds a successful result for exactly that task (same
source, solver, seed and budget); failed tasks are run again unless ``rerun_failed`` is false.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.batch.executors import Executor, LocalExecutor
from planner.batch.inputs import BatchInput
from planner.batch.task import RESULT_FORMAT, BatchTask
from planner.errors import ValidationError

RESULTS_FOLDER = "results"
SUMMARY_JSON = "summary.json"
SUMMARY_CSV = "summary.csv"
CSV_COLUMNS = ("instance", "suite", "solver", "seed", "time_limit", "max_iterations", "status", "n_clients",
               "objective", "best_known", "gap_pct", "feasible", "n_routes", "wall_s", "error", "file")


@dataclass
class BatchState:
    """Progress of a running batch, updated after every finished task.

    Parameters
    ----------
    total
        Tasks in the batch.
    skipped
        Tasks whose valid result was already in the output folder.
    done
        Tasks finished in this run (solved or failed).
    failed
        Tasks of this run that failed.
    gaps
        Gaps (%) of the feasible results so far, skipped ones included.
    """

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    gaps: list[float] = field(default_factory=list)

    @property
    def best_gap(self) -> float | None:
        """Smallest gap so far."""
        return min(self.gaps) if self.gaps else None

    @property
    def mean_gap(self) -> float | None:
        """Mean gap so far."""
        return statistics.fmean(self.gaps) if self.gaps else None


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch produced.

    Parameters
    ----------
    results
        One result per task, in task order (reused and new).
    skipped
        Tasks whose result was reused.
    failed
        Tasks that failed (in this run or before, when not run again).
    summary_json, summary_csv
        The summary files.
    """

    results: tuple[dict[str, Any], ...]
    skipped: int
    failed: int
    summary_json: Path
    summary_csv: Path


def result_path(out: Path, task: BatchTask) -> Path:
    """Where the result of ``task`` is stored under ``out``."""
    return out / RESULTS_FOLDER / task.file_name()


def read_valid_result(path: Path, task: BatchTask, *, accept_failed: bool = False) -> dict[str, Any] | None:
    """The stored result of ``task`` at ``path`` if it is complete and belongs to that task.

    Valid: parseable JSON of the current format, the same task key, and either a successful
    result with routes and an objective or (with ``accept_failed``) a recorded failure.
    """
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict) or result.get("format") != RESULT_FORMAT or result.get("task") != task.key():
        return None
    if result.get("status") == "ok":
        if isinstance(result.get("routes"), list) and isinstance(result.get("objective"), int | float):
            return result
        return None
    if accept_failed and result.get("status") == "error":
        return result
    return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def make_tasks(inputs: Sequence[BatchInput], solver: str, *, seed: int = 0, time_limit: float | None = None,
               max_iterations: int | None = None) -> list[BatchTask]:
    """One task per input.

    Raises
    ------
    ValidationError
        For a non-positive time limit or iteration limit, or a negative seed.
    """
    if time_limit is not None and not (time_limit > 0 and math.isfinite(time_limit)):
        raise ValidationError("time_limit", f"must be a positive number of seconds ({time_limit})")
    if max_iterations is not None and max_iterations < 1:
        raise ValidationError("max_iterations", f"must be at least 1 ({max_iterations})")
    if seed < 0:
        raise ValidationError("seed", f"must be non-negative ({seed})")
    return [BatchTask(i.source, i.suite, solver, seed, time_limit, max_iterations) for i in inputs]


def run_batch(
    tasks: Sequence[BatchTask],
    out: str | Path,
    *,
    executor: Executor | None = None,
    rerun_failed: bool = True,
    on_update: Callable[[BatchState, dict[str, Any] | None], None] | None = None,
) -> BatchOutcome:
    """Solve every task not already solved in ``out``, write its result file, then the summaries.

    Parameters
    ----------
    tasks
        The batch (see :func:`make_tasks`).
    out
        Output folder (created).
    executor
        Where tasks run; a :class:`~planner.batch.executors.LocalExecutor` on every core by default.
    rerun_failed
        Run tasks whose stored result is a failure again (default), or keep the failure.
    on_update
        Called with the state once after the stored results are read (result ``None``) and after
        every finished task with its result.

    Returns
    -------
    BatchOutcome
    """
    from planner.registry import get_solver

    for name in dict.fromkeys(t.solver for t in tasks):
        get_solver(name)  # an unknown solver fails the batch at once, not once per instance
    out = Path(out)
    (out / RESULTS_FOLDER).mkdir(parents=True, exist_ok=True)
    executor = executor if executor is not None else LocalExecutor()
    state = BatchState(total=len(tasks))
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    todo: list[BatchTask] = []
    index: dict[BatchTask, list[int]] = {}
    for k, task in enumerate(tasks):
        stored = read_valid_result(result_path(out, task), task, accept_failed=not rerun_failed)
        if stored is not None:
            results[k] = stored
            state.skipped += 1
            if stored.get("feasible") and stored.get("gap_pct") is not None:
                state.gaps.append(float(stored["gap_pct"]))
        else:
            if task not in index:
                todo.append(task)
            index.setdefault(task, []).append(k)
    if on_update is not None:
        on_update(state, None)
    for task, result in executor.run(todo):
        _write_atomic(result_path(out, task), json.dumps(result, default=_json_default) + "\n")
        for k in index[task]:
            results[k] = result
        state.done += 1
        if result.get("status") != "ok":
            state.failed += 1
        elif result.get("feasible") and result.get("gap_pct") is not None:
            state.gaps.append(float(result["gap_pct"]))
        if on_update is not None:
            on_update(state, result)
    final = tuple(r for r in results if r is not None)
    summary_json, summary_csv = write_summaries(out, tasks, final)
    failed = sum(1 for r in final if r.get("status") != "ok")
    return BatchOutcome(final, state.skipped, failed, summary_json, summary_csv)


def result_record(result: dict[str, Any]) -> dict[str, Any]:
    """A batch result as a BENCH.md record (family ``vrp``), with its progress curve."""
    from planner.bench.records import BenchRecord

    metrics: dict[str, Any] = {
        "objective": result.get("objective"), "gap_pct": result.get("gap_pct"), "wall_s": result.get("wall_s"),
        "feasible": bool(result.get("feasible")), "n": result.get("n_clients"), "n_routes": result.get("n_routes"),
        "best_known": result.get("best_known"), "max_iterations": result.get("max_iterations"),
        "status": result.get("status"),
    }
    if result.get("error"):
        metrics["error"] = result["error"]
    if result.get("progress"):
        metrics["progress"] = result["progress"]
    record = BenchRecord(family="vrp", suite=str(result.get("suite")), instance=str(result.get("instance")),
                         solver=str(result.get("solver")), seed=result.get("seed"),
                         budget_s=result.get("time_limit"), baseline=bool(result.get("baseline", False)),
                         metrics=metrics)
    return record.to_json()


def write_summaries(out: Path, tasks: Sequence[BatchTask], results: Sequence[dict[str, Any]]) -> tuple[Path, Path]:
    """Write ``summary.json`` (records) and ``summary.csv`` (one row per task) under ``out``."""
    records = [result_record(r) for r in results]
    summary_json = out / SUMMARY_JSON
    _write_atomic(summary_json, json.dumps(records, indent=1, default=_json_default) + "\n")
    summary_csv = out / SUMMARY_CSV
    rows = []
    by_key = {json.dumps(r.get("task"), sort_keys=True): r for r in results}
    for task in tasks:
        r = by_key.get(json.dumps(task.key(), sort_keys=True))
        if r is None:
            continue
        row = {c: r.get(c) for c in CSV_COLUMNS}
        row["file"] = str(Path(RESULTS_FOLDER) / task.file_name())
        rows.append(row)
    tmp = summary_csv.with_name(f".{summary_csv.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    os.replace(tmp, summary_csv)
    return summary_json, summary_csv
