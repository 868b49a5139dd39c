"""The one directed graph type of routeplanner, in compressed sparse row form.

Every solver family works on :class:`Graph`: road networks, TNTP traffic networks, datacenter
fabrics and ISP topologies are all built into it. Edges are stored sorted by tail node; the
out-edges of node ``u`` are ``indptr[u]:indptr[u + 1]``, their heads ``indices[...]``, and every
per-edge attribute is an array aligned with ``indices``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from planner.errors import DataFormatError, NotFoundError, ValidationError

if TYPE_CHECKING:
    import networkx as nx

#: Version of the on-disk layout written by :meth:`Graph.save`; bump when it changes.
NPZ_FORMAT_VERSION = 1

_RESERVED = ("indptr", "indices", "node_ids", "coords")


@dataclass(frozen=True, eq=False)
class Graph:
    """A directed graph with per-edge attribute arrays, in CSR form.

    Parameters
    ----------
    indptr
        ``int64`` array of length ``n_nodes + 1``; out-edges of node ``u`` are the slice
        ``indptr[u]:indptr[u + 1]``.
    indices
        ``int64`` array of length ``n_edges``: the head node of each edge.
    edge_attrs
        Named per-edge arrays aligned with ``indices`` (e.g. ``length`` in metres,
        ``travel_time`` in seconds, ``capacity``, ``free_flow_time``, ``bpr_alpha``, ``bpr_beta``).
    node_ids
        External id of every node (OSM node id, TNTP node number, switch name), length
        ``n_nodes``. Integer or string dtype.
    coords
        ``(n_nodes, 2)`` float array of node coordinates (x, y), or ``None``. For geographic
        networks x is the longitude and y the latitude in degrees.
    node_attrs
        Named per-node arrays of length ``n_nodes``.
    name
        Human-readable name of the network.
    metadata
        Free-form provenance: source file, builder options, units, CRS.

    Notes
    -----
    Build graphs with :meth:`from_edges`, which sorts edges by tail and checks the arrays; the
    constructor itself only checks shapes. Parallel edges are allowed (road networks have them);
    :meth:`to_scipy` keeps the cheapest of a parallel group.
    """

    indptr: np.ndarray
    indices: np.ndarray
    edge_attrs: Mapping[str, np.ndarray] = field(default_factory=dict)
    node_ids: np.ndarray | None = None
    coords: np.ndarray | None = None
    node_attrs: Mapping[str, np.ndarray] = field(default_factory=dict)
    name: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        indices = np.ascontiguousarray(self.indices, dtype=np.int64)
        object.__setattr__(self, "indptr", indptr)
        object.__setattr__(self, "indices", indices)
        n, m = indptr.size - 1, indices.size
        if n < 0 or indptr[0] != 0 or indptr[-1] != m or np.any(np.diff(indptr) < 0):
            raise ValidationError("indptr", "not a valid CSR row pointer for the edges given")
        if m and (indices.min() < 0 or indices.max() >= n):
            raise ValidationError("indices", f"head index outside 0..{n - 1}")
        attrs = {}
        for key, values in self.edge_attrs.items():
            arr = np.ascontiguousarray(values)
            if arr.shape[:1] != (m,):
                raise ValidationError(f"edge_attrs[{key!r}]", f"length {arr.shape[:1]} != {m} edges")
            attrs[key] = arr
        object.__setattr__(self, "edge_attrs", attrs)
        node_attrs = {}
        for key, values in self.node_attrs.items():
            arr = np.ascontiguousarray(values)
            if arr.shape[:1] != (n,):
                raise ValidationError(f"node_attrs[{key!r}]", f"length {arr.shape[:1]} != {n} nodes")
            node_attrs[key] = arr
        object.__setattr__(self, "node_attrs", node_attrs)
        ids = np.arange(n, dtype=np.int64) if self.node_ids is None else np.asarray(self.node_ids)
        if ids.shape != (n,):
            raise ValidationError("node_ids", f"length {ids.shape} != {n} nodes")
        object.__setattr__(self, "node_ids", ids)
        if self.coords is not None:
            coords = np.ascontiguousarray(self.coords, dtype=np.float64)
            if coords.shape != (n, 2):
                raise ValidationError("coords", f"shape {coords.shape} != ({n}, 2)")
            object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "metadata", dict(self.metadata))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(
        cls,
        n_nodes: int,
        tails: Iterable[int] | np.ndarray,
        heads: Iterable[int] | np.ndarray,
        edge_attrs: Mapping[str, Iterable[float] | np.ndarray] | None = None,
        **kwargs: Any,
    ) -> Graph:
        """Build a graph from edge lists of dense node indices.

        Edges are sorted by tail (stably, so the input order survives within a tail); the
        permutation applied is kept in ``metadata["edge_input_order"]`` only when callers ask for
        it through :meth:`from_edges_with_order`.

        Parameters
        ----------
        n_nodes
            Number of nodes; node indices are ``0..n_nodes-1``.
        tails, heads
            Edge endpoints, same length.
        edge_attrs
            Per-edge arrays in input order.
        **kwargs
            Passed to the constructor (``node_ids``, ``coords``, ``node_attrs``, ``name``,
            ``metadata``).
        """
        graph, _ = cls.from_edges_with_order(n_nodes, tails, heads, edge_attrs, **kwargs)
        return graph

    @classmethod
    def from_edges_with_order(
        cls,
        n_nodes: int,
        tails: Iterable[int] | np.ndarray,
        heads: Iterable[int] | np.ndarray,
        edge_attrs: Mapping[str, Iterable[float] | np.ndarray] | None = None,
        **kwargs: Any,
    ) -> tuple[Graph, np.ndarray]:
        """Like :meth:`from_edges`, also returning ``order``: CSR edge ``e`` is input edge
        ``order[e]``."""
        t = np.asarray(tails, dtype=np.int64).ravel()
        h = np.asarray(heads, dtype=np.int64).ravel()
        if t.shape != h.shape:
            raise ValidationError("heads", f"length {h.size} != {t.size} tails")
        if t.size and (t.min() < 0 or t.max() >= n_nodes):
            raise ValidationError("tails", f"node index outside 0..{n_nodes - 1}")
        if h.size and (h.min() < 0 or h.max() >= n_nodes):
            raise ValidationError("heads", f"node index outside 0..{n_nodes - 1}")
        order = np.argsort(t, kind="stable")
        counts = np.bincount(t, minlength=n_nodes)
        indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        attrs = {}
        for key, values in (edge_attrs or {}).items():
            arr = np.asarray(values)
            if arr.shape[:1] != t.shape:
                raise ValidationError(f"edge_attrs[{key!r}]", f"length {arr.shape[:1]} != {t.size} edges")
            attrs[key] = arr[order]
        return cls(indptr=indptr, indices=h[order], edge_attrs=attrs, **kwargs), order

    # ------------------------------------------------------------------ basic facts
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return self.indptr.size - 1

    @property
    def n_edges(self) -> int:
        """Number of directed edges (parallel edges counted)."""
        return self.indices.size

    @cached_property
    def tails(self) -> np.ndarray:
        """Tail node of every edge, aligned with :attr:`indices`."""
        return np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self.indptr))

    @property
    def heads(self) -> np.ndarray:
        """Head node of every edge (the same array as :attr:`indices`)."""
        return self.indices

    def out_degree(self) -> np.ndarray:
        """Out-degree of every node."""
        return np.diff(self.indptr)

    def in_degree(self) -> np.ndarray:
        """In-degree of every node."""
        return np.bincount(self.indices, minlength=self.n_nodes)

    def edge_attr(self, key: str) -> np.ndarray:
        """The per-edge array ``key``; raises :class:`NotFoundError` naming the known keys."""
        try:
            return self.edge_attrs[key]
        except KeyError:
            known = ", ".join(sorted(self.edge_attrs)) or "none"
            raise NotFoundError("edge attribute", f"{key!r} not in graph (has: {known})") from None

    def has_parallel_edges(self) -> bool:
        """Whether any (tail, head) pair occurs more than once."""
        if self.n_edges < 2:
            return False
        return bool(self._parallel_edges)

    @cached_property
    def _parallel_edges(self) -> bool:
        # within a tail's CSR slice, a repeated head is a parallel edge; sorting the keys
        # is much faster than np.unique on large graphs
        keys = np.sort(self.tails * self.n_nodes + self.indices)
        return bool(np.any(keys[1:] == keys[:-1]))

    # ------------------------------------------------------------------ ids
    @cached_property
    def _index_by_id(self) -> dict[Any, int]:
        index = {k: i for i, k in enumerate(self.node_ids.tolist())}
        if len(index) != self.n_nodes:
            raise ValidationError("node_ids", "external node ids are not unique")
        return index

    def index_of(self, node_id: Any) -> int:
        """Dense index of the node with external id ``node_id``.

        Raises
        ------
        NotFoundError
            If no node has that id.
        """
        key = node_id.item() if isinstance(node_id, np.generic) else node_id
        try:
            return self._index_by_id[key]
        except (KeyError, TypeError):
            raise NotFoundError(
                "node", f"unknown node id {node_id!r} in graph {self.name or '(unnamed)'}"
            ) from None

    def indices_of(self, node_ids: Iterable[Any]) -> np.ndarray:
        """Dense indices of many external ids (see :meth:`index_of`)."""
        return np.fromiter((self.index_of(k) for k in node_ids), dtype=np.int64)

    def edge_index(self, u: int, v: int, weight: str | None = None) -> int:
        """Index of the edge ``u -> v`` (dense indices); the cheapest by ``weight`` if parallel.

        Raises
        ------
        NotFoundError
            If there is no such edge.
        """
        lo, hi = self.indptr[u], self.indptr[u + 1]
        candidates = lo + np.flatnonzero(self.indices[lo:hi] == v)
        if candidates.size == 0:
            raise NotFoundError("edge", f"no edge {self.node_ids[u].item()!r} -> {self.node_ids[v].item()!r}")
        if candidates.size > 1 and weight is not None:
            return int(candidates[np.argmin(self.edge_attr(weight)[candidates])])
        return int(candidates[0])

    # ------------------------------------------------------------------ derived graphs
    def with_edge_attrs(self, **attrs: np.ndarray) -> Graph:
        """A copy with edge attributes added or replaced (arrays are shared, not copied)."""
        merged = {**self.edge_attrs, **attrs}
        return Graph(
            self.indptr, self.indices, merged, self.node_ids, self.coords, self.node_attrs,
            self.name, self.metadata,
        )

    def reverse(self) -> tuple[Graph, np.ndarray]:
        """The graph with every edge reversed, and ``order``: reversed edge ``e`` is edge
        ``order[e]`` of this graph."""
        graph, order = Graph.from_edges_with_order(
            self.n_nodes, self.indices, self.tails, self.edge_attrs,
            node_ids=self.node_ids, coords=self.coords, node_attrs=self.node_attrs,
            name=self.name, metadata=self.metadata,
        )
        return graph, order

    def subgraph(self, nodes: np.ndarray) -> tuple[Graph, np.ndarray]:
        """The subgraph induced by ``nodes`` (dense indices or a boolean mask).

        Returns
        -------
        graph
            Nodes renumbered ``0..k-1`` in increasing order of their old index.
        edges
            For each edge of the subgraph, its index in this graph.
        """
        keep = np.zeros(self.n_nodes, dtype=bool)
        keep[nodes] = True
        new_index = np.full(self.n_nodes, -1, dtype=np.int64)
        new_index[keep] = np.arange(int(keep.sum()))
        edges = np.flatnonzero(keep[self.tails] & keep[self.indices])
        graph = Graph.from_edges(
            int(keep.sum()),
            new_index[self.tails[edges]],
            new_index[self.indices[edges]],
            {k: v[edges] for k, v in self.edge_attrs.items()},
            node_ids=self.node_ids[keep],
            coords=None if self.coords is None else self.coords[keep],
            node_attrs={k: v[keep] for k, v in self.node_attrs.items()},
            name=self.name,
            metadata=self.metadata,
        )
        return graph, edges  # from_edges keeps order: edges are already sorted by tail

    def strongly_connected_components(self) -> tuple[int, np.ndarray]:
        """Number of strongly connected components and the component label of every node."""
        n, labels = csgraph.connected_components(
            self.to_scipy(None), directed=True, connection="strong"
        )
        return int(n), labels

    def largest_strongly_connected_component(self) -> tuple[Graph, np.ndarray]:
        """The subgraph on the largest strongly connected component (see :meth:`subgraph`)."""
        _, labels = self.strongly_connected_components()
        biggest = np.argmax(np.bincount(labels))
        return self.subgraph(labels == biggest)

    # ------------------------------------------------------------------ interoperability
    def to_scipy(self, weight: str | np.ndarray | None = None) -> sp.csr_array:
        """The graph as a ``scipy.sparse.csr_array`` (for ``scipy.sparse.csgraph``).

        Parallel edges are collapsed to the cheapest. ``weight`` is an edge attribute name, an
        array of edge weights, or ``None`` for unit weights. Zero weights are kept as explicit
        entries, so csgraph treats them as edges of cost 0 rather than absent.
        """
        if weight is None:
            w = np.ones(self.n_edges)
        elif isinstance(weight, str):
            w = np.asarray(self.edge_attr(weight), dtype=np.float64)
        else:
            w = np.asarray(weight, dtype=np.float64)
            if w.shape != (self.n_edges,):
                raise ValidationError("weight", f"length {w.shape} != {self.n_edges} edges")
        tails, heads = self.tails, self.indices
        if self.has_parallel_edges():
            order = np.lexsort((w, heads, tails))
            t, h, ww = tails[order], heads[order], w[order]
            first = np.ones(t.size, dtype=bool)
            first[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
            tails, heads, w = t[first], h[first], ww[first]
        indptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(tails, minlength=self.n_nodes), out=indptr[1:])
        # csgraph drops explicit zeros in some code paths; the smallest positive float keeps
        # zero-cost links as links at no measurable cost.
        w = np.where(w == 0.0, np.finfo(np.float64).tiny, w)
        return sp.csr_array((w, heads, indptr), shape=(self.n_nodes, self.n_nodes))

    def to_networkx(self, multigraph: bool | None = None) -> nx.DiGraph:
        """The graph as a networkx ``DiGraph`` (``MultiDiGraph`` if it has parallel edges).

        Nodes are the external ids, with ``x``/``y`` from :attr:`coords` and node attributes;
        edges carry every edge attribute as a Python scalar.
        """
        import networkx as nx

        if multigraph is None:
            multigraph = self.has_parallel_edges()
        g: nx.DiGraph = nx.MultiDiGraph() if multigraph else nx.DiGraph()
        g.graph.update({"name": self.name, **{k: v for k, v in self.metadata.items()
                                               if isinstance(v, str | int | float)}})
        ids = self.node_ids.tolist()
        node_attr_lists = {k: v.tolist() for k, v in self.node_attrs.items()}
        for i, node in enumerate(ids):
            data = {k: vals[i] for k, vals in node_attr_lists.items()}
            if self.coords is not None:
                data["x"], data["y"] = float(self.coords[i, 0]), float(self.coords[i, 1])
            g.add_node(node, **data)
        edge_lists = {k: v.tolist() for k, v in self.edge_attrs.items()}
        tails, heads = self.tails.tolist(), self.indices.tolist()
        for e in range(self.n_edges):
            g.add_edge(ids[tails[e]], ids[heads[e]], **{k: vals[e] for k, vals in edge_lists.items()})
        return g

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the graph to a compressed ``.npz`` file (no pickling; readable by numpy alone)."""
        arrays: dict[str, np.ndarray] = {
            "indptr": self.indptr,
            "indices": self.indices,
            "node_ids": self.node_ids,
            "format_version": np.array(NPZ_FORMAT_VERSION),
            "name": np.array(self.name),
        }
        if self.coords is not None:
            arrays["coords"] = self.coords
        for k, v in self.edge_attrs.items():
            arrays[f"edge:{k}"] = v
        for k, v in self.node_attrs.items():
            arrays[f"node:{k}"] = v
        for k, v in self.metadata.items():
            if isinstance(v, str | int | float | bool):
                arrays[f"meta:{k}"] = np.array(v)
        path = Path(path)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)  # atomic: a reader never sees a half-written cache file

    @classmethod
    def load(cls, path: str | Path) -> Graph:
        """Read a graph written by :meth:`save`.

        Raises
        ------
        DataFormatError
            If the file is not a graph file of this format version.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise DataFormatError(path, f"not a routeplanner graph file ({exc})") from exc
        version = int(arrays.pop("format_version", -1))
        if version != NPZ_FORMAT_VERSION:
            raise DataFormatError(path, f"graph format version {version}, expected {NPZ_FORMAT_VERSION}")
        return cls(
            indptr=arrays["indptr"],
            indices=arrays["indices"],
            node_ids=arrays["node_ids"],
            coords=arrays.get("coords"),
            edge_attrs={k[5:]: v for k, v in arrays.items() if k.startswith("edge:")},
            node_attrs={k[5:]: v for k, v in arrays.items() if k.startswith("node:")},
            name=str(arrays.get("name", "")),
            metadata={k[5:]: v.item() for k, v in arrays.items() if k.startswith("meta:")},
        )

    def __repr__(self) -> str:
        attrs = ", ".join(sorted(self.edge_attrs))
        return f"Graph({self.name!r}, n_nodes={self.n_nodes}, n_edges={self.n_edges}, edge_attrs=[{attrs}])"
