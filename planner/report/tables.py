"""Report tables: per suite, solvers side by side per instance with the best value marked, and
per-solver means of every metric. Families the report does not know are listed generically."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planner.bench.records import REQUIRED_METRICS


@dataclass(frozen=True)
class MetricSpec:
    """A metric a family is compared on."""

    key: str
    label: str
    lower_is_better: bool = True


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, its value and whether it is the best of its row."""

    text: str
    value: float | None = None
    best: bool = False


@dataclass(frozen=True)
class Table:
    """A rendered-ready table.

    Parameters
    ----------
    title
        Heading.
    columns
        Column names.
    rows
        Cells per row.
    summary_rows
        How many of the last rows are summaries (means, wins), styled apart.
    caption
        One line on what is shown and how the best is chosen.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    summary_rows: int = 0
    caption: str = ""


#: Metrics compared per instance, in order of preference (the first one present is used).
PRIMARY: Mapping[str, tuple[MetricSpec, ...]] = {
    "vrp": (MetricSpec("gap_pct", "gap to best-known (%)"), MetricSpec("objective", "objective")),
    "paths": (MetricSpec("p50_ms", "median query (ms)"),),
    "matrix": (MetricSpec("wall_ms", "matrix time (ms)"),),
    "alternatives": (MetricSpec("success_3_pct", "3 alternatives found (%)", lower_is_better=False),),
    "assignment": (MetricSpec("wall_s", "time to target gap (s)"),),
    "fabric": (MetricSpec("max_congestion", "max congestion"),),
    "te": (MetricSpec("max_utilisation", "max utilisation"),),
    "planners": (MetricSpec("cost_ratio", "cost / optimum"), MetricSpec("cost", "path cost")),
    "replanning": (MetricSpec("repair_s", "repair time (s)"),),
    "service": (MetricSpec("p50_ms", "median latency (ms)"),),
}

#: Metric that splits an instance's runs into separate rows, besides the time budget.
CONDITION_METRIC: Mapping[str, tuple[str, str]] = {
    "assignment": ("target_gap", "target gap"),
    "matrix": ("size", "size"),
}


def fmt(value: Any) -> str:
    """A value as a table shows it."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "∞" if value > 0 else "–"
        if value == 0:
            return "0"
        mag = abs(value)
        if mag >= 1e5 or mag < 1e-3:
            return f"{value:.3g}"
        if mag >= 100:
            return f"{value:,.1f}"
        return f"{value:.4g}"
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def record_ok(record: Mapping[str, Any]) -> bool:
    """Whether a record's result counts (not failed, feasible / collision-free where stated)."""
    m = record["metrics"]
    if m.get("error") or m.get("status") == "error":
        return False
    return all(m[flag] for flag in ("feasible", "collision_free") if flag in m)


def condition(record: Mapping[str, Any]) -> str:
    """The row condition of a record: its time budget and, for some families, a metric."""
    parts = []
    extra = CONDITION_METRIC.get(str(record["family"]))
    if extra is not None and record["metrics"].get(extra[0]) is not None:
        parts.append(f"{extra[1]} {fmt(record['metrics'][extra[0]])}")
    if record.get("budget_s") is not None:
        parts.append(f"{fmt(float(record['budget_s']))} s")
    return " · ".join(parts)


def _condition_sort(record: Mapping[str, Any]) -> tuple[float, float]:
    extra = CONDITION_METRIC.get(str(record["family"]))
    first = _number(record["metrics"].get(extra[0])) if extra else None
    budget = _number(record.get("budget_s"))
    return (-(first or 0.0) if extra and extra[0] == "target_gap" else (first or 0.0), budget or 0.0)


def primary_metric(family: str, records: Sequence[Mapping[str, Any]]) -> MetricSpec | None:
    """The metric an instance table compares: the family's first metric that some record has."""
    for spec in PRIMARY.get(family, ()):
        if any(_number(r["metrics"].get(spec.key)) is not None for r in records):
            return spec
    return None


