"""What a batch solves: the instances named by files, folders, globs, suites and specs."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from planner.errors import DataNotFoundError

#: File suffixes a folder or glob contributes.
INSTANCE_SUFFIXES = (".vrp", ".txt")
#: Spec prefixes read by :func:`datasets.detect.load_problem`.
SPEC_PREFIXES = ("gen:", "road:")


@dataclass(frozen=True)
class BatchInput:
    """One instance of a batch: where to read it, and the suite it is reported under."""

    source: str
    suite: str


def suite_names() -> list[str]:
    """Every suite a batch accepts by name (the bench suites and the real-road suites)."""
    from datasets.generators.road_vrp import ROAD_SUITES
    from planner.bench.vrp import SUITES

    return [*SUITES, *ROAD_SUITES]


def _suite_inputs(name: str) -> list[BatchInput] | None:
    from datasets.generators.road_vrp import ROAD_SUITES
    from planner.bench.vrp import SUITES, suite_instances

    if name in ROAD_SUITES:
        return [BatchInput(spec, name) for spec in ROAD_SUITES[name]]
    if name in SUITES:
        return [BatchInput(path, name) for _, path in suite_instances(name)]
    return None


def _folder_inputs(folder: Path) -> list[BatchInput]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in INSTANCE_SUFFIXES)
    return [BatchInput(str(p), folder.name) for p in files]


def expand_inputs(inputs: Sequence[str]) -> list[BatchInput]:
    """Turn command-line inputs into instances, in order, without duplicates.

    Each input is tried as: a ``gen:``/``road:`` spec; a suite name (``x-small``, ``solomon``,
    ``road-small``, see :func:`suite_names`); a glob (``data/X/X-n1*.vrp``); a folder (its
    ``.vrp``/``.txt`` files); a file; otherwise a data-set instance name (``C101``), resolved
    when it is solved.

    Raises
    ------
    DataNotFoundError
        If a glob or folder matches no instance file.
    """
    out: dict[str, BatchInput] = {}
    for text in inputs:
        text = text.strip()
        if not text:
            continue
        found: list[BatchInput]
        if text.startswith(SPEC_PREFIXES):
            found = [BatchInput(text, text.split(":", 1)[0])]
        elif (suite := _suite_inputs(text)) is not None:
            found = suite
        elif any(c in text for c in "*?["):
            paths = sorted(Path(p) for p in glob.glob(str(Path(text).expanduser()), recursive=True))
            found = [BatchInput(str(p), p.parent.name) for p in paths if p.is_file()]
            if not found:
                raise DataNotFoundError(Path(text), "The pattern matches no instance file.")
        elif Path(text).expanduser().is_dir():
            found = _folder_inputs(Path(text).expanduser())
            if not found:
                raise DataNotFoundError(Path(text), f"The folder holds no {'/'.join(INSTANCE_SUFFIXES)} files.")
        elif Path(text).expanduser().is_file():
            path = Path(text).expanduser()
            found = [BatchInput(str(path), path.parent.name)]
        else:
            found = [BatchInput(text, "named")]
        for item in found:
            out.setdefault(item.source, item)
    return list(out.values())
