"""``routeplanner report``: bench JSON files and batch outputs -> HTML page + Markdown summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.commands._output import console


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``report``."""
    app.command("report")(report_command)


def report_command(
    results: Annotated[list[Path], typer.Argument(
        help="Bench JSON files (routeplanner bench ... --json), batch folders or their summary.json.")],
    out: Annotated[Path, typer.Option(help="Output folder: report.html, report.md, figures/.")] = Path("report"),
    title: Annotated[str, typer.Option(help="Report heading.")] = "routeplanner benchmark report",
) -> None:
    """Turn benchmark records into a self-contained HTML report and a Markdown summary."""
    from planner.report import build_report

    with console.status("building the report…"):
        files = build_report(results, out, title=title)
    console.print(f"{files.records} records · {len(files.figures)} figures · {files.html} · {files.markdown}")
