"""Customizable contraction hierarchy: apply a whole new cost vector in milliseconds.

The topology is metric-independent: the nodes are eliminated in a fixed order (by default the
order of an existing :class:`~solvers.paths.ch.ContractionHierarchy`) and *every* fill-in edge is
kept (no witness search), which makes the undirected upward graph chordal. Customisation then
runs over the lower triangles ``{v, x, y}`` (``v`` below ``x`` below ``y``) in elimination order:

    w(x -> y) = min(w(x -> y), w(x -> v) + w(v -> y)),   w(y -> x) likewise,

after which the upward/downward arcs form an exact contraction hierarchy for the new costs. The
lower triangles of every edge are enumerated once, when the topology is built, so customisation
is one numba loop over edges in index order (= order of their lower endpoint) and their triangle
lists. Point-to-point queries walk the elimination tree (the parent of a node is its lowest upper
neighbour; every node of a shortest up-down path is an ancestor of its end), relaxing arcs in
rank order without a priority queue; matrices use the CH bucket algorithm. Middle arcs are
recorded during customisation, so routes unpack to graph edges as usual.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
from numba import njit

from planner.errors import ValidationError
from planner.graph.csr import Graph
from planner.paths import Route, ShortestPathProblem, route_from_edges
from solvers.paths._ch_kernels import unpack
from solvers.paths.ch import ChArcs, ContractionHierarchy, _validated_weights


@njit(cache=True)
def _slots(tail_rank: np.ndarray, head_rank: np.ndarray, ptr: np.ndarray, head: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """For every graph edge: its undirected upward edge and whether it runs upward."""
    m = tail_rank.size
    slot = np.full(m, -1, np.int64)
    up = np.zeros(m, np.bool_)
    for g in range(m):
        a, b = tail_rank[g], head_rank[g]
        if a == b:
            continue
        lo, hi = (a, b) if a < b else (b, a)
        left, right = ptr[lo], ptr[lo + 1]
        while left < right:  # heads of a row are sorted
            mid = (left + right) >> 1
            if head[mid] < hi:
                left = mid + 1
            else:
                right = mid
        slot[g] = left
        up[g] = a < b
    return slot, up


@njit(cache=True)
def _count_triangles(ptr: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Number of lower triangles ``{v, x, y}`` (``v`` below both) of every upward edge ``{x, y}``."""
    count = np.zeros(head.size, np.int64)
    n = ptr.size - 1
    for v in range(n):
        end_v = ptr[v + 1]
        for i in range(ptr[v], end_v):
            x = head[i]
            j, k, end_x = i + 1, ptr[x], ptr[x + 1]
            while j < end_v and k < end_x:
                hj, hk = head[j], head[k]
                if hj == hk:
                    count[k] += 1
                    j += 1
                    k += 1
                elif hj < hk:
                    j += 1
                else:
                    k += 1
    return count


@njit(cache=True)
def _fill_triangles(ptr: np.ndarray, head: np.ndarray, tri_ptr: np.ndarray, tri: np.ndarray) -> None:
    """For upward edge ``k = {x, y}``, ``tri[2 p]`` and ``tri[2 p + 1]`` for ``p`` in
    ``tri_ptr[k]:tri_ptr[k+1]`` are the edges ``{v, x}`` and ``{v, y}`` of its lower triangles,
    ``v`` ascending (pairs interleaved: one stream for the customisation to read)."""
    fill = tri_ptr[:-1].copy()
    n = ptr.size - 1
    for v in range(n):
        end_v = ptr[v + 1]
        for i in range(ptr[v], end_v):
            x = head[i]
            j, k, end_x = i + 1, ptr[x], ptr[x + 1]
            while j < end_v and k < end_x:
                hj, hk = head[j], head[k]
                if hj == hk:
                    p = fill[k]
                    tri[2 * p] = i
                    tri[2 * p + 1] = j
                    fill[k] = p + 1
                    j += 1
                    k += 1
                elif hj < hk:
                    j += 1
                else:
                    k += 1


