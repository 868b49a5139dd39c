"""Benchmark reports: bench records and batch outputs -> one self-contained HTML page and a
Markdown summary, with tables per suite and matplotlib figures (see :func:`build_report`)."""

from planner.report.build import ReportFiles, build_report, build_sections
from planner.report.records import ReportInputs, RouteMap, load_inputs

__all__ = ["ReportFiles", "ReportInputs", "RouteMap", "build_report", "build_sections", "load_inputs"]
