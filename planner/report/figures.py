"""Report figures (matplotlib, object-oriented API, no global state): each function takes records
and returns a :class:`matplotlib.figure.Figure`, or ``None`` when the records do not allow it.

- :func:`vrp_gap_vs_time`: mean gap (to best-known, else to the best objective any solver found)
  against the time budget, per solver; and, when records carry progress curves (batch results),
  the mean gap over time while solving;
- :func:`performance_profile`: Dolan-Moré profiles, the share of problems a solver solves within
  a factor tau of the best solver;
- :func:`latency_cdf`: query-latency distribution per routing method (empirical CDF from
  ``latencies_ms`` samples where records carry them, else the recorded quantiles);
- :func:`assignment_convergence`: relative gap against time per solver (each target-gap run is
  a point; ``history`` curves where records carry them);
- :func:`congestion_bars`: maximum congestion per fabric and routing method, LP optimum marked;
- :func:`planner_costs`: path cost over the optimum against the budget per planner;
- :func:`route_map`: the routes of a solved VRP instance drawn on its coordinates.
"""

from __future__ import annotations

import io
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from planner.report.records import RouteMap
from planner.report.tables import record_ok

Record = Mapping[str, Any]
#: Figure size in inches and resolution of the PNGs.
SIZE = (6.4, 3.8)
DPI = 110


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def _figure(ncols: int = 1, width: float | None = None) -> tuple[Figure, list[Any]]:
    fig = Figure(figsize=(width or SIZE[0] * (1 if ncols == 1 else 0.75 * ncols), SIZE[1]), dpi=DPI,
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _legend(ax: Any, loc: str = "best") -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc=loc)
    else:
        ax.text(0.5, 0.5, "no data to draw", transform=ax.transAxes, ha="center", va="center", color="0.5")


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _solvers(records: Sequence[Record]) -> list[str]:
    return list(dict.fromkeys(str(r["solver"]) for r in records))


def _reference(records: Sequence[Record]) -> dict[str, float]:
    """Per instance: the best-known value where records carry one, else the best objective found."""
    ref: dict[str, float] = {}
    for r in records:
        m = r["metrics"]
        bks = _num(m.get("best_known"))
        obj, gap = _num(m.get("objective")), _num(m.get("gap_pct"))
        if bks is None and obj is not None and gap is not None and gap > -100:
            bks = obj / (1 + gap / 100)
        if bks is not None:
            ref[str(r["instance"])] = bks
    for r in records:
        inst = str(r["instance"])
        obj = _num(r["metrics"].get("objective"))
        if inst in ref or obj is None or not record_ok(r):
            continue
        others = [_num(o["metrics"].get("objective")) for o in records if str(o["instance"]) == inst and record_ok(o)]
        ref[inst] = min(v for v in others if v is not None)
    return ref


def _gap(record: Record, ref: Mapping[str, float], objective: float | None = None) -> float | None:
    obj = _num(record["metrics"].get("objective")) if objective is None else objective
    base = ref.get(str(record["instance"]))
    if obj is None or base is None or base <= 0:
        return None
    return 100.0 * (obj - base) / base


def _budget_curves(vrp: Sequence[Record], ref: Mapping[str, float]) -> list[tuple[str, list[float], list[float]]]:
    """Per suite run at two or more time limits, per solver: mean gap at each limit over the
    instances every solver of the suite solved validly at every limit."""
    suites = list(dict.fromkeys(str(r["suite"]) for r in vrp))
    curves = []
    for suite in suites:
        timed = [r for r in vrp if str(r["suite"]) == suite and _num(r.get("budget_s")) is not None]
        budgets = sorted({float(r["budget_s"]) for r in timed})
        if len(budgets) < 2:
            continue
        solvers = _solvers(timed)
        instances = set.intersection(*(
            {str(r["instance"]) for r in timed if str(r["solver"]) == s and _num(r.get("budget_s")) == b
             and record_ok(r) and _gap(r, ref) is not None}
            for s in solvers for b in budgets))
        if not instances:
            continue
        for solver in solvers:
            ys = []
            for b in budgets:
                per_instance = []
                for inst in sorted(instances):
                    gaps = [_gap(r, ref) for r in timed if str(r["solver"]) == solver and str(r["instance"]) == inst
                            and _num(r.get("budget_s")) == b and record_ok(r)]
                    per_instance.append(statistics.fmean(g for g in gaps if g is not None))
                ys.append(statistics.fmean(per_instance))
            curves.append((f"{solver} · {suite} ({len(instances)})", budgets, ys))
    return curves


