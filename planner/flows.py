"""The flow-routing vocabulary: workloads, demand matrices, routing problems, routed results and
the checks every flow-routing solver is judged by.

A :class:`Workload` is a list of flows (source, destination, size) between dense node indices
of a graph; a :class:`DemandMatrix` is the traffic-engineering view of the same thing (a node x
node matrix). A :class:`FlowRoutingProblem` pairs a graph whose edges carry ``capacity`` with a
workload. A :class:`FlowAssignment` routes every flow over one or more paths with fractions that
sum to 1, in flat arrays (CSR style, so that LP and multiplicative-weights solvers with many
paths per flow stay cheap):

* the paths of flow ``i`` are ``flow_ptr[i]:flow_ptr[i + 1]``;
* the edges of path ``p`` are ``path_edges[path_ptr[p]:path_ptr[p + 1]]`` (graph edge indices,
  source to destination), carrying ``fractions[p]`` of the flow.

:func:`link_loads` and :func:`check_flow_assignment` depend only on the problem and the paths,
never on a solver's bookkeeping. Units: sizes and capacities in the same unit (Gb/s for fabrics),
so load / capacity is the utilisation ("congestion") of a link.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.errors import FieldViolation, ValidationError
from planner.graph.csr import Graph

#: Relative tolerance of :func:`check_flow_assignment` on fractions and loads.
CHECK_RTOL = 1e-9


def _int_array(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValidationError(name, f"must be one-dimensional, got shape {arr.shape}")
    integral = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and bool(np.all(arr == np.round(arr)))
    )
    if arr.size and not integral:
        raise ValidationError(name, f"must be integer node indices, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Workload:
    """A set of flows between nodes of a graph.

    Parameters
    ----------
    sources, destinations
        Dense node indices, one per flow.
    sizes
        Size (rate) of every flow, in the unit of the graph's ``capacity`` (Gb/s for fabrics);
        finite and non-negative.
    name
        What the workload is (``ring all-reduce``, ``permutation``).
    node_names
        External names of the nodes, for messages (optional; :class:`FlowRoutingProblem`
        uses the graph's ``node_ids``).

    Raises
    ------
    ValidationError
        ``flows[i].size`` negative or not finite, ``flows[i].source``/``destination`` negative
        (unknown), ``flows[i]`` with source equal to destination, or array lengths that differ.
    """

    sources: np.ndarray
    destinations: np.ndarray
    sizes: np.ndarray
    name: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        src = _int_array("sources", self.sources)
        dst = _int_array("destinations", self.destinations)
        try:
            sizes = np.ascontiguousarray(np.asarray(self.sizes, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValidationError("sizes", f"must be numbers ({exc})") from None
        if dst.shape != src.shape:
            raise ValidationError("destinations", f"length {dst.size} != {src.size} sources")
        if sizes.shape != src.shape:
            raise ValidationError("sizes", f"length {sizes.size} != {src.size} sources")
        bad = np.flatnonzero(~np.isfinite(sizes) | (sizes < 0))
        if bad.size:
            i = int(bad[0])
            what = "negative" if sizes[i] < 0 else "not finite"
            raise ValidationError(f"flows[{i}].size", f"{what} ({sizes[i]})")
        for key, arr in (("source", src), ("destination", dst)):
            neg = np.flatnonzero(arr < 0)
            if neg.size:
                raise ValidationError(f"flows[{int(neg[0])}].{key}", f"unknown node index {arr[neg[0]]}")
        same = np.flatnonzero(src == dst)
        if same.size:
            i = int(same[0])
            raise ValidationError(f"flows[{i}]", f"source equals destination (node {src[i]})")
        object.__setattr__(self, "sources", src)
        object.__setattr__(self, "destinations", dst)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def n_flows(self) -> int:
        """Number of flows."""
        return int(self.sources.size)

    @property
    def total(self) -> float:
        """Sum of the flow sizes."""
        return float(self.sizes.sum())

    @classmethod
    def from_node_ids(cls, graph: Graph, pairs: Sequence[tuple[Any, Any]], sizes: Any,
                      name: str = "") -> Workload:
        """A workload from ``(source_id, destination_id)`` pairs of external node ids.

        Raises
        ------
        ValidationError
            ``flows[i].source`` / ``flows[i].destination`` naming an unknown node.
        """
        src = np.empty(len(pairs), dtype=np.int64)
        dst = np.empty(len(pairs), dtype=np.int64)
        for i, (a, b) in enumerate(pairs):
            for arr, key, node in ((src, "source", a), (dst, "destination", b)):
                try:
                    arr[i] = graph.index_of(node)
                except LookupError:
                    raise ValidationError(f"flows[{i}].{key}", f"unknown node {node!r}") from None
        sizes_arr = np.broadcast_to(np.asarray(sizes, dtype=np.float64), src.shape)
        return cls(src, dst, sizes_arr, name)


@dataclass(frozen=True, eq=False)
class DemandMatrix:
    """Traffic-engineering demand between the nodes of a network.

    Parameters
    ----------
    matrix
        ``(n, n)`` array, ``matrix[s, d]`` the demand from node ``s`` to node ``d`` (dense
        indices), in the unit of the graph's ``capacity``. Finite, non-negative, zero diagonal.
    name
        What it is (``gravity``, ``uniform``).

    Raises
    ------
    ValidationError
        ``matrix[s, d]`` negative or not finite, a non-zero diagonal entry, or a non-square
        matrix.
    """

    matrix: np.ndarray
    name: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            m = np.ascontiguousarray(np.asarray(self.matrix, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValidationError("matrix", f"must be numbers ({exc})") from None
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValidationError("matrix", f"must be square, got shape {m.shape}")
        bad = np.argwhere(~np.isfinite(m) | (m < 0))
        if bad.size:
            s, d = (int(x) for x in bad[0])
            raise ValidationError(f"matrix[{s}, {d}]", f"negative or not finite ({m[s, d]})")
        diag = np.flatnonzero(np.diag(m))
        if diag.size:
            s = int(diag[0])
            raise ValidationError(f"matrix[{s}, {s}]", f"demand from a node to itself ({m[s, s]})")
        object.__setattr__(self, "matrix", m)
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.matrix.shape[0])

    @property
    def total(self) -> float:
        """Sum of all demands."""
        return float(self.matrix.sum())

    def to_workload(self) -> Workload:
        """One flow per non-zero entry, in row-major order."""
        s, d = np.nonzero(self.matrix)
        return Workload(s, d, self.matrix[s, d], self.name or "demand matrix", dict(self.metadata))


@dataclass(frozen=True, eq=False)
class FlowRoutingProblem:
    """Route every flow of a workload over a capacitated graph.

    Parameters
    ----------
    graph
        The network; edge attribute ``capacity`` must be positive (same unit as the sizes).
    workload
        The flows, or a :class:`DemandMatrix` (converted with :meth:`DemandMatrix.to_workload`).

    Raises
    ------
    ValidationError
        ``graph.capacity`` missing or not positive, ``flows[i].source`` / ``destination``
        outside the graph, or a demand matrix of the wrong size.
    """

    graph: Graph
    workload: Workload

    def __post_init__(self) -> None:
        n = self.graph.n_nodes
        if isinstance(self.workload, DemandMatrix):
            if self.workload.n_nodes != n:
                raise ValidationError("workload.matrix", f"{self.workload.n_nodes} nodes != {n} in the graph")
            object.__setattr__(self, "workload", self.workload.to_workload())
        if not isinstance(self.workload, Workload):
            raise ValidationError("workload", f"must be a Workload or DemandMatrix, got {type(self.workload).__name__}")
        if "capacity" not in self.graph.edge_attrs:
            raise ValidationError("graph.capacity", "the graph has no edge attribute 'capacity'")
        cap = np.asarray(self.graph.edge_attrs["capacity"], dtype=np.float64)
        bad = np.flatnonzero(~(cap > 0))
        if bad.size:
            raise ValidationError(f"graph.capacity[{int(bad[0])}]", f"must be positive ({cap[bad[0]]})")
        for key, arr in (("source", self.workload.sources), ("destination", self.workload.destinations)):
            out = np.flatnonzero(arr >= n)
            if out.size:
                i = int(out[0])
                raise ValidationError(f"flows[{i}].{key}", f"unknown node index {arr[i]} (graph has {n} nodes)")

    @property
    def capacity(self) -> np.ndarray:
        """Capacity of every edge (float64)."""
        return np.asarray(self.graph.edge_attrs["capacity"], dtype=np.float64)

    def flow_label(self, i: int) -> str:
        """``source -> destination`` of flow ``i`` by external node ids."""
        ids = self.graph.node_ids
        return f"{ids[self.workload.sources[i]]} -> {ids[self.workload.destinations[i]]}"


def link_loads(
    graph: Graph,
    paths: Sequence[Sequence[np.ndarray]],
    fractions: Sequence[Sequence[float]],
    sizes: np.ndarray,
) -> np.ndarray:
    """Load of every edge: sum over flows ``i`` and their paths ``p`` of
    ``sizes[i] * fractions[i][p]`` on each edge of ``paths[i][p]``.

    Parameters
    ----------
    graph
        The graph (for the number of edges).
    paths
        Per flow, a list of paths, each an array of edge indices.
    fractions
        Per flow, the fraction of the flow on each of its paths.
    sizes
        Size of every flow.

    Raises
    ------
    ValidationError
        ``paths`` / ``fractions`` of the wrong length, or an edge index outside the graph.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if len(paths) != sizes.size or len(fractions) != sizes.size:
        raise ValidationError(
            "paths", f"{len(paths)} path lists, {len(fractions)} fraction lists for {sizes.size} flows"
        )
    edges, weights = [], []
    for i, (plist, flist) in enumerate(zip(paths, fractions, strict=True)):
        if len(plist) != len(flist):
            raise ValidationError(f"flows[{i}].fractions", f"{len(flist)} fractions for {len(plist)} paths")
        for p, f in zip(plist, flist, strict=True):
            e = np.asarray(p, dtype=np.int64)
            edges.append(e)
            weights.append(np.full(e.size, sizes[i] * float(f)))
    if not edges:
        return np.zeros(graph.n_edges)
    e = np.concatenate(edges)
    if e.size and (e.min() < 0 or e.max() >= graph.n_edges):
        raise ValidationError("paths", f"edge index outside 0..{graph.n_edges - 1}")
    return np.bincount(e, weights=np.concatenate(weights), minlength=graph.n_edges)


@dataclass(frozen=True, eq=False)
class FlowAssignment:
    """Every flow of a :class:`FlowRoutingProblem` routed over one or more paths.

    Parameters
    ----------
    loads
        Load on every edge (graph edge order), in the unit of the sizes.
    flow_ptr
        ``int64``, length ``n_flows + 1``: the paths of flow ``i`` are
        ``flow_ptr[i]:flow_ptr[i + 1]``.
    path_ptr
        ``int64``, length ``n_paths + 1``: the edges of path ``p`` are
        ``path_edges[path_ptr[p]:path_ptr[p + 1]]``.
    path_edges
        ``int64`` graph edge indices of all paths, concatenated.
    fractions
        Fraction of its flow carried by every path; those of one flow sum to 1.
    max_congestion
        ``max(loads / capacity)`` over all edges (0 without edges).
    pieces_per_flow
        Number of pieces every flow is cut into at the source (1: unsplit). A path may carry
        several pieces (its fraction is then a multiple of ``1 / pieces``).
    solver
        Name of the solver that produced it.
    stats
        Solver statistics (time, iterations, seed).
    """

    loads: np.ndarray
    flow_ptr: np.ndarray
    path_ptr: np.ndarray
    path_edges: np.ndarray
    fractions: np.ndarray
    max_congestion: float
    pieces_per_flow: np.ndarray
    solver: str = ""
    stats: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("flow_ptr", "path_ptr", "path_edges", "pieces_per_flow"):
            object.__setattr__(self, key, np.ascontiguousarray(getattr(self, key), dtype=np.int64))
        for key in ("loads", "fractions"):
            object.__setattr__(self, key, np.ascontiguousarray(getattr(self, key), dtype=np.float64))
        object.__setattr__(self, "max_congestion", float(self.max_congestion))
        object.__setattr__(self, "stats", dict(self.stats))
        if self.flow_ptr.size < 1 or self.flow_ptr[0] != 0 or self.flow_ptr[-1] != self.fractions.size:
            raise ValidationError("flow_ptr", "not a row pointer over the paths")
        if self.path_ptr.size != self.fractions.size + 1 or self.path_ptr[0] != 0 \
                or self.path_ptr[-1] != self.path_edges.size:
            raise ValidationError("path_ptr", "not a row pointer over the path edges")
        if self.pieces_per_flow.size != self.flow_ptr.size - 1:
            raise ValidationError("pieces_per_flow", f"length {self.pieces_per_flow.size} != {self.n_flows} flows")

    @property
    def n_flows(self) -> int:
        """Number of flows."""
        return int(self.flow_ptr.size - 1)

    @property
    def n_paths(self) -> int:
        """Number of (flow, path) pairs."""
        return int(self.fractions.size)

    def path(self, p: int) -> np.ndarray:
        """Edge indices of path ``p``."""
        return self.path_edges[self.path_ptr[p]:self.path_ptr[p + 1]]

    def splits(self, i: int) -> list[tuple[np.ndarray, float]]:
        """The ``(edge path, fraction)`` pairs of flow ``i``."""
        return [(self.path(p), float(self.fractions[p])) for p in range(self.flow_ptr[i], self.flow_ptr[i + 1])]

    def paths_per_flow(self) -> list[list[np.ndarray]]:
        """Per flow, its paths as edge-index arrays (the input of :func:`link_loads`)."""
        return [[self.path(p) for p in range(self.flow_ptr[i], self.flow_ptr[i + 1])] for i in range(self.n_flows)]

    def fractions_per_flow(self) -> list[list[float]]:
        """Per flow, the fraction on each of its paths."""
        return [self.fractions[self.flow_ptr[i]:self.flow_ptr[i + 1]].tolist() for i in range(self.n_flows)]

    def congestion(self, problem: FlowRoutingProblem) -> np.ndarray:
        """Utilisation ``load / capacity`` of every edge."""
        return self.loads / problem.capacity

    @classmethod
    def from_flat(
        cls,
        problem: FlowRoutingProblem,
        flow_ptr: np.ndarray,
        path_ptr: np.ndarray,
        path_edges: np.ndarray,
        fractions: np.ndarray,
        pieces_per_flow: np.ndarray | None = None,
        *,
        solver: str = "",
        stats: Mapping[str, Any] | None = None,
    ) -> FlowAssignment:
        """Build from flat path arrays, computing loads and the maximum congestion.

        ``pieces_per_flow`` defaults to the number of paths of each flow.
        """
        flow_ptr = np.asarray(flow_ptr, dtype=np.int64)
        path_ptr = np.asarray(path_ptr, dtype=np.int64)
        path_edges = np.asarray(path_edges, dtype=np.int64)
        fractions = np.asarray(fractions, dtype=np.float64)
        sizes = problem.workload.sizes
        n_paths_of = np.diff(flow_ptr)
        path_flow = np.repeat(np.arange(n_paths_of.size), n_paths_of)
        path_len = np.diff(path_ptr)
        edge_weight = np.repeat(sizes[path_flow] * fractions, path_len)
        m = problem.graph.n_edges
        loads = np.bincount(path_edges, weights=edge_weight, minlength=m) if path_edges.size else np.zeros(m)
        congestion = float((loads / problem.capacity).max()) if m else 0.0
        pieces = n_paths_of if pieces_per_flow is None else pieces_per_flow
        return cls(loads, flow_ptr, path_ptr, path_edges, fractions, congestion, pieces, solver, stats or {})

    @classmethod
    def from_paths(
        cls,
        problem: FlowRoutingProblem,
        paths: Sequence[Sequence[np.ndarray]],
        fractions: Sequence[Sequence[float]],
        pieces_per_flow: np.ndarray | None = None,
        *,
        solver: str = "",
        stats: Mapping[str, Any] | None = None,
    ) -> FlowAssignment:
        """Build from per-flow lists of paths (edge-index arrays) and fractions."""
        counts = np.array([len(p) for p in paths], dtype=np.int64)
        flow_ptr = np.concatenate([[0], np.cumsum(counts)])
        flat = [np.asarray(p, dtype=np.int64) for plist in paths for p in plist]
        path_ptr = np.concatenate([[0], np.cumsum([p.size for p in flat], dtype=np.int64)])
        path_edges = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
        frac = np.array([f for flist in fractions for f in flist], dtype=np.float64)
        return cls.from_flat(problem, flow_ptr, path_ptr, path_edges, frac, pieces_per_flow,
                             solver=solver, stats=stats)


def check_flow_assignment(
    problem: FlowRoutingProblem,
    assignment: FlowAssignment,
    *,
    rtol: float = CHECK_RTOL,
) -> list[FieldViolation]:
    """Every way ``assignment`` fails to route ``problem``; empty when it is valid.

    Checks: one path list per flow; each fraction in ``(0, 1]`` and those of a flow summing to
    1; each path a walk over existing edges from the flow's source to its destination;
    ``pieces_per_flow`` at least 1; ``loads`` equal to :func:`link_loads` recomputed from the
    paths; ``max_congestion`` equal to ``max(loads / capacity)`` of the recomputed loads.

    Returns
    -------
    list of FieldViolation
        Fields named like ``flows[3].paths[1]``, ``flows[3].fractions``, ``loads[17]``.
    """
    graph, wl = problem.graph, problem.workload
    out: list[FieldViolation] = []
    if assignment.n_flows != wl.n_flows:
        return [FieldViolation("flows", f"{assignment.n_flows} routed flows != {wl.n_flows} in the workload")]
    if assignment.loads.shape != (graph.n_edges,):
        out.append(FieldViolation("loads", f"length {assignment.loads.size} != {graph.n_edges} edges"))
    tails, heads, m = graph.tails, graph.indices, graph.n_edges
    ids = graph.node_ids
    for i in range(wl.n_flows):
        lo, hi = int(assignment.flow_ptr[i]), int(assignment.flow_ptr[i + 1])
        if hi <= lo:
            out.append(FieldViolation(f"flows[{i}].paths", "no path"))
            continue
        frac = assignment.fractions[lo:hi]
        if not math.isclose(float(frac.sum()), 1.0, rel_tol=rtol, abs_tol=rtol):
            out.append(FieldViolation(f"flows[{i}].fractions", f"sum to {frac.sum()!r}, not 1"))
        if assignment.pieces_per_flow[i] < 1:
            out.append(FieldViolation(f"flows[{i}].pieces", f"must be at least 1 ({assignment.pieces_per_flow[i]})"))
        s, d = int(wl.sources[i]), int(wl.destinations[i])
        for k, p in enumerate(range(lo, hi)):
            field_name = f"flows[{i}].paths[{k}]"
            if not 0 < frac[k] <= 1 + rtol:
                out.append(FieldViolation(f"{field_name}.fraction", f"outside (0, 1] ({frac[k]})"))
            e = assignment.path(p)
            if e.size == 0:
                out.append(FieldViolation(field_name, "empty path"))
                continue
            if e.min() < 0 or e.max() >= m:
                out.append(FieldViolation(field_name, f"edge index outside 0..{m - 1}"))
                continue
            if tails[e[0]] != s:
                out.append(FieldViolation(field_name, f"starts at {ids[tails[e[0]]]}, not the source {ids[s]}"))
            if heads[e[-1]] != d:
                out.append(FieldViolation(field_name, f"ends at {ids[heads[e[-1]]]}, not the destination {ids[d]}"))
            gaps = np.flatnonzero(heads[e[:-1]] != tails[e[1:]])
            if gaps.size:
                j = int(gaps[0])
                out.append(FieldViolation(
                    field_name,
                    f"edge {j} ends at {ids[heads[e[j]]]} but edge {j + 1} starts at {ids[tails[e[j + 1]]]}",
                ))
    if out:
        return out
    expected = link_loads(graph, assignment.paths_per_flow(), assignment.fractions_per_flow(), wl.sizes)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    wrong = np.flatnonzero(np.abs(assignment.loads - expected) > rtol * scale)
    for e in wrong[:10]:
        out.append(FieldViolation(
            f"loads[{int(e)}]", f"{assignment.loads[e]!r} != {expected[e]!r} recomputed from the paths"
        ))
    if wrong.size > 10:
        out.append(FieldViolation("loads", f"{wrong.size - 10} more edges differ from the recomputation"))
    congestion = float((expected / problem.capacity).max(initial=0.0))
    if not math.isclose(assignment.max_congestion, congestion, rel_tol=rtol, abs_tol=rtol):
        out.append(FieldViolation("max_congestion", f"{assignment.max_congestion!r} != {congestion!r} recomputed"))
    return out
