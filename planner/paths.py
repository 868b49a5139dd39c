"""The shortest-path vocabulary: the problem every path solver takes and the route it returns.

Nodes are dense indices of a :class:`~planner.graph.csr.Graph` (use
:meth:`ShortestPathProblem.from_node_ids` for external ids such as OSM node ids); a route names
its edges too, so parallel edges (two roads between the same junctions) are unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import InfeasibleError, NotFoundError, ValidationError
from planner.graph.csr import Graph
from planner.graph.road import RoadNetwork


@dataclass(frozen=True, eq=False)
class ShortestPathProblem:
    """Find the cheapest route from ``source`` to ``target`` by edge attribute ``weight``.

    Parameters
    ----------
    graph
        The graph.
    source, target
        Dense node indices.
    weight
        Name of the edge attribute to minimise (``length`` in metres, ``travel_time`` in
        seconds); its values must be non-negative (``inf`` marks a closed edge).

    Raises
    ------
    ValidationError
        If a node index is out of range, or the weight is unknown, negative or NaN.
    """

    graph: Graph
    source: int
    target: int
    weight: str = "travel_time"

    def __post_init__(self) -> None:
        n = self.graph.n_nodes
        for field in ("source", "target"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValidationError(field, f"must be a dense node index (int), got {value!r}")
            if not 0 <= value < n:
                raise ValidationError(field, f"node index {value} outside 0..{n - 1}")
            object.__setattr__(self, field, int(value))
        if self.weight not in self.graph.edge_attrs:
            known = ", ".join(sorted(self.graph.edge_attrs)) or "none"
            raise ValidationError("weight", f"unknown edge attribute {self.weight!r} (has: {known})")
        w = self.graph.edge_attrs[self.weight]
        if w.size and not (np.issubdtype(w.dtype, np.number) and w.min() >= 0):
            raise ValidationError("weight", f"edge attribute {self.weight!r} must be non-negative numbers")

    @classmethod
    def from_node_ids(cls, graph: Graph, source_id: Any, target_id: Any, weight: str = "travel_time"
                      ) -> ShortestPathProblem:
        """The problem between two external node ids (OSM ids of a road network).

        Raises
        ------
        NotFoundError
            If either id is not a node of the graph.
        """
        return cls(graph, graph.index_of(source_id), graph.index_of(target_id), weight)

    def describe_pair(self) -> str:
        """``route[<source id>-><target id>]``, the field name errors about this pair use."""
        return f"route[{node_label(self.graph, self.source)}->{node_label(self.graph, self.target)}]"

    def unreachable(self) -> InfeasibleError:
        """The error for a target that cannot be reached from the source (both node ids named)."""
        src, tgt = node_label(self.graph, self.source), node_label(self.graph, self.target)
        return InfeasibleError(self.describe_pair(), f"no path from node {src} to node {tgt}")


@dataclass(frozen=True, eq=False)
class Route:
    """A path through a graph.

    Parameters
    ----------
    nodes
        Dense node indices from source to target (one node for an empty route).
    edges
        Edge indices, ``len(nodes) - 1`` of them; edge ``edges[i]`` runs ``nodes[i] -> nodes[i+1]``.
    cost
        Sum of the optimised weight over the edges.
    weight
        Name of that weight.
    length_m
        Sum of ``length`` over the edges (NaN if the graph has no ``length``).
    travel_time_s
        Sum of ``travel_time`` over the edges (NaN if the graph has no ``travel_time``).
    """

    nodes: np.ndarray
    edges: np.ndarray
    cost: float
    weight: str
    length_m: float = float("nan")
    travel_time_s: float = float("nan")

    def __post_init__(self) -> None:
        nodes = np.array(self.nodes, dtype=np.int64)  # own copies: they are frozen below
        edges = np.array(self.edges, dtype=np.int64)
        if nodes.ndim != 1 or nodes.size < 1:
            raise ValidationError("nodes", "a route has at least one node")
        if edges.shape != (nodes.size - 1,):
            raise ValidationError("edges", f"{edges.size} edges for {nodes.size} nodes")
        nodes.flags.writeable = False
        edges.flags.writeable = False
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "edges", edges)

    @property
    def source(self) -> int:
        """First node."""
        return int(self.nodes[0])

    @property
    def target(self) -> int:
        """Last node."""
        return int(self.nodes[-1])

    @property
    def n_edges(self) -> int:
        """Number of edges (hops)."""
        return int(self.edges.size)

    def node_ids(self, graph: Graph | RoadNetwork) -> np.ndarray:
        """External ids (OSM ids) of the route's nodes."""
        return _graph_of(graph).node_ids[self.nodes]

    def coordinates(self, network: Graph | RoadNetwork) -> np.ndarray:
        """The route as an ``(k, 2)`` array of (lon, lat) points.

        With a :class:`RoadNetwork` the points follow the edge shapes (the real road); with a
        plain :class:`Graph` they are the node coordinates.

        Raises
        ------
        ValidationError
            If the graph has no coordinates.
        """
        if isinstance(network, RoadNetwork):
            if self.edges.size == 0:
                return network.graph.coords[self.nodes].copy()
            offsets = network.geometry_offsets
            parts = [network.geometry_coords[offsets[e] + (i > 0):offsets[e + 1]] for i, e in enumerate(self.edges)]
            return np.concatenate(parts)
        if network.coords is None:
            raise ValidationError("graph.coords", "the graph has no node coordinates")
        return network.coords[self.nodes].copy()

    def to_geojson(self, network: Graph | RoadNetwork, properties: dict[str, Any] | None = None) -> dict[str, Any]:
        """The route as a GeoJSON ``Feature`` with a ``LineString`` (lon, lat order, RFC 7946),
        carrying ``cost``, ``weight``, ``length_m`` and ``travel_time_s`` as properties (NaN
        values as ``null``)."""
        coords = self.coordinates(network)
        if coords.shape[0] == 1:
            coords = np.vstack([coords, coords])  # a LineString needs two positions
        props: dict[str, Any] = {k: _json_number(getattr(self, k)) for k in ("cost", "length_m", "travel_time_s")}
        props["weight"] = self.weight
        props.update(properties or {})
        return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords.tolist()},
                "properties": props}