def vrp_gap_vs_time(records: Sequence[Record]) -> Figure | None:
    """Mean gap against the time budget per solver (left), and mean gap over solve time from
    progress curves (right), when the records allow either."""
    vrp = [r for r in records if r["family"] == "vrp"]
    if not vrp:
        return None
    ref = _reference(vrp)
    known = any(_num(r["metrics"].get("gap_pct")) is not None for r in vrp)
    label = "gap to best-known (%)" if known else "gap to best found (%)"
    curves = _budget_curves(vrp, ref)
    with_progress = [r for r in vrp if r["metrics"].get("progress") and record_ok(r)]
    panels = bool(curves) + bool(with_progress)
    if not panels:
        return None
    fig, axes = _figure(panels, width=SIZE[0] * (1.6 if panels == 2 else 1))
    ax_iter = iter(axes)
    if curves:
        ax = next(ax_iter)
        for name, xs, ys in curves:
            ax.plot(xs, ys, marker="o", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("time limit per instance (s)")
        ax.set_ylabel(f"mean {label}")
        ax.set_title("gap versus time budget")
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax)
    if with_progress:
        ax = next(ax_iter)
        first = min(r["metrics"]["progress"][0][0] for r in with_progress)
        horizon = max(max(p[0] for p in r["metrics"]["progress"]) for r in with_progress)
        budget = max((_num(r.get("budget_s")) or 0.0) for r in with_progress)
        grid = np.geomspace(max(first, 1e-4), max(horizon, budget, 2 * max(first, 1e-4)), 80)
        for solver in _solvers(with_progress):
            curves = []
            for r in (r for r in with_progress if str(r["solver"]) == solver):
                pts = np.asarray(r["metrics"]["progress"], dtype=float)
                idx = np.searchsorted(pts[:, 0], grid, side="right") - 1
                values = [None if k < 0 else _gap(r, ref, float(pts[k, 1])) for k in idx]
                gaps = np.array([np.nan if v is None else v for v in values])
                curves.append(gaps)
            stack = np.vstack(curves)
            complete = ~np.isnan(stack).any(axis=0)
            if complete.any():
                ax.plot(grid[complete], stack[:, complete].mean(axis=0), drawstyle="steps-post",
                        marker="." if complete.sum() < 3 else None, label=f"{solver} ({len(curves)} runs)")
        ax.set_xscale("log")
        ax.set_xlabel("solve time (s)")
        ax.set_ylabel(f"mean {label}")
        ax.set_title("progress while solving")
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax)
    return fig


