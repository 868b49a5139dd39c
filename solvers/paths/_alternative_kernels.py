"""Numba kernels of the alternative-route search: PHAST sweeps (full, and pruned to the corridor),
the corridor sub-network with its shortest-path trees and plateaus, and the penalised A* search.

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


@njit(cache=True)
def plateaus(head: np.ndarray, pred: np.ndarray, succ: np.ndarray, d_from: np.ndarray, d_to: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maximal plateaus: chains of edges that lie on both shortest-path trees of
    :func:`corridor_graph` (``succ[u] == k`` and ``pred[v] == k``). Returns first node, last
    node, plateau cost and the cost of the via route through it (``d_from + d_to`` at its
    first node)."""
    n = pred.size
    has_in = np.zeros(n, np.bool_)
    count = 0
    for u in range(n):
        k = succ[u]
        if k >= 0 and pred[head[k]] == k:
            has_in[head[k]] = True
    for u in range(n):
        k = succ[u]
        if k >= 0 and pred[head[k]] == k and not has_in[u]:
            count += 1
    first = np.empty(count, np.int64)
    last = np.empty(count, np.int64)
    length = np.empty(count)
    total = np.empty(count)
    i = 0
    for u in range(n):
        k = succ[u]
        if k >= 0 and pred[head[k]] == k and not has_in[u]:
            v = u
            while True:
                k = succ[v]
                if k < 0 or pred[head[k]] != k:
                    break
                v = head[k]
            first[i] = u
            last[i] = v
            length[i] = d_from[v] - d_from[u]
            total[i] = d_from[u] + d_to[u]
            i += 1
    return first, last, length, total


@njit(cache=True)
def via_path(s: int, t: int, via: int, head: np.ndarray, tail: np.ndarray, pred: np.ndarray, succ: np.ndarray,
             mark: np.ndarray) -> np.ndarray:
    """CSR positions of the route ``s -> via`` on the tree ``pred`` then ``via -> t`` on ``succ``;
    empty if a tree is broken or the route is not simple. ``mark`` (one flag per node, all
    false) is left clean."""
    hops_in = 0
    v = via
    ok = True
    while v != s:
        k = pred[v]
        if k < 0:
            ok = False
            break
        mark[v] = True
        hops_in += 1
        v = tail[k]
    mark[s] = True
    hops_out = 0
    if ok:
        v = via
        while v != t:
            k = succ[v]
            if k < 0:
                ok = False
                break
            v = head[k]
            if mark[v]:
                ok = False
                break
            hops_out += 1
    # clean the marks
    v = via
    while v != s and pred[v] >= 0:
        mark[v] = False
        v = tail[pred[v]]
    mark[s] = False
    mark[via] = False
    if not ok:
        return np.empty(0, np.int64)
    out = np.empty(hops_in + hops_out, np.int64)
    v = via
    i = hops_in - 1
    while v != s:
        out[i] = pred[v]
        i -= 1
        v = tail[pred[v]]
    v = via
    i = hops_in
    while v != t:
        out[i] = succ[v]
        i += 1
        v = head[succ[v]]
    return out


