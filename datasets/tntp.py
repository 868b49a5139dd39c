"""Readers and writer for the TNTP traffic-assignment format (bstabler/TransportationNetworks).

Files of one network live in one folder: ``*_net.tntp`` (links), ``*_trips.tntp`` (OD demand),
optionally ``*_node.tntp`` or ``*.geojson`` (node coordinates) and ``*_flow.tntp`` (best-known
user-equilibrium flows). Every reader takes the folder or the file itself; the network readers
also take a network name (``SiouxFalls``, ``Chicago-Sketch``) found in ``<data dir>/tntp``.

Format quirks handled:

* metadata lines ``<TAG> value`` up to ``<END OF METADATA>``; ``~`` starts a comment line;
  columns separated by any mix of tabs and spaces; rows end with ``;`` (or not, on the last row
  of Braess);
* ``*_trips.tntp`` blocks ``Origin o`` followed by ``dest : flow;`` entries, several per line;
  intrazonal entries (``o == d``) carry no link flow and are dropped, their total and count kept
  in :class:`~planner.assignment.Demand`; a repeated (o, d) entry is a format error;
* zero free-flow times and ``b = 0`` with ``power = 0`` are read as they are (the cost model
  in :mod:`planner.assignment` handles them exactly);
* duplicate links (Berlin-Center has six node pairs listed twice, with different parameters)
  are kept as separate parallel links, as in the file; the Berlin-Center README says reports since
  2013 use only the first of each pair, which a caller can get by dropping the later ones.

Generalized-cost factors are not in the files but in each network's README; the known ones are
in :data:`COST_FACTORS` (only Chicago-Sketch has non-zero factors) and every reader lets the
caller override them.

Bad files raise :class:`~planner.errors.DataFormatError` naming the file and line; missing files
raise :class:`~planner.errors.DataNotFoundError`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

from datasets.location import data_dir
from planner.assignment import AssignmentProblem, AssignmentResult, Demand, Objective, TrafficNetwork
from planner.errors import DataFormatError, DataNotFoundError, ValidationError
from planner.graph.csr import Graph

#: ``(toll_factor, distance_factor)`` of the networks whose README gives non-zero ones, keyed by
#: the network name lower-cased with non-alphanumerics removed. Chicago-Sketch README:
#: "Toll: 0.02 minutes/cent", "Distance: 0.04 minutes/mile". Every other network: zero.
COST_FACTORS: Mapping[str, tuple[float, float]] = MappingProxyType({"chicagosketch": (0.02, 0.04)})

#: Columns of a ``*_net.tntp`` row.
NET_COLUMNS = ("init_node", "term_node", "capacity", "length", "free_flow_time", "b", "power", "speed",
               "toll", "link_type")

_META = re.compile(r"^\s*<([^>]*)>(.*)$")
_ORIGIN = re.compile(r"^\s*Origin\s+(\S+)\s*;?\s*$", re.IGNORECASE)
_ENTRY = re.compile(r"([^\s:;]+)\s*:\s*([^\s:;]+)\s*(?:;|$|(?=\s))")


def network_key(name: str) -> str:
    """Key of a network name in :data:`COST_FACTORS` (``Chicago-Sketch`` -> ``chicagosketch``)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def cost_factors(name: str) -> tuple[float, float]:
    """``(toll_factor, distance_factor)`` of the network ``name`` (zeros when not listed)."""
    return COST_FACTORS.get(network_key(name), (0.0, 0.0))


# ---------------------------------------------------------------------------------------------
# locating files


def tntp_folder(folder_or_file: str | Path) -> Path:
    """The folder of a network given as a folder, a file in it, or a network name.

    Raises
    ------
    DataNotFoundError
        If no such path exists and no folder of that name is in ``<data dir>/tntp``.
    """
    path = Path(folder_or_file).expanduser()
    if path.exists():
        return path if path.is_dir() else path.parent
    root = data_dir() / "tntp"
    if len(path.parts) == 1 and root.is_dir():
        wanted = network_key(str(folder_or_file))
        for candidate in sorted(root.iterdir()):
            if candidate.is_dir() and network_key(candidate.name) == wanted:
                return candidate
        names = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir()))
        raise DataNotFoundError(path, f"Not a path, nor a network in {root} (has: {names}).")
    raise DataNotFoundError(path, "Give a TNTP folder, a TNTP file or a network name.")


