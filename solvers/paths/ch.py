"""Contraction hierarchies: exact point-to-point queries and matrices after one preprocessing.

Preprocessing contracts the nodes one by one, cheapest first by priority
``2 * (shortcuts added - arcs removed) + contracted neighbours + level`` with lazy updates; a
shortcut ``u -> w`` over ``v`` is added only when a witness search (Dijkstra from ``u`` that
avoids ``v``, bounded by the shortcut's cost and a settle limit) finds no path as cheap. A query
is a bidirectional Dijkstra that only climbs the hierarchy, with stall-on-demand; a route is
recovered by unpacking shortcuts through their middle arcs. Matrices use buckets: one backward
upward search per target, one forward upward search per source.

Everything runs in numba (:mod:`solvers.paths._ch_kernels`). Parallel edges collapse to the
cheapest (lowest index among equals); edges with infinite weight (closed roads) are left out.
Preprocessing is cached in ``datasets.location.cache_dir()`` as ``.npz``, keyed by a hash of
the graph's topology and of the weight values, so a changed graph or weight never reads a stale
hierarchy.

Reweighting (:meth:`ContractionHierarchy.reweighted`) keeps the node order and contracts again
in that order with witness searches: exact for the new weights, no priority computation (seconds
on a city). For frequent cost changes use :class:`solvers.paths.cch.CustomizableHierarchy`,
whose customisation takes a fraction of a second and returns a hierarchy of this class.

Instances are not thread-safe: queries reuse per-instance search arrays.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from planner.budget import Budget
from planner.errors import DataFormatError, ValidationError
from planner.graph.csr import Graph
from planner.paths import Route, ShortestPathProblem, route_from_edges
from solvers.paths import _ch_kernels as kernels

#: Version of the cached preprocessing layout; bump when the format or the contraction changes.
CH_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ChParameters:
    """Contraction settings.

    Parameters
    ----------
    settle_limit
        Most nodes a witness search settles when a node is really contracted (more: fewer
        superfluous shortcuts, slower preprocessing). Results are exact for any value.
    simulation_settle_limit
        The same for the searches that estimate a node's priority.
    """

    settle_limit: int = 500
    simulation_settle_limit: int = 60

    def __post_init__(self) -> None:
        for field in ("settle_limit", "simulation_settle_limit"):
            if int(getattr(self, field)) < 1:
                raise ValidationError(field, f"must be at least 1 (got {getattr(self, field)})")


@dataclass(frozen=True, eq=False)
class ChArcs:
    """The contracted graph: input arcs and shortcuts, with each node's rank.

    ``orig[a]`` is the graph edge of an input arc (``-1`` for a shortcut); ``child1[a]`` and
    ``child2[a]`` are the two arcs a shortcut replaces (``-1`` for an input arc).
    """

    rank: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    w: np.ndarray
    child1: np.ndarray
    child2: np.ndarray
    orig: np.ndarray

    @property
    def n_shortcuts(self) -> int:
        """Number of shortcut arcs."""
        return int(np.count_nonzero(self.orig < 0))


class ContractionHierarchy:
    """A contraction hierarchy of one graph and weight, ready for queries.

    Build with :meth:`build` (or :func:`load_or_build` to use the cache). Queries reuse
    per-instance search arrays, so one instance serves one thread at a time (give each worker
    its own, e.g. through :meth:`with_arcs` of the same arcs, which shares the arrays that never
    change).

    Parameters
    ----------
    graph
        The graph.
    weight
        Name of the edge attribute it minimises.
    arcs
        The contracted arcs and node ranks.
    preprocess_s
        Seconds the contraction took (for a hierarchy read from a file: when it was built).

    Attributes
    ----------
    from_cache
        Whether the hierarchy was read from a file rather than built in this process.
    costs
        The edge costs of a reweighted hierarchy (``None``: the graph's ``weight`` attribute);
        route costs are summed over them.
    """

    def __init__(self, graph: Graph, weight: str, arcs: ChArcs, preprocess_s: float = 0.0) -> None:
        self.graph = graph
        self.weight = weight
        self.arcs = arcs
        self.preprocess_s = float(preprocess_s)
        self.from_cache = False
        self.costs: np.ndarray | None = None
        n = graph.n_nodes
        rank = arcs.rank
        self._src_rank = rank[arcs.src]
        self._dst_rank = rank[arcs.dst]
        up = self._src_rank < self._dst_rank
        # forward graph: upward arcs at their tail; backward graph: downward arcs at their head
        self._f = _rank_csr(n, rank[arcs.src[up]], rank[arcs.dst[up]], arcs.w[up], np.flatnonzero(up))
        down = ~up
        self._b = _rank_csr(n, rank[arcs.dst[down]], rank[arcs.src[down]], arcs.w[down], np.flatnonzero(down))
        self._allocate_state()

    def _allocate_state(self) -> None:
        n = self.graph.n_nodes
        self._dist_f = np.full(n, np.inf)
        self._dist_b = np.full(n, np.inf)
        self._pred_f = np.full(n, -1, np.int64)
        self._pred_b = np.full(n, -1, np.int64)
        self._touched_f = np.empty(n, np.int64)
        self._touched_b = np.empty(n, np.int64)
        self._heap_f = (np.empty(n), np.empty(n, np.int64), np.full(n, -1, np.int64))
        self._heap_b = (np.empty(n), np.empty(n, np.int64), np.full(n, -1, np.int64))

    def with_arcs(self, arcs: ChArcs) -> ContractionHierarchy:
        """A hierarchy with this one's ranks and arc endpoints but the weights and shortcut
        children of ``arcs`` (no re-sorting: the query graphs are re-weighted in place of copies)."""
        if arcs.src.shape != self.arcs.src.shape:
            raise ValidationError("arcs", f"{arcs.src.size} arcs, expected {self.arcs.src.size}")
        new = object.__new__(ContractionHierarchy)
        new.graph, new.weight, new.arcs = self.graph, self.weight, arcs
        new.preprocess_s, new.from_cache, new.costs = 0.0, False, None
        new._src_rank, new._dst_rank = self._src_rank, self._dst_rank
        f_ptr, f_head, _, f_arc = self._f
        b_ptr, b_head, _, b_arc = self._b
        new._f = (f_ptr, f_head, arcs.w[f_arc], f_arc)
        new._b = (b_ptr, b_head, arcs.w[b_arc], b_arc)
        new._allocate_state()
        return new

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, graph: Graph, weight: str = "travel_time", parameters: ChParameters | None = None,
              *, weights: np.ndarray | None = None) -> ContractionHierarchy:
        """Contract ``graph`` by edge attribute ``weight`` (or by the array ``weights``).

        Raises
        ------
        ValidationError
            If the weight is unknown, not numeric or negative.
        """
        params = parameters or ChParameters()
        w = _validated_weights(graph, weight, weights)
        start = time.perf_counter()
        arcs = _contract(graph, w, params, None)
        return cls(graph, weight, arcs, time.perf_counter() - start)

    def reweighted(self, weights: np.ndarray, parameters: ChParameters | None = None) -> ContractionHierarchy:
        """The hierarchy for new edge weights (same graph), keeping this hierarchy's node order.

        Parameters
        ----------
        weights
            One non-negative cost per graph edge (``inf`` closes an edge).

        Raises
        ------
        ValidationError
            If ``weights`` has the wrong length or negative/NaN values.
        """
        params = parameters or ChParameters()
        w = _validated_weights(self.graph, self.weight, weights)
        start = time.perf_counter()
        order = np.argsort(self.arcs.rank, kind="stable")
        arcs = _contract(self.graph, w, params, order)
        hierarchy = ContractionHierarchy(self.graph, self.weight, arcs, time.perf_counter() - start)
        hierarchy.costs = w
        return hierarchy

    # ------------------------------------------------------------------ queries
    def distance(self, source: int, target: int) -> float:
        """Cost of the cheapest route ``source -> target`` (dense indices); ``inf`` if none."""
        s, t = self._check(source, "source"), self._check(target, "target")
        cost, _, nt_f, nt_b = self._search(s, t)
        self._reset(nt_f, nt_b)
        return cost

    def shortest_path(self, source: int, target: int) -> Route:
        """The cheapest route ``source -> target`` (dense indices), as graph edges.

        Raises
        ------
        ValidationError
            If a node index is out of range.
        InfeasibleError
            If ``target`` cannot be reached from ``source``.
        """
        problem = ShortestPathProblem(self.graph, source, target, self.weight)
        s, t = int(self.arcs.rank[problem.source]), int(self.arcs.rank[problem.target])
        cost, meet, nt_f, nt_b = self._search(s, t)
        try:
            if not math.isfinite(cost):
                raise problem.unreachable()
            up = _arc_chain(self._pred_f, meet, s, self._src_rank)[::-1]
            down = _arc_chain(self._pred_b, meet, t, self._dst_rank)
        finally:
            self._reset(nt_f, nt_b)
        chain = np.concatenate([up, down]).astype(np.int64)
        edges = kernels.unpack(chain, self.arcs.child1, self.arcs.child2, self.arcs.orig)
        route = route_from_edges(self.graph, problem.source, edges, self.weight)
        if self.costs is not None:  # reweighted: the cost is in the new weights
            route = replace(route, cost=float(np.sum(self.costs[edges], dtype=np.float64)))
        return route

    def distance_matrix(self, sources: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
        """``(len(sources), len(targets))`` shortest distances (``targets`` defaults to
        ``sources``); ``inf`` where a target cannot be reached."""
        src = self._checked_many(sources, "sources")
        tgt = src if targets is None else self._checked_many(targets, "targets")
        f_ptr, f_head, f_w, _ = self._f
        b_ptr, b_head, b_w, _ = self._b
        rank = self.arcs.rank
        return kernels.many_to_many(rank[src], rank[tgt], f_ptr, f_head, f_w, b_ptr, b_head, b_w)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the hierarchy's arcs to an ``.npz`` file (atomically)."""
        a = self.arcs
        path = Path(path)
        tmp = path.with_name(f"{path.name}.tmp.npz")
        np.savez(tmp, format_version=np.array(CH_FORMAT_VERSION), rank=a.rank, src=a.src, dst=a.dst, w=a.w,
                 child1=a.child1, child2=a.child2, orig=a.orig, preprocess_s=np.array(self.preprocess_s))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path, graph: Graph, weight: str = "travel_time") -> ContractionHierarchy:
        """Read a hierarchy written by :meth:`save` for ``graph``.

        Raises
        ------
        DataFormatError
            If the file is not a hierarchy of this format or does not fit the graph.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                version = int(data["format_version"])
                if version != CH_FORMAT_VERSION:
                    raise DataFormatError(path, f"hierarchy format version {version}, expected {CH_FORMAT_VERSION}")
                arcs = ChArcs(*(data[k] for k in ("rank", "src", "dst", "w", "child1", "child2", "orig")))
                preprocess_s = float(data["preprocess_s"])
        except DataFormatError:
            raise
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise DataFormatError(path, f"not a contraction hierarchy file ({exc})") from exc
        if arcs.rank.shape != (graph.n_nodes,) or (arcs.orig.size and int(arcs.orig.max()) >= graph.n_edges):
            raise DataFormatError(path, "hierarchy does not fit the graph")
        hierarchy = cls(graph, weight, arcs, preprocess_s)
        hierarchy.from_cache = True
        return hierarchy

    # ------------------------------------------------------------------ internals
    def _search(self, s: int, t: int) -> tuple[float, int, int, int]:
        f_ptr, f_head, f_w, f_arc = self._f
        b_ptr, b_head, b_w, b_arc = self._b
        return kernels.query(s, t, f_ptr, f_head, f_w, f_arc, b_ptr, b_head, b_w, b_arc,
                             self._dist_f, self._dist_b, self._pred_f, self._pred_b,
                             self._touched_f, self._touched_b, *self._heap_f, *self._heap_b)

    def _reset(self, nt_f: int, nt_b: int) -> None:
        kernels.reset(self._dist_f, self._touched_f, nt_f)
        kernels.reset(self._dist_b, self._touched_b, nt_b)

    def _check(self, node: int, field: str) -> int:
        if isinstance(node, bool) or not isinstance(node, int | np.integer):
            raise ValidationError(field, f"must be a dense node index (int), got {node!r}")
        if not 0 <= node < self.graph.n_nodes:
            raise ValidationError(field, f"node index {node} outside 0..{self.graph.n_nodes - 1}")
        return int(self.arcs.rank[node])

    def _checked_many(self, nodes: np.ndarray, field: str) -> np.ndarray:
        arr = np.asarray(nodes)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValidationError(field, f"dense node indices must be integers (dtype {arr.dtype})")
        arr = arr.astype(np.int64).ravel()
        bad = np.flatnonzero((arr < 0) | (arr >= self.graph.n_nodes))
        if bad.size:
            raise ValidationError(f"{field}[{bad[0]}]", f"node index {arr[bad[0]]} outside 0..{self.graph.n_nodes - 1}")
        return arr

    def __repr__(self) -> str:
        return (f"ContractionHierarchy({self.graph.name!r}, weight={self.weight!r}, n_nodes={self.graph.n_nodes}, "
                f"shortcuts={self.arcs.n_shortcuts})")


def _rank_csr(n: int, tail_rank: np.ndarray, head_rank: np.ndarray, w: np.ndarray, arc: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(tail_rank, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(tail_rank, minlength=n), out=ptr[1:])
    return (ptr, np.ascontiguousarray(head_rank[order], dtype=np.int64),
            np.ascontiguousarray(w[order], dtype=np.float64), np.ascontiguousarray(arc[order], dtype=np.int64))


def _arc_chain(pred: np.ndarray, node: int, end: int, other_end: np.ndarray) -> np.ndarray:
    """Arcs from ``node`` back to the search root ``end`` (ranks) through ``pred``;
    ``other_end[a]`` is the rank of the node arc ``a`` was relaxed from."""
    chain: list[int] = []
    while node != end:
        a = int(pred[node])
        chain.append(a)
        node = int(other_end[a])
    return np.asarray(chain, dtype=np.int64)


def _validated_weights(graph: Graph, weight: str, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        if weight not in graph.edge_attrs:
            known = ", ".join(sorted(graph.edge_attrs)) or "none"
            raise ValidationError("weight", f"unknown edge attribute {weight!r} (has: {known})")
        weights = graph.edge_attrs[weight]
        field = "weight"
    else:
        field = "weights"
    w = np.asarray(weights)
    if w.shape != (graph.n_edges,):
        raise ValidationError(field, f"need one value per edge ({graph.n_edges}), got shape {w.shape}")
    if w.size and not np.issubdtype(w.dtype, np.number):
        raise ValidationError(field, f"must be numbers (dtype {w.dtype})")
    w = w.astype(np.float64)
    if w.size and (np.isnan(w).any() or w.min() < 0):
        raise ValidationError(field, "must be non-negative numbers (no NaN)")
    return w


def _contract(graph: Graph, w: np.ndarray, params: ChParameters, order: np.ndarray | None) -> ChArcs:
    """Collapse parallel edges, drop loops and closed edges, and run the numba contraction."""
    tails, heads = graph.tails, graph.indices
    keep = (tails != heads) & np.isfinite(w)
    edge_ids = np.flatnonzero(keep)
    n = graph.n_nodes
    keys = tails[edge_ids] * n + heads[edge_ids]
    order_e = np.lexsort((edge_ids, w[edge_ids], keys))
    edge_ids, keys = edge_ids[order_e], keys[order_e]
    first = np.ones(edge_ids.size, dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    edge_ids = edge_ids[first]
    m = edge_ids.size
    cap = 3 * m + 1024
    use_order = order is not None
    order_arr = np.asarray(order if use_order else np.zeros(0), dtype=np.int64)
    while True:
        src = np.empty(cap, np.int64)
        dst = np.empty(cap, np.int64)
        ww = np.empty(cap)
        child1 = np.full(cap, -1, np.int64)
        child2 = np.full(cap, -1, np.int64)
        orig = np.full(cap, -1, np.int64)
        src[:m], dst[:m], ww[:m], orig[:m] = tails[edge_ids], heads[edge_ids], w[edge_ids], edge_ids
        n_arcs, rank = kernels.contract(n, m, src, dst, ww, child1, child2, orig, order_arr, use_order,
                                        params.settle_limit, params.simulation_settle_limit)
        if n_arcs >= 0:
            break
        cap *= 2
    return ChArcs(rank, src[:n_arcs].copy(), dst[:n_arcs].copy(), ww[:n_arcs].copy(), child1[:n_arcs].copy(),
                  child2[:n_arcs].copy(), orig[:n_arcs].copy())


def cache_key(graph: Graph, weight: str, weights: np.ndarray | None = None,
              parameters: ChParameters | None = None) -> str:
    """Hex digest identifying a hierarchy: the graph's topology, the weight values, the
    contraction parameters and :data:`CH_FORMAT_VERSION`."""
    params = parameters or ChParameters()
    w = _validated_weights(graph, weight, weights)
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{CH_FORMAT_VERSION}:{graph.n_nodes}:{graph.n_edges}:{params.settle_limit}:"
             f"{params.simulation_settle_limit}:{weight}".encode())
    for arr in (graph.indptr, graph.indices, w):
        h.update(np.ascontiguousarray(arr).view(np.uint8))
    return h.hexdigest()


def cache_path(graph: Graph, weight: str = "travel_time", parameters: ChParameters | None = None) -> Path:
    """Where :func:`load_or_build` keeps the hierarchy of ``graph`` and ``weight``."""
    from datasets.location import cache_dir

    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in (graph.name or "graph"))
    return cache_dir() / f"ch-{safe}-{weight}-{cache_key(graph, weight, None, parameters)}.npz"


def load_or_build(graph: Graph, weight: str = "travel_time", parameters: ChParameters | None = None,
                  *, cache: bool = True) -> ContractionHierarchy:
    """The hierarchy of ``graph`` by ``weight``: read from the cache when there, else built (and
    written to the cache when ``cache``).

    Raises
    ------
    ValidationError
        If the weight is unknown, not numeric or negative.
    """
    if not cache:
        return ContractionHierarchy.build(graph, weight, parameters)
    path = cache_path(graph, weight, parameters)
    if path.is_file():
        try:
            return ContractionHierarchy.load(path, graph, weight)
        except DataFormatError:
            pass  # damaged or stale entry: rebuild and overwrite it
    hierarchy = ContractionHierarchy.build(graph, weight, parameters)
    path.parent.mkdir(parents=True, exist_ok=True)
    hierarchy.save(path)
    return hierarchy


def solve_shortest_path(problem: ShortestPathProblem, budget: Budget) -> Route:
    """Registry entry point: the optimal route of ``problem`` through the (cached) hierarchy.

    The first call on a graph pays the preprocessing (then cached on disk); the budget is not
    consulted.
    """
    return load_or_build(problem.graph, problem.weight).shortest_path(problem.source, problem.target)
