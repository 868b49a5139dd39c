"""Customizable contraction hierarchy: apply a whole new cost vector in milliseconds.

The topology is metric-independent: the nodes are eliminated in a fixed order (by default the
order of an existing :class:`~solvers.paths.ch.ContractionHierarchy`) and *every* fill-in edge is
kept (no witness search), which makes the undirected upward graph chordal. Customisation then
runs over the lower triangles ``{v, x, y}`` (``v`` below ``x`` below ``y``) in elimination order:

    w(x -> y) = min(w(x -> y), w(x -> v) + w(v -> y)),   w(y -> x) likewise,

after which the upward/downward arcs form an exact contraction hierarchy for the new costs and the
ordinary CH query (bidirectional upward search with stall-on-demand) answers on it. Middle nodes
are recorded during customisation, so routes unpack to graph edges as usual.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from planner.errors import ValidationError
from planner.graph.csr import Graph
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
def _customize(ptr: np.ndarray, head: np.ndarray, slot: np.ndarray, edge_up: np.ndarray, w: np.ndarray,
               up_w: np.ndarray, down_w: np.ndarray, up_c1: np.ndarray, up_c2: np.ndarray,
               down_c1: np.ndarray, down_c2: np.ndarray, up_orig: np.ndarray, down_orig: np.ndarray) -> None:
    """Fill the upward/downward weights of every undirected edge for edge costs ``w``.

    Arc ids: ``2 e`` is the upward arc of edge ``e``, ``2 e + 1`` its downward arc.
    """
    n_e = head.size
    for e in range(n_e):
        up_w[e] = np.inf
        down_w[e] = np.inf
        up_c1[e] = -1
        up_c2[e] = -1
        down_c1[e] = -1
        down_c2[e] = -1
        up_orig[e] = -1
        down_orig[e] = -1
    for g in range(slot.size):
        e = slot[g]
        if e < 0 or not w[g] < np.inf:
            continue
        if edge_up[g]:
            if w[g] < up_w[e] or (w[g] == up_w[e] and g < up_orig[e]):
                up_w[e] = w[g]
                up_orig[e] = g
        elif w[g] < down_w[e] or (w[g] == down_w[e] and g < down_orig[e]):
            down_w[e] = w[g]
            down_orig[e] = g
    n = ptr.size - 1
    for v in range(n):
        end_v = ptr[v + 1]
        for i in range(ptr[v], end_v):
            x = head[i]
            j = i + 1
            k = ptr[x]
            end_x = ptr[x + 1]
            while j < end_v and k < end_x:
                hj, hk = head[j], head[k]
                if hj == hk:
                    # triangle v < x < y: edges i = {v,x}, j = {v,y}, k = {x,y}
                    via = down_w[i] + up_w[j]  # x -> v -> y
                    if via < up_w[k]:
                        up_w[k] = via
                        up_c1[k] = 2 * i + 1
                        up_c2[k] = 2 * j
                        up_orig[k] = -1
                    via = down_w[j] + up_w[i]  # y -> v -> x
                    if via < down_w[k]:
                        down_w[k] = via
                        down_c1[k] = 2 * j + 1
                        down_c2[k] = 2 * i
                        down_orig[k] = -1
                    j += 1
                    k += 1
                elif hj < hk:
                    j += 1
                else:
                    k += 1


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
        arcs = ChArcs(rank, src, dst, np.full(2 * n_e, np.inf), np.full(2 * n_e, -1, np.int64),
                      np.full(2 * n_e, -1, np.int64), np.full(2 * n_e, -1, np.int64))
        self._template = ContractionHierarchy(graph, weight, arcs)
        self.build_s = time.perf_counter() - start

    @classmethod
    def build(cls, graph: Graph, weight: str = "travel_time", leaf_size: int = 32) -> CustomizableHierarchy:
        """Topology on a nested dissection order (:func:`nested_dissection_order`)."""
        return cls(graph, nested_dissection_order(graph, leaf_size), weight)

    @classmethod
    def from_hierarchy(cls, hierarchy: ContractionHierarchy) -> CustomizableHierarchy:
        """Topology on the node order of an existing (witness-search) hierarchy."""
        return cls(hierarchy.graph, hierarchy.arcs.rank, hierarchy.weight)

    @property
    def n_edges(self) -> int:
        """Undirected edges of the chordal upward graph (original plus fill-in)."""
        return int(self._head.size)

    def customize(self, weights: np.ndarray | None = None) -> ContractionHierarchy:
        """An exact hierarchy for edge costs ``weights`` (default: the graph's ``weight``
        attribute); ``inf`` closes an edge.

        Raises
        ------
        ValidationError
            If ``weights`` has the wrong length, or negative or NaN values.
        """
        start = time.perf_counter()
        w = _validated_weights(self.graph, self.weight, weights)
        n_e = self._head.size
        up_w, down_w = np.empty(n_e), np.empty(n_e)
        up_c1, up_c2, down_c1, down_c2 = (np.empty(n_e, np.int64) for _ in range(4))
        up_orig, down_orig = np.empty(n_e, np.int64), np.empty(n_e, np.int64)
        _customize(self._ptr, self._head, self._slot, self._edge_up, w, up_w, down_w, up_c1, up_c2,
                   down_c1, down_c2, up_orig, down_orig)
        arc_w = np.empty(2 * n_e)
        arc_w[0::2], arc_w[1::2] = up_w, down_w
        c1 = np.empty(2 * n_e, np.int64)
        c1[0::2], c1[1::2] = up_c1, down_c1
        c2 = np.empty(2 * n_e, np.int64)
        c2[0::2], c2[1::2] = up_c2, down_c2
        orig = np.empty(2 * n_e, np.int64)
        orig[0::2], orig[1::2] = up_orig, down_orig
        arcs = ChArcs(self.rank, self._src, self._dst, arc_w, c1, c2, orig)
        hierarchy = self._template.with_arcs(arcs)
        hierarchy.costs = w
        hierarchy.preprocess_s = time.perf_counter() - start
        return hierarchy

    def __repr__(self) -> str:
        return f"CustomizableHierarchy({self.graph.name!r}, n_nodes={self.graph.n_nodes}, edges={self.n_edges})"


def nested_dissection_order(graph: Graph, leaf_size: int = 32) -> np.ndarray:
    """Elimination rank of every node by recursive geometric bisection (nested dissection).

    Each piece is cut at the median of its node coordinates along the one of four directions
    (east, north, both diagonals) that crosses the fewest edges; the smaller side of the cut's
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
    projections = (x, y, (x + y) / np.sqrt(2.0), (x - y) / np.sqrt(2.0))
    side = np.zeros(n, np.int8)
    stack = [(np.arange(n), np.arange(eu.size), 0)]
    while stack:
        nodes, edges, first = stack.pop()
        if nodes.size <= leaf_size or edges.size == 0:
            rank[nodes[np.argsort(degree[nodes], kind="stable")]] = first + np.arange(nodes.size)
            continue
        best = None
        for proj in projections:
            t = proj[nodes]
            order = np.argsort(t, kind="stable")
            side[nodes[order[: nodes.size // 2]]] = 0
            side[nodes[order[nodes.size // 2:]]] = 1
            cross = side[eu[edges]] != side[ev[edges]]
            count = int(np.count_nonzero(cross))
            if best is None or count < best[0]:
                best = (count, order)
        _, order = best
        side[nodes[order[: nodes.size // 2]]] = 0
        side[nodes[order[nodes.size // 2:]]] = 1
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