def _find(folder_or_file: str | Path, suffix: str, *, required: bool = True) -> Path | None:
    """The file ending in ``suffix`` (case-insensitive) for a folder, file or network name.

    A file argument that itself ends in ``suffix`` is returned; for another file of the network
    the sibling with the same prefix is preferred (``X_net.tntp`` -> ``X_trips.tntp``).
    """
    given = Path(folder_or_file).expanduser()
    if given.is_file() and given.name.lower().endswith(suffix):
        return given
    folder = tntp_folder(folder_or_file)
    matches = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffix))
    if given.is_file() and len(matches) > 1:
        prefix = re.sub(r"_[a-z]+\.tntp$", "", given.name.lower())
        same = [p for p in matches if p.name.lower().startswith(prefix + "_")]
        matches = same or matches
    if len(matches) == 1:
        return matches[0]
    if not matches:
        if not required:
            return None
        raise DataNotFoundError(folder / f"*{suffix}", f"No {suffix} file in {folder}.")
    raise DataFormatError(folder, f"several {suffix} files: " + ", ".join(p.name for p in matches))


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        raise DataNotFoundError(path) from None
    except OSError as exc:
        raise DataFormatError(path, f"cannot read ({exc})") from exc


def _metadata(path: Path, lines: list[str]) -> tuple[dict[str, tuple[str, int]], int]:
    """Metadata ``{TAG: (value, line number)}`` and the index of the first line after it."""
    meta: dict[str, tuple[str, int]] = {}
    for i, line in enumerate(lines):
        match = _META.match(line)
        if match is None:
            if line.strip() and not line.lstrip().startswith("~"):
                raise DataFormatError(path, f"expected a metadata line <TAG> value, got {line.strip()[:60]!r}", i + 1)
            continue
        tag = " ".join(match.group(1).upper().split())
        if tag == "END OF METADATA":
            return meta, i + 1
        meta[tag] = (match.group(2).strip(), i + 1)
    raise DataFormatError(path, "no <END OF METADATA> line")


def _meta_int(path: Path, meta: dict[str, tuple[str, int]], tag: str) -> int:
    if tag not in meta:
        raise DataFormatError(path, f"metadata <{tag}> missing")
    value, line = meta[tag]
    try:
        return int(value.split()[0].rstrip(";"))
    except (ValueError, IndexError):
        raise DataFormatError(path, f"<{tag}> is not an integer ({value!r})", line) from None


def _meta_float(path: Path, meta: dict[str, tuple[str, int]], tag: str) -> float | None:
    if tag not in meta:
        return None
    value, line = meta[tag]
    try:
        return float(value.split()[0].rstrip(";"))
    except (ValueError, IndexError):
        raise DataFormatError(path, f"<{tag}> is not a number ({value!r})", line) from None