@njit(cache=True)
def _customize(slot: np.ndarray, edge_up: np.ndarray, w: np.ndarray, tri_ptr: np.ndarray, tri: np.ndarray,
               arc_w: np.ndarray, child1: np.ndarray, child2: np.ndarray, orig: np.ndarray, up_w: np.ndarray,
               down_w: np.ndarray) -> None:
    """Fill the upward/downward weights of every undirected edge for edge costs ``w``.

    Edges are finished in index order, which is the order of their lower endpoint: the two lower
    edges ``{v, x}``, ``{v, y}`` of a triangle of ``{x, y}`` have ``v`` below ``x`` and are final
    when ``{x, y}`` is reached. Arc ids: ``2 e`` is the upward arc of edge ``e``, ``2 e + 1`` its
    downward arc; ``arc_w``, ``child1``, ``child2`` and ``orig`` are indexed by arc id (the two
    weights of an edge share a cache line). The triangle loop keeps only the position of the
    best triangle per direction; the middle arcs are written once per edge. ``up_w``/``down_w``
    receive contiguous copies for the queries.
    """
    n_arcs = arc_w.size
    for a in range(n_arcs):
        arc_w[a] = np.inf
        orig[a] = -1
    for g in range(slot.size):
        e = slot[g]
        if e < 0 or not w[g] < np.inf:
            continue
        a = 2 * e if edge_up[g] else 2 * e + 1
        if w[g] < arc_w[a] or (w[g] == arc_w[a] and g < orig[a]):
            arc_w[a] = w[g]
            orig[a] = g
    for k in range(n_arcs >> 1):
        uw, dw = arc_w[2 * k], arc_w[2 * k + 1]
        pu, pd = -1, -1
        for p in range(tri_ptr[k], tri_ptr[k + 1]):
            i2 = 2 * np.int64(tri[2 * p])  # arcs of {v, x}
            j2 = 2 * np.int64(tri[2 * p + 1])  # arcs of {v, y}
            via = arc_w[i2 + 1] + arc_w[j2]  # x -> v -> y
            if via < uw:
                uw = via
                pu = p
            via = arc_w[j2 + 1] + arc_w[i2]  # y -> v -> x
            if via < dw:
                dw = via
                pd = p
        arc_w[2 * k], arc_w[2 * k + 1] = uw, dw
        up_w[k], down_w[k] = uw, dw
        if pu >= 0:
            child1[2 * k], child2[2 * k] = 2 * tri[2 * pu] + 1, 2 * tri[2 * pu + 1]
            orig[2 * k] = -1
        else:
            child1[2 * k], child2[2 * k] = -1, -1
        if pd >= 0:
            child1[2 * k + 1], child2[2 * k + 1] = 2 * tri[2 * pd + 1] + 1, 2 * tri[2 * pd]
            orig[2 * k + 1] = -1
        else:
            child1[2 * k + 1], child2[2 * k + 1] = -1, -1


@njit(cache=True, inline="always")
def _relax(v: int, ptr: np.ndarray, head: np.ndarray, w: np.ndarray, dist: np.ndarray, pred: np.ndarray) -> None:
    dv = dist[v]
    if dv < np.inf:
        for k in range(ptr[v], ptr[v + 1]):
            y = head[k]
            nd = dv + w[k]
            if nd < dist[y]:
                dist[y] = nd
                pred[y] = k


@njit(cache=True)
def _etree_query(s: int, t: int, ptr: np.ndarray, head: np.ndarray, up_w: np.ndarray, down_w: np.ndarray,
                 parent: np.ndarray, dist_f: np.ndarray, dist_b: np.ndarray, pred_f: np.ndarray,
                 pred_b: np.ndarray) -> tuple[float, int]:
    """Elimination-tree query between ranks ``s`` and ``t``.

    Every node of the upward half of a shortest up-down path is an ancestor of its end, so the
    two ancestor chains are walked in rank order, relaxing upward arcs (forward) and reversed
    downward arcs (backward) without a priority queue. Below the lowest common ancestor the
    chains are disjoint; from it upward each node is a meeting candidate, and a side whose
    distance already reaches the best meeting cost is not relaxed further (pruning).
    ``pred_f``/``pred_b`` keep the edge by which each ancestor was reached; call
    :func:`_etree_reset` afterwards.

    Returns ``(cost, meeting rank)`` (``meet == -1`` when unreachable).
    """
    dist_f[s] = 0.0
    dist_b[t] = 0.0
    a, b = s, t
    while a != b:
        if b < 0 or (0 <= a < b):
            _relax(a, ptr, head, up_w, dist_f, pred_f)
            a = parent[a]
        else:
            _relax(b, ptr, head, down_w, dist_b, pred_b)
            b = parent[b]
    best = np.inf
    meet = -1
    while a >= 0:
        df, db = dist_f[a], dist_b[a]
        if df + db < best:
            best = df + db
            meet = a
        if df < best:
            _relax(a, ptr, head, up_w, dist_f, pred_f)
        if db < best:
            _relax(a, ptr, head, down_w, dist_b, pred_b)
        a = parent[a]
    return best, meet