def instance_table(family: str, suite: str, records: Sequence[Mapping[str, Any]]) -> Table | None:
    """Solvers side by side per (instance, condition): mean of the primary metric over seeds, the
    best per row marked, then the mean over the rows every solver has a value for, and wins."""
    spec = primary_metric(family, records)
    if spec is None:
        return None
    solvers = list(dict.fromkeys(str(r["solver"]) for r in records))
    groups: dict[tuple[str, str], dict[str, list[Mapping[str, Any]]]] = {}
    order: dict[tuple[str, str], tuple[float, float]] = {}
    for r in records:
        key = (str(r["instance"]), condition(r))
        groups.setdefault(key, {}).setdefault(str(r["solver"]), []).append(r)
        order.setdefault(key, _condition_sort(r))
    keys = sorted(groups, key=lambda k: (k[0], order[k]))
    has_condition = any(k[1] for k in keys)
    better: Callable[[float, float], bool] = (lambda a, b: a < b) if spec.lower_is_better else (lambda a, b: a > b)
    rows: list[tuple[Cell, ...]] = []
    complete: dict[str, list[float]] = {s: [] for s in solvers}
    wins = dict.fromkeys(solvers, 0)
    for key in keys:
        values: dict[str, float | None] = {}
        texts: dict[str, str] = {}
        for solver in solvers:
            runs = groups[key].get(solver, [])
            good = [_number(r["metrics"].get(spec.key)) for r in runs if record_ok(r)]
            good = [v for v in good if v is not None]
            if not runs:
                values[solver], texts[solver] = None, ""
            elif len(good) < len(runs):
                failed = len(runs) - len(good)
                values[solver] = None
                texts[solver] = "failed" if failed == len(runs) else f"{failed}/{len(runs)} failed"
            else:
                values[solver] = statistics.fmean(good)
                texts[solver] = fmt(values[solver])
        present = [v for v in values.values() if v is not None]
        best = None
        for v in present:
            if best is None or better(v, best):
                best = v
        cells = [Cell(key[0])] + ([Cell(key[1])] if has_condition else [])
        for solver in solvers:
            v = values[solver]
            is_best = v is not None and best is not None and math.isclose(v, best, rel_tol=1e-9, abs_tol=1e-12)
            if is_best and len(present) > 1:
                wins[solver] += 1
            cells.append(Cell(texts[solver], v, is_best and len(present) > 1))
        rows.append(tuple(cells))
        if len(present) == len(solvers):
            for solver in solvers:
                complete[solver].append(values[solver])  # type: ignore[arg-type]
    lead = [Cell("mean")] + ([Cell(f"{len(complete[solvers[0]])} complete rows")] if has_condition else [])
    means = {s: statistics.fmean(v) if v else None for s, v in complete.items()}
    present_means = [m for m in means.values() if m is not None]
    best_mean = (min(present_means) if spec.lower_is_better else max(present_means)) if present_means else None
    mean_row = lead + [Cell(fmt(means[s]), means[s], means[s] is not None and best_mean is not None
                            and len(present_means) > 1 and math.isclose(means[s], best_mean, rel_tol=1e-9))
                       for s in solvers]
    summary = [tuple(mean_row)]
    if len(solvers) > 1:
        summary.append(tuple([Cell("best in rows")] + ([Cell("")] if has_condition else [])
                             + [Cell(str(wins[s])) for s in solvers]))
    columns = ("instance",) + (("condition",) if has_condition else ()) + tuple(solvers)
    direction = "lowest" if spec.lower_is_better else "highest"
    caption = (f"{spec.label}, mean over seeds; the {direction} value of each row is marked. "
               "Means over the rows where every solver has a valid result.")
    return Table(f"{suite}: {spec.label} per instance", columns, tuple(rows) + tuple(summary), len(summary), caption)


def _mean_cell(values: list[Any]) -> Cell:
    flags = [v for v in values if isinstance(v, bool)]
    if flags and len(flags) == len(values):
        return Cell(f"{sum(flags)}/{len(flags)}")
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    if not numbers:
        return Cell("–")
    mean = statistics.fmean(numbers)
    return Cell(fmt(mean), mean)


def means_table(family: str, suite: str, records: Sequence[Mapping[str, Any]]) -> Table:
    """Per (solver, condition): runs, and the mean of each of the family's metrics (shares for
    yes/no metrics) over the records."""
    metrics = list(REQUIRED_METRICS.get(family, ()))
    if not metrics:
        metrics = _scalar_metrics(records)
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    order: dict[tuple[str, str], tuple[float, float]] = {}
    for r in records:
        key = (str(r["solver"]), condition(r))
        groups.setdefault(key, []).append(r)
        order.setdefault(key, _condition_sort(r))
    keys = sorted(groups, key=lambda k: (order[k], list(groups).index(k)))
    has_condition = any(k[1] for k in keys)
    rows = []
    for key in keys:
        runs = groups[key]
        ok = sum(record_ok(r) for r in runs)
        cells = [Cell(key[0])] + ([Cell(key[1])] if has_condition else [])
        cells.append(Cell(f"{ok}/{len(runs)}"))
        cells.extend(_mean_cell([r["metrics"].get(m) for r in runs if record_ok(r) or isinstance(
            r["metrics"].get(m), bool)]) for m in metrics)
        baseline = any(r.get("baseline") for r in runs)
        if baseline:
            cells[0] = Cell(f"{key[0]} (baseline)")
        rows.append(tuple(cells))
    columns = ("solver",) + (("condition",) if has_condition else ()) + ("valid runs",) + tuple(metrics)
    return Table(f"{suite}: means per solver", columns, tuple(rows),
                 caption="Means over the valid runs of each solver (failed or infeasible runs excluded).")


def _scalar_metrics(records: Sequence[Mapping[str, Any]], limit: int = 10) -> list[str]:
    keys: dict[str, None] = {}
    for r in records:
        for k, v in r["metrics"].items():
            if isinstance(v, bool | int | float | str) or v is None:
                keys.setdefault(k, None)
    return list(keys)[:limit]


def generic_table(family: str, suite: str, records: Sequence[Mapping[str, Any]]) -> Table:
    """Every record of a family the report does not know, one row each, its scalar metrics as
    columns."""
    metrics = _scalar_metrics(records)
    rows = []
    for r in records:
        cells = [Cell(str(r["instance"])), Cell(str(r["solver"])), Cell(fmt(r.get("seed"))),
                 Cell(fmt(r.get("budget_s")))]
        cells.extend(Cell(fmt(r["metrics"].get(m)), _number(r["metrics"].get(m))) for m in metrics)
        rows.append(tuple(cells))
    return Table(f"{family} · {suite}: records", ("instance", "solver", "seed", "budget (s)", *metrics), tuple(rows),
                 caption=f"Family {family!r} has no report layout: every record is listed.")


def suite_tables(family: str, suite: str, records: Sequence[Mapping[str, Any]]) -> list[Table]:
    """The tables of one (family, suite)."""
    if family not in PRIMARY:
        return [generic_table(family, suite, records)]
    tables = []
    table = instance_table(family, suite, records)
    if table is not None:
        tables.append(table)
    tables.append(means_table(family, suite, records))
    return tables
