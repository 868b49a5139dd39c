"""Readers and writers of vehicle-routing files: CVRPLIB/VRPLIB ``.vrp``, Solomon and
Gehring-Homberger ``.txt``, CVRPLIB ``.sol`` solutions, and the best-known values of ``bks.csv``.

Distance conventions (they decide whether gaps to best-known values are right):

- VRPLIB ``EUC_2D`` without time windows: ``rounding="nint"``, ``floor(d + 0.5)`` (CVRPLIB).
- VRPLIB with a ``TIME_WINDOW_SECTION`` and Solomon text files: ``rounding="dimacs"``,
  ``trunc(10 d) / 10`` (DIMACS 2021 convention of the Solomon/GH best-known solutions), with
  travel time equal to distance.
- ``EXPLICIT`` matrices are taken as given (``rounding="none"``).

Every reader accepts ``rounding=`` to override the default.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datasets.location import data_dir
from planner.errors import DataFormatError, DataNotFoundError
from planner.vrp import VrpInstance, VrpSolution

_SPEC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*?)\s*$")
_KNOWN_SECTIONS = {
    "NODE_COORD_SECTION", "DEMAND_SECTION", "DEPOT_SECTION", "EDGE_WEIGHT_SECTION",
    "TIME_WINDOW_SECTION", "SERVICE_TIME_SECTION",
}


def _read_text(path: str | Path) -> tuple[Path, list[str]]:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataNotFoundError(p, "Give the path of an instance file, or see `routeplanner datasets list`.")
    if p.is_dir():
        raise DataFormatError(p, "a folder, not an instance file")
    raw = p.read_bytes()
    if b"\x00" in raw[:4096]:
        raise DataFormatError(p, "binary content, not a text instance file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return p, text.splitlines()


@dataclass
class _Parsed:
    specs: dict[str, tuple[str, int]] = field(default_factory=dict)
    sections: dict[str, list[tuple[int, list[str]]]] = field(default_factory=dict)
    section_line: dict[str, int] = field(default_factory=dict)


def _parse_vrplib(path: Path, lines: list[str]) -> _Parsed:
    out = _Parsed()
    current: str | None = None
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "EOF":
            break
        first = line.split()[0].rstrip(":")
        if first.upper().endswith("_SECTION"):
            current = first.upper()
            out.sections.setdefault(current, [])
            out.section_line[current] = lineno
            continue
        match = _SPEC.match(line)
        if match and not line[0].isdigit() and line[0] != "-":
            out.specs[match.group(1).upper()] = (match.group(2).strip().strip('"').strip(), lineno)
            current = None
            continue
        if current is None:
            raise DataFormatError(path, f"unexpected line outside any section: {line[:60]!r}", lineno)
        out.sections[current].append((lineno, line.split()))
    return out


def _spec_number(path: Path, parsed: _Parsed, key: str, kind: type = float, required: bool = False) -> float | None:
    if key not in parsed.specs:
        if required:
            raise DataFormatError(path, f"{key}: missing")
        return None
    value, lineno = parsed.specs[key]
    try:
        return kind(value) if kind is float else int(float(value))
    except ValueError:
        raise DataFormatError(path, f"{key}: not a number ({value!r})", lineno) from None


def _rows(path: Path, parsed: _Parsed, section: str, width: int, dim: int,
          index: dict[int, int]) -> np.ndarray:
    """Values of a per-node section ``id v1 .. v_width`` as a ``(dim, width)`` array in file order."""
    if section not in parsed.sections:
        raise DataFormatError(path, f"{section}: missing")
    values = np.full((dim, width), np.nan)
    seen = np.zeros(dim, dtype=bool)
    for lineno, tokens in parsed.sections[section]:
        if len(tokens) < width + 1:
            raise DataFormatError(path, f"{section}: expected a node id and {width} value(s), got {' '.join(tokens)!r}",
                                  lineno)
        try:
            node = int(tokens[0])
            vals = [float(t) for t in tokens[1:width + 1]]
        except ValueError:
            raise DataFormatError(path, f"{section}: not a number in {' '.join(tokens)!r}", lineno) from None
        if node not in index:
            raise DataFormatError(path, f"{section}: node {node} outside 1..{dim}", lineno)
        if seen[index[node]]:
            raise DataFormatError(path, f"{section}: node {node} given twice", lineno)
        seen[index[node]] = True
        values[index[node]] = vals
    if not seen.all():
        missing = int(np.flatnonzero(~seen)[0]) + 1
        raise DataFormatError(path, f"{section}: {int((~seen).sum())} node(s) missing, first {missing}",
                              parsed.section_line[section])
    return values


def _explicit_matrix(path: Path, parsed: _Parsed, dim: int) -> np.ndarray:
    fmt = parsed.specs.get("EDGE_WEIGHT_FORMAT", ("FULL_MATRIX", 0))[0].upper()
    if "EDGE_WEIGHT_SECTION" not in parsed.sections:
        raise DataFormatError(path, "EDGE_WEIGHT_SECTION: missing for EDGE_WEIGHT_TYPE EXPLICIT")
    numbers: list[float] = []
    for lineno, tokens in parsed.sections["EDGE_WEIGHT_SECTION"]:
        try:
            numbers.extend(float(t) for t in tokens)
        except ValueError:
            raise DataFormatError(path, f"EDGE_WEIGHT_SECTION: not a number in {' '.join(tokens)!r}", lineno) from None
    w = np.asarray(numbers)
    m = np.zeros((dim, dim))
    if fmt == "FULL_MATRIX":
        expected = dim * dim
        if w.size == expected:
            m = w.reshape(dim, dim)
    else:
        diag = "DIAG" in fmt
        lower = fmt.startswith("LOWER")
        by_col = fmt.endswith("_COL")
        if fmt not in {"LOWER_ROW", "UPPER_ROW", "LOWER_DIAG_ROW", "UPPER_DIAG_ROW",
                       "LOWER_COL", "UPPER_COL", "LOWER_DIAG_COL", "UPPER_DIAG_COL"}:
            raise DataFormatError(path, f"EDGE_WEIGHT_FORMAT: unsupported {fmt!r}",
                                  parsed.specs["EDGE_WEIGHT_FORMAT"][1])
        # a column-wise lower triangle lists the same numbers as a row-wise upper triangle
        if by_col:
            lower = not lower
        k = 0 if diag else 1
        rows, cols = np.tril_indices(dim, -k) if lower else np.triu_indices(dim, k)
        expected = rows.size
        if w.size == expected:
            m[rows, cols] = w
            m[cols, rows] = w
    if w.size != expected:
        raise DataFormatError(path, f"EDGE_WEIGHT_SECTION: {w.size} numbers, expected {expected} for {fmt} "
                                    f"with DIMENSION {dim}", parsed.section_line["EDGE_WEIGHT_SECTION"])
    return m


def read_vrplib(path: str | Path, *, rounding: str | None = None) -> VrpInstance:
    """Read a CVRPLIB/VRPLIB ``.vrp`` instance.

    Supports ``EDGE_WEIGHT_TYPE`` ``EUC_2D`` and ``EXPLICIT`` (``FULL_MATRIX`` and the
    row/column triangular formats), ``NODE_COORD_SECTION``, ``DEMAND_SECTION``,
    ``DEPOT_SECTION`` (one depot), ``TIME_WINDOW_SECTION``, ``SERVICE_TIME_SECTION`` or a
    ``SERVICE_TIME`` value (clients only), ``VEHICLES`` and ``DISTANCE`` (maximum route
    duration). The depot becomes node 0; clients keep the order of the file, so client ``i``
    is the ``i``-th non-depot node, as in ``.sol`` files.

    Parameters
    ----------
    path
        The file.
    rounding
        Distance convention for ``EUC_2D``; default ``"dimacs"`` with time windows, else ``"nint"``.

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    DataFormatError
        If a section or field is missing or malformed (naming it and the line).
    ValidationError
        If the values read are not a valid instance (e.g. a negative demand).
    """
    p, lines = _read_text(path)
    parsed = _parse_vrplib(p, lines)
    if not parsed.specs and not parsed.sections:
        raise DataFormatError(p, "empty file")
    dim = _spec_number(p, parsed, "DIMENSION", int, required=True)
    if dim is None or dim < 1:
        raise DataFormatError(p, f"DIMENSION: must be at least 1 ({dim})", parsed.specs["DIMENSION"][1])
    capacity = _spec_number(p, parsed, "CAPACITY", float, required=True)
    name = parsed.specs.get("NAME", (p.stem, 0))[0] or p.stem
    ids = list(range(1, dim + 1))
    index = {node: k for k, node in enumerate(ids)}

    depots: list[int] = []
    for lineno, tokens in parsed.sections.get("DEPOT_SECTION", []):
        for t in tokens:
            try:
                node = int(t)
            except ValueError:
                raise DataFormatError(p, f"DEPOT_SECTION: not a node id ({t!r})", lineno) from None
            if node == -1:
                break
            if node not in index:
                raise DataFormatError(p, f"DEPOT_SECTION: node {node} outside 1..{dim}", lineno)
            depots.append(node)
    if len(depots) > 1:
        raise DataFormatError(p, f"DEPOT_SECTION: {len(depots)} depots; only single-depot instances are supported",
                              parsed.section_line["DEPOT_SECTION"])
    depot = index[depots[0]] if depots else 0
    order = np.array([depot] + [k for k in range(dim) if k != depot])

    demands = _rows(p, parsed, "DEMAND_SECTION", 1, dim, index)[:, 0]
    has_tw = "TIME_WINDOW_SECTION" in parsed.sections
    tw = _rows(p, parsed, "TIME_WINDOW_SECTION", 2, dim, index) if has_tw else None

    service = None
    if "SERVICE_TIME_SECTION" in parsed.sections:
        service = _rows(p, parsed, "SERVICE_TIME_SECTION", 1, dim, index)[:, 0]
    elif "SERVICE_TIME" in parsed.specs:
        value = _spec_number(p, parsed, "SERVICE_TIME", float)
        service = np.full(dim, value)
        service[depot] = 0.0

    coords = None
    if "NODE_COORD_SECTION" in parsed.sections:
        coords = _rows(p, parsed, "NODE_COORD_SECTION", 2, dim, index)
    edge_type = parsed.specs.get("EDGE_WEIGHT_TYPE", ("EUC_2D", 0))[0].upper()
    distances = None
    if edge_type == "EXPLICIT":
        distances = _explicit_matrix(p, parsed, dim)[np.ix_(order, order)]
        rounding = rounding or "none"
    elif edge_type == "EUC_2D":
        if coords is None:
            raise DataFormatError(p, "NODE_COORD_SECTION: missing for EDGE_WEIGHT_TYPE EUC_2D")
        rounding = rounding or ("dimacs" if has_tw else "nint")
    else:
        raise DataFormatError(p, f"EDGE_WEIGHT_TYPE: unsupported {edge_type!r} (supported: EUC_2D, EXPLICIT)",
                              parsed.specs["EDGE_WEIGHT_TYPE"][1])

    return VrpInstance(
        name=name,
        demands=demands[order],
        capacity=capacity,
        coords=None if coords is None else coords[order],
        distances=distances,
        time_windows=None if tw is None else tw[order],
        service_times=None if service is None else service[order],
        num_vehicles=_spec_number(p, parsed, "VEHICLES", int),
        max_route_duration=_spec_number(p, parsed, "DISTANCE", float),
        rounding=rounding,
        client_ids=np.asarray(ids)[order],
    )


def read_solomon(path: str | Path, *, rounding: str = "dimacs") -> VrpInstance:
    """Read a VRPTW instance in the Solomon / Gehring-Homberger text format.

    The format: the instance name, a ``VEHICLE`` block (``NUMBER CAPACITY`` header and one line
    of two integers), a ``CUSTOMER`` block (a header line, then one row per node: number, x, y,
    demand, ready time, due date, service time; node 0 is the depot).

    Parameters
    ----------
    path
        The file.
    rounding
        Distance convention, default ``"dimacs"`` (``trunc(10 d) / 10``, travel time = distance).

    Raises
    ------
    DataNotFoundError, DataFormatError, ValidationError
        As :func:`read_vrplib`.
    """
    p, lines = _read_text(path)
    numbered = [(k, line.strip()) for k, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise DataFormatError(p, "empty file")
    name = numbered[0][1]
    upper = [line.upper() for _, line in numbered]
    if "VEHICLE" not in upper:
        raise DataFormatError(p, "VEHICLE: section missing (not a Solomon file)")
    if "CUSTOMER" not in upper:
        raise DataFormatError(p, "CUSTOMER: section missing (not a Solomon file)")
    v = upper.index("VEHICLE")
    fleet_line, fleet_text = numbered[v + 2] if v + 2 < len(numbered) else (numbered[-1][0], "")
    try:
        num_vehicles, capacity = (int(t) for t in fleet_text.split())
    except ValueError:
        raise DataFormatError(p, f"VEHICLE: expected 'NUMBER CAPACITY' values, got {fleet_text!r}", fleet_line) \
            from None
    c = upper.index("CUSTOMER")
    rows: list[list[float]] = []
    for lineno, line in numbered[c + 2:]:
        tokens = line.split()
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            raise DataFormatError(p, f"CUSTOMER: not a number in {line!r}", lineno) from None
        if len(values) != 7:
            raise DataFormatError(p, f"CUSTOMER: expected 7 columns (no, x, y, demand, ready, due, service), "
                                     f"got {len(values)}", lineno)
        if int(values[0]) != len(rows):
            raise DataFormatError(p, f"CUSTOMER: expected node {len(rows)}, got {tokens[0]}", lineno)
        rows.append(values)
    if not rows:
        raise DataFormatError(p, "CUSTOMER: no rows", numbered[c][0])
    table = np.asarray(rows)
    return VrpInstance(
        name=name,
        demands=table[:, 3],
        capacity=capacity,
        coords=table[:, 1:3],
        time_windows=table[:, 4:6],
        service_times=table[:, 6],
        num_vehicles=num_vehicles,
        rounding=rounding,
        client_ids=table[:, 0].astype(np.int64),
    )


def _first_lines(lines: list[str], count: int = 40) -> Iterator[str]:
    taken = 0
    for line in lines:
        if line.strip():
            yield line.strip()
            taken += 1
            if taken >= count:
                return


def read_instance(path: str | Path) -> VrpInstance:
    """Read a vehicle-routing instance, detecting VRPLIB or Solomon format from the content.

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    DataFormatError
        If it is neither format (e.g. a TNTP network file, or garbage).
    """
    p, lines = _read_text(path)
    head = list(_first_lines(lines))
    if not head:
        raise DataFormatError(p, "empty file")
    if any(line.upper().startswith("<NUMBER OF") for line in head):
        raise DataFormatError(p, "a TNTP traffic file, not a vehicle-routing instance", 1)
    keys = {m.group(1).upper() for line in head if (m := _SPEC.match(line))}
    if keys & {"DIMENSION", "CAPACITY", "EDGE_WEIGHT_TYPE"} or any(line.upper().endswith("_SECTION") for line in head):
        return read_vrplib(p)
    upper = [line.upper() for line in head]
    if "VEHICLE" in upper and "CUSTOMER" in upper:
        return read_solomon(p)
    raise DataFormatError(p, "not a VRPLIB (.vrp) or Solomon instance: no DIMENSION/CAPACITY fields and no "
                             "VEHICLE/CUSTOMER blocks", 1)


def read_solution(path: str | Path) -> VrpSolution:
    """Read a CVRPLIB ``.sol`` file: ``Route #k: c1 c2 ...`` lines and a ``Cost`` line.

    Other lines (e.g. ``Time``, comments) are ignored.

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    DataFormatError
        If a route line holds something other than client numbers, or there is no route or no
        ``Cost`` line.
    """
    p, lines = _read_text(path)
    routes: list[np.ndarray] = []
    cost: float | None = None
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line.lower().startswith("route"):
            _, sep, rest = line.partition(":")
            if not sep:
                raise DataFormatError(p, f"Route: expected 'Route #k: clients', got {line[:60]!r}", lineno)
            try:
                routes.append(np.array([int(t) for t in rest.split()], dtype=np.int64))
            except ValueError:
                raise DataFormatError(p, f"Route: not a client number in {rest.strip()[:60]!r}", lineno) from None
        elif line.lower().startswith("cost"):
            tokens = line.split()
            try:
                cost = float(tokens[1])
            except (IndexError, ValueError):
                raise DataFormatError(p, f"Cost: expected 'Cost <number>', got {line[:60]!r}", lineno) from None
    if not routes:
        raise DataFormatError(p, "no 'Route #k:' line (not a CVRPLIB solution file)")
    if cost is None:
        raise DataFormatError(p, "Cost: missing")
    return VrpSolution(routes=tuple(routes), objective=cost, meta={"source": str(p)})


def _format_cost(value: float) -> str:
    if value == round(value):
        return str(round(value))
    return f"{value:.10g}"


def write_solution(path: str | Path, solution: VrpSolution) -> None:
    """Write ``solution`` in CVRPLIB ``.sol`` format (non-empty routes only, then ``Cost``)."""
    p = Path(path).expanduser()
    lines = []
    k = 0
    for route in solution.routes:
        if len(route):
            k += 1
            lines.append(f"Route #{k}: " + " ".join(str(int(c)) for c in route))
    lines.append(f"Cost {_format_cost(solution.objective)}")
    p.write_text("\n".join(lines) + "\n")


def best_known(instance_name: str, *, path: str | Path | None = None) -> float | None:
    """Best-known objective of ``instance_name`` from ``bks.csv`` (columns ``instance,...,bks``).

    Parameters
    ----------
    instance_name
        Name as in the file's ``NAME`` (``X-n101-k25``, ``C101``).
    path
        The CSV; default ``<data dir>/vrp/bks.csv``.

    Returns
    -------
    float or None
        ``None`` when the file or the instance is absent.
    """
    csv_path = Path(path) if path is not None else data_dir() / "vrp" / "bks.csv"
    if not csv_path.is_file():
        return None
    with csv_path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("instance") == instance_name:
                try:
                    return float(row["bks"])
                except (KeyError, TypeError, ValueError):
                    return None
    return None