@njit(cache=True)
def _etree_reset(s: int, t: int, parent: np.ndarray, dist_f: np.ndarray, dist_b: np.ndarray) -> None:
    v = s
    while v >= 0:
        dist_f[v] = np.inf
        v = parent[v]
    v = t
    while v >= 0:
        dist_b[v] = np.inf
        v = parent[v]


@njit(cache=True)
def _etree_chain(meet: int, s: int, t: int, pred_f: np.ndarray, pred_b: np.ndarray, low: np.ndarray
                 ) -> np.ndarray:
    """Arc ids from ``s`` up to ``meet`` and down to ``t``."""
    up = []
    v = meet
    while v != s:
        k = pred_f[v]
        up.append(2 * k)
        v = low[k]
    down = []
    v = meet
    while v != t:
        k = pred_b[v]
        down.append(2 * k + 1)
        v = low[k]
    out = np.empty(len(up) + len(down), np.int64)
    for i in range(len(up)):
        out[i] = up[len(up) - 1 - i]
    for i in range(len(down)):
        out[len(up) + i] = down[i]
    return out


class CustomizedHierarchy(ContractionHierarchy):
    """A customised CCH: a :class:`~solvers.paths.ch.ContractionHierarchy` (same matrices and
    routes) whose point-to-point queries walk the elimination tree instead of running Dijkstra.

    Built by :meth:`CustomizableHierarchy.customize`; not meant to be constructed directly.
    """

    _parent: np.ndarray
    _low: np.ndarray
    _up_w: np.ndarray
    _down_w: np.ndarray
    _ptr: np.ndarray
    _head: np.ndarray
    _topology: CustomizableHierarchy

    def distance(self, source: int, target: int) -> float:
        """Cost of the cheapest route ``source -> target`` (dense indices); ``inf`` if none."""
        s, t = self._check(source, "source"), self._check(target, "target")
        cost, _ = _etree_query(s, t, self._ptr, self._head, self._up_w, self._down_w, self._parent, self._dist_f,
                               self._dist_b, self._pred_f, self._pred_b)
        _etree_reset(s, t, self._parent, self._dist_f, self._dist_b)
        return float(cost)

    def shortest_path(self, source: int, target: int) -> Route:
        """The cheapest route ``source -> target`` (dense indices), as graph edges, costed in the
        customised weights.

        Raises
        ------
        ValidationError
            If a node index is out of range.
        InfeasibleError
            If ``target`` cannot be reached from ``source``.
        """
        problem = ShortestPathProblem(self.graph, source, target, self.weight)
        s, t = int(self.arcs.rank[problem.source]), int(self.arcs.rank[problem.target])
        cost, meet = _etree_query(s, t, self._ptr, self._head, self._up_w, self._down_w, self._parent,
                                  self._dist_f, self._dist_b, self._pred_f, self._pred_b)
        _etree_reset(s, t, self._parent, self._dist_f, self._dist_b)
        if not math.isfinite(cost):
            raise problem.unreachable()
        chain = _etree_chain(meet, s, t, self._pred_f, self._pred_b, self._low)
        edges = unpack(chain, self.arcs.child1, self.arcs.child2, self.arcs.orig)
        route = route_from_edges(self.graph, problem.source, edges, self.weight)
        if self.costs is not None:
            route = replace(route, cost=float(np.sum(self.costs[edges], dtype=np.float64)))
        return route