def _data_rows(lines: list[str], start: int) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of every data row from ``start``: comments and blanks skipped,
    everything from the first ``;`` on removed."""
    rows = []
    for i in range(start, len(lines)):
        text = lines[i].split(";", 1)[0]
        fields = text.split()
        if fields and not fields[0].startswith("~"):
            rows.append((i + 1, fields))
    return rows


# ---------------------------------------------------------------------------------------------
# network


def read_tntp_network(folder_or_net_file: str | Path, *, name: str | None = None,
                      toll_factor: float | None = None, distance_factor: float | None = None,
                      with_demand: bool = True) -> TrafficNetwork:
    """Read a ``*_net.tntp`` file, node coordinates when the folder has them, and its
    ``*_trips.tntp`` trip table (as ``network.demand``) when there is one.

    Parameters
    ----------
    folder_or_net_file
        The network folder, its net file, or a network name in ``<data dir>/tntp``.
    name
        Network name (default: the folder name, e.g. ``Chicago-Sketch``).
    toll_factor, distance_factor
        Generalized-cost factors; default from :data:`COST_FACTORS` by network name.
    with_demand
        Also read the trip table beside the net file into ``network.demand`` (left ``None``
        when the folder has no ``*_trips.tntp``); ``False`` reads the network only.

    Returns
    -------
    TrafficNetwork
        Node ids ``1..<NUMBER OF NODES>``; links in CSR order with ``link_order`` mapping back
        to file order. ``graph.metadata`` holds the source file, the column ``speed`` (unused by
        the cost model) is the edge attribute ``speed``.

    Raises
    ------
    DataNotFoundError
        If the file is missing.
    DataFormatError
        For malformed metadata or rows (naming the line), a node outside ``1..<NUMBER OF
        NODES>``, or a link count different from ``<NUMBER OF LINKS>``.
    ValidationError
        For values the model rejects (negative free-flow time, zero capacity with ``b > 0``),
        naming the link as ``links[i]`` with ``i`` 0-based in file order.
    """
    path = _find(folder_or_net_file, "_net.tntp")
    lines = _read_lines(path)
    meta, start = _metadata(path, lines)
    n_zones = _meta_int(path, meta, "NUMBER OF ZONES")
    n_nodes = _meta_int(path, meta, "NUMBER OF NODES")
    first_thru = _meta_int(path, meta, "FIRST THRU NODE")
    n_links = _meta_int(path, meta, "NUMBER OF LINKS")
    rows = _data_rows(lines, start)
    for line, fields in rows:
        if len(fields) != len(NET_COLUMNS):
            raise DataFormatError(path, f"expected {len(NET_COLUMNS)} columns ({' '.join(NET_COLUMNS)}), "
                                        f"got {len(fields)}", line)
    try:
        values = np.array([fields for _, fields in rows], dtype=np.float64).reshape(len(rows), len(NET_COLUMNS))
    except ValueError:
        for line, fields in rows:  # find the culprit for the message
            for column, token in zip(NET_COLUMNS, fields, strict=True):
                try:
                    float(token)
                except ValueError:
                    raise DataFormatError(path, f"{column} is not a number ({_quote(token)!r})", line) from None
        raise
    for j in (0, 1):
        ends = values[:, j]
        bad = np.flatnonzero(~(np.isfinite(ends) & (ends == np.round(ends)) & (ends >= 1) & (ends <= n_nodes)))
        if bad.size:
            line, fields = rows[int(bad[0])]
            raise DataFormatError(path, f"{NET_COLUMNS[j]} {_quote(fields[j])} is not a node in 1..{n_nodes} "
                                        "(<NUMBER OF NODES>)", line)
    if len(rows) != n_links:
        raise DataFormatError(path, f"{len(rows)} link rows, but <NUMBER OF LINKS> is {n_links}")
    folder = path.parent
    net_name = name if name is not None else folder.name
    tf, df = cost_factors(net_name)
    tf = tf if toll_factor is None else float(toll_factor)
    df = df if distance_factor is None else float(distance_factor)
    tails = values[:, 0].astype(np.int64) - 1
    heads = values[:, 1].astype(np.int64) - 1
    link_type = values[:, 9]
    attrs = {
        "capacity": values[:, 2],
        "length": values[:, 3],
        "free_flow_time": values[:, 4],
        "bpr_b": values[:, 5],
        "bpr_power": values[:, 6],
        "speed": values[:, 7],
        "toll": values[:, 8],
        "link_type": np.where(np.isfinite(link_type), link_type, -1).astype(np.int64),
    }
    coords = read_tntp_coordinates(folder, n_nodes)
    graph, order = Graph.from_edges_with_order(
        n_nodes, tails, heads, attrs,
        node_ids=np.arange(1, n_nodes + 1, dtype=np.int64),
        coords=coords,
        name=net_name,
        metadata={"source": str(path), "format": "tntp", "first_thru_node": first_thru,
                  "n_zones": n_zones, "toll_factor": tf, "distance_factor": df},
    )
    network = TrafficNetwork(graph=graph, n_zones=n_zones, first_thru_node=first_thru, toll_factor=tf,
                             distance_factor=df, name=net_name, link_order=order)
    if with_demand:
        trips = _find(path, "_trips.tntp", required=False)
        if trips is not None:
            network = dataclasses.replace(network, demand=read_tntp_demand(trips, network))
    return network


def _quote(token: str) -> str:
    """A token shortened for an error message."""
    return token if len(token) <= 30 else token[:27] + "..."


def read_tntp_coordinates(folder: str | Path, n_nodes: int) -> np.ndarray | None:
    """Node coordinates from ``*_node.tntp`` (``Node X Y ;``) or a ``*.geojson`` of points with
    ``properties.id``; ``None`` when the folder has neither. Nodes not listed get NaN.

    Raises
    ------
    DataFormatError
        For malformed rows or a node id outside ``1..n_nodes``.
    """
    folder = Path(folder)
    node_file = _find(folder, "_node.tntp", required=False)
    coords = np.full((n_nodes, 2), np.nan)
    if node_file is not None:
        for line, fields in _data_rows(_read_lines(node_file), 0):
            if fields[0].lower() == "node":
                continue
            try:
                node, x, y = int(fields[0]), float(fields[1]), float(fields[2])
            except (ValueError, IndexError):
                raise DataFormatError(node_file, "expected a row `node x y ;`", line) from None
            if not 1 <= node <= n_nodes:
                raise DataFormatError(node_file, f"node {node} outside 1..{n_nodes}", line)
            coords[node - 1] = (x, y)
        return coords
    geojson = sorted(folder.glob("*.geojson"))
    if not geojson:
        return None
    try:
        features = json.loads(geojson[0].read_text(encoding="utf-8"))["features"]
        for k, feature in enumerate(features):
            node = int(feature["properties"]["id"])
            x, y = (float(v) for v in feature["geometry"]["coordinates"][:2])
            if not 1 <= node <= n_nodes:
                raise DataFormatError(geojson[0], f"features[{k}]: node {node} outside 1..{n_nodes}")
            coords[node - 1] = (x, y)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise DataFormatError(geojson[0], f"not a GeoJSON collection of node points ({exc!r})") from None
    return coords


# ---------------------------------------------------------------------------------------------
# demand


def read_tntp_demand(folder_or_trips_file: str | Path, network: TrafficNetwork) -> Demand:
    """Read a ``*_trips.tntp`` OD table for ``network``.

    Intrazonal entries are dropped (their total and count are in the result); zero entries are
    kept as zeros.

    Raises
    ------
    DataNotFoundError
        If the file is missing.
    DataFormatError
        For malformed lines, an entry before the first ``Origin``, a zone outside
        ``1..n_zones`` (``unknown zone``), a repeated (origin, destination) entry, a zone count
        different from the network's, or a sum that differs from ``<TOTAL OD FLOW>``.
    ValidationError
        ``demand[o->d]: negative (...)`` / ``not finite (...)`` from :class:`Demand`.
    """
    path = _find(folder_or_trips_file, "_trips.tntp")
    lines = _read_lines(path)
    meta, start = _metadata(path, lines)
    n_zones = _meta_int(path, meta, "NUMBER OF ZONES")
    if n_zones != network.n_zones:
        raise DataFormatError(path, f"<NUMBER OF ZONES> {n_zones}, but network {network.name!r} has "
                                    f"{network.n_zones} zones", meta["NUMBER OF ZONES"][1])
    declared = _meta_float(path, meta, "TOTAL OD FLOW")
    matrix = np.zeros((n_zones, n_zones))
    seen = np.zeros((n_zones, n_zones), dtype=np.int64)  # line number of the entry, 0 if none
    origin = -1
    for i in range(start, len(lines)):
        text = lines[i].strip()
        if not text or text.startswith("~"):
            continue
        match = _ORIGIN.match(text)
        if match is not None:
            origin = _zone(path, match.group(1), n_zones, i + 1)
            continue
        if _ENTRY.sub("", text).strip(" \t;"):
            raise DataFormatError(path, f"expected `Origin o` or `dest : flow;` entries, got {text[:60]!r}", i + 1)
        for dest_token, value_token in _ENTRY.findall(text):
            if origin < 0:
                raise DataFormatError(path, "demand entry before the first `Origin` line", i + 1)
            dest = _zone(path, dest_token, n_zones, i + 1)
            try:
                value = float(value_token)
            except ValueError:
                raise DataFormatError(path, f"flow {value_token!r} to zone {dest} is not a number", i + 1) from None
            if seen[origin - 1, dest - 1]:
                raise DataFormatError(path, f"second entry for {origin}->{dest} (first on line "
                                            f"{seen[origin - 1, dest - 1]})", i + 1)
            seen[origin - 1, dest - 1] = i + 1
            matrix[origin - 1, dest - 1] = value
    if declared is not None and np.all(np.isfinite(matrix)):
        found = float(matrix.sum())
        if abs(found - declared) > 1e-6 * max(1.0, abs(declared)):
            raise DataFormatError(path, f"entries sum to {found!r}, but <TOTAL OD FLOW> is {declared!r}",
                                  meta["TOTAL OD FLOW"][1])
    return Demand(matrix)


def _zone(path: Path, token: str, n_zones: int, line: int) -> int:
    try:
        zone = int(token)
    except ValueError:
        raise DataFormatError(path, f"zone {_quote(token)!r} is not an integer", line) from None
    if not 1 <= zone <= n_zones:
        raise DataFormatError(path, f"unknown zone {zone} (zones are 1..{n_zones})", line)
    return zone


def read_assignment_problem(folder_or_net_file: str | Path, objective: Objective = "ue", *,
                            toll_factor: float | None = None,
                            distance_factor: float | None = None) -> AssignmentProblem:
    """Network and demand of a TNTP network as a validated :class:`AssignmentProblem`.

    Parameters
    ----------
    folder_or_net_file
        The network folder, its net file, or a network name (``SiouxFalls``) in
        ``<data dir>/tntp``.
    objective
        ``"ue"`` or ``"so"``.
    toll_factor, distance_factor
        Override the generalized-cost factors of :data:`COST_FACTORS`.

    Raises
    ------
    DataNotFoundError, DataFormatError, ValidationError, InfeasibleError
        See :func:`read_tntp_network`, :func:`read_tntp_demand` and :class:`AssignmentProblem`.
    """
    network = read_tntp_network(folder_or_net_file, toll_factor=toll_factor, distance_factor=distance_factor)
    demand = network.demand
    if demand is None:  # no trips file beside the net file: raises DataNotFoundError
        source = Path(folder_or_net_file).expanduser()
        demand = read_tntp_demand(source if source.exists() else tntp_folder(folder_or_net_file), network)
    return AssignmentProblem(network=network, demand=demand, objective=objective)


# ---------------------------------------------------------------------------------------------
# flow files


def read_tntp_flows(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read a flow file (``From To Volume Cost``, one row per link, file link order).

    ``path`` may also be a network folder or name, whose ``*_flow.tntp`` is read.

    Returns
    -------
    from_nodes, to_nodes
        TNTP node numbers (int64).
    volume, cost
        Link volume and generalized cost (float64).

    Raises
    ------
    DataNotFoundError
        If the file is missing.
    DataFormatError
        For a row that is not four numbers.
    """
    file = _find(path, "_flow.tntp") if not Path(path).is_file() else Path(path)
    lines = _read_lines(file)
    tails, heads, volume, cost = [], [], [], []
    for line, fields in _data_rows(lines, 0):
        if [f.lower() for f in fields] == ["from", "to", "volume", "cost"]:
            continue
        if len(fields) != 4:
            raise DataFormatError(file, f"expected 4 columns (From To Volume Cost), got {len(fields)}", line)
        try:
            tails.append(int(fields[0]))
            heads.append(int(fields[1]))
            volume.append(float(fields[2]))
            cost.append(float(fields[3]))
        except ValueError:
            raise DataFormatError(file, f"expected `from to volume cost` numbers, got {' '.join(fields)[:60]!r}",
                                  line) from None
    return (np.asarray(tails, dtype=np.int64), np.asarray(heads, dtype=np.int64),
            np.asarray(volume, dtype=np.float64), np.asarray(cost, dtype=np.float64))


