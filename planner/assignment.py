"""The static traffic-assignment vocabulary: networks with zones, OD demand, problems, results,
and the evaluation every assignment solver is judged by.

A :class:`TrafficNetwork` is a :class:`~planner.graph.csr.Graph` whose nodes are numbered
``1..n`` (TNTP numbering: zones first, ``1..n_zones``) and whose edges ("links") carry BPR
parameters. The generalized cost of link ``a`` at flow ``x`` is::

    c_a(x) = fft_a * (1 + b_a * (x / cap_a) ** power_a) + toll_factor * toll_a + distance_factor * length_a

Conventions
-----------
* Per-link arrays (flows, costs) are in **graph edge order** (the CSR order of
  ``network.graph``). ``network.link_order[e]`` is the row of edge ``e`` in the source file;
  :meth:`TrafficNetwork.to_file_order` / :meth:`TrafficNetwork.from_file_order` convert.
  Error messages name links by file row, 0-based: ``links[12].capacity``.
* Zones are named by their number ``1..n_zones``; ``demand[3->7]`` is the demand from zone 3 to
  zone 7 (``Demand.matrix[2, 6]``).
* Nodes numbered below ``first_thru_node`` may be the start or end of a path but never an
  intermediate node of one. Shortest paths honour this without copying the graph: the search
  from an origin simply never expands another such node.

The evaluation functions (:func:`link_costs`, :func:`beckmann_objective`,
:func:`relative_gap`, :func:`flow_conservation_error`, ...) depend only on the network, the
demand and the link flows, never on a solver's bookkeeping, so every solver is measured the
same way. All-or-nothing loading (:func:`all_or_nothing`) and zone-to-zone shortest-path costs
(:func:`shortest_path_costs`) run compiled (numba) Dijkstra searches from every origin in
parallel, record the predecessor *link* of every node (so of parallel links the cheapest one
is loaded), and push demand down each shortest-path tree in reverse search order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numba
import numpy as np

from planner.errors import InfeasibleError, ValidationError
from planner.graph.csr import Graph

#: Edge attributes every traffic network carries (``link_type`` is integer, the rest float).
LINK_ATTRIBUTES: tuple[str, ...] = (
    "capacity", "length", "free_flow_time", "bpr_b", "bpr_power", "toll", "link_type",
)

#: The objective of an :class:`AssignmentProblem`: user equilibrium or system optimum.
Objective = Literal["ue", "so"]

#: Objectives an :class:`AssignmentProblem` may ask for: user equilibrium or system optimum.
OBJECTIVES: tuple[str, ...] = ("ue", "so")

#: Number of independent accumulators the parallel loader uses; fixed (not the thread count)
#: so that the floating-point summation order, hence the result, does not depend on the
#: machine.
_LOAD_CHUNKS = 16

#: Searches times nodes from which the origins are searched in parallel threads.
_PARALLEL_WORK = 1_000_000

_LINK_FIELD_RE = re.compile(r"^links\[(\d+)\]")


# ====================================================================== demand
@dataclass(frozen=True, eq=False)
class Demand:
    """Origin-destination demand between the zones of a network.

    Parameters
    ----------
    matrix
        ``(n_zones, n_zones)`` array; ``matrix[o - 1, d - 1]`` is the demand from zone ``o``
        to zone ``d``. Non-negative and finite. Any demand on the diagonal (intrazonal trips,
        which load no link) is removed from the matrix and added to :attr:`intrazonal`.
    intrazonal
        Intrazonal demand dropped so far (in addition to any found on the diagonal).
    intrazonal_pairs
        Number of zones whose intrazonal demand was dropped.
    name
        Name of the trip table.

    Raises
    ------
    ValidationError
        ``demand[3->7]: negative (-1.0)``, ``not a number (nan)``, ``not finite (inf)``, or a
        matrix that is not square.
    """

    matrix: np.ndarray
    intrazonal: float = 0.0
    intrazonal_pairs: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        try:
            matrix = np.array(self.matrix, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as exc:
            raise ValidationError("demand", f"not a numeric matrix ({exc})") from None
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValidationError("demand", f"must be a square (zones x zones) matrix, got shape {matrix.shape}")
        bad = ~np.isfinite(matrix) | (matrix < 0)
        if bad.any():
            o, d = np.argwhere(bad)[0]
            value = matrix[o, d]
            if math.isnan(value):
                reason = "not a number (nan)"
            elif math.isinf(value):
                reason = f"not finite ({value})"
            else:
                reason = f"negative ({value})"
            raise ValidationError(f"demand[{o + 1}->{d + 1}]", reason)
        if not (math.isfinite(self.intrazonal) and self.intrazonal >= 0):
            raise ValidationError("demand.intrazonal", f"must be finite and non-negative ({self.intrazonal})")
        if self.intrazonal_pairs < 0:
            raise ValidationError("demand.intrazonal_pairs", f"negative ({self.intrazonal_pairs})")
        diagonal = np.diagonal(matrix).copy()
        intrazonal = float(self.intrazonal) + float(diagonal.sum())
        pairs = int(self.intrazonal_pairs) + int(np.count_nonzero(diagonal))
        np.fill_diagonal(matrix, 0.0)
        matrix.setflags(write=False)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "intrazonal", intrazonal)
        object.__setattr__(self, "intrazonal_pairs", pairs)

    @classmethod
    def from_entries(
        cls,
        n_zones: int,
        origins: Sequence[int] | np.ndarray,
        destinations: Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        name: str = "",
    ) -> Demand:
        """Demand from a list of ``(origin, destination, value)`` entries (zone numbers
        ``1..n_zones``). Entries for the same pair add up; intrazonal entries are dropped
        and counted.

        Raises
        ------
        ValidationError
            ``demand[3->99]: unknown zone 99 (zones are 1..24)``, or a negative / NaN value.
        """
        if n_zones < 1:
            raise ValidationError("n_zones", f"must be at least 1 ({n_zones})")
        o = np.asarray(origins).ravel()
        d = np.asarray(destinations).ravel()
        v = np.asarray(values, dtype=np.float64).ravel()
        if not (o.size == d.size == v.size):
            raise ValidationError("demand", f"entry lists differ in length ({o.size}, {d.size}, {v.size})")
        for k in range(o.size):
            for zone in (o[k], d[k]):
                if not (float(zone).is_integer() and 1 <= zone <= n_zones):
                    raise ValidationError(f"demand[{o[k]}->{d[k]}]", f"unknown zone {zone} (zones are 1..{n_zones})")
            if not (math.isfinite(v[k]) and v[k] >= 0):
                reason = "not a number (nan)" if math.isnan(v[k]) else (
                    f"not finite ({v[k]})" if math.isinf(v[k]) else f"negative ({v[k]})")
                raise ValidationError(f"demand[{o[k]}->{d[k]}]", reason)
        matrix = np.zeros((n_zones, n_zones))
        np.add.at(matrix, (o.astype(np.int64) - 1, d.astype(np.int64) - 1), v)
        return cls(matrix, name=name)

    @property
    def n_zones(self) -> int:
        """Number of zones."""
        return int(self.matrix.shape[0])

    @property
    def total(self) -> float:
        """Total demand assigned to the network (intrazonal demand excluded)."""
        return float(self.matrix.sum())

    @property
    def total_with_intrazonal(self) -> float:
        """Total demand as a trip file states it: :attr:`total` plus :attr:`intrazonal`."""
        return self.total + self.intrazonal

    def origin_totals(self) -> np.ndarray:
        """Demand leaving every zone (length ``n_zones``)."""
        return self.matrix.sum(axis=1)

    def destination_totals(self) -> np.ndarray:
        """Demand arriving at every zone (length ``n_zones``)."""
        return self.matrix.sum(axis=0)

    def scaled(self, factor: float) -> Demand:
        """This demand times ``factor`` (e.g. 2 for Chicago-Sketch, as its README advises)."""
        if not (math.isfinite(factor) and factor >= 0):
            raise ValidationError("factor", f"must be finite and non-negative ({factor})")
        return Demand(self.matrix * factor, self.intrazonal * factor, self.intrazonal_pairs, self.name)

    def pair(self, origin: int, destination: int) -> float:
        """Demand from zone ``origin`` to zone ``destination`` (zone numbers)."""
        for zone in (origin, destination):
            if not 1 <= zone <= self.n_zones:
                raise ValidationError(f"demand[{origin}->{destination}]",
                                      f"unknown zone {zone} (zones are 1..{self.n_zones})")
        return float(self.matrix[origin - 1, destination - 1])


# ====================================================================== network
@dataclass(frozen=True, eq=False)
class TrafficNetwork:
    """A road network for static traffic assignment (TNTP model).

    Parameters
    ----------
    graph
        Directed graph with node ids ``1..n_nodes`` (zones are ``1..n_zones``) and the edge
        attributes ``capacity``, ``length``, ``free_flow_time``, ``bpr_b``, ``bpr_power``,
        ``toll`` (float) and ``link_type`` (int). Parallel links are allowed and kept apart.
    n_zones
        Number of zones (origins/destinations), nodes ``1..n_zones``.
    first_thru_node
        Nodes numbered below it may not be passed through (only start or end a path).
        1 means every node is passable.
    link_order
        ``link_order[e]`` is the 0-based row in the source file of graph edge ``e``
        (a permutation of ``0..n_links-1``).
    toll_factor, distance_factor
        Weights of ``toll`` and ``length`` in the generalized link cost.
    name
        Network name.
    demand
        The trip table shipped with the network, if it was read with one. Solvers use the
        problem's demand (:attr:`AssignmentProblem.demand`), never this.

    Raises
    ------
    ValidationError
        Naming the link by file row, e.g. ``links[3].free_flow_time: negative (-1.0)``.
    """

    graph: Graph
    n_zones: int
    first_thru_node: int
    link_order: np.ndarray
    toll_factor: float = 0.0
    distance_factor: float = 0.0
    name: str = ""
    demand: Demand | None = None

    def __post_init__(self) -> None:
        g = self.graph
        if not isinstance(g, Graph):
            raise ValidationError("graph", f"must be a planner.graph.Graph, got {type(g).__name__}")
        n, m = g.n_nodes, g.n_edges
        if n < 1:
            raise ValidationError("graph", "has no nodes")
        if not np.array_equal(np.asarray(g.node_ids), np.arange(1, n + 1)):
            raise ValidationError("graph.node_ids", f"must be the node numbers 1..{n} in order")
        if isinstance(self.n_zones, bool) or not 1 <= int(self.n_zones) <= n:
            raise ValidationError("n_zones", f"must be in 1..{n} ({self.n_zones})")
        if isinstance(self.first_thru_node, bool) or not 1 <= int(self.first_thru_node) <= n + 1:
            raise ValidationError("first_thru_node", f"must be in 1..{n + 1} ({self.first_thru_node})")
        object.__setattr__(self, "n_zones", int(self.n_zones))
        object.__setattr__(self, "first_thru_node", int(self.first_thru_node))
        for name in ("toll_factor", "distance_factor"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0):
                raise ValidationError(name, f"must be finite and non-negative ({value})")
            object.__setattr__(self, name, value)
        order = np.asarray(self.link_order, dtype=np.int64)
        if order.shape != (m,) or not np.array_equal(np.sort(order), np.arange(m)):
            raise ValidationError("link_order", f"must be a permutation of 0..{m - 1}")
        order = order.copy()
        order.setflags(write=False)
        object.__setattr__(self, "link_order", order)
        missing = [k for k in LINK_ATTRIBUTES if k not in g.edge_attrs]
        if missing:
            raise ValidationError("graph.edge_attrs", f"missing {', '.join(missing)}")
        for key in LINK_ATTRIBUTES:
            values = g.edge_attrs[key]
            if not np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_:
                raise ValidationError(f"links.{key}", f"must be numeric, got dtype {values.dtype}")
        self._check_links()
        if self.demand is not None and self.demand.n_zones != self.n_zones:
            raise ValidationError("demand", f"has {self.demand.n_zones} zones, the network {self.n_zones}")

    def _check_links(self) -> None:
        a = self.graph.edge_attrs
        rules: tuple[tuple[str, bool], ...] = (
            # (attribute, whether +inf is acceptable)
            ("free_flow_time", False), ("length", False), ("bpr_b", False), ("bpr_power", False),
            ("toll", False), ("capacity", True),
        )
        for key, inf_ok in rules:
            v = np.asarray(a[key], dtype=np.float64)
            bad = np.isnan(v) | (~inf_ok & np.isinf(v))
            if key != "capacity":
                bad |= v < 0
            if bad.any():
                e = self._first_in_file(np.flatnonzero(bad))
                value = float(v[e])
                reason = "not a number (nan)" if math.isnan(value) else (
                    f"not finite ({value})" if math.isinf(value) else f"negative ({value})")
                raise ValidationError(f"links[{self.link_order[e]}].{key}", reason)

    def _first_in_file(self, edges: np.ndarray) -> int:
        """Of some graph edges, the one that comes first in the source file."""
        return int(edges[np.argmin(self.link_order[edges])])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_links(
        cls,
        n_nodes: int,
        tails: Sequence[int] | np.ndarray,
        heads: Sequence[int] | np.ndarray,
        *,
        capacity: Sequence[float] | np.ndarray,
        free_flow_time: Sequence[float] | np.ndarray,
        bpr_b: Sequence[float] | np.ndarray | float = 0.15,
        bpr_power: Sequence[float] | np.ndarray | float = 4.0,
        length: Sequence[float] | np.ndarray | float = 0.0,
        toll: Sequence[float] | np.ndarray | float = 0.0,
        link_type: Sequence[int] | np.ndarray | int = 0,
        n_zones: int,
        first_thru_node: int = 1,
        toll_factor: float = 0.0,
        distance_factor: float = 0.0,
        name: str = "",
        coords: np.ndarray | None = None,
        demand: Demand | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> TrafficNetwork:
        """Build a network from link lists in file order.

        Parameters
        ----------
        n_nodes
            Number of nodes, numbered ``1..n_nodes``.
        tails, heads
            Node numbers of each link's tail (init node) and head (term node).
        capacity, free_flow_time, bpr_b, bpr_power, length, toll, link_type
            Per-link values (scalars are broadcast).
        n_zones, first_thru_node, toll_factor, distance_factor, name, demand
            See :class:`TrafficNetwork`.
        coords
            ``(n_nodes, 2)`` node coordinates (NaN where unknown), or ``None``.
        metadata
            Provenance stored on the graph.

        Raises
        ------
        ValidationError
            ``links[4].term_node: node 99 outside 1..24`` and the checks of the class.
        """
        if isinstance(n_nodes, bool) or int(n_nodes) < 1:
            raise ValidationError("n_nodes", f"must be at least 1 ({n_nodes})")
        n_nodes = int(n_nodes)
        t = np.asarray(tails).ravel()
        h = np.asarray(heads).ravel()
        if t.shape != h.shape:
            raise ValidationError("links", f"{t.size} tails but {h.size} heads")
        m = t.size
        for label, ends in (("init_node", t), ("term_node", h)):
            bad = ~np.isin(ends, np.arange(1, n_nodes + 1))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValidationError(f"links[{i}].{label}", f"node {ends[i]} outside 1..{n_nodes}")
        values = {
            "capacity": capacity, "length": length, "free_flow_time": free_flow_time, "bpr_b": bpr_b,
            "bpr_power": bpr_power, "toll": toll,
        }
        attrs: dict[str, np.ndarray] = {}
        for key, value in values.items():
            try:
                arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (m,)).copy()
            except (TypeError, ValueError):
                raise ValidationError(f"links.{key}", f"expected {m} numbers") from None
            attrs[key] = arr
        try:
            attrs["link_type"] = np.broadcast_to(np.asarray(link_type, dtype=np.int64), (m,)).copy()
        except (TypeError, ValueError):
            raise ValidationError("links.link_type", f"expected {m} integers") from None
        graph, order = Graph.from_edges_with_order(
            n_nodes, t.astype(np.int64) - 1, h.astype(np.int64) - 1, attrs,
            node_ids=np.arange(1, n_nodes + 1, dtype=np.int64), coords=coords, name=name,
            metadata=dict(metadata or {}),
        )
        return cls(graph, n_zones, first_thru_node, order, toll_factor, distance_factor, name, demand)

    # ------------------------------------------------------------------ facts
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return self.graph.n_nodes

    @property
    def n_links(self) -> int:
        """Number of links (parallel links counted)."""
        return self.graph.n_edges

    @property
    def capacity(self) -> np.ndarray:
        """Link capacities (graph edge order)."""
        return self.graph.edge_attrs["capacity"]

    @property
    def free_flow_time(self) -> np.ndarray:
        """Link free-flow travel times (graph edge order)."""
        return self.graph.edge_attrs["free_flow_time"]

    @property
    def bpr_b(self) -> np.ndarray:
        """BPR ``b`` (often called alpha) of every link (graph edge order)."""
        return self.graph.edge_attrs["bpr_b"]

    @property
    def bpr_power(self) -> np.ndarray:
        """BPR power (often called beta) of every link (graph edge order)."""
        return self.graph.edge_attrs["bpr_power"]

    @property
    def length(self) -> np.ndarray:
        """Link lengths (graph edge order)."""
        return self.graph.edge_attrs["length"]

    @property
    def toll(self) -> np.ndarray:
        """Link tolls (graph edge order)."""
        return self.graph.edge_attrs["toll"]

    @cached_property
    def fixed_cost(self) -> np.ndarray:
        """The flow-independent part of the generalized cost,
        ``toll_factor * toll + distance_factor * length`` (graph edge order)."""
        fixed = self.toll_factor * self.toll + self.distance_factor * self.length
        fixed.setflags(write=False)
        return fixed

    @cached_property
    def edge_of_link(self) -> np.ndarray:
        """Graph edge of every source-file row (the inverse permutation of :attr:`link_order`)."""
        inverse = np.empty_like(self.link_order)
        inverse[self.link_order] = np.arange(self.link_order.size)
        inverse.setflags(write=False)
        return inverse

    @cached_property
    def tail_ids(self) -> np.ndarray:
        """Node number of every link's tail (graph edge order)."""
        return self.graph.node_ids[self.graph.tails]

    @cached_property
    def head_ids(self) -> np.ndarray:
        """Node number of every link's head (graph edge order)."""
        return self.graph.node_ids[self.graph.indices]

    @cached_property
    def n_blocked(self) -> int:
        """Number of nodes that may not be passed through (nodes ``1..first_thru_node-1``)."""
        return min(self.first_thru_node - 1, self.n_nodes)

    @cached_property
    def _safe_capacity(self) -> np.ndarray:
        # 1 where capacity <= 0: such links must have b = 0 (AssignmentProblem checks it), so the
        # congestion term is 0 there whatever the ratio.
        cap = np.asarray(self.capacity, dtype=np.float64)
        return np.where(cap > 0, cap, 1.0)

    @cached_property
    def _tails(self) -> np.ndarray:
        return np.ascontiguousarray(self.graph.tails, dtype=np.int64)

    def link_name(self, e: int) -> str:
        """``links[i]`` (file row ``i``) of graph edge ``e``, as used in error messages."""
        return f"links[{self.link_order[e]}]"

    # ------------------------------------------------------------------ link orders
    def to_file_order(self, values: np.ndarray) -> np.ndarray:
        """Per-link values in graph edge order -> the same values in source-file row order."""
        values = np.asarray(values)
        if values.shape[:1] != (self.n_links,):
            raise ValidationError("values", f"length {values.shape[:1]} != {self.n_links} links")
        out = np.empty_like(values)
        out[self.link_order] = values
        return out

    def from_file_order(self, values: np.ndarray) -> np.ndarray:
        """Per-link values in source-file row order -> graph edge order."""
        values = np.asarray(values)
        if values.shape[:1] != (self.n_links,):
            raise ValidationError("values", f"length {values.shape[:1]} != {self.n_links} links")
        return values[self.link_order]

    def link_values_from_table(
        self, tails: np.ndarray, heads: np.ndarray, values: np.ndarray, field_name: str = "flows"
    ) -> np.ndarray:
        """Per-link values given as rows ``(tail, head, value)`` (node numbers), in graph edge
        order. Every link must appear exactly once; parallel links are matched in the order
        they appear (the k-th row for a node pair is the k-th link of that pair in the file).

        Raises
        ------
        ValidationError
            ``flows[5]: no link 3 -> 9 in the network`` or a count mismatch.
        """
        t = np.asarray(tails, dtype=np.int64).ravel()
        h = np.asarray(heads, dtype=np.int64).ravel()
        v = np.asarray(values, dtype=np.float64).ravel()
        if not (t.size == h.size == v.size):
            raise ValidationError(field_name, f"row lists differ in length ({t.size}, {h.size}, {v.size})")
        if t.size != self.n_links:
            raise ValidationError(field_name, f"{t.size} rows for {self.n_links} links")
        slots: dict[tuple[int, int], list[int]] = {}
        file_tails = self.to_file_order(self.tail_ids)
        file_heads = self.to_file_order(self.head_ids)
        csr_of_row = self.edge_of_link
        for row in range(self.n_links - 1, -1, -1):  # reversed, so pop() yields file order
            slots.setdefault((int(file_tails[row]), int(file_heads[row])), []).append(int(csr_of_row[row]))
        out = np.empty(self.n_links)
        for k in range(t.size):
            stack = slots.get((int(t[k]), int(h[k])))
            if not stack:
                raise ValidationError(f"{field_name}[{k}]", f"no (further) link {t[k]} -> {h[k]} in the network")
            out[stack.pop()] = v[k]
        return out