def performance_profile(records: Sequence[Record], family: str = "vrp", metric: str = "objective") -> Figure | None:
    """Dolan-Moré performance profiles over the problems (suite, instance, budget, seed) every
    solver ran: ``rho_s(tau)`` = share of problems where the solver's ``metric`` is within a
    factor ``tau`` of the best; a failed or infeasible run never counts."""
    rs = [r for r in records if r["family"] == family]
    solvers = _solvers(rs)
    if len(solvers) < 2:
        return None
    problems: dict[tuple[Any, ...], dict[str, float]] = {}
    for r in rs:
        key = (r["suite"], r["instance"], r.get("budget_s"), r.get("seed"))
        value = _num(r["metrics"].get(metric)) if record_ok(r) else None
        problems.setdefault(key, {})[str(r["solver"])] = math.inf if value is None else value
    problems = {k: v for k, v in problems.items() if len(v) == len(solvers)}
    ratios: dict[str, list[float]] = {s: [] for s in solvers}
    for values in problems.values():
        best = min(values.values())
        for s, v in values.items():
            if not math.isfinite(v) or not math.isfinite(best):
                ratios[s].append(math.inf)
            elif best <= 0:
                ratios[s].append(1.0 if v <= best else math.inf)
            else:
                ratios[s].append(v / best)
    if not problems:
        return None
    finite = [x for v in ratios.values() for x in v if math.isfinite(x)]
    top = max(max(finite, default=1.0), 1.0) * 1.05
    fig, (ax,) = _figure()
    for s in solvers:
        values = np.sort(np.asarray(ratios[s]))
        taus = np.concatenate(([1.0], values[np.isfinite(values)], [top]))
        share = np.array([np.mean(values <= t) for t in taus])
        ax.step(taus, share, where="post", label=s)
    ax.set_xlim(1.0, top)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"τ ({metric} within τ × best)")
    ax.set_ylabel("share of problems")
    ax.set_title(f"performance profile · {family} · {len(problems)} problems")
    ax.grid(True, alpha=0.3)
    _legend(ax, "lower right")
    return fig


def latency_cdf(records: Sequence[Record]) -> Figure | None:
    """Latency CDF per routing method and network (``paths`` records)."""
    rs = [r for r in records if r["family"] == "paths"]
    if not rs:
        return None
    fig, (ax,) = _figure()
    multi = len({str(r["instance"]) for r in rs}) > 1
    for r in rs:
        m = r["metrics"]
        name = f"{r['solver']} · {r['instance']}" if multi else str(r["solver"])
        samples = m.get("latencies_ms") or m.get("latency_samples_ms")
        if samples:
            xs = np.sort(np.asarray(samples, dtype=float))
            ax.step(xs, np.arange(1, xs.size + 1) / xs.size, where="post", label=name)
            continue
        quantiles = [(q, _num(m.get(k))) for q, k in ((0.5, "p50_ms"), (0.99, "p99_ms"))]
        quantiles = [(q, v) for q, v in quantiles if v is not None and v > 0]
        if quantiles:
            ax.plot([v for _, v in quantiles], [q for q, _ in quantiles], marker="o",
                    label=f"{name} (p50, p99)")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("query latency (ms)")
    ax.set_ylabel("share of queries ≤ latency")
    ax.set_title("point-to-point query latency")
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, "lower right")
    return fig


def assignment_convergence(records: Sequence[Record]) -> Figure | None:
    """Relative gap against wall time per solver and network (``assignment`` records)."""
    rs = [r for r in records if r["family"] == "assignment"]
    if not rs:
        return None
    networks = list(dict.fromkeys(str(r["instance"]) for r in rs))[:3]
    fig, axes = _figure(len(networks))
    for ax, network in zip(axes, networks, strict=True):
        mine = [r for r in rs if str(r["instance"]) == network]
        for solver in _solvers(mine):
            runs = [r for r in mine if str(r["solver"]) == solver]
            history = next((r["metrics"]["history"] for r in runs if r["metrics"].get("history")), None)
            if history:
                pts = np.asarray(history, dtype=float)
                ax.plot(pts[:, -2], pts[:, -1], label=solver)
                continue
            pts = sorted((_num(r["metrics"].get("wall_s")), _num(r["metrics"].get("reached_gap"))) for r in runs
                         if _num(r["metrics"].get("wall_s")) is not None
                         and (_num(r["metrics"].get("reached_gap")) or 0) > 0)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=solver)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("wall time (s)")
        ax.set_ylabel("relative gap reached")
        ax.set_title(f"convergence · {network}")
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax)
    return fig