@njit(cache=True)
def transpose_csr(ptr: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same arcs grouped by ``head``: row pointer, the row each arc came from, and its
    position in the original arrays (to gather weights)."""
    n = ptr.size - 1
    t_ptr = np.zeros(n + 1, np.int64)
    for k in range(head.size):
        t_ptr[head[k] + 1] += 1
    for v in range(n):
        t_ptr[v + 1] += t_ptr[v]
    fill = t_ptr[:-1].copy()
    t_head = np.empty(head.size, np.int64)
    perm = np.empty(head.size, np.int64)
    for u in range(n):
        for k in range(ptr[u], ptr[u + 1]):
            p = fill[head[k]]
            t_head[p] = u
            perm[p] = k
            fill[head[k]] = p + 1
    return t_ptr, t_head, perm


@njit(cache=True)
def corridor_sweep(rs: int, rt: int, stretch: float, f_ptr: np.ndarray, f_head: np.ndarray, f_w: np.ndarray,
                   b_ptr: np.ndarray, b_head: np.ndarray, b_w: np.ndarray, down_ptr: np.ndarray,
                   down_head: np.ndarray, down_w: np.ndarray, upin_ptr: np.ndarray, upin_head: np.ndarray,
                   upin_w: np.ndarray, df: np.ndarray, db: np.ndarray, touched: np.ndarray, hk: np.ndarray,
                   hn: np.ndarray, hpos: np.ndarray, space: np.ndarray, space_d: np.ndarray, node_of_rank: np.ndarray,
                   out_nodes: np.ndarray, out_from: np.ndarray, out_to: np.ndarray) -> tuple[float, int]:
    """Exact ``d(s, v)`` and ``d(v, t)`` (ranks ``rs``, ``rt``) for every rank ``v`` of the
    corridor ``d(s, v) + d(v, t) <= stretch * d(s, t)``, ``inf`` elsewhere; returns ``d(s, t)``.

    Both PHAST sweeps at once, pushing instead of pulling and pruned: after the two upward
    searches (which also give ``d(s, t)``), ranks are visited in descending order; at rank
    ``v`` both distances are final, and only a corridor node pushes them down its arcs
    (``down_*``: downward arcs at their higher end; ``upin_*``: upward arcs at their higher
    end, for the distances to ``t``). Exact: every node of a shortest path to or from a
    corridor node is itself in the corridor, so the pruned nodes never carry a corridor
    node's distance.

    Returns ``(d(s, t), count)``: the corridor's nodes and their two distances are in the
    first ``count`` entries of ``out_nodes``/``out_from``/``out_to`` (in descending rank).
    ``df``/``db`` (rank-indexed work arrays) must be ``inf`` everywhere on entry and are so
    again on exit: every rank is visited once, so no clearing pass over them is needed.
    """
    n = f_ptr.size - 1
    n_space, _ = _upward_space(rs, f_ptr, f_head, f_w, b_ptr, b_head, b_w, df, touched, hk, hn, hpos, space,
                               space_d)
    _upward_space(rt, b_ptr, b_head, b_w, f_ptr, f_head, f_w, db, touched, hk, hn, hpos, space[n_space:],
                  space_d[n_space:])
    best = INF
    for i in range(n_space):
        v = space[i]
        d = space_d[i] + db[v]
        if d < best:
            best = d
    bound = stretch * best
    count = 0
    for v in range(n - 1, -1, -1):
        f = df[v]
        b = db[v]
        df[v] = INF
        db[v] = INF
        if not f + b <= bound:
            continue
        out_nodes[count] = node_of_rank[v]
        out_from[count] = f
        out_to[count] = b
        count += 1
        for k in range(down_ptr[v], down_ptr[v + 1]):
            x = down_head[k]
            d = f + down_w[k]
            if d < df[x]:
                df[x] = d
        for k in range(upin_ptr[v], upin_ptr[v + 1]):
            x = upin_head[k]
            d = b + upin_w[k]
            if d < db[x]:
                db[x] = d
    return best, count


@njit(cache=True)
def corridor_graph(nodes: np.ndarray, d_from: np.ndarray, d_to: np.ndarray, indptr: np.ndarray,
                   indices: np.ndarray, costs: np.ndarray, local: np.ndarray, s: int, t: int, rtol: float):
    """The corridor as a compact sub-network, with its shortest-path trees, in two passes.

    ``nodes``: corridor nodes (any order), ``d_from``/``d_to`` their exact distances from ``s``
    and to ``t``; ``local``: node-indexed, ``-1`` everywhere on entry, set to local indices
    (reset it with ``local[nodes] = -1``). Returns ``ptr, head, edge, base, tail`` (CSR of kept
    edges: local head, graph edge, cost, local tail) and the shortest-path trees: ``pred[v]``,
    the CSR position of an edge ``u -> v`` with ``d_from[u] + cost = d_from[v]`` (within
    ``rtol``), and ``succ[u]``, of an edge ``u -> v`` with ``cost + d_to[v] = d_to[u]`` (``-1``
    at the roots ``s``/``t`` or where none is found). Only edges that go strictly forward in
    the order of ``(d_from, node)`` (resp. backward in ``(d_to, node)``) are taken, so neither
    tree has a cycle, zero-cost edges included.
    """
    size = nodes.size
    for i in range(size):
        local[nodes[i]] = i
    ptr = np.zeros(size + 1, np.int64)
    count = 0
    for i in range(size):
        v = nodes[i]
        for e in range(indptr[v], indptr[v + 1]):
            if local[indices[e]] >= 0 and costs[e] < INF:
                count += 1
        ptr[i + 1] = count
    head = np.empty(count, np.int64)
    edge = np.empty(count, np.int64)
    base = np.empty(count)
    tail = np.empty(count, np.int64)
    pred = np.full(size, -1, np.int64)
    succ = np.full(size, -1, np.int64)
    ls, lt = local[s], local[t]
    p = 0
    for u in range(size):
        v_node = nodes[u]
        fu, tu = d_from[u], d_to[u]
        for e in range(indptr[v_node], indptr[v_node + 1]):
            v = local[indices[e]]
            c = costs[e]
            if v < 0 or not c < INF:
                continue
            head[p] = v
            edge[p] = e
            base[p] = c
            tail[p] = u
            if pred[v] < 0 and v != ls:
                fv = d_from[v]
                if abs(fu + c - fv) <= rtol * fv + 1e-12 and (fu < fv or (fu == fv and u < v)):
                    pred[v] = p
            if succ[u] < 0 and u != lt:
                tv = d_to[v]
                if abs(c + tv - tu) <= rtol * tu + 1e-12 and (tv < tu or (tv == tu and v < u)):
                    succ[u] = p
            p += 1
    return ptr, head, edge, base, tail, pred, succ


@njit(cache=True)
def without_cycles(nodes: np.ndarray, edges: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The walk ``nodes``/``edges`` with every cycle cut out (from each node, jump to its last
    visit), a simple path no more expensive. ``last``: node-indexed, ``-1`` on entry and exit."""
    m = nodes.size
    for i in range(m):
        last[nodes[i]] = i
    keep_nodes = np.empty(m, np.int64)
    keep_edges = np.empty(max(m - 1, 0), np.int64)
    keep_nodes[0] = nodes[0]
    kn, ke = 1, 0
    i = last[nodes[0]]
    while i < m - 1:
        keep_edges[ke] = edges[i]
        ke += 1
        i = last[nodes[i + 1]]
        keep_nodes[kn] = nodes[i]
        kn += 1
    for j in range(m):
        last[nodes[j]] = -1
    return keep_nodes[:kn].copy(), keep_edges[:ke].copy()
