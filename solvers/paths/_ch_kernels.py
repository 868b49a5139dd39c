"""Numba kernels of the contraction hierarchy: node contraction, queries and many-to-many.

Internal to :mod:`solvers.paths.ch`. Arcs live in a pool (``src``, ``dst``, ``w``, ``child1``,
``child2``, ``orig``): an original arc names its graph edge in ``orig`` and has no children; a
shortcut ``u -> w`` over ``v`` names the two arcs ``u -> v`` and ``v -> w`` it replaces.

Priority queues are indexed binary heaps (``keys``, ``nodes``, ``pos``; ``pos[v] == -1`` when
``v`` is not queued) so a key can move both ways.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.inf


# ---------------------------------------------------------------------- indexed heap
@njit(cache=True, inline="always")
def _sift_up(keys: np.ndarray, nodes: np.ndarray, pos: np.ndarray, i: int) -> None:
    key, node = keys[i], nodes[i]
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i], nodes[i] = keys[parent], nodes[parent]
        pos[nodes[i]] = i
        i = parent
    keys[i], nodes[i] = key, node
    pos[node] = i


@njit(cache=True, inline="always")
def _sift_down(keys: np.ndarray, nodes: np.ndarray, pos: np.ndarray, i: int, size: int) -> None:
    key, node = keys[i], nodes[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[i], nodes[i] = keys[child], nodes[child]
        pos[nodes[i]] = i
        i = child
    keys[i], nodes[i] = key, node
    pos[node] = i


@njit(cache=True)
def _heap_set(keys: np.ndarray, nodes: np.ndarray, pos: np.ndarray, size: int, node: int, key: float) -> int:
    """Insert ``node`` with ``key`` or move it to ``key``; returns the new size."""
    i = pos[node]
    if i < 0:
        keys[size], nodes[size] = key, node
        pos[node] = size
        _sift_up(keys, nodes, pos, size)
        return size + 1
    old = keys[i]
    keys[i] = key
    if key < old:
        _sift_up(keys, nodes, pos, i)
    else:
        _sift_down(keys, nodes, pos, i, size)
    return size


@njit(cache=True)
def _heap_pop(keys: np.ndarray, nodes: np.ndarray, pos: np.ndarray, size: int) -> int:
    """Remove the minimum (read it first at ``nodes[0]``, ``keys[0]``); returns the new size."""
    pos[nodes[0]] = -1
    size -= 1
    if size > 0:
        keys[0], nodes[0] = keys[size], nodes[size]
        pos[nodes[0]] = 0
        _sift_down(keys, nodes, pos, 0, size)
    return size


# ---------------------------------------------------------------------- contraction
@njit(cache=True)
def _witness_search(source: int, avoid: int, limit: float, settle_limit: int, out_head: np.ndarray,
                    next_out: np.ndarray, dst: np.ndarray, w: np.ndarray, contracted: np.ndarray,
                    dist: np.ndarray, touched: np.ndarray, hk: np.ndarray, hn: np.ndarray,
                    hpos: np.ndarray) -> int:
    """Dijkstra from ``source`` among uncontracted nodes, avoiding ``avoid``, up to ``limit`` or
    ``settle_limit`` settled nodes. Leaves upper bounds in ``dist``; returns how many nodes of
    ``touched`` to reset."""
    n_touched = 0
    dist[source] = 0.0
    touched[n_touched] = source
    n_touched += 1
    size = _heap_set(hk, hn, hpos, 0, source, 0.0)
    settled = 0
    while size > 0:
        u, du = hn[0], hk[0]
        size = _heap_pop(hk, hn, hpos, size)
        if du > limit:
            break
        settled += 1
        if settled > settle_limit:
            break
        a = out_head[u]
        while a >= 0:
            v = dst[a]
            if v != avoid and not contracted[v]:
                nd = du + w[a]
                if nd < dist[v]:
                    if dist[v] == INF:
                        touched[n_touched] = v
                        n_touched += 1
                    dist[v] = nd
                    size = _heap_set(hk, hn, hpos, size, v, nd)
            a = next_out[a]
    while size > 0:
        size = _heap_pop(hk, hn, hpos, size)
    return n_touched


@njit(cache=True)
def _contract_node(v: int, simulate: bool, settle_limit: int, n_arcs: int, src: np.ndarray, dst: np.ndarray,
                   w: np.ndarray, child1: np.ndarray, child2: np.ndarray, orig: np.ndarray,
                   out_head: np.ndarray, in_head: np.ndarray, next_out: np.ndarray, next_in: np.ndarray,
                   contracted: np.ndarray, dist: np.ndarray, touched: np.ndarray, hk: np.ndarray,
                   hn: np.ndarray, hpos: np.ndarray, in_arcs: np.ndarray, out_arcs: np.ndarray
                   ) -> tuple[int, int, int]:
    """Contract ``v`` (or count what contracting it would add when ``simulate``).

    Returns ``(shortcuts, degree, n_arcs)``; ``n_arcs`` is ``-1`` when the pool is full.
    """
    n_in = 0
    a = in_head[v]
    while a >= 0:
        if not contracted[src[a]]:
            in_arcs[n_in] = a
            n_in += 1
        a = next_in[a]
    n_out = 0
    a = out_head[v]
    while a >= 0:
        if not contracted[dst[a]]:
            out_arcs[n_out] = a
            n_out += 1
        a = next_out[a]
    shortcuts = 0
    for i in range(n_in):
        a_in = in_arcs[i]
        x = src[a_in]
        w1 = w[a_in]
        limit = -1.0
        for j in range(n_out):
            if dst[out_arcs[j]] != x and w1 + w[out_arcs[j]] > limit:
                limit = w1 + w[out_arcs[j]]
        if limit < 0.0:
            continue
        n_touched = _witness_search(x, v, limit, settle_limit, out_head, next_out, dst, w, contracted,
                                    dist, touched, hk, hn, hpos)
        for j in range(n_out):
            a_out = out_arcs[j]
            y = dst[a_out]
            need = w1 + w[a_out]
            if y == x or dist[y] <= need:
                continue
            shortcuts += 1
            if simulate:
                continue
            b = out_head[x]
            while b >= 0:
                if dst[b] == y:
                    break
                b = next_out[b]
            if b >= 0:
                if need < w[b]:
                    w[b], child1[b], child2[b], orig[b] = need, a_in, a_out, -1
            else:
                if n_arcs >= src.size:
                    for k in range(n_touched):
                        dist[touched[k]] = INF
                    return shortcuts, n_in + n_out, -1
                src[n_arcs], dst[n_arcs], w[n_arcs] = x, y, need
                child1[n_arcs], child2[n_arcs], orig[n_arcs] = a_in, a_out, -1
                next_out[n_arcs] = out_head[x]
                out_head[x] = n_arcs
                next_in[n_arcs] = in_head[y]
                in_head[y] = n_arcs
                n_arcs += 1
            # a shortcut is a witness for later pairs of this source
            if need < dist[y]:
                if dist[y] == INF:
                    touched[n_touched] = y
                    n_touched += 1
                dist[y] = need
        for k in range(n_touched):
            dist[touched[k]] = INF
    return shortcuts, n_in + n_out, n_arcs


@njit(cache=True)
def _priority(shortcuts: int, degree: int, contracted_neighbours: int, level: int) -> float:
    return 2.0 * (shortcuts - degree) + contracted_neighbours + level


@njit(cache=True)
def contract(n: int, n_arcs: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray, child1: np.ndarray,
             child2: np.ndarray, orig: np.ndarray, order: np.ndarray, use_order: bool,
             settle_limit: int, sim_settle_limit: int) -> tuple[int, np.ndarray]:
    """Contract every node; arcs ``[0, n_arcs)`` of the pool are the input graph.

    With ``use_order`` the nodes are contracted in ``order``; otherwise by priority (edge
    difference, contracted neighbours, level) with lazy updates. Returns ``(n_arcs, rank)``;
    ``n_arcs == -1`` means the pool was too small.
    """
    cap = src.size
    out_head = np.full(n, -1, np.int64)
    in_head = np.full(n, -1, np.int64)
    next_out = np.full(cap, -1, np.int64)
    next_in = np.full(cap, -1, np.int64)
    for a in range(n_arcs):
        next_out[a] = out_head[src[a]]
        out_head[src[a]] = a
        next_in[a] = in_head[dst[a]]
        in_head[dst[a]] = a
    contracted = np.zeros(n, np.bool_)
    dist = np.full(n, INF)
    touched = np.empty(n, np.int64)
    hk = np.empty(n)
    hn = np.empty(n, np.int64)
    hpos = np.full(n, -1, np.int64)
    in_arcs = np.empty(n, np.int64)
    out_arcs = np.empty(n, np.int64)
    rank = np.full(n, -1, np.int64)
    if use_order:
        for r in range(n):
            v = order[r]
            _, _, n_arcs = _contract_node(v, False, settle_limit, n_arcs, src, dst, w, child1, child2, orig,
                                          out_head, in_head, next_out, next_in, contracted, dist, touched,
                                          hk, hn, hpos, in_arcs, out_arcs)
            if n_arcs < 0:
                return -1, rank
            contracted[v] = True
            rank[v] = r
        return n_arcs, rank
    cn = np.zeros(n, np.int64)
    level = np.zeros(n, np.int64)
    pk = np.empty(n)
    pn = np.empty(n, np.int64)
    ppos = np.full(n, -1, np.int64)
    psize = 0
    for v in range(n):
        s, d, _ = _contract_node(v, True, sim_settle_limit, n_arcs, src, dst, w, child1, child2, orig,
                                 out_head, in_head, next_out, next_in, contracted, dist, touched,
                                 hk, hn, hpos, in_arcs, out_arcs)
        psize = _heap_set(pk, pn, ppos, psize, v, _priority(s, d, 0, 0))
    r = 0
    neighbours = np.empty(2 * n, np.int64)
    stamp = np.full(n, -1, np.int64)
    while psize > 0:
        v = pn[0]
        s, d, _ = _contract_node(v, True, sim_settle_limit, n_arcs, src, dst, w, child1, child2, orig,
                                 out_head, in_head, next_out, next_in, contracted, dist, touched,
                                 hk, hn, hpos, in_arcs, out_arcs)
        p = _priority(s, d, cn[v], level[v])
        psize = _heap_set(pk, pn, ppos, psize, v, p)  # lazy update
        if pn[0] != v:
            continue
        psize = _heap_pop(pk, pn, ppos, psize)
        _, _, n_arcs = _contract_node(v, False, settle_limit, n_arcs, src, dst, w, child1, child2, orig,
                                      out_head, in_head, next_out, next_in, contracted, dist, touched,
                                      hk, hn, hpos, in_arcs, out_arcs)
        if n_arcs < 0:
            return -1, rank
        contracted[v] = True
        rank[v] = r
        r += 1
        n_nb = 0
        a = out_head[v]
        while a >= 0:
            u = dst[a]
            if not contracted[u]:
                neighbours[n_nb] = u
                n_nb += 1
            a = next_out[a]
        a = in_head[v]
        while a >= 0:
            u = src[a]
            if not contracted[u]:
                neighbours[n_nb] = u
                n_nb += 1
            a = next_in[a]
        for k in range(n_nb):
            u = neighbours[k]
            if ppos[u] < 0 or stamp[u] == r:
                continue  # second mention of the same neighbour
            stamp[u] = r
            cn[u] += 1
            if level[v] + 1 > level[u]:
                level[u] = level[v] + 1
            s, d, _ = _contract_node(u, True, sim_settle_limit, n_arcs, src, dst, w, child1, child2, orig,
                                     out_head, in_head, next_out, next_in, contracted, dist, touched,
                                     hk, hn, hpos, in_arcs, out_arcs)
            psize = _heap_set(pk, pn, ppos, psize, u, _priority(s, d, cn[u], level[u]))
    return n_arcs, rank


# ---------------------------------------------------------------------- queries
@njit(cache=True)
def _settle_step(u: int, du: float, up_ptr: np.ndarray, up_head: np.ndarray, up_w: np.ndarray,
                 up_arc: np.ndarray, down_ptr: np.ndarray, down_head: np.ndarray, down_w: np.ndarray,
                 dist: np.ndarray, pred: np.ndarray, touched: np.ndarray, n_touched: int,
                 hk: np.ndarray, hn: np.ndarray, hpos: np.ndarray, size: int) -> tuple[int, int, bool]:
    """Relax the upward arcs of settled node ``u`` unless it is stalled (a higher node reaches
    it cheaper). Returns ``(size, n_touched, stalled)``."""
    for k in range(down_ptr[u], down_ptr[u + 1]):
        x = down_head[k]
        if dist[x] + down_w[k] < du:
            return size, n_touched, True
    for k in range(up_ptr[u], up_ptr[u + 1]):
        v = up_head[k]
        nd = du + up_w[k]
        if nd < dist[v]:
            if dist[v] == INF:
                touched[n_touched] = v
                n_touched += 1
            dist[v] = nd
            pred[v] = up_arc[k]
            size = _heap_set(hk, hn, hpos, size, v, nd)
    return size, n_touched, False


@njit(cache=True)
def query(s: int, t: int, f_ptr: np.ndarray, f_head: np.ndarray, f_w: np.ndarray, f_arc: np.ndarray,
          b_ptr: np.ndarray, b_head: np.ndarray, b_w: np.ndarray, b_arc: np.ndarray,
          dist_f: np.ndarray, dist_b: np.ndarray, pred_f: np.ndarray, pred_b: np.ndarray,
          touched_f: np.ndarray, touched_b: np.ndarray, hk_f: np.ndarray, hn_f: np.ndarray,
          hpos_f: np.ndarray, hk_b: np.ndarray, hn_b: np.ndarray, hpos_b: np.ndarray
          ) -> tuple[float, int, int, int]:
    """Bidirectional upward Dijkstra with stall-on-demand between ranks ``s`` and ``t``.

    Returns ``(cost, meeting node, n_touched_f, n_touched_b)``; the caller reads the
    predecessor arcs and then calls :func:`reset`.
    """
    dist_f[s] = 0.0
    dist_b[t] = 0.0
    touched_f[0] = s
    touched_b[0] = t
    nt_f = 1
    nt_b = 1
    size_f = _heap_set(hk_f, hn_f, hpos_f, 0, s, 0.0)
    size_b = _heap_set(hk_b, hn_b, hpos_b, 0, t, 0.0)
    best = INF
    meet = -1
    forward = True
    while True:
        go_f = size_f > 0 and hk_f[0] < best
        go_b = size_b > 0 and hk_b[0] < best
        if not go_f and not go_b:
            break
        if go_f and (forward or not go_b):
            u, du = hn_f[0], hk_f[0]
            size_f = _heap_pop(hk_f, hn_f, hpos_f, size_f)
            if dist_b[u] + du < best:
                best = dist_b[u] + du
                meet = u
            size_f, nt_f, _ = _settle_step(u, du, f_ptr, f_head, f_w, f_arc, b_ptr, b_head, b_w, dist_f, pred_f,
                                           touched_f, nt_f, hk_f, hn_f, hpos_f, size_f)
        else:
            u, du = hn_b[0], hk_b[0]
            size_b = _heap_pop(hk_b, hn_b, hpos_b, size_b)
            if dist_f[u] + du < best:
                best = dist_f[u] + du
                meet = u
            size_b, nt_b, _ = _settle_step(u, du, b_ptr, b_head, b_w, b_arc, f_ptr, f_head, f_w, dist_b, pred_b,
                                           touched_b, nt_b, hk_b, hn_b, hpos_b, size_b)
        forward = not forward
    while size_f > 0:
        size_f = _heap_pop(hk_f, hn_f, hpos_f, size_f)
    while size_b > 0:
        size_b = _heap_pop(hk_b, hn_b, hpos_b, size_b)
    return best, meet, nt_f, nt_b


@njit(cache=True)
def reset(dist: np.ndarray, touched: np.ndarray, n_touched: int) -> None:
    """Set the distances of the touched nodes back to infinity."""
    for k in range(n_touched):
        dist[touched[k]] = INF


@njit(cache=True)
def unpack(first_arcs: np.ndarray, child1: np.ndarray, child2: np.ndarray, orig: np.ndarray) -> np.ndarray:
    """The original edges of a sequence of arcs (shortcuts expanded recursively)."""
    stack = np.empty(64, np.int64)
    parts = []
    for i in range(first_arcs.size):
        top = 0
        stack[top] = first_arcs[i]
        top += 1
        while top > 0:
            top -= 1
            a = stack[top]
            if orig[a] >= 0:
                parts.append(orig[a])
            else:
                if top + 2 > stack.size:
                    bigger = np.empty(stack.size * 2, np.int64)
                    bigger[:top] = stack[:top]
                    stack = bigger
                stack[top] = child2[a]
                stack[top + 1] = child1[a]
                top += 2
    out = np.empty(len(parts), np.int64)
    for i in range(len(parts)):
        out[i] = parts[i]
    return out


@njit(cache=True)
def _upward_space(s: int, up_ptr: np.ndarray, up_head: np.ndarray, up_w: np.ndarray, down_ptr: np.ndarray,
                  down_head: np.ndarray, down_w: np.ndarray, dist: np.ndarray, touched: np.ndarray,
                  hk: np.ndarray, hn: np.ndarray, hpos: np.ndarray, space: np.ndarray, space_d: np.ndarray
                  ) -> tuple[int, int]:
    """Full upward search from ``s`` with stall-on-demand; the unstalled settled nodes and their
    distances go to ``space``/``space_d``. Returns ``(n_space, n_touched)``."""
    dist[s] = 0.0
    touched[0] = s
    nt = 1
    n_space = 0
    size = _heap_set(hk, hn, hpos, 0, s, 0.0)
    while size > 0:
        u, du = hn[0], hk[0]
        size = _heap_pop(hk, hn, hpos, size)
        stalled = False
        for k in range(down_ptr[u], down_ptr[u + 1]):
            if dist[down_head[k]] + down_w[k] < du:
                stalled = True
                break
        if stalled:
            continue
        space[n_space] = u
        space_d[n_space] = du
        n_space += 1
        for k in range(up_ptr[u], up_ptr[u + 1]):
            v = up_head[k]
            nd = du + up_w[k]
            if nd < dist[v]:
                if dist[v] == INF:
                    touched[nt] = v
                    nt += 1
                dist[v] = nd
                size = _heap_set(hk, hn, hpos, size, v, nd)
    return n_space, nt


@njit(cache=True)
def many_to_many(sources: np.ndarray, targets: np.ndarray, f_ptr: np.ndarray, f_head: np.ndarray,
                 f_w: np.ndarray, b_ptr: np.ndarray, b_head: np.ndarray, b_w: np.ndarray) -> np.ndarray:
    """Distances between every source and every target (ranks) by bucket many-to-many."""
    n = f_ptr.size - 1
    dist = np.full(n, INF)
    touched = np.empty(n, np.int64)
    hk = np.empty(n)
    hn = np.empty(n, np.int64)
    hpos = np.full(n, -1, np.int64)
    space = np.empty(n, np.int64)
    space_d = np.empty(n)
    # backward searches fill the buckets
    cap = max(16, 256 * targets.size)
    e_node = np.empty(cap, np.int64)
    e_tgt = np.empty(cap, np.int64)
    e_d = np.empty(cap)
    n_e = 0
    for j in range(targets.size):
        n_space, nt = _upward_space(targets[j], b_ptr, b_head, b_w, f_ptr, f_head, f_w, dist, touched,
                                    hk, hn, hpos, space, space_d)
        reset(dist, touched, nt)
        if n_e + n_space > cap:
            cap = max(2 * cap, n_e + n_space)
            e_node2, e_tgt2, e_d2 = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap)
            e_node2[:n_e], e_tgt2[:n_e], e_d2[:n_e] = e_node[:n_e], e_tgt[:n_e], e_d[:n_e]
            e_node, e_tgt, e_d = e_node2, e_tgt2, e_d2
        for k in range(n_space):
            e_node[n_e], e_tgt[n_e], e_d[n_e] = space[k], j, space_d[k]
            n_e += 1
    counts = np.zeros(n + 1, np.int64)
    for k in range(n_e):
        counts[e_node[k] + 1] += 1
    for v in range(n):
        counts[v + 1] += counts[v]
    fill = counts[:-1].copy()
    bt = np.empty(n_e, np.int64)
    bd = np.empty(n_e)
    for k in range(n_e):
        p = fill[e_node[k]]
        bt[p], bd[p] = e_tgt[k], e_d[k]
        fill[e_node[k]] = p + 1
    out = np.full((sources.size, targets.size), INF)
    for i in range(sources.size):
        n_space, nt = _upward_space(sources[i], f_ptr, f_head, f_w, b_ptr, b_head, b_w, dist, touched,
                                    hk, hn, hpos, space, space_d)
        reset(dist, touched, nt)
        row = out[i]
        for k in range(n_space):
            u, du = space[k], space_d[k]
            for p in range(counts[u], counts[u + 1]):
                d = du + bd[p]
                if d < row[bt[p]]:
                    row[bt[p]] = d
    return out
