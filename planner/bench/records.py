"""Benchmark records in the one schema of ``shared/BENCH.md``.

Every bench command writes a JSON array of records, one per (instance, solver, seed, budget)
measured::

    {"family": "vrp", "suite": "x-small", "instance": "X-n101-k25", "solver": "ga",
     "seed": 1, "budget_s": 1.0, "baseline": false,
     "metrics": {"objective": 27804, "gap_pct": 0.77, "wall_s": 1.01, "feasible": true},
     "machine": {"cpus": 2, "python": "3.11.7"}, "version": "0.1.0"}
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

#: Metric names every record of a family must carry (more may be added freely).
REQUIRED_METRICS: Mapping[str, tuple[str, ...]] = {
    "vrp": ("objective", "gap_pct", "wall_s", "feasible"),
    "paths": ("p50_ms", "p99_ms", "preprocess_s", "mismatches"),
    "matrix": ("size", "wall_ms"),
    "alternatives": ("success_2_pct", "success_3_pct", "valid_pct", "p50_ms", "mean_stretch", "mean_sharing"),
    "assignment": ("target_gap", "reached_gap", "iterations", "wall_s", "objective", "rel_diff_best"),
    "fabric": ("max_congestion", "lp_optimum", "pieces_max", "wall_s"),
    "te": ("max_utilisation", "lp_optimum", "dual_bound", "wall_s"),
    "planners": ("cost", "cost_ratio", "wall_s", "collision_free"),
    "replanning": ("repair_s", "replan_s", "cost_ratio_vs_replan"),
    "service": ("p50_ms", "p99_ms", "rps", "lost_jobs"),
    "design": ("tstt", "improvement_pct", "wall_s", "gap_to_exact_pct"),
}


@cache
def machine_info() -> dict[str, Any]:
    """The machine a run was measured on."""
    return {"cpus": os.cpu_count() or 1, "python": platform.python_version(), "platform": platform.platform()}


def _version() -> str:
    from planner import __version__

    return __version__


@dataclass(frozen=True)
class BenchRecord:
    """One measurement: an (instance, solver, seed, budget) and its metrics."""

    family: str
    suite: str
    instance: str
    solver: str
    seed: int | None
    budget_s: float | None
    baseline: bool
    metrics: Mapping[str, Any]
    machine: Mapping[str, Any] = field(default_factory=machine_info)
    version: str = field(default_factory=_version)

    def __post_init__(self) -> None:
        from planner.errors import ValidationError

        missing = [m for m in REQUIRED_METRICS.get(self.family, ()) if m not in self.metrics]
        if missing:
            raise ValidationError("metrics", f"{self.family} record lacks {', '.join(missing)}")

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON values (NaN and infinities become null)."""
        return _clean(asdict(self))


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_records(path: str | Path, records: Iterable[BenchRecord]) -> Path:
    """Write records as a JSON array."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.to_json() for r in records], indent=1) + "\n")
    return path


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON array of records written by :func:`write_records`."""
    return json.loads(Path(path).read_text())