def read_tntp_link_flows(path: str | Path, network: TrafficNetwork) -> np.ndarray:
    """Volumes of a flow file as per-edge flows of ``network`` (CSR order).

    Raises
    ------
    DataFormatError
        If the file does not list the network's links in file order (count or endpoints differ).
    """
    tails, heads, volume, _ = read_tntp_flows(path)
    if volume.size != network.n_links:
        raise DataFormatError(path, f"{volume.size} links, network {network.name!r} has {network.n_links}")
    g = network.graph
    edges = network.edge_of_link
    want_t, want_h = g.node_ids[g.tails[edges]], g.node_ids[g.indices[edges]]
    wrong = np.flatnonzero((want_t != tails) | (want_h != heads))
    if wrong.size:
        k = int(wrong[0])
        raise DataFormatError(path, f"row {k} is link {tails[k]}->{heads[k]}, the network's link {k} is "
                                    f"{want_t[k]}->{want_h[k]}")
    return network.from_file_order(volume)


def write_tntp_flows(path: str | Path, problem: AssignmentProblem | TrafficNetwork,
                     result: AssignmentResult) -> Path:
    """Write ``result`` as a TNTP flow file: ``From To Volume Cost``, links in file order.

    Numbers are written with ``repr`` so :func:`read_tntp_flows` reads back the same floats.
    Returns the path written.
    """
    network = problem.network if isinstance(problem, AssignmentProblem) else problem
    flows = np.asarray(result.flows, dtype=np.float64)
    costs = np.asarray(result.costs, dtype=np.float64)
    if flows.shape != (network.n_links,) or costs.shape != (network.n_links,):
        raise ValidationError("result.flows", f"shape {flows.shape} / costs {costs.shape} != ({network.n_links},)")
    g = network.graph
    edges = network.edge_of_link
    tails, heads = g.node_ids[g.tails[edges]].tolist(), g.node_ids[g.indices[edges]].tolist()
    rows = ["From \tTo \tVolume \tCost "]
    rows += [f"{t} \t{h} \t{v!r} \t{c!r} " for t, h, v, c in
             zip(tails, heads, flows[edges].tolist(), costs[edges].tolist(), strict=True)]
    out = Path(path)
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out