# ====================================================================== cost functions
def _check_flows(network: TrafficNetwork, flows: np.ndarray) -> np.ndarray:
    x = np.asarray(flows, dtype=np.float64)
    if x.shape != (network.n_links,):
        raise ValidationError("flows", f"shape {x.shape} != ({network.n_links},) links")
    bad = ~np.isfinite(x) | (x < 0)
    if bad.any():
        e = network._first_in_file(np.flatnonzero(bad))
        value = float(x[e])
        reason = "not a number (nan)" if math.isnan(value) else (
            f"not finite ({value})" if math.isinf(value) else f"negative ({value})")
        raise ValidationError(f"flows[{network.link_order[e]}]", reason)
    return x


def _congestion(network: TrafficNetwork, x: np.ndarray) -> np.ndarray:
    """``b * (x / cap) ** power`` per link (0 where ``b = 0``)."""
    b = network.bpr_b
    ratio = x / network._safe_capacity
    with np.errstate(over="ignore", invalid="ignore"):
        term = b * np.power(ratio, network.bpr_power)
    return np.where(b == 0.0, 0.0, term)


def link_costs(network: TrafficNetwork, flows: np.ndarray) -> np.ndarray:
    """Generalized cost of every link at ``flows``:
    ``fft * (1 + b * (x / cap) ** power) + toll_factor * toll + distance_factor * length``.

    Parameters
    ----------
    network
        The network.
    flows
        Non-negative link flows, graph edge order.

    Returns
    -------
    numpy.ndarray
        Costs in graph edge order.
    """
    x = _check_flows(network, flows)
    return network.free_flow_time * (1.0 + _congestion(network, x)) + network.fixed_cost