def route_from_edges(graph: Graph, source: int, edges: np.ndarray, weight: str) -> Route:
    """The :class:`Route` that starts at ``source`` and follows ``edges`` (edge indices)."""
    edges = np.asarray(edges, dtype=np.int64)
    nodes = np.concatenate([[source], graph.indices[edges]]).astype(np.int64)
    if edges.size and not np.array_equal(graph.tails[edges], nodes[:-1]):
        raise ValidationError("edges", "consecutive edges do not connect")
    attrs = graph.edge_attrs

    def total(key: str) -> float:
        return float(np.sum(attrs[key][edges], dtype=np.float64)) if key in attrs else float("nan")

    return Route(nodes, edges, total(weight), weight, total("length"), total("travel_time"))


def route_from_predecessors(graph: Graph, predecessors: np.ndarray, source: int, target: int,
                            weight: str) -> Route:
    """The route to ``target`` in a shortest-path tree given as predecessor nodes.

    Parameters
    ----------
    graph
        The graph the tree was computed on.
    predecessors
        ``predecessors[v]`` is the node before ``v`` on the path from ``source`` (negative for
        the source and for unreachable nodes), as ``scipy.sparse.csgraph.dijkstra`` returns it.
    source, target
        Dense node indices.
    weight
        Edge attribute the tree minimises; of parallel edges on a hop the cheapest is taken.

    Raises
    ------
    InfeasibleError
        If ``target`` is not reachable from ``source`` in the tree.
    """
    hops = [target]
    node = target
    while node != source:
        node = int(predecessors[node])
        if node < 0 or len(hops) > graph.n_nodes:
            src, tgt = node_label(graph, source), node_label(graph, target)
            raise InfeasibleError(f"route[{src}->{tgt}]", f"no path from node {src} to node {tgt}")
        hops.append(node)
    nodes = np.asarray(hops[::-1], dtype=np.int64)
    return route_from_edges(graph, source, cheapest_edges(graph, nodes[:-1], nodes[1:], weight), weight)


def cheapest_edges(graph: Graph, tails: np.ndarray, heads: np.ndarray, weight: str) -> np.ndarray:
    """For every pair ``tails[i] -> heads[i]``, the index of the cheapest such edge by ``weight``
    (lowest index among equals).

    Raises
    ------
    NotFoundError
        If some pair has no edge.
    """
    tails = np.asarray(tails, dtype=np.int64)
    heads = np.asarray(heads, dtype=np.int64)
    if tails.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = graph.indptr[tails]
    degree = graph.indptr[tails + 1] - starts
    hop = np.repeat(np.arange(tails.size), degree)
    offsets = np.zeros(tails.size + 1, dtype=np.int64)
    np.cumsum(degree, out=offsets[1:])
    candidates = np.arange(hop.size) - offsets[hop] + starts[hop]
    match = graph.indices[candidates] == heads[hop]
    hop, candidates = hop[match], candidates[match]
    order = np.lexsort((candidates, graph.edge_attr(weight)[candidates], hop))
    hop, candidates = hop[order], candidates[order]
    first = np.ones(hop.size, dtype=bool)
    first[1:] = hop[1:] != hop[:-1]
    if int(first.sum()) != tails.size:
        missing = np.setdiff1d(np.arange(tails.size), hop)[0]
        pair = f"{node_label(graph, tails[missing])} -> {node_label(graph, heads[missing])}"
        raise NotFoundError("edge", f"no edge {pair}")
    return candidates[first]


def node_label(graph: Graph, node: int) -> str:
    """How messages name dense node ``node``: its external id (``123456789``, ``'leaf-3'``)."""
    return repr(graph.node_ids[node].item())


def _graph_of(network: Graph | RoadNetwork) -> Graph:
    return network.graph if isinstance(network, RoadNetwork) else network


def _json_number(value: float) -> float | None:
    return None if value != value else float(value)  # NaN -> null
