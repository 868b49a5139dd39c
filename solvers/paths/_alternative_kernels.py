"""Numba kernels of the alternative-route search: PHAST sweeps, the corridor sub-network and the
penalised A* search on it.

Internal to :mod:`solvers.paths.alternatives`. Hierarchy arrays are in rank space, in the
layout of :class:`~solvers.paths.ch.ContractionHierarchy` (``f``: upward arcs at their tail,
``b``: downward arcs at their head).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from solvers.paths._ch_kernels import _heap_pop, _heap_set, _upward_space

INF = np.inf


@njit(cache=True)
def phast(root: int, up_ptr: np.ndarray, up_head: np.ndarray, up_w: np.ndarray, down_ptr: np.ndarray,
          down_head: np.ndarray, down_w: np.ndarray, dist: np.ndarray, touched: np.ndarray, hk: np.ndarray,
          hn: np.ndarray, hpos: np.ndarray, space: np.ndarray, space_d: np.ndarray) -> None:
    """Distances from rank ``root`` to every rank (PHAST): an upward search with stall-on-demand,
    then one sweep over the nodes in descending rank relaxing, at every node ``v``, the arcs that
    come down to it (``down_*`` lists them at ``v``, from the higher node ``down_head``).

    Forward distances: ``up`` = the hierarchy's forward arrays, ``down`` = its backward arrays.
    Distances *to* ``root``: swap them. ``dist`` is overwritten (all ranks).
    """
    n = up_ptr.size - 1
    for v in range(n):
        dist[v] = INF
    _upward_space(root, up_ptr, up_head, up_w, down_ptr, down_head, down_w, dist, touched, hk, hn, hpos, space,
                  space_d)
    for v in range(n - 1, -1, -1):
        best = dist[v]
        for k in range(down_ptr[v], down_ptr[v + 1]):
            d = dist[down_head[k]] + down_w[k]
            if d < best:
                best = d
        dist[v] = best


@njit(cache=True)
def corridor_csr(nodes: np.ndarray, local: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                 w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sub-network induced by ``nodes`` (``local[v]`` is the position of ``v`` in ``nodes``,
    ``-1`` outside): row pointer, local heads and the global edge index of every kept edge.
    Edges with infinite weight are dropped."""
    size = nodes.size
    ptr = np.zeros(size + 1, np.int64)
    count = 0
    for i in range(size):
        v = nodes[i]
        for e in range(indptr[v], indptr[v + 1]):
            if local[indices[e]] >= 0 and w[e] < INF:
                count += 1
        ptr[i + 1] = count
    head = np.empty(count, np.int64)
    edge = np.empty(count, np.int64)
    p = 0
    for i in range(size):
        v = nodes[i]
        for e in range(indptr[v], indptr[v + 1]):
            h = local[indices[e]]
            if h >= 0 and w[e] < INF:
                head[p] = h
                edge[p] = e
                p += 1
    return ptr, head, edge


@njit(cache=True)
def astar(s: int, t: int, ptr: np.ndarray, head: np.ndarray, cost: np.ndarray, potential: np.ndarray,
          dist: np.ndarray, pred: np.ndarray, touched: np.ndarray, hk: np.ndarray, hn: np.ndarray,
          hpos: np.ndarray) -> np.ndarray:
    """Cheapest ``s -> t`` path by edge ``cost`` with A* on a consistent ``potential`` (a lower
    bound of the remaining cost); returns its local edge indices (empty if ``t`` is unreachable
    or ``s == t``). ``dist``/``pred``/``hpos`` are left reset."""
    dist[s] = 0.0
    touched[0] = s
    nt = 1
    size = _heap_set(hk, hn, hpos, 0, s, potential[s])
    found = False
    while size > 0:
        u = hn[0]
        size = _heap_pop(hk, hn, hpos, size)
        if u == t:
            found = True
            break
        du = dist[u]
        for k in range(ptr[u], ptr[u + 1]):
            v = head[k]
            nd = du + cost[k]
            if nd < dist[v]:
                if dist[v] == INF:
                    touched[nt] = v
                    nt += 1
                dist[v] = nd
                pred[v] = k
                size = _heap_set(hk, hn, hpos, size, v, nd + potential[v])
    while size > 0:
        size = _heap_pop(hk, hn, hpos, size)
    hops = 0
    if found:
        v = t
        while v != s:
            k = pred[v]
            hops += 1
            v = tail_of(k, ptr)
    out = np.empty(hops, np.int64)
    if found:
        v = t
        i = hops - 1
        while v != s:
            k = pred[v]
            out[i] = k
            i -= 1
            v = tail_of(k, ptr)
    for i in range(nt):
        dist[touched[i]] = INF
        pred[touched[i]] = -1
    return out


