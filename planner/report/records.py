"""Reading what a report is made of: bench record files, batch summaries and batch results."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import DataFormatError, DataNotFoundError

#: Keys every record must have (shared/BENCH.md).
RECORD_KEYS = ("family", "suite", "instance", "solver", "metrics")


@dataclass(frozen=True)
class RouteMap:
    """A solved VRP instance with coordinates, from a batch result file: drawable."""

    instance: str
    solver: str
    objective: float
    coords: tuple[tuple[float, float], ...]
    routes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class ReportInputs:
    """Everything read from the report's input files.

    Parameters
    ----------
    records
        Bench records (plain dicts in the BENCH.md schema), in file order.
    route_maps
        Solved instances with coordinates (batch result files).
    sources
        The files read.
    """

    records: tuple[dict[str, Any], ...]
    route_maps: tuple[RouteMap, ...]
    sources: tuple[str, ...]


def _is_batch_result(value: Any) -> bool:
    return isinstance(value, Mapping) and "task" in value and "status" in value


def _check_record(path: Path, k: int, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise DataFormatError(path, f"record {k} is not an object")
    missing = [key for key in RECORD_KEYS if key not in value]
    if missing:
        raise DataFormatError(path, f"record {k} lacks {', '.join(missing)} (shared/BENCH.md schema)")
    if not isinstance(value["metrics"], Mapping):
        raise DataFormatError(path, f"record {k}: metrics is not an object")
    record = dict(value)
    record.setdefault("seed", None)
    record.setdefault("budget_s", None)
    record.setdefault("baseline", False)
    for key in ("family", "suite", "instance", "solver"):
        record[key] = str(record[key])
    return record


def _route_map(result: Mapping[str, Any]) -> RouteMap | None:
    coords = result.get("coords")
    routes = result.get("routes")
    if result.get("status") != "ok" or not coords or not isinstance(routes, list):
        return None
    return RouteMap(str(result.get("instance")), str(result.get("solver")), float(result.get("objective") or 0.0),
                    tuple((float(x), float(y)) for x, y in coords), tuple(tuple(int(c) for c in r) for r in routes))


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        summary = path / "summary.json"
        if summary.is_file():
            return [summary]
        return sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
    if not path.is_file():
        raise DataNotFoundError(path, "Give bench JSON files (--json of `routeplanner bench ...`) or batch folders.")
    return [path]


def _batch_results_beside(summary: Path) -> list[Path]:
    folder = summary.parent / "results"
    return sorted(folder.glob("*.json")) if summary.name == "summary.json" and folder.is_dir() else []


def load_inputs(paths: Sequence[str | Path], *, max_route_maps: int = 4) -> ReportInputs:
    """Read bench record arrays, batch ``summary.json`` files, batch result files and batch folders.

    A batch folder contributes its ``summary.json``; its result files contribute drawable
    routes (at most ``max_route_maps`` instances, the first ones by name).

    Raises
    ------
    DataNotFoundError
        If a path does not exist.
    DataFormatError
        If a file is not JSON or holds neither records nor a batch result.
    """
    records: list[dict[str, Any]] = []
    maps: list[RouteMap] = []
    sources: list[str] = []
    for given in paths:
        for path in _files(Path(given).expanduser()):
            sources.append(str(path))
            try:
                data = json.loads(path.read_text())
            except ValueError as exc:
                raise DataFormatError(path, f"not JSON ({exc})") from None
            if _is_batch_result(data):
                from planner.batch.runner import result_record

                records.append(_check_record(path, 0, result_record(data)))
                drawn = _route_map(data)
                if drawn is not None:
                    maps.append(drawn)
                continue
            if not isinstance(data, list):
                raise DataFormatError(path, "expected a JSON array of bench records or a batch result")
            records.extend(_check_record(path, k, value) for k, value in enumerate(data))
            for result_file in _batch_results_beside(path):
                if len(maps) >= max_route_maps:
                    break
                try:
                    drawn = _route_map(json.loads(result_file.read_text()))
                except ValueError:
                    continue  # a damaged result file is not the report's business
                if drawn is not None:
                    maps.append(drawn)
    return ReportInputs(tuple(records), tuple(maps[:max_route_maps]), tuple(sources))


def families(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Families present, in first-seen order."""
    return list(dict.fromkeys(str(r["family"]) for r in records))