def congestion_bars(records: Sequence[Record]) -> Figure | None:
    """Maximum congestion per fabric (instance) and routing method, the LP optimum marked."""
    rs = [r for r in records if r["family"] == "fabric" and _num(r["metrics"].get("max_congestion")) is not None]
    if not rs:
        return None
    instances = list(dict.fromkeys(str(r["instance"]) for r in rs))[:12]
    solvers = _solvers(rs)
    fig, (ax,) = _figure(width=max(SIZE[0], 1.2 * len(instances) + 2))
    width = 0.8 / len(solvers)
    for k, solver in enumerate(solvers):
        heights = []
        for inst in instances:
            vals = [_num(r["metrics"]["max_congestion"]) for r in rs if str(r["instance"]) == inst
                    and str(r["solver"]) == solver]
            vals = [v for v in vals if v is not None]
            heights.append(statistics.fmean(vals) if vals else 0.0)
        ax.bar(np.arange(len(instances)) + (k - (len(solvers) - 1) / 2) * width, heights, width, label=solver)
    for i, inst in enumerate(instances):
        opt = [_num(r["metrics"].get("lp_optimum")) for r in rs if str(r["instance"]) == inst]
        opt = [v for v in opt if v is not None]
        if opt:
            ax.hlines(min(opt), i - 0.45, i + 0.45, colors="black", linestyles="--",
                      label="LP optimum" if i == 0 else None)
    ax.set_xticks(np.arange(len(instances)), instances, rotation=20, ha="right", fontsize="small")
    ax.set_ylabel("max link congestion")
    ax.set_title("fabric congestion")
    _legend(ax)
    return fig


def planner_costs(records: Sequence[Record]) -> Figure | None:
    """Mean path cost over the optimum (else mean cost) against the budget, per planner and world."""
    rs = [r for r in records if r["family"] == "planners" and _num(r.get("budget_s")) is not None]
    if not rs:
        return None
    worlds = list(dict.fromkeys(str(r["suite"]) for r in rs))[:3]
    fig, axes = _figure(len(worlds))
    for ax, world in zip(axes, worlds, strict=True):
        mine = [r for r in rs if str(r["suite"]) == world]
        key = "cost_ratio" if any(_num(r["metrics"].get("cost_ratio")) for r in mine) else "cost"
        for planner in _solvers(mine):
            pts = []
            for b in sorted({float(r["budget_s"]) for r in mine}):
                vals = [_num(r["metrics"].get(key)) for r in mine if str(r["solver"]) == planner
                        and float(r["budget_s"]) == b and record_ok(r)]
                vals = [v for v in vals if v is not None]
                if vals:
                    pts.append((b, statistics.fmean(vals)))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=planner)
        ax.set_xscale("log")
        ax.set_xlabel("time budget (s)")
        ax.set_ylabel("cost / optimum" if key == "cost_ratio" else "path cost")
        ax.set_title(f"planners · {world}")
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax)
    return fig


def route_map(drawn: RouteMap) -> Figure:
    """The routes of a solved instance on its coordinates (depot as a black square)."""
    fig, (ax,) = _figure(width=4.6)
    xy = np.asarray(drawn.coords, dtype=float)
    colours = [f"C{k % 10}" for k in range(len(drawn.routes))]
    for route, colour in zip(drawn.routes, colours, strict=True):
        path = xy[[0, *route, 0]]
        ax.plot(path[:, 0], path[:, 1], "-", color=colour, linewidth=1.0)
    ax.scatter(xy[1:, 0], xy[1:, 1], s=6, color="0.3", zorder=3)
    ax.scatter([xy[0, 0]], [xy[0, 1]], marker="s", s=40, color="black", zorder=4)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{drawn.instance} · {drawn.solver} · {len(drawn.routes)} routes · {drawn.objective:,.6g}",
                 fontsize="small")
    return fig