@njit(cache=True, inline="always")
def tail_of(k: int, ptr: np.ndarray) -> int:
    """Row of CSR position ``k`` (binary search in ``ptr``)."""
    lo, hi = 0, ptr.size - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if ptr[mid] <= k:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def dijkstra_tree(s: int, ptr: np.ndarray, head: np.ndarray, cost: np.ndarray, dist: np.ndarray,
                  pred: np.ndarray, hk: np.ndarray, hn: np.ndarray, hpos: np.ndarray) -> None:
    """Full shortest-path tree from ``s``: ``dist`` and the CSR position ``pred`` of the edge
    into every node (``-1``: root or unreachable); ``dist``/``pred`` are overwritten."""
    for v in range(dist.size):
        dist[v] = INF
        pred[v] = -1
    dist[s] = 0.0
    size = _heap_set(hk, hn, hpos, 0, s, 0.0)
    while size > 0:
        u, du = hn[0], hk[0]
        size = _heap_pop(hk, hn, hpos, size)
        for k in range(ptr[u], ptr[u + 1]):
            v = head[k]
            nd = du + cost[k]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = k
                size = _heap_set(hk, hn, hpos, size, v, nd)


@njit(cache=True)
def penalise(path: np.ndarray, ptr: np.ndarray, head: np.ndarray, base: np.ndarray, cost: np.ndarray,
             on_path: np.ndarray, factor: float, rejoin: float) -> None:
    """Correctional boosting step: every edge of ``path`` (local edge indices) costs
    ``factor * base`` more; every other edge that leaves the path's nodes or joins them costs
    ``rejoin / 2`` more at each such end (an edge leaving and rejoining pays ``rejoin``)."""
    n = ptr.size - 1
    if path.size == 0:
        return
    on_path[tail_of(path[0], ptr)] = True
    for i in range(path.size):
        on_path[head[path[i]]] = True
    for i in range(path.size):
        cost[path[i]] += factor * base[path[i]]
    if rejoin > 0.0:
        half = 0.5 * rejoin
        for u in range(n):
            u_on = on_path[u]
            for k in range(ptr[u], ptr[u + 1]):
                ends = (1 if u_on else 0) + (1 if on_path[head[k]] else 0)
                if ends > 0:
                    cost[k] += half * ends
        for i in range(path.size):  # the path's own edges pay no rejoin penalty
            cost[path[i]] -= rejoin
    for i in range(path.size):
        on_path[head[path[i]]] = False
    on_path[tail_of(path[0], ptr)] = False


@njit(cache=True)
def local_edges(edges: np.ndarray, local_of: np.ndarray, tails: np.ndarray, ptr: np.ndarray, edge: np.ndarray
                ) -> np.ndarray:
    """Corridor CSR positions of graph edges ``edges`` (``-1`` for an edge not in the corridor)."""
    out = np.full(edges.size, -1, np.int64)
    for i in range(edges.size):
        u = local_of[tails[edges[i]]]
        if u < 0:
            continue
        for k in range(ptr[u], ptr[u + 1]):
            if edge[k] == edges[i]:
                out[i] = k
                break
    return out
