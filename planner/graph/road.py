"""Road networks from OpenStreetMap: the CSR graph plus speeds, road classes and edge shapes.

:func:`build_road_network` turns an OSM XML file (through ``osmnx.graph_from_xml``, offline) or
an osmnx ``MultiDiGraph`` into a :class:`RoadNetwork`. Speeds, travel times and the largest
component are computed on numpy arrays (osmnx's ``add_edge_speeds``/``add_edge_travel_times``/
``largest_component`` cost tens of seconds on a city the size of Porto), and built networks of
files are cached on disk as ``.npz`` so a second load reads arrays only.

Speed policy (documented, reproducible):

1. ``maxspeed`` if it parses: a number in km/h, ``"50 mph"`` / ``"30 knots"`` converted,
   several values (``"50;40"``, ``"50|30"``, or the list a simplified edge carries) averaged.
   Implicit values (``"PT:urban"``, ``"DE:rural"``), ``"none"``, ``"signals"``, ``"walk"`` and
   the like do not parse and fall through to the next rule.
2. Otherwise the speed of the edge's road class in ``speeds`` (default
   :data:`DEFAULT_SPEEDS_KPH`, OSRM car.lua's table).
3. Otherwise ``fallback_speed_kph`` (default :data:`DEFAULT_FALLBACK_SPEED_KPH`), e.g. for
   ``highway=road``.

A simplified edge that merges ways of several road classes gets the most important class
(earliest in :data:`STANDARD_HIGHWAY_CLASSES`). osmnx keeps "the first" of such a list, whose
order comes from a Python ``set`` of strings and so changes between processes; this rule does not.

Map data © OpenStreetMap contributors, Open Database License 1.0.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from planner.errors import DataFormatError, DataNotFoundError, ValidationError
from planner.graph.csr import Graph

if TYPE_CHECKING:
    import networkx as nx

#: Free-flow car speeds in km/h per OSM ``highway`` class: OSRM's ``profiles/car.lua`` table.
DEFAULT_SPEEDS_KPH: Mapping[str, float] = {
    "motorway": 90.0,
    "motorway_link": 45.0,
    "trunk": 85.0,
    "trunk_link": 40.0,
    "primary": 65.0,
    "primary_link": 30.0,
    "secondary": 55.0,
    "secondary_link": 25.0,
    "tertiary": 40.0,
    "tertiary_link": 20.0,
    "unclassified": 25.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
}

#: Speed in km/h of a road class missing from the speed table (``road``, ``busway``, ...):
#: the speed of ``unclassified`` roads.
DEFAULT_FALLBACK_SPEED_KPH = 25.0

#: Road classes with a fixed code (their position), in order of importance. Classes found in
#: a network but not listed here get the codes after these, in alphabetical order.
STANDARD_HIGHWAY_CLASSES: tuple[str, ...] = (*DEFAULT_SPEEDS_KPH, "road")

#: Version of the cache layout (and of the build rules); bump when either changes.
ROAD_FORMAT_VERSION = 1

_MPH_KPH = 1.609344
_KNOT_KPH = 1.852
_SPEED_RE = re.compile(r"^([0-9]+(?:[.,][0-9]+)?)\s*(km/h|kmh|kph|mph|knots)?$", re.IGNORECASE)
_EXTRA_WAY_TAGS = ("toll",)
_OSMNX_SETTINGS_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road network: the CSR graph with road attributes and edge shapes.

    Parameters
    ----------
    graph
        Nodes are OSM nodes (``node_ids`` are OSM ids, ``coords`` are (lon, lat) degrees).
        Edge attributes: ``length`` (m), ``travel_time`` (s), ``speed_kph``, ``highway``
        (``uint8`` code into ``highway_classes``), ``oneway`` (bool), ``lanes`` (``int8``,
        0 where untagged) and ``toll`` (bool). Node attribute ``traffic_signals`` (bool).
        Parallel edges (two ways between the same junctions) are kept.
    highway_classes
        Name of each ``highway`` code.
    geometry_offsets
        ``int64`` array of length ``n_edges + 1``: the shape of edge ``e`` is
        ``geometry_coords[geometry_offsets[e]:geometry_offsets[e + 1]]``.
    geometry_coords
        ``(k, 2)`` float array of (lon, lat) points. Every edge has at least two points, the
        first at its tail node and the last at its head node, in driving direction.
    """

    graph: Graph
    highway_classes: tuple[str, ...]
    geometry_offsets: np.ndarray
    geometry_coords: np.ndarray

    def __post_init__(self) -> None:
        offsets = np.ascontiguousarray(self.geometry_offsets, dtype=np.int64)
        coords = np.ascontiguousarray(self.geometry_coords, dtype=np.float64).reshape(-1, 2)
        m = self.graph.n_edges
        if offsets.shape != (m + 1,) or offsets[0] != 0 or offsets[-1] != coords.shape[0]:
            raise ValidationError("geometry_offsets", f"not a row pointer over {m} edges and {coords.shape[0]} points")
        if m and np.any(np.diff(offsets) < 2):
            raise ValidationError("geometry_offsets", "every edge needs at least two shape points")
        if self.graph.coords is None:
            raise ValidationError("graph.coords", "a road network needs node coordinates")
        for key in ("length", "travel_time", "highway"):
            self.graph.edge_attr(key)
        codes = self.graph.edge_attrs["highway"]
        if m and int(codes.max()) >= len(self.highway_classes):
            raise ValidationError("highway_classes", f"{len(self.highway_classes)} names for code {int(codes.max())}")
        object.__setattr__(self, "highway_classes", tuple(self.highway_classes))
        object.__setattr__(self, "geometry_offsets", offsets)
        object.__setattr__(self, "geometry_coords", coords)

    # ------------------------------------------------------------------ facts
    @property
    def n_nodes(self) -> int:
        """Number of nodes (junctions and, unsimplified, shape points)."""
        return self.graph.n_nodes

    @property
    def n_edges(self) -> int:
        """Number of directed edges; a two-way street counts twice."""
        return self.graph.n_edges

    @property
    def name(self) -> str:
        """Name of the network (the source file's city name)."""
        return self.graph.name

    def edge_geometry(self, edge: int) -> np.ndarray:
        """The (lon, lat) polyline of edge ``edge``, from its tail to its head."""
        return self.geometry_coords[self.geometry_offsets[edge]:self.geometry_offsets[edge + 1]]

    def highway_names(self) -> np.ndarray:
        """The road class name of every edge (string array aligned with the edges)."""
        return np.asarray(self.highway_classes, dtype=str)[self.graph.edge_attrs["highway"]]

    def node_index(self, osm_id: int) -> int:
        """Dense index of OSM node ``osm_id``; :class:`~planner.errors.NotFoundError` if absent."""
        return self.graph.index_of(osm_id)

    # ------------------------------------------------------------------ derived
    def subnetwork(self, nodes: np.ndarray) -> RoadNetwork:
        """The network induced by ``nodes`` (dense indices or a boolean mask), shapes kept."""
        graph, edges = self.graph.subgraph(nodes)
        offsets, coords = _take_ragged(self.geometry_offsets, self.geometry_coords, edges)
        return RoadNetwork(graph, self.highway_classes, offsets, coords)

    def largest_strongly_connected_component(self) -> RoadNetwork:
        """The subnetwork on the largest strongly connected component."""
        _, labels = self.graph.strongly_connected_components()
        return self.subnetwork(labels == np.argmax(np.bincount(labels)))

    def largest_weakly_connected_component(self) -> RoadNetwork:
        """The subnetwork on the largest weakly connected component (osmnx's default load)."""
        from scipy.sparse import csgraph

        _, labels = csgraph.connected_components(self.graph.to_scipy(None), directed=True, connection="weak")
        return self.subnetwork(labels == np.argmax(np.bincount(labels)))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the network to an ``.npz`` file (atomically; no pickling)."""
        g = self.graph
        arrays: dict[str, np.ndarray] = {
            "format_version": np.array(ROAD_FORMAT_VERSION),
            "name": np.array(g.name),
            "indptr": g.indptr,
            "indices": g.indices,
            "node_ids": g.node_ids,
            "coords": g.coords,
            "highway_classes": np.asarray(self.highway_classes, dtype=str),
            "geometry_offsets": self.geometry_offsets,
            "geometry_coords": self.geometry_coords,
            "metadata": np.array(json.dumps(_json_safe(g.metadata), sort_keys=True)),
        }
        arrays.update({f"edge:{k}": v for k, v in g.edge_attrs.items()})
        arrays.update({f"node:{k}": v for k, v in g.node_attrs.items()})
        path = Path(path)
        tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)  # atomic: a reader never sees a half-written file

    @classmethod
    def load(cls, path: str | Path) -> RoadNetwork:
        """Read a network written by :meth:`save`.

        Raises
        ------
        DataNotFoundError
            If the file does not exist.
        DataFormatError
            If it is not a road network file of this format version.
        """
        path = Path(path)
        if not path.is_file():
            raise DataNotFoundError(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            version = int(arrays.get("format_version", -1))
            if version != ROAD_FORMAT_VERSION:
                raise DataFormatError(path, f"road network format version {version}, expected {ROAD_FORMAT_VERSION}")
            graph = Graph(
                indptr=arrays["indptr"],
                indices=arrays["indices"],
                edge_attrs={k[5:]: v for k, v in arrays.items() if k.startswith("edge:")},
                node_ids=arrays["node_ids"],
                coords=arrays["coords"],
                node_attrs={k[5:]: v for k, v in arrays.items() if k.startswith("node:")},
                name=str(arrays["name"]),
                metadata=json.loads(str(arrays["metadata"])),
            )
            return cls(graph, tuple(arrays["highway_classes"].tolist()), arrays["geometry_offsets"],
                       arrays["geometry_coords"])
        except DataFormatError:
            raise
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise DataFormatError(path, f"not a routeplanner road network file ({exc})") from exc

    def __repr__(self) -> str:
        return f"RoadNetwork({self.name!r}, n_nodes={self.n_nodes}, n_edges={self.n_edges})"


# ---------------------------------------------------------------------- tag values
def parse_maxspeed(value: Any) -> float:
    """A ``maxspeed`` tag value in km/h, or NaN if it does not give a number.

    Numbers are km/h; ``mph`` and ``knots`` are converted; several values separated by ``;``
    or ``|`` (or a list, as simplified edges carry) are averaged over those that parse.

    Examples
    --------
    >>> parse_maxspeed("50"), parse_maxspeed("30 mph"), parse_maxspeed(["50", "30"])
    (50.0, 48.28032, 40.0)
    >>> import math; math.isnan(parse_maxspeed("PT:urban"))
    True
    """
    if isinstance(value, list | tuple):
        parts = [parse_maxspeed(v) for v in value]
    elif isinstance(value, str):
        parts = [_parse_one_speed(p) for p in re.split(r"[;|]", value)]
    elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        parts = [float(value)]
    else:
        return math.nan
    good = sorted(p for p in parts if math.isfinite(p) and p > 0)
    return float(sum(good) / len(good)) if good else math.nan


def _parse_one_speed(text: str) -> float:
    match = _SPEED_RE.match(text.strip())
    if match is None:
        return math.nan
    number = float(match.group(1).replace(",", "."))
    unit = (match.group(2) or "").lower()
    if unit == "mph":
        return number * _MPH_KPH
    if unit == "knots":
        return number * _KNOT_KPH
    return number


def _parse_lanes(value: Any) -> int:
    numbers = []
    for part in _tag_values(value):
        try:
            numbers.append(float(part))
        except ValueError:
            continue
    good = [x for x in numbers if math.isfinite(x) and x > 0]
    return int(min(round(sum(good) / len(good)), 127)) if good else 0


def _tag_values(value: Any) -> list[str]:
    """The non-empty ``;``-separated string values of a tag (a list as simplified edges carry)."""
    values = value if isinstance(value, list | tuple) else [value]
    out = []
    for v in values:
        if isinstance(v, str):
            out.extend(p.strip() for p in v.split(";") if p.strip())
    return out


def _rank(name: str) -> tuple[int, str]:
    try:
        return (STANDARD_HIGHWAY_CLASSES.index(name), name)
    except ValueError:
        return (len(STANDARD_HIGHWAY_CLASSES), name)


def road_class(value: Any) -> str:
    """The road class of an osmnx ``highway`` value: the most important of a list (see the
    module notes), or ``"unknown"`` when there is none.

    Examples
    --------
    >>> road_class(["residential", "secondary"]), road_class("unclassified;tertiary")
    ('secondary', 'tertiary')
    """
    candidates = _tag_values(value)
    return min(candidates, key=_rank) if candidates else "unknown"


def _validated_speeds(speeds: Mapping[str, float] | None, fallback_speed_kph: float) -> dict[str, float]:
    table = dict(DEFAULT_SPEEDS_KPH if speeds is None else speeds)
    for key, kph in table.items():
        if not isinstance(key, str):
            raise ValidationError("speeds", f"keys must be highway class names ({key!r})")
        if not (isinstance(kph, int | float) and math.isfinite(kph) and kph > 0):
            raise ValidationError(f"speeds[{key!r}]", f"must be a positive speed in km/h ({kph!r})")
    if not (isinstance(fallback_speed_kph, int | float) and math.isfinite(fallback_speed_kph)
            and fallback_speed_kph > 0):
        raise ValidationError("fallback_speed_kph", f"must be a positive speed in km/h ({fallback_speed_kph!r})")
    return {k: float(v) for k, v in table.items()}


def _memo_map(values: list[Any], fn: Any) -> list[Any]:
    """``[fn(v) for v in values]`` computing each distinct value once (lists keyed as tuples)."""
    memo: dict[Any, Any] = {}
    out = []
    for v in values:
        key = tuple(v) if isinstance(v, list) else v
        try:
            result = memo[key]
        except KeyError:
            result = memo[key] = fn(v)
        except TypeError:  # unhashable value
            result = fn(v)
        out.append(result)
    return out


# ---------------------------------------------------------------------- building
def build_road_network(
    nx_graph_or_path: nx.MultiDiGraph | str | Path,
    *,
    simplify: bool = True,
    speeds: Mapping[str, float] | None = None,
    fallback_speed_kph: float = DEFAULT_FALLBACK_SPEED_KPH,
    strongly_connected: bool = True,
    cache: bool = True,
    name: str | None = None,
) -> RoadNetwork:
    """Build a :class:`RoadNetwork` from an OSM XML file or an osmnx graph.

    Parameters
    ----------
    nx_graph_or_path
        An OSM XML file (``.osm``, ``.osm.bz2``, ``.xml``; read with ``osmnx.graph_from_xml``,
        offline, one-ways as osmnx reads them) or an osmnx ``MultiDiGraph`` with ``x``/``y``
        node attributes and ``length`` edge attributes.
    simplify
        Merge chains of degree-2 nodes into single edges (osmnx's ``simplify_graph``); edge
        shapes keep the road geometry. A graph that is already simplified stays so.
    speeds
        km/h per ``highway`` class for edges without a usable ``maxspeed``; replaces
        :data:`DEFAULT_SPEEDS_KPH` (pass ``{**DEFAULT_SPEEDS_KPH, ...}`` to amend it).
    fallback_speed_kph
        km/h for a road class missing from ``speeds``.
    strongly_connected
        Keep the largest strongly connected component (every node reaches every node);
        otherwise the largest weakly connected component, as osmnx loads by default.
    cache
        For files: reuse/write the built network in ``datasets.location.cache_dir()``, keyed by
        the file's name, size and modification time, these options, the osmnx version and
        :data:`ROAD_FORMAT_VERSION`. Graph inputs are never cached.
    name
        Network name; default the file name up to its first dot (``"porto"``).

    Returns
    -------
    RoadNetwork

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    DataFormatError
        If the file cannot be read as OSM XML or holds no roads.
    ValidationError
        If a speed is not a positive number.
    """
    table = _validated_speeds(speeds, fallback_speed_kph)
    if not isinstance(nx_graph_or_path, str | Path):
        return _build_from_osmnx(nx_graph_or_path, simplify=simplify, speeds=table,
                                 fallback=float(fallback_speed_kph), strongly_connected=strongly_connected,
                                 name=name or str(nx_graph_or_path.graph.get("name", "")), source="")
    path = Path(nx_graph_or_path).expanduser()
    if not path.is_file():
        raise DataNotFoundError(path, "Expected an OSM XML file such as monaco.drive.osm.bz2.")
    if path.name.endswith(".pbf"):
        raise DataFormatError(path, "OSM PBF cannot be read offline by osmnx; use the .drive.osm.bz2 (OSM XML) file")
    name = name or path.name.split(".")[0]
    cache_file = None
    if cache:
        cache_file = _cache_path(path, simplify, table, float(fallback_speed_kph), strongly_connected, name)
        if cache_file.is_file():
            try:
                return RoadNetwork.load(cache_file)
            except (DataFormatError, DataNotFoundError):
                pass  # stale or damaged cache entry: rebuild and overwrite it
    graph = _parse_osm_xml(path, simplify)
    network = _build_from_osmnx(graph, simplify=False, speeds=table, fallback=float(fallback_speed_kph),
                                strongly_connected=strongly_connected, name=name, source=str(path.resolve()))
    if cache_file is not None:
        network.save(cache_file)
    return network


def _cache_path(path: Path, simplify: bool, speeds: dict[str, float], fallback: float,
                strongly_connected: bool, name: str) -> Path:
    from datasets.location import cache_dir

    stat = path.stat()
    key = json.dumps({
        "format": ROAD_FORMAT_VERSION, "file": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
        "simplify": bool(simplify), "speeds": sorted(speeds.items()), "fallback": fallback,
        "strongly_connected": bool(strongly_connected), "name": name, "osmnx": _osmnx_version(),
    }, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"osm-{path.name.split('.')[0]}-{digest}.npz"


def _osmnx_version() -> str:
    # from the package metadata: importing osmnx itself takes seconds
    try:
        return importlib.metadata.version("osmnx")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _parse_osm_xml(path: Path, simplify: bool) -> nx.MultiDiGraph:
    import xml.etree.ElementTree as ET
    from xml.sax import SAXException

    import osmnx as ox

    # retain_all: components are cut on arrays afterwards (osmnx's own cut costs ~17 s on Porto).
    # The toll tag is added to osmnx's kept way tags for this call only.
    with _OSMNX_SETTINGS_LOCK:
        saved = list(ox.settings.useful_tags_way)
        ox.settings.useful_tags_way = saved + [t for t in _EXTRA_WAY_TAGS if t not in saved]
        try:
            return ox.graph_from_xml(path, simplify=simplify, retain_all=True)
        except (ET.ParseError, SAXException, OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise DataFormatError(path, f"not a readable OSM XML road file ({type(exc).__name__}: {exc})") from exc
        finally:
            ox.settings.useful_tags_way = saved


def _build_from_osmnx(G: nx.MultiDiGraph, *, simplify: bool, speeds: dict[str, float], fallback: float,
                      strongly_connected: bool, name: str, source: str) -> RoadNetwork:
    where = source or "graph"
    if simplify and not G.graph.get("simplified", False):
        import osmnx as ox

        G = ox.simplify_graph(G)
    n, m = G.number_of_nodes(), G.number_of_edges()
    if n == 0 or m == 0:
        raise DataFormatError(where, "no roads (the graph has no edges)")
    try:
        node_ids = np.fromiter(G.nodes, dtype=np.int64, count=n)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataFormatError(where, f"node ids must be integer OSM ids ({exc})") from exc
    node_data = [d for _, d in G.nodes(data=True)]
    try:
        lon = np.fromiter((d["x"] for d in node_data), dtype=np.float64, count=n)
        lat = np.fromiter((d["y"] for d in node_data), dtype=np.float64, count=n)
    except KeyError as exc:
        raise DataFormatError(where, "every node needs x (lon) and y (lat) attributes") from exc
    signals = np.fromiter((d.get("highway") == "traffic_signals" for d in node_data), dtype=bool, count=n)

    edges = list(G.edges(data=True))
    u_ids = np.fromiter((e[0] for e in edges), dtype=np.int64, count=m)
    v_ids = np.fromiter((e[1] for e in edges), dtype=np.int64, count=m)
    data = [e[2] for e in edges]
    try:
        length = np.fromiter((d["length"] for d in data), dtype=np.float64, count=m)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(where, "every edge needs a numeric length attribute") from exc
    if not np.all(np.isfinite(length) & (length >= 0)):
        raise DataFormatError(where, "edge lengths must be finite and non-negative")

    # road class codes: standard classes keep their code, others follow alphabetically
    class_names = _memo_map([d.get("highway") for d in data], road_class)
    extra = sorted(set(class_names) - set(STANDARD_HIGHWAY_CLASSES))
    classes = STANDARD_HIGHWAY_CLASSES + tuple(extra)
    code_of = {c: i for i, c in enumerate(classes)}
    code_dtype = np.uint8 if len(classes) <= 256 else np.uint16
    highway = np.fromiter((code_of[c] for c in class_names), dtype=code_dtype, count=m)
    class_speed = np.array([speeds.get(c, fallback) for c in classes], dtype=np.float64)
    maxspeed = np.array(_memo_map([d.get("maxspeed") for d in data], parse_maxspeed), dtype=np.float64)
    speed_kph = np.where(np.isfinite(maxspeed), maxspeed, class_speed[highway])
    travel_time = length / (speed_kph / 3.6)
    oneway = np.fromiter((_truthy(d.get("oneway", False)) for d in data), dtype=bool, count=m)
    lanes = np.array(_memo_map([d.get("lanes") for d in data], _parse_lanes), dtype=np.int8)
    toll = np.array(_memo_map([d.get("toll") for d in data], lambda v: "yes" in _tag_values(v)), dtype=bool)

    sorter = np.argsort(node_ids, kind="stable")
    sorted_ids = node_ids[sorter]
    tails = sorter[np.searchsorted(sorted_ids, u_ids)]
    heads = sorter[np.searchsorted(sorted_ids, v_ids)]
    coords = np.column_stack([lon, lat])
    offsets, shape = _edge_shapes([d.get("geometry") for d in data], coords, tails, heads, where)

    graph, order = Graph.from_edges_with_order(
        n, tails, heads,
        {"length": length, "travel_time": travel_time, "speed_kph": speed_kph, "highway": highway,
         "oneway": oneway, "lanes": lanes, "toll": toll},
        node_ids=node_ids, coords=coords, node_attrs={"traffic_signals": signals}, name=name,
        metadata={"source": source, "crs": "epsg:4326", "simplified": bool(G.graph.get("simplified", False)),
                  "component": "strong" if strongly_connected else "weak",
                  "speeds": json.dumps(sorted(speeds.items())), "fallback_speed_kph": fallback,
                  "attribution": "© OpenStreetMap contributors (ODbL 1.0)"},
    )
    offsets, shape = _take_ragged(offsets, shape, order)
    network = RoadNetwork(graph, classes, offsets, shape)
    if strongly_connected:
        return network.largest_strongly_connected_component()
    return network.largest_weakly_connected_component()


def _truthy(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_truthy(v) for v in value)
    if isinstance(value, str):
        return value.strip().lower() in {"yes", "true", "1", "-1", "reverse"}
    return bool(value)


def _edge_shapes(geometries: list[Any], coords: np.ndarray, tails: np.ndarray, heads: np.ndarray,
                 where: str) -> tuple[np.ndarray, np.ndarray]:
    """Ragged (offsets, points) of every edge: its geometry, or the straight tail-head line."""
    import shapely

    m = len(geometries)
    has = np.fromiter((g is not None for g in geometries), dtype=bool, count=m)
    counts = np.full(m, 2, dtype=np.int64)
    geom_points = np.empty((0, 2))
    if has.any():
        geom_array = np.empty(int(has.sum()), dtype=object)
        geom_array[:] = [g for g in geometries if g is not None]
        geom_points, owner = shapely.get_coordinates(geom_array, return_index=True)
        counts[has] = np.bincount(owner, minlength=geom_array.size)
    if np.any(counts < 2):
        raise DataFormatError(where, "an edge geometry has fewer than two points")
    offsets = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    edge_of_point = np.repeat(np.arange(m), counts)
    points = np.empty((int(offsets[-1]), 2))
    points[has[edge_of_point]] = geom_points
    straight = np.flatnonzero(~has)
    points[offsets[straight]] = coords[tails[straight]]
    points[offsets[straight] + 1] = coords[heads[straight]]
    # a geometry drawn head-to-tail is turned round so every shape runs in driving direction
    first, last = points[offsets[:-1]], points[offsets[1:] - 1]
    backwards = has & (np.abs(first - coords[heads]).sum(1) + np.abs(last - coords[tails]).sum(1)
                       < np.abs(first - coords[tails]).sum(1) + np.abs(last - coords[heads]).sum(1))
    if backwards.any():
        flip = backwards[edge_of_point]
        idx = np.arange(points.shape[0])
        e = edge_of_point[flip]
        idx[flip] = offsets[e] + offsets[e + 1] - 1 - idx[flip]
        points = points[idx]
    return offsets, points


def _take_ragged(offsets: np.ndarray, values: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``idx`` of a ragged array given as (offsets, values)."""
    idx = np.asarray(idx, dtype=np.int64)
    starts = offsets[idx]
    counts = offsets[idx + 1] - starts
    new_offsets = np.zeros(idx.size + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    positions = np.arange(int(new_offsets[-1])) + np.repeat(starts - new_offsets[:-1], counts)
    return new_offsets, values[positions]


def _json_safe(metadata: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in metadata.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, str | int | float | bool) or v is None:
            out[k] = v
    return out