def system_optimal_costs(network: TrafficNetwork, flows: np.ndarray) -> np.ndarray:
    """Marginal social cost of every link, ``d(x * c(x)) / dx``:
    ``fft * (1 + b * (power + 1) * (x / cap) ** power) + toll_factor * toll + distance_factor * length``.
    A user equilibrium under these costs is a system optimum."""
    x = _check_flows(network, flows)
    return network.free_flow_time * (1.0 + (network.bpr_power + 1.0) * _congestion(network, x)) + network.fixed_cost


def beckmann_objective(network: TrafficNetwork, flows: np.ndarray) -> float:
    """The Beckmann objective ``sum_a integral_0^x_a c_a(s) ds``::

        sum_a fft * x * (1 + b / (power + 1) * (x / cap) ** power) + (toll_factor * toll + distance_factor * length) * x

    User-equilibrium flows minimise it."""
    x = _check_flows(network, flows)
    per_link = (network.free_flow_time * x * (1.0 + _congestion(network, x) / (network.bpr_power + 1.0))
                + network.fixed_cost * x)
    return float(math.fsum(per_link))


def total_system_travel_time(network: TrafficNetwork, flows: np.ndarray, *, generalized: bool = True) -> float:
    """Total system travel time ``sum_a x_a * c_a(x_a)``.

    Parameters
    ----------
    generalized
        Use the generalized cost (with toll and distance terms, the default); ``False`` gives
        the BPR travel time only.
    """
    x = _check_flows(network, flows)
    time = network.free_flow_time * (1.0 + _congestion(network, x))
    cost = time + network.fixed_cost if generalized else time
    return float(math.fsum(x * cost))


