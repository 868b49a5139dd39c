"""``build_report``: any set of bench record files and batch outputs -> ``report.html``,
``report.md`` and ``figures/*.png``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from planner.report import figures
from planner.report.records import ReportInputs, families, load_inputs
from planner.report.render import ReportFigure, Section, render_html, render_markdown
from planner.report.tables import suite_tables

#: Order of the family sections (unknown families follow, in the order met).
FAMILY_ORDER = ("vrp", "paths", "matrix", "alternatives", "assignment", "fabric", "te", "planners", "replanning",
                "service")
FAMILY_TITLES = {
    "vrp": "Vehicle routing", "paths": "Road routing: point-to-point queries", "matrix": "Road routing: matrices",
    "alternatives": "Alternative routes", "assignment": "Traffic assignment", "fabric": "Fabric routing",
    "te": "Traffic engineering", "planners": "Motion planners", "replanning": "Replanning", "service": "Service",
}

FigureMaker = Callable[[Sequence[Mapping[str, Any]]], Figure | None]
#: Per family: (file stem, title, caption, maker).
FAMILY_FIGURES: Mapping[str, tuple[tuple[str, str, str, FigureMaker], ...]] = {
    "vrp": (
        ("vrp-gap-vs-time", "Gap versus time",
         "Mean gap per solver over the instances every solver solved at each time limit (left), and the mean gap of "
         "the best solution found so far while solving, from the solvers' progress reports (right).",
         figures.vrp_gap_vs_time),
        ("vrp-performance-profile", "Performance profile",
         "Dolan-Moré profile on the objective: the share of problems (instance, budget, seed) a solver solves within "
         "τ times the best solver's objective. Higher and further left is better.",
         figures.performance_profile),
    ),
    "paths": (("paths-latency-cdf", "Query latency",
               "Distribution of point-to-point query times per method (from latency samples, or the recorded p50 "
               "and p99 where records carry only quantiles).", figures.latency_cdf),),
    "assignment": (("assignment-convergence", "Convergence",
                    "Relative gap reached against wall time per solver; each point is a run to one target gap.",
                    figures.assignment_convergence),),
    "fabric": (("fabric-congestion", "Congestion", "Maximum link congestion per fabric and routing method; the "
                "dashed line is the LP optimum (min-max congestion).", figures.congestion_bars),),
    "planners": (("planners-cost", "Path cost versus budget",
                  "Mean path cost over the optimum (or mean cost) per planner at each time budget.",
                  figures.planner_costs),),
}


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote."""

    html: Path
    markdown: Path
    figures: tuple[Path, ...]
    records: int


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _figure(name: str, title: str, caption: str, fig: Figure | None) -> ReportFigure | None:
    if fig is None:
        return None
    return ReportFigure(name, title, caption, figures.png_bytes(fig))


def build_sections(inputs: ReportInputs) -> list[Section]:
    """The report's sections: one per family (figures, then tables per suite), then route maps."""
    records = inputs.records
    present = families(records)
    ordered = [f for f in FAMILY_ORDER if f in present] + [f for f in present if f not in FAMILY_ORDER]
    sections = []
    for family in ordered:
        mine = [r for r in records if r["family"] == family]
        figs = []
        for name, title, caption, maker in FAMILY_FIGURES.get(family, ()):
            drawn = _figure(name, title, caption, maker(mine))
            if drawn is not None:
                figs.append(drawn)
        tables = []
        for suite in dict.fromkeys(str(r["suite"]) for r in mine):
            tables.extend(suite_tables(family, suite, [r for r in mine if str(r["suite"]) == suite]))
        solvers = ", ".join(dict.fromkeys(str(r["solver"]) for r in mine))
        intro = f"{len(mine)} records · solvers: {solvers}."
        title = FAMILY_TITLES.get(family, f"Family {family!r}")
        sections.append(Section(_slug(family), title, intro, tuple(figs), tuple(tables)))
    if inputs.route_maps:
        maps = tuple(ReportFigure(f"routes-{_slug(m.instance)}-{_slug(m.solver)}", f"{m.instance} · {m.solver}",
                                  "Routes of the solution (depot: black square).",
                                  figures.png_bytes(figures.route_map(m)))
                     for m in inputs.route_maps)
        sections.append(Section("routes", "Vehicle routes", "Solutions drawn from the batch result files.", maps, ()))
    return sections


def _meta(inputs: ReportInputs) -> list[str]:
    machines = {tuple(sorted((r.get("machine") or {}).items())) for r in inputs.records if r.get("machine")}
    lines = [f"Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC from {len(inputs.records)} records in "
             f"{len(inputs.sources)} files: {', '.join(Path(s).name for s in inputs.sources)}."]
    for machine in sorted(machines):
        m = dict(machine)
        lines.append("Machine: " + ", ".join(f"{k} {v}" for k, v in m.items()) + ".")
    lines.append("Timings are comparable only inside one file (one run, one machine).")
    return lines


def build_report(paths: Sequence[str | Path], out: str | Path, *,
                 title: str = "routeplanner benchmark report") -> ReportFiles:
    """Read the inputs and write ``out/report.html`` (self-contained), ``out/report.md`` and
    ``out/figures/*.png``.

    Parameters
    ----------
    paths
        Bench JSON files (``routeplanner bench ... --json``), batch folders or their
        ``summary.json``, batch result files.
    out
        Output folder (created).
    title
        Heading of the report.

    Raises
    ------
    DataNotFoundError, DataFormatError
        For a missing or unreadable input (see :func:`planner.report.records.load_inputs`).
    """
    inputs = load_inputs(paths)
    out = Path(out)
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    sections = build_sections(inputs)
    meta = _meta(inputs)
    written = []
    for section in sections:
        for fig in section.figures:
            path = folder / f"{fig.name}.png"
            path.write_bytes(fig.png)
            written.append(path)
    html_path = out / "report.html"
    html_path.write_text(render_html(title, meta, sections), encoding="utf-8")
    md_path = out / "report.md"
    md_path.write_text(render_markdown(title, meta, sections, "figures"), encoding="utf-8")
    return ReportFiles(html_path, md_path, tuple(written), len(inputs.records))