class CustomizableHierarchy:
    """The metric-independent part of a customizable CH; :meth:`customize` gives queryable
    hierarchies for any cost vector of the graph.

    Parameters
    ----------
    graph
        The graph.
    rank
        Elimination position of every node (a permutation of ``0..n-1``).
    weight
        Name under which customised hierarchies report their weight.
    """

    def __init__(self, graph: Graph, rank: np.ndarray, weight: str = "travel_time") -> None:
        rank = np.asarray(rank, dtype=np.int64)
        n = graph.n_nodes
        if rank.shape != (n,) or not np.array_equal(np.sort(rank), np.arange(n)):
            raise ValidationError("rank", f"must be a permutation of 0..{n - 1}")
        start = time.perf_counter()
        self.graph = graph
        self.weight = weight
        self.rank = rank
        ptr, head = _chordal_upward_graph(n, rank[graph.tails], rank[graph.indices])
        self._ptr, self._head = ptr, head
        self._slot, self._edge_up = _slots(rank[graph.tails], rank[graph.indices], ptr, head)
        n_e = head.size
        order = np.argsort(rank)  # node of each rank
        low = np.repeat(np.arange(n), np.diff(ptr))
        src = np.empty(2 * n_e, np.int64)
        dst = np.empty(2 * n_e, np.int64)
        src[0::2], dst[0::2] = order[low], order[head]
        src[1::2], dst[1::2] = order[head], order[low]
        self._src, self._dst = src, dst
        self._low = low
        self._src_rank = np.empty(2 * n_e, np.int64)
        self._dst_rank = np.empty(2 * n_e, np.int64)
        self._src_rank[0::2], self._dst_rank[0::2] = low, head
        self._src_rank[1::2], self._dst_rank[1::2] = head, low
        self._up_arc = 2 * np.arange(n_e, dtype=np.int64)
        self._down_arc = self._up_arc + 1
        # elimination tree: the parent of a node is its lowest upper neighbour
        self._parent = np.full(n, -1, np.int64)
        has_upper = np.diff(ptr) > 0
        self._parent[has_upper] = head[ptr[:-1][has_upper]]
        counts = _count_triangles(ptr, head)
        self._tri_ptr = np.zeros(n_e + 1, np.int64)
        np.cumsum(counts, out=self._tri_ptr[1:])
        self._tri = np.empty(2 * int(self._tri_ptr[-1]), np.int32 if n_e < 2**31 else np.int64)
        _fill_triangles(ptr, head, self._tri_ptr, self._tri)
        self.build_s = time.perf_counter() - start

    @classmethod
    def build(cls, graph: Graph, weight: str = "travel_time", leaf_size: int = 32) -> CustomizableHierarchy:
        """Topology on a nested dissection order (:func:`nested_dissection_order`)."""
        return cls(graph, nested_dissection_order(graph, leaf_size), weight)

    @classmethod
    def load_or_build(cls, graph: Graph, weight: str = "travel_time", *, cache: bool = True
                      ) -> CustomizableHierarchy:
        """Topology on a nested dissection order read from the cache (``datasets.location.
        cache_dir()``, keyed by a hash of the graph's topology and coordinates) or computed and
        written there. The order is metric-independent, so one entry serves every cost vector."""
        if not cache:
            return cls.build(graph, weight)
        import hashlib

        from datasets.location import cache_dir

        h = hashlib.blake2b(digest_size=12)
        h.update(f"cch-order-v2:{graph.n_nodes}:{graph.n_edges}".encode())
        for arr in (graph.indptr, graph.indices, graph.coords if graph.coords is not None else np.zeros(0)):
            h.update(np.ascontiguousarray(arr).view(np.uint8))
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in (graph.name or "graph"))
        path = cache_dir() / f"cch-order-{safe}-{h.hexdigest()}.npy"
        rank = None
        if path.is_file():
            try:
                rank = np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                rank = None
            if rank is not None and rank.shape != (graph.n_nodes,):
                rank = None
        if rank is None:
            rank = nested_dissection_order(graph)
            tmp = path.with_name(f"{path.name}.tmp.npy")
            np.save(tmp, rank)
            tmp.replace(path)
        return cls(graph, rank, weight)

    @classmethod
    def from_hierarchy(cls, hierarchy: ContractionHierarchy) -> CustomizableHierarchy:
        """Topology on the node order of an existing (witness-search) hierarchy."""
        return cls(hierarchy.graph, hierarchy.arcs.rank, hierarchy.weight)

    @property
    def n_edges(self) -> int:
        """Undirected edges of the chordal upward graph (original plus fill-in)."""
        return int(self._head.size)

    @property
    def n_triangles(self) -> int:
        """Lower triangles the customisation visits."""
        return int(self._tri.size // 2)

    @property
    def elimination_tree_height(self) -> int:
        """Most ancestors of a node in the elimination tree (the work bound of one query side)."""
        depth = np.zeros(self.graph.n_nodes, np.int64)
        parent = self._parent
        for v in range(self.graph.n_nodes - 1, -1, -1):  # parents rank above their children
            if parent[v] >= 0:
                depth[v] = depth[parent[v]] + 1
        return int(depth.max(initial=0)) + 1

    def customize(self, weights: np.ndarray | None = None, *, into: CustomizedHierarchy | None = None
                  ) -> CustomizedHierarchy:
        """An exact hierarchy for edge costs ``weights`` (default: the graph's ``weight``
        attribute); ``inf`` closes an edge.

        One numba pass over the precomputed lower triangles of every upward edge, in edge
        order; no Python per edge. The result answers queries on the elimination tree.

        Parameters
        ----------
        weights
            One non-negative cost per graph edge.
        into
            A hierarchy customised earlier from this topology, updated in place and returned
            (its old costs are gone): no allocation, the way to apply frequent cost changes.
            Objects built on it that copied its weights (an ``AlternativeRouter``) must be
            built again.

        Raises
        ------
        ValidationError
            If ``weights`` has the wrong length, or negative or NaN values, or ``into`` was
            customised from another topology.
        """
        start = time.perf_counter()
        w = _validated_weights(self.graph, self.weight, weights)
        if into is not None:
            if getattr(into, "_topology", None) is not self:
                raise ValidationError("into", "was not customised from this topology")
            arcs = into.arcs
            _customize(self._slot, self._edge_up, w, self._tri_ptr, self._tri, arcs.w, arcs.child1, arcs.child2,
                       arcs.orig, into._up_w, into._down_w)
            into.costs = w
            into.preprocess_s = time.perf_counter() - start
            into.__dict__.pop("_alternative_routers", None)  # routers copied the old weights
            return into
        n_e = self._head.size
        up_w, down_w, arc_w = np.empty(n_e), np.empty(n_e), np.empty(2 * n_e)
        child1, child2, orig = (np.empty(2 * n_e, np.int64) for _ in range(3))
        _customize(self._slot, self._edge_up, w, self._tri_ptr, self._tri, arc_w, child1, child2, orig, up_w, down_w)
        hierarchy = object.__new__(CustomizedHierarchy)
        hierarchy.graph, hierarchy.weight = self.graph, self.weight
        hierarchy.arcs = ChArcs(self.rank, self._src, self._dst, arc_w, child1, child2, orig)
        hierarchy.from_cache = False
        hierarchy._src_rank, hierarchy._dst_rank = self._src_rank, self._dst_rank
        hierarchy._f = (self._ptr, self._head, up_w, self._up_arc)
        hierarchy._b = (self._ptr, self._head, down_w, self._down_arc)
        hierarchy._ptr, hierarchy._head, hierarchy._up_w, hierarchy._down_w = self._ptr, self._head, up_w, down_w
        hierarchy._parent, hierarchy._low = self._parent, self._low
        hierarchy._topology = self
        hierarchy._allocate_state()
        hierarchy.costs = w
        hierarchy.preprocess_s = time.perf_counter() - start
        return hierarchy

    def __repr__(self) -> str:
        return f"CustomizableHierarchy({self.graph.name!r}, n_nodes={self.graph.n_nodes}, edges={self.n_edges})"


def nested_dissection_order(graph: Graph, leaf_size: int = 32, directions: int = 16, balance: float = 0.3
                            ) -> np.ndarray:
    """Elimination rank of every node by recursive geometric bisection (nested dissection).

    Each piece's nodes are sorted along ``directions`` evenly spaced directions; along each, the
    split point between ``balance`` and ``1 - balance`` of the nodes that the fewest edges cross
    is found with one prefix sum, and the best direction wins; the smaller side of the cut's
    endpoints is the separator, ranked above both halves, which recurse. Pieces of at most
    ``leaf_size`` nodes are ranked by degree. Graphs without coordinates are ranked by degree
    (correct, but with much more fill-in).
    """
    n = graph.n_nodes
    tails, heads = graph.tails, graph.indices
    keep = tails != heads
    lo = np.minimum(tails[keep], heads[keep])
    hi = np.maximum(tails[keep], heads[keep])
    keys = np.unique(lo * n + hi)
    eu, ev = keys // n, keys % n
    degree = np.bincount(eu, minlength=n) + np.bincount(ev, minlength=n)
    rank = np.empty(n, np.int64)
    if graph.coords is None:
        rank[np.argsort(degree, kind="stable")] = np.arange(n)
        return rank
    lon, lat = graph.coords[:, 0], graph.coords[:, 1]
    x = (lon - lon.mean()) * np.cos(np.radians(lat.mean()))
    y = lat - lat.mean()
    projections = tuple(np.cos(a) * x + np.sin(a) * y for a in np.arange(directions) * np.pi / directions)
    side = np.zeros(n, np.int8)
    pos = np.zeros(n, np.int64)
    stack = [(np.arange(n), np.arange(eu.size), 0)]
    while stack:
        nodes, edges, first = stack.pop()
        if nodes.size <= leaf_size or edges.size == 0:
            rank[nodes[np.argsort(degree[nodes], kind="stable")]] = first + np.arange(nodes.size)
            continue
        best = None
        m_piece = nodes.size
        low_cut, high_cut = int(balance * m_piece), m_piece - int(balance * m_piece)
        for proj in projections:
            order = np.argsort(proj[nodes], kind="stable")
            pos[nodes[order]] = np.arange(m_piece)
            pu, pv = pos[eu[edges]], pos[ev[edges]]
            diff = (np.bincount(np.minimum(pu, pv) + 1, minlength=m_piece + 1)
                    - np.bincount(np.maximum(pu, pv) + 1, minlength=m_piece + 1))
            crossing = np.cumsum(diff)  # crossing[p]: edges between positions < p and >= p
            cut = low_cut + int(np.argmin(crossing[low_cut:high_cut + 1]))
            count = int(crossing[cut])
            if best is None or count < best[0]:
                best = (count, order, cut)
        _, order, cut = best
        side[nodes[order[:cut]]] = 0
        side[nodes[order[cut:]]] = 1
        su, sv = side[eu[edges]], side[ev[edges]]
        cross = edges[su != sv]
        ends_a = np.unique(np.where(side[eu[cross]] == 0, eu[cross], ev[cross]))
        ends_b = np.unique(np.where(side[eu[cross]] == 1, eu[cross], ev[cross]))
        separator = ends_a if ends_a.size <= ends_b.size else ends_b
        side[separator] = 2
        part_a = nodes[side[nodes] == 0]
        part_b = nodes[side[nodes] == 1]
        su, sv = side[eu[edges]], side[ev[edges]]
        edges_a = edges[(su == 0) & (sv == 0)]
        edges_b = edges[(su == 1) & (sv == 1)]
        top = first + part_a.size + part_b.size
        rank[separator[np.argsort(degree[separator], kind="stable")]] = top + np.arange(separator.size)
        stack.append((part_a, edges_a, first))
        stack.append((part_b, edges_b, first + part_a.size))
    return rank


def _chordal_upward_graph(n: int, tail_rank: np.ndarray, head_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upward adjacency (rows sorted) of the graph made chordal by eliminating nodes by rank."""
    keep = tail_rank != head_rank
    lo = np.minimum(tail_rank[keep], head_rank[keep])
    hi = np.maximum(tail_rank[keep], head_rank[keep])
    keys = np.unique(lo * n + hi)
    lo, hi = keys // n, keys % n
    ptr0 = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(lo, minlength=n), out=ptr0[1:])
    hi_list = hi.tolist()
    ptr_list = ptr0.tolist()
    upper: list[set[int]] = [set(hi_list[ptr_list[v]:ptr_list[v + 1]]) for v in range(n)]
    rows: list[list[int]] = [[] for _ in range(n)]
    for v in range(n):
        s = upper[v]
        upper[v] = set()  # free memory as we go
        if not s:
            continue
        row = sorted(s)
        rows[v] = row
        if len(row) > 1:
            upper[row[0]].update(row[1:])
    sizes = np.fromiter((len(r) for r in rows), dtype=np.int64, count=n)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(sizes, out=ptr[1:])
    head = np.fromiter((x for r in rows for x in r), dtype=np.int64, count=int(ptr[-1]))
    return ptr, head
