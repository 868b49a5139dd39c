"""Terminal output shared by the CLI's commands: consoles, value formatting, tables, progress."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from planner.budget import ProgressEvent

console = Console()
err_console = Console(stderr=True)


def progress_printer(status: Any) -> Any:
    def on_progress(event: ProgressEvent) -> None:
        best = "-" if event.objective is None else f"{event.objective:,.2f}"
        status.update(f"solving… {event.elapsed_s:6.1f} s  iteration {event.iteration}  best {best}")

    return on_progress


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float | np.floating):
        return f"{value:,.6g}" if abs(value) < 1e-3 else f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        return "\n".join(map(str, value)) or "none"
    return str(value)


def split_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for column in rows[0] if rows else []:
        table.add_column(column)
    for row in rows:
        table.add_row(*(format_value(v) for v in row.values()))
    console.print(table)


def print_summary(title: str, summary: dict[str, Any], as_json: bool) -> None:
    """Print a result summary as a two-column table, or as JSON."""
    import json

    if as_json:
        console.print_json(json.dumps(summary, default=json_default))
        return
    table = Table(title=title, show_header=False)
    for key, value in summary.items():
        table.add_row(key, format_value(value))
    console.print(table)
