"""Rendering a report: one self-contained HTML page (inline CSS, figures as base64 PNG) and a
Markdown summary that links the same figures as files."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass

from planner.report.tables import Table


@dataclass(frozen=True)
class ReportFigure:
    """A figure of the report: file stem, title, caption and PNG bytes."""

    name: str
    title: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Section:
    """A part of the report: one family (or the route maps), its figures and tables."""

    anchor: str
    title: str
    intro: str
    figures: tuple[ReportFigure, ...]
    tables: tuple[Table, ...]


CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #1d232a; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 2px solid #d0d7de; padding-bottom: .3rem; margin-top: 2.5rem; }
h3 { margin-top: 1.6rem; }
p.meta, p.caption, figcaption { color: #57606a; font-size: .9rem; }
table { border-collapse: collapse; margin: .6rem 0 1.4rem; font-size: .88rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: right; white-space: nowrap; }
th { background: #f6f8fa; } td:first-child, th:first-child { text-align: left; }
td.best { background: #d1f5d3; font-weight: 700; }
tr.summary td { background: #f6f8fa; font-style: italic; } tr.summary td.best { background: #b4ecb8; }
figure { display: inline-block; margin: .4rem 1rem 1rem 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eaeef2; }
nav ul { columns: 2; } .tablewrap { overflow-x: auto; }
"""


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _html_table(table: Table) -> str:
    out = [f'<div class="tablewrap"><table class="results" data-title="{html.escape(table.title)}">',
           "<thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in table.columns) + "</tr></thead><tbody>"]
    first_summary = len(table.rows) - table.summary_rows
    for k, row in enumerate(table.rows):
        cls = ' class="summary"' if k >= first_summary else ""
        cells = "".join(f'<td class="best">{html.escape(c.text)}</td>' if c.best else f"<td>{html.escape(c.text)}</td>"
                        for c in row)
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def render_html(title: str, meta: Sequence[str], sections: Sequence[Section]) -> str:
    """The whole report as one HTML document with nothing to fetch."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    parts.extend(f'<p class="meta">{html.escape(line)}</p>' for line in meta)
    parts.append("<nav><ul>" + "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>'
                                       for s in sections) + "</ul></nav>")
    for s in sections:
        parts.append(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>')
        if s.intro:
            parts.append(f"<p>{html.escape(s.intro)}</p>")
        for fig in s.figures:
            caption = f"<figcaption><b>{html.escape(fig.title)}.</b> {html.escape(fig.caption)}</figcaption>"
            parts.append(f'<figure id="fig-{fig.name}"><img src="{_data_uri(fig.png)}" '
                         f'alt="{html.escape(fig.title)}">{caption}</figure>')
        for table in s.tables:
            parts.append(f"<h3>{html.escape(table.title)}</h3>")
            if table.caption:
                parts.append(f'<p class="caption">{html.escape(table.caption)}</p>')
            parts.append(_html_table(table))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    lines = ["| " + " | ".join(_md_cell(c) for c in table.columns) + " |",
             "|" + "|".join(":---" if k == 0 else "---:" for k in range(len(table.columns))) + "|"]
    first_summary = len(table.rows) - table.summary_rows
    for k, row in enumerate(table.rows):
        cells = []
        for c in row:
            text = _md_cell(c.text)
            if c.best and text:
                text = f"**{text}**"
            elif k >= first_summary and text and c is row[0]:
                text = f"*{text}*"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(title: str, meta: Sequence[str], sections: Sequence[Section], figure_folder: str) -> str:
    """The report as Markdown; figures are linked as ``<figure_folder>/<name>.png``."""
    parts = [f"# {title}", ""]
    parts.extend(f"_{line}_  " for line in meta)
    for s in sections:
        parts.extend(["", f"## {s.title}", ""])
        if s.intro:
            parts.extend([s.intro, ""])
        for fig in s.figures:
            parts.extend([f"![{fig.title}]({figure_folder}/{fig.name}.png)", "", f"*{fig.title}.* {fig.caption}", ""])
        for table in s.tables:
            parts.extend([f"### {table.title}", ""])
            if table.caption:
                parts.extend([table.caption + " Best values in **bold**.", ""])
            parts.extend([_md_table(table), ""])
    return "\n".join(parts).rstrip() + "\n"
