"""WAN / ISP topologies from GraphML: the Internet Topology Zoo and the DRL+GNN topologies.

:func:`read_topology` parses a file with ``networkx.read_graphml`` and builds a
:class:`Topology`: a :class:`~planner.graph.csr.Graph` with every (undirected) link stored as
two directed edges, plus node labels, coordinates and the network's metadata.

Conventions
-----------
* Node ids (``graph.node_ids``) are the GraphML node ids (strings ``"0"``, ``"1"``, ...); the
  readable names are :attr:`Topology.labels` (not unique in the Zoo).
* ``capacity`` (Gb/s) is ``LinkSpeedRaw`` (bits/s) / 1e9 where an edge has it. Elsewhere it is
  ``default_capacity_gbps``; when that is ``None``, the graph attribute ``EnvLinkCapacity`` if
  the file has one (the DRL+GNN files: 200, the unit-less capacity of that paper's environment),
  else :data:`DEFAULT_CAPACITY_GBPS`. Edge attribute ``capacity_known`` says which edges had a
  link speed in the file.
* ``length_km``: great-circle (haversine) distance between the two ends where both have
  ``Latitude``/``Longitude``, NaN otherwise. Coordinates are (longitude, latitude), NaN where
  missing.
* Self-loops (two in ``Interoute``) carry no traffic and are dropped (counted in
  ``metadata["self_loops"]``).
* Parallel links (96 Zoo networks are multigraphs): ``parallel="sum"`` merges them into one link
  with the summed capacity, ``"min"`` into one link with the smallest capacity, ``"keep"``
  keeps each as its own pair of edges.
* Disconnected networks (23 in the Zoo): ``largest_component=True`` keeps the largest connected
  component (ties: the one containing the node that comes first in the file).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from datasets.location import data_dir
from planner.errors import DataFormatError, DataNotFoundError, ValidationError
from planner.graph.csr import Graph

#: Link rate (Gb/s) of edges without ``LinkSpeedRaw`` in a file without ``EnvLinkCapacity``.
DEFAULT_CAPACITY_GBPS = 10.0
#: Mean Earth radius used by the haversine length, km.
EARTH_RADIUS_KM = 6371.0088

ZOO_FOLDER = ("topologies", "zoo_graphml")
DRL_GNN_FOLDER = ("topologies", "drl_gnn")
_DRL_SUFFIX = "_drlgnn"

ParallelPolicy = Literal["sum", "min", "keep"]


@dataclass(frozen=True, eq=False)
class Topology:
    """A WAN / ISP topology.

    Parameters
    ----------
    graph
        Directed graph, every link as two edges; edge attributes ``capacity`` (Gb/s),
        ``capacity_known`` (bool), ``length_km`` (NaN where an end lacks coordinates),
        ``multiplicity`` (number of parallel links merged); ``coords`` (lon, lat) with NaN where
        missing.
    labels
        Readable name of every node (the GraphML ``label``, else the node id).
    network
        The ``Network`` graph attribute (else the file stem).
    type
        The ``Type`` graph attribute (``REN``, ``COM``, ...), empty if absent.
    geo_extent
        The ``GeoExtent`` graph attribute, empty if absent.
    metadata
        All graph attributes of the file, plus ``source`` (the path), ``self_loops``,
        ``components`` and ``dropped_nodes``.
    """

    graph: Graph
    labels: np.ndarray
    network: str = ""
    type: str = ""
    geo_extent: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def coords(self) -> np.ndarray:
        """``(n, 2)`` array of (longitude, latitude) in degrees, NaN where unknown."""
        return self.graph.coords

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return self.graph.n_nodes

    @property
    def n_links(self) -> int:
        """Number of undirected links (half the directed edges)."""
        return self.graph.n_edges // 2


def _catalogue() -> dict[str, Path]:
    """Name -> path of every topology in the data directory (Zoo stems, DRL+GNN short names)."""
    names: dict[str, Path] = {}
    root = data_dir()
    for path in sorted(root.joinpath(*ZOO_FOLDER).glob("*.graphml")):
        names[path.stem] = path
    for path in sorted(root.joinpath(*DRL_GNN_FOLDER).glob("*.graphml")):
        stem = path.stem
        names[stem[: -len(_DRL_SUFFIX)] if stem.endswith(_DRL_SUFFIX) else stem] = path
    return names


def list_topologies() -> list[str]:
    """Names of the topologies in the data directory, sorted: the Zoo file stems (``Abilene``)
    and the DRL+GNN short names (``nsfnet``, ``geant2``, ``gbn``). Empty without data."""
    return sorted(_catalogue(), key=lambda s: (s.lower(), s))


def resolve_topology(path_or_name: str | Path) -> Path:
    """The file of a topology name or path.

    A name is looked up exactly first (``Abilene``, ``nsfnet`` - the 14-node DRL+GNN NSFNET -,
    ``Nsfnet`` - the Zoo's 13-node one), then case-insensitively where that is unambiguous. A
    string with a path separator or a ``.graphml`` suffix, or a ``Path``, is taken as a path.

    Raises
    ------
    DataNotFoundError
        If no such file or topology exists.
    """
    text = str(path_or_name)
    if isinstance(path_or_name, Path) or "/" in text or text.endswith(".graphml"):
        path = Path(path_or_name).expanduser()
        if not path.is_file():
            raise DataNotFoundError(path, "No such topology file.")
        return path
    catalogue = _catalogue()
    if text in catalogue:
        return catalogue[text]
    folded = [name for name in catalogue if name.lower() == text.lower()]
    if len(folded) == 1:
        return catalogue[folded[0]]
    near = [name for name in catalogue if text.lower() in name.lower()][:8]
    hint = f"Similar names: {', '.join(near)}." if near else "See list_topologies()."
    raise DataNotFoundError(data_dir().joinpath(*ZOO_FOLDER, f"{text}.graphml"), f"No topology {text!r}. {hint}")


def _haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlmb = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _float_or_nan(value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


def read_topology(
    path_or_name: str | Path,
    *,
    largest_component: bool = True,
    parallel: ParallelPolicy = "sum",
    default_capacity_gbps: float | None = None,
) -> Topology:
    """Read a GraphML topology.

    Parameters
    ----------
    path_or_name
        A file, or a name from :func:`list_topologies` (see :func:`resolve_topology`).
    largest_component
        Keep only the largest connected component.
    parallel
        ``"sum"``, ``"min"`` or ``"keep"`` (see the module notes).
    default_capacity_gbps
        Capacity of links without ``LinkSpeedRaw``; ``None``: ``EnvLinkCapacity`` of the file,
        else :data:`DEFAULT_CAPACITY_GBPS`.

    Raises
    ------
    DataNotFoundError
        If the file or name does not exist.
    DataFormatError
        If the file is not GraphML.
    ValidationError
        For a bad ``parallel`` or ``default_capacity_gbps``.
    """
    if parallel not in ("sum", "min", "keep"):
        raise ValidationError("parallel", f"must be 'sum', 'min' or 'keep', got {parallel!r}")
    if default_capacity_gbps is not None and not (default_capacity_gbps > 0 and math.isfinite(default_capacity_gbps)):
        raise ValidationError("default_capacity_gbps", f"must be positive and finite ({default_capacity_gbps})")
    path = resolve_topology(path_or_name)
    try:
        g = nx.read_graphml(path)
    except (ET.ParseError, nx.NetworkXError, UnicodeDecodeError, KeyError, ValueError, TypeError) as exc:
        raise DataFormatError(path, f"not a GraphML file ({type(exc).__name__}: {exc})") from None
    attrs = dict(g.graph)
    network = str(attrs.get("Network", "")).strip() or path.stem
    if default_capacity_gbps is None:
        env = _float_or_nan(attrs.get("EnvLinkCapacity"))
        default_capacity_gbps = env if env > 0 else DEFAULT_CAPACITY_GBPS

    ids = list(g.nodes)
    index = {node: i for i, node in enumerate(ids)}
    n = len(ids)
    node_data = [g.nodes[v] for v in ids]
    labels = np.array([str(d.get("label", v)) for v, d in zip(ids, node_data, strict=True)], dtype=object)
    coords = np.array(
        [[_float_or_nan(d.get("Longitude")), _float_or_nan(d.get("Latitude"))] for d in node_data],
        dtype=np.float64,
    ).reshape(n, 2)
    missing = np.isnan(coords).any(axis=1)
    coords[missing] = np.nan

    u_list, v_list, cap_list, known_list = [], [], [], []
    self_loops = 0
    for u, v, data in g.edges(data=True):
        if u == v:
            self_loops += 1
            continue
        speed = _float_or_nan(data.get("LinkSpeedRaw"))
        known = speed > 0
        u_list.append(index[u])
        v_list.append(index[v])
        cap_list.append(speed / 1e9 if known else default_capacity_gbps)
        known_list.append(known)
    tails = np.array(u_list, dtype=np.int64)
    heads = np.array(v_list, dtype=np.int64)
    cap = np.array(cap_list, dtype=np.float64)
    known = np.array(known_list, dtype=bool)
    mult = np.ones(tails.size, dtype=np.int64)

    if parallel != "keep" and tails.size:
        a, b = np.minimum(tails, heads), np.maximum(tails, heads)
        keys, inverse = np.unique(a * n + b, return_inverse=True)
        reduce = np.add if parallel == "sum" else np.minimum
        merged = np.full(keys.size, 0.0 if parallel == "sum" else np.inf)
        reduce.at(merged, inverse, cap)
        # capacity known only if every merged link had a speed
        merged_known = np.ones(keys.size, dtype=bool)
        np.logical_and.at(merged_known, inverse, known)
        mult = np.bincount(inverse, minlength=keys.size)
        tails, heads, cap, known = keys // n, keys % n, merged, merged_known

    lengths = _haversine_km(coords[tails, 0], coords[tails, 1], coords[heads, 0], coords[heads, 1])
    adjacency = sp.coo_array((np.ones(tails.size), (tails, heads)), shape=(n, n))
    n_components, component = csgraph.connected_components(adjacency, directed=False)
    keep = np.ones(n, dtype=bool)
    if largest_component and n_components > 1:
        # labels are numbered in order of discovery from node 0, so argmax breaks ties towards
        # the component holding the earliest node of the file
        keep = component == np.argmax(np.bincount(component))
    metadata = {
        **attrs,
        "source": str(path),
        "self_loops": self_loops,
        "components": int(n_components),
        "parallel": parallel,
        "default_capacity_gbps": float(default_capacity_gbps),
        "dropped_nodes": int(n - keep.sum()),
    }
    graph = Graph.from_edges(
        n,
        np.concatenate([tails, heads]),
        np.concatenate([heads, tails]),
        {
            "capacity": np.concatenate([cap, cap]),
            "capacity_known": np.concatenate([known, known]),
            "length_km": np.concatenate([lengths, lengths]),
            "multiplicity": np.concatenate([mult, mult]),
        },
        node_ids=np.array([str(v) for v in ids]),
        coords=coords,
        name=network,
        metadata=metadata,
    )
    if not keep.all():
        graph, _ = graph.subgraph(keep)
        labels = labels[keep]
    return Topology(
        graph=graph,
        labels=labels.astype(str),
        network=network,
        type=str(attrs.get("Type", "")).strip(),
        geo_extent=str(attrs.get("GeoExtent", "")).strip(),
        metadata=graph.metadata,
    )