# ====================================================================== compiled shortest paths
@numba.njit(cache=True, nogil=True)
def _sift_up(heap: np.ndarray, pos: np.ndarray, key: np.ndarray, i: int) -> None:
    node = heap[i]
    k = key[node]
    while i > 0:
        parent = (i - 1) >> 1
        pnode = heap[parent]
        if key[pnode] <= k:
            break
        heap[i] = pnode
        pos[pnode] = i
        i = parent
    heap[i] = node
    pos[node] = i


@numba.njit(cache=True, nogil=True)
def _sift_down(heap: np.ndarray, pos: np.ndarray, key: np.ndarray, i: int, size: int) -> None:
    node = heap[i]
    k = key[node]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        right = child + 1
        if right < size and key[heap[right]] < key[heap[child]]:
            child = right
        cnode = heap[child]
        if key[cnode] >= k:
            break
        heap[i] = cnode
        pos[cnode] = i
        i = child
    heap[i] = node
    pos[node] = i


@numba.njit(cache=True, nogil=True)
def _dijkstra(origin: int, indptr: np.ndarray, heads: np.ndarray, cost: np.ndarray, n_blocked: int,
              targets: np.ndarray, dist: np.ndarray, pred: np.ndarray, order: np.ndarray, heap: np.ndarray,
              pos: np.ndarray) -> int:
    """Dijkstra (indexed binary heap) from ``origin``; nodes ``< n_blocked`` other than the
    origin are reached but not expanded. Stops once every zone ``z`` with ``targets[z] > 0``
    is settled. Fills ``dist``, ``pred`` (predecessor link, -1 for none) and ``order`` (nodes
    in the order settled); returns how many were settled. ``dist`` is final for settled nodes
    only."""
    n = dist.size
    remaining = 0
    for z in range(targets.size):
        if targets[z] > 0.0 and z != origin:
            remaining += 1
    for v in range(n):
        dist[v] = np.inf
        pred[v] = -1
        pos[v] = -1  # -1: not seen, >= 0: heap slot, -2: settled
    dist[origin] = 0.0
    heap[0] = origin
    pos[origin] = 0
    size = 1
    count = 0
    while size > 0:
        u = heap[0]
        size -= 1
        pos[u] = -2
        if size > 0:
            heap[0] = heap[size]
            pos[heap[0]] = 0
            _sift_down(heap, pos, dist, 0, size)
        order[count] = u
        count += 1
        if u < targets.size and u != origin and targets[u] > 0.0:
            remaining -= 1
            if remaining == 0:
                break
        if u < n_blocked and u != origin:
            continue
        du = dist[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = heads[e]
            if pos[v] == -2:
                continue
            nd = du + cost[e]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = e
                if pos[v] == -1:
                    heap[size] = v
                    pos[v] = size
                    size += 1
                    _sift_up(heap, pos, dist, size - 1)
                else:
                    _sift_up(heap, pos, dist, pos[v])
    return count


@numba.njit(cache=True, nogil=True)
def _run_origins(indptr: np.ndarray, heads: np.ndarray, tails: np.ndarray, cost: np.ndarray, n_blocked: int,
                 origins: np.ndarray, demand_rows: np.ndarray, first: int, step: int, load: bool,
                 zone_costs: np.ndarray, flows: np.ndarray) -> None:
    """Dijkstra from ``origins[k]``, ``k = first, first + step, ...``, to the zones ``z`` with
    ``demand_rows[k, z] > 0``: writes ``zone_costs[k]`` (NaN for zones not asked for) and, if
    ``load``, adds the flows of loading ``demand_rows[k]`` onto the tree to ``flows``."""
    n = indptr.size - 1
    n_zones = zone_costs.shape[1]
    dist = np.empty(n)
    pred = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    heap = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    node_flow = np.zeros(n)
    for k in range(first, origins.size, step):
        origin = origins[k]
        row = demand_rows[k]
        count = _dijkstra(origin, indptr, heads, cost, n_blocked, row, dist, pred, order, heap, pos)
        for z in range(n_zones):
            zone_costs[k, z] = dist[z] if (row[z] > 0.0 or z == origin) else np.nan
        if not load:
            continue
        for z in range(n_zones):
            node_flow[z] = row[z]
        for i in range(count - 1, 0, -1):  # reverse settle order: leaves first
            v = order[i]
            f = node_flow[v]
            if f != 0.0:
                e = pred[v]
                flows[e] += f
                node_flow[tails[e]] += f
                node_flow[v] = 0.0
        node_flow[origin] = 0.0
        for z in range(n_zones):  # unreachable zones keep their demand: clear it
            node_flow[z] = 0.0


@numba.njit(cache=True, parallel=True)
def _run_chunks_parallel(indptr: np.ndarray, heads: np.ndarray, tails: np.ndarray, cost: np.ndarray,
                         n_blocked: int, origins: np.ndarray, demand_rows: np.ndarray, load: bool,
                         zone_costs: np.ndarray, chunk_flows: np.ndarray) -> None:
    """:func:`_run_origins` for chunk ``c`` (origins ``c, c + n_chunks, ...``) into
    ``chunk_flows[c]``, chunks in parallel."""
    n_chunks = chunk_flows.shape[0]
    for c in numba.prange(n_chunks):
        _run_origins(indptr, heads, tails, cost, n_blocked, origins, demand_rows, c, n_chunks, load,
                     zone_costs, chunk_flows[c])


@numba.njit(cache=True, nogil=True)
def _first_unreachable(indptr: np.ndarray, heads: np.ndarray, n_blocked: int, n_zones: int,
                       demand: np.ndarray) -> tuple[int, int]:
    """First OD pair (zone indices) with positive demand and no path (breadth-first search
    honouring the pass-through rule), or (-1, -1)."""
    n = indptr.size - 1
    seen = np.zeros(n, dtype=np.int64)  # stamp: origin index + 1
    queue = np.empty(n, dtype=np.int64)
    for o in range(n_zones):
        has_demand = False
        for d in range(n_zones):
            if demand[o, d] > 0.0:
                has_demand = True
                break
        if not has_demand:
            continue
        stamp = o + 1
        seen[o] = stamp
        queue[0] = o
        head, tail = 0, 1
        while head < tail:
            u = queue[head]
            head += 1
            if u < n_blocked and u != o:
                continue
            for e in range(indptr[u], indptr[u + 1]):
                v = heads[e]
                if seen[v] != stamp:
                    seen[v] = stamp
                    queue[tail] = v
                    tail += 1
        for d in range(n_zones):
            if demand[o, d] > 0.0 and seen[d] != stamp:
                return o, d
    return -1, -1


def _check_costs(network: TrafficNetwork, costs: np.ndarray) -> np.ndarray:
    c = np.ascontiguousarray(costs, dtype=np.float64)
    if c.shape != (network.n_links,):
        raise ValidationError("link_costs", f"shape {c.shape} != ({network.n_links},) links")
    bad = np.isnan(c) | (c < 0)
    if bad.any():
        e = network._first_in_file(np.flatnonzero(bad))
        raise ValidationError(f"link_costs[{network.link_order[e]}]",
                              f"must be non-negative ({c[e]}); +inf closes the link")
    return c


def _forest(network: TrafficNetwork, costs: np.ndarray, origins: np.ndarray, demand_rows: np.ndarray,
            load: bool) -> tuple[np.ndarray, np.ndarray]:
    """Zone costs ``(len(origins), n_zones)`` and, if ``load``, AON link flows.

    Origins are split into a fixed number of chunks, each with its own flow accumulator, summed
    in chunk order at the end: the result is the same bit for bit whether the chunks ran in
    parallel (large problems) or one after the other (small ones, where waking threads costs
    more than it saves)."""
    g = network.graph
    origins = np.ascontiguousarray(origins, dtype=np.int64)
    rows = np.ascontiguousarray(demand_rows, dtype=np.float64)
    n_chunks = max(1, min(_LOAD_CHUNKS, origins.size))
    zone_costs = np.empty((origins.size, network.n_zones))
    chunk_flows = np.zeros((n_chunks if load else 1, network.n_links))
    args = (g.indptr, g.indices, network._tails, costs, network.n_blocked, origins, rows)
    if origins.size * g.n_nodes >= _PARALLEL_WORK:
        _run_chunks_parallel(*args, load, zone_costs, chunk_flows if load else np.zeros((n_chunks, 0)))
    else:
        for c in range(n_chunks):
            _run_origins(*args, c, n_chunks, load, zone_costs, chunk_flows[c if load else 0])
    flows = chunk_flows.sum(axis=0) if load else np.zeros(network.n_links)
    return zone_costs, flows


def shortest_path_costs(network: TrafficNetwork, link_costs: np.ndarray,
                        origins: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Zone-to-zone shortest-path costs under ``link_costs``, honouring the pass-through rule.

    Parameters
    ----------
    network
        The network.
    link_costs
        Non-negative link costs (graph edge order); ``inf`` closes a link.
    origins
        Origin zone numbers (default: every zone, in order).

    Returns
    -------
    numpy.ndarray
        ``(len(origins), n_zones)``: entry ``[k, d - 1]`` is the cost from ``origins[k]`` to
        zone ``d`` (0 to itself, ``inf`` where unreachable).
    """
    c = _check_costs(network, link_costs)
    if origins is None:
        zone_idx = np.arange(network.n_zones, dtype=np.int64)
    else:
        zones = np.asarray(origins).ravel()
        bad = ~np.isin(zones, np.arange(1, network.n_zones + 1))
        if bad.any():
            raise ValidationError("origins", f"unknown zone {zones[bad][0]} (zones are 1..{network.n_zones})")
        zone_idx = zones.astype(np.int64) - 1
    costs, _ = _forest(network, c, zone_idx, np.ones((zone_idx.size, network.n_zones)), load=False)
    return costs


def _check_demand(network: TrafficNetwork, demand: Demand) -> None:
    if not isinstance(demand, Demand):
        raise ValidationError("demand", f"must be a Demand, got {type(demand).__name__}")
    if demand.n_zones != network.n_zones:
        raise ValidationError("demand", f"has {demand.n_zones} zones, the network {network.n_zones}")


def _raise_unreachable(zone_costs: np.ndarray, rows: np.ndarray, origin_idx: np.ndarray,
                       network: TrafficNetwork) -> None:
    missing = np.isinf(zone_costs) & (rows > 0)
    if missing.any():
        k, d = np.argwhere(missing)[0]
        o = int(origin_idx[k]) + 1
        raise InfeasibleError(f"demand[{o}->{d + 1}]", _no_path_reason(network, o, int(d) + 1))


def _no_path_reason(network: TrafficNetwork, o: int, d: int) -> str:
    rule = (f"; nodes below first thru node {network.first_thru_node} may not be passed through"
            if network.first_thru_node > 1 else "")
    return f"no path from zone {o} to zone {d} over open links{rule}"


def all_or_nothing(network: TrafficNetwork, demand: Demand, link_costs: np.ndarray) -> np.ndarray:
    """All-or-nothing assignment: every OD flow on one shortest path under ``link_costs``.

    Of parallel links the cheapest carries the flow (the first in graph order on ties).

    Parameters
    ----------
    network
        The network.
    demand
        OD demand over the network's zones.
    link_costs
        Non-negative link costs (graph edge order); ``inf`` closes a link.

    Returns
    -------
    numpy.ndarray
        Link flows, graph edge order.

    Raises
    ------
    InfeasibleError
        ``demand[o->d]`` when an OD pair with positive demand has no path.
    """
    _check_demand(network, demand)
    c = _check_costs(network, link_costs)
    origin_idx = np.flatnonzero(demand.matrix.sum(axis=1) > 0)
    if origin_idx.size == 0:
        return np.zeros(network.n_links)
    rows = demand.matrix[origin_idx]
    zone_costs, flows = _forest(network, c, origin_idx, rows, load=True)
    _raise_unreachable(zone_costs, rows, origin_idx, network)
    return flows


def shortest_path_travel_time(network: TrafficNetwork, demand: Demand, link_costs: np.ndarray) -> float:
    """``sum_od d_od * SP_od(link_costs)``: the total cost if everyone took a shortest path.

    Raises
    ------
    InfeasibleError
        ``demand[o->d]`` when an OD pair with positive demand has no path.
    """
    _check_demand(network, demand)
    c = _check_costs(network, link_costs)
    origin_idx = np.flatnonzero(demand.matrix.sum(axis=1) > 0)
    if origin_idx.size == 0:
        return 0.0
    rows = demand.matrix[origin_idx]
    zone_costs, _ = _forest(network, c, origin_idx, rows, load=False)
    _raise_unreachable(zone_costs, rows, origin_idx, network)
    positive = rows > 0
    return float(math.fsum(rows[positive] * zone_costs[positive]))


# ====================================================================== problem
@dataclass(frozen=True, eq=False)
class AssignmentProblem:
    """A static traffic-assignment problem.

    Parameters
    ----------
    network
        The network.
    demand
        OD demand over its zones.
    objective
        ``"ue"`` (user equilibrium: minimise the Beckmann objective) or ``"so"`` (system
        optimum: minimise total system travel time).

    Raises
    ------
    ValidationError
        Unknown objective, demand over a different number of zones, or a link with ``b > 0``
        and capacity ``<= 0`` (``links[12].capacity: must be positive on a link with b > 0 (0.0)``).
    InfeasibleError
        ``demand[o->d]: no path from zone o to zone d ...`` for an OD pair with positive demand.
    """

    network: TrafficNetwork
    demand: Demand
    objective: Objective = "ue"

    def __post_init__(self) -> None:
        if not isinstance(self.network, TrafficNetwork):
            raise ValidationError("network", f"must be a TrafficNetwork, got {type(self.network).__name__}")
        if self.objective not in OBJECTIVES:
            raise ValidationError("objective", f"unknown {self.objective!r} (known: {', '.join(OBJECTIVES)})")
        net = self.network
        _check_demand(net, self.demand)
        cap = np.asarray(net.capacity, dtype=np.float64)
        bad = (net.bpr_b > 0) & ~(cap > 0)
        if bad.any():
            e = net._first_in_file(np.flatnonzero(bad))
            raise ValidationError(f"{net.link_name(e)}.capacity",
                                  f"must be positive on a link with b > 0 ({cap[e]})")
        g = net.graph
        o, d = _first_unreachable(g.indptr, g.indices, net.n_blocked, net.n_zones,
                                  np.ascontiguousarray(self.demand.matrix))
        if o >= 0:
            raise InfeasibleError(f"demand[{o + 1}->{d + 1}]", _no_path_reason(net, int(o) + 1, int(d) + 1))

    def costs(self, flows: np.ndarray) -> np.ndarray:
        """The link costs whose equilibrium this problem seeks: :func:`link_costs` for ``ue``,
        :func:`system_optimal_costs` for ``so``."""
        if self.objective == "so":
            return system_optimal_costs(self.network, flows)
        return link_costs(self.network, flows)

    def objective_value(self, flows: np.ndarray) -> float:
        """The objective minimised: Beckmann for ``ue``, total system travel time for ``so``."""
        if self.objective == "so":
            return total_system_travel_time(self.network, flows)
        return beckmann_objective(self.network, flows)

    def free_flow_costs(self) -> np.ndarray:
        """:meth:`costs` at zero flow."""
        return self.costs(np.zeros(self.network.n_links))


def relative_gap(problem: AssignmentProblem, flows: np.ndarray) -> float:
    """Relative gap ``(sum_a x_a c_a - sum_od d_od SP_od(c)) / sum_a x_a c_a`` with ``c`` the
    problem's costs at ``flows`` (:meth:`AssignmentProblem.costs`: generalized link costs for
    ``ue``, marginal costs for ``so``). Zero exactly at an equilibrium; 0 when no cost accrues.
    Negative values mean the flows do not serve the demand (see :func:`flow_conservation_error`)."""
    costs = problem.costs(flows)
    x = np.asarray(flows, dtype=np.float64)
    total = math.fsum(x * costs)
    best = shortest_path_travel_time(problem.network, problem.demand, costs)
    if total == 0.0:
        return 0.0 if best == 0.0 else -math.inf
    return (total - best) / total


def flow_conservation_error(problem: AssignmentProblem, flows: np.ndarray) -> float:
    """Largest violation of flow conservation over all nodes: ``max_v |inflow_v - outflow_v -
    (arrivals_v - departures_v)|``, where zones send their origin totals and receive their
    destination totals. 0 (to rounding) for any flow that routes the demand."""
    net = problem.network
    x = _check_flows(net, flows)
    g = net.graph
    balance = np.bincount(g.indices, weights=x, minlength=g.n_nodes) - np.bincount(
        g.tails, weights=x, minlength=g.n_nodes)
    expected = np.zeros(g.n_nodes)
    z = net.n_zones
    expected[:z] = problem.demand.destination_totals() - problem.demand.origin_totals()
    return float(np.max(np.abs(balance - expected))) if g.n_nodes else 0.0


# ====================================================================== result
@dataclass(frozen=True, eq=False)
class AssignmentResult:
    """Link flows found by an assignment solver, with their independent evaluation.

    Parameters
    ----------
    flows
        Link flows, graph edge order.
    costs
        Generalized link costs at ``flows`` (:func:`link_costs`, also for ``so`` problems).
    beckmann_objective
        :func:`beckmann_objective` at ``flows``.
    total_system_travel_time
        :func:`total_system_travel_time` at ``flows`` (generalized cost).
    relative_gap
        :func:`relative_gap` of the problem at ``flows``.
    iterations
        Iterations the solver ran.
    history
        ``(iteration, elapsed_s, relative_gap, objective)`` per recorded iteration.
    solver
        Registered name of the solver.
    objective
        The problem's objective, ``"ue"`` or ``"so"``.
    elapsed_s
        Wall-clock seconds of the solve.
    """

    flows: np.ndarray
    costs: np.ndarray
    beckmann_objective: float
    total_system_travel_time: float
    relative_gap: float
    iterations: int
    history: tuple[tuple[int, float, float, float], ...] = field(default_factory=tuple)
    solver: str = ""
    objective: Objective = "ue"
    elapsed_s: float = 0.0

    def __post_init__(self) -> None:
        flows = np.array(self.flows, dtype=np.float64)
        costs = np.array(self.costs, dtype=np.float64)
        if flows.shape != costs.shape or flows.ndim != 1:
            raise ValidationError("costs", f"shape {costs.shape} != flows shape {flows.shape}")
        flows.setflags(write=False)
        costs.setflags(write=False)
        object.__setattr__(self, "flows", flows)
        object.__setattr__(self, "costs", costs)
        object.__setattr__(self, "history", tuple(
            (int(i), float(t), float(g), float(f)) for i, t, g, f in self.history))
        if self.objective not in OBJECTIVES:
            raise ValidationError("objective", f"unknown {self.objective!r} (known: {', '.join(OBJECTIVES)})")

    @classmethod
    def evaluate(
        cls,
        problem: AssignmentProblem,
        flows: np.ndarray,
        *,
        solver: str,
        iterations: int,
        history: Sequence[tuple[int, float, float, float]] = (),
        elapsed_s: float = 0.0,
    ) -> AssignmentResult:
        """The result for ``flows``, every number computed here from the flows alone."""
        net = problem.network
        x = _check_flows(net, flows)
        return cls(
            flows=x,
            costs=link_costs(net, x),
            beckmann_objective=beckmann_objective(net, x),
            total_system_travel_time=total_system_travel_time(net, x),
            relative_gap=relative_gap(problem, x),
            iterations=iterations,
            history=tuple(history),
            solver=solver,
            objective=problem.objective,
            elapsed_s=elapsed_s,
        )

    @property
    def objective_value(self) -> float:
        """Beckmann objective for ``ue``, total system travel time for ``so``."""
        return self.total_system_travel_time if self.objective == "so" else self.beckmann_objective
