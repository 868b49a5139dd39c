"""Education: compiled local search over granular neighbourhoods (relocate, swap, 2-opt, 2-opt*, SWAP*).

For every client ``u`` (random order) and each of its granular neighbours ``v`` (the closest
clients, :mod:`solvers.vrp.ga.neighbours`), the moves are

- relocate ``u`` after ``v`` and before ``v``;
- swap ``u`` and ``v``;
- 2-opt* between the routes of ``u`` and ``v`` (tails exchanged, creating the edge ``u -> v``);
- 2-opt inside a route (the segment between ``u`` and ``v`` reversed; symmetric instances);
- relocate ``u`` into an empty route, when one is available.

The first improving move is applied; passes repeat until none improves. The penalised cost of a
route is ``distance + pen_cap * excess_load + pen_tw * time_warp``. Each move is first screened in
O(1) with its distance and load change (a lower bound of the change when time matters, since time
warp is non-negative); only promising moves are evaluated exactly by rebuilding the changed routes
with :func:`~solvers.vrp.ga.route_eval.route_eval`.

SWAP* (Vidal 2022, HGS-CVRP): once no granular move improves, every pair of routes whose polar
sectors (angles of their clients around the depot) overlap — or, for an instance given by a
matrix only, whose clients are granular neighbours of each other — is searched for the best
exchange of a client ``u`` of one route with a client ``v`` of the other, each inserted at its
best position in the other route (not necessarily in place of the other). The three best
insertion positions of every client into the other route are precomputed per pair of routes,
after which each ``(u, v)`` is evaluated in O(1) (:func:`swap_star_pair`). The best exchange of a
pair is applied when it improves, checked exactly with ``route_eval``; after a SWAP* pass that
improved, the granular moves run again. As in HGS-CVRP, SWAP* runs on instances without time
(no time windows, no route duration limit) only: there its O(1) evaluation is exact.

A work limit (:func:`bounded_local_search`) lets the caller bound the time of one search.
"""

from __future__ import annotations

import itertools

import numba as nb
import numpy as np

from solvers.vrp.ga.problem_arrays import ProblemArrays
from solvers.vrp.ga.route_eval import route_eval

_EPS = 1e-7
#: Work limit that means none.
_NO_LIMIT = 2**62


@nb.njit(cache=True, nogil=True)
def _pen(d: float, load: float, tw: float, capacity: float, pen_cap: float, pen_tw: float) -> float:
    excess = load - capacity
    if excess < 0.0:
        excess = 0.0
    return d + pen_cap * excess + pen_tw * tw


@nb.njit(cache=True, nogil=True)
def _refresh(r: int, routes: np.ndarray, rlen: np.ndarray, node_route: np.ndarray, node_pos: np.ndarray,
             rd: np.ndarray, rload: np.ndarray, rtw: np.ndarray, rpen: np.ndarray, prefix_load: np.ndarray,
             dist: np.ndarray, dur: np.ndarray, demand: np.ndarray, early: np.ndarray, late: np.ndarray,
             service: np.ndarray, capacity: float, max_duration: float, has_tw: bool,
             pen_cap: float, pen_tw: float) -> None:
    m = rlen[r]
    acc = 0.0
    for k in range(m):
        c = routes[r, k]
        node_route[c] = r
        node_pos[c] = k
        acc += demand[c]
        prefix_load[c] = acc
    d, load, tw = route_eval(routes[r], m, dist, dur, demand, early, late, service, max_duration, has_tw)
    rd[r] = d
    rload[r] = load
    rtw[r] = tw
    rpen[r] = _pen(d, load, tw, capacity, pen_cap, pen_tw)


@nb.njit(cache=True, nogil=True)
def _node_at(routes: np.ndarray, rlen: np.ndarray, r: int, k: int) -> int:
    if k < 0 or k >= rlen[r]:
        return 0
    return routes[r, k]


@nb.njit(cache=True, nogil=True)
def _route_sector(routes: np.ndarray, rlen: np.ndarray, r: int, polar: np.ndarray) -> tuple[int, int]:
    """Smallest circle sector ``[start, start + width]`` (mod 65536) holding the route's clients.

    Clients are added one by one; an angle outside the sector extends whichever end grows the
    sector least (the construction of HGS-CVRP's ``CircleSector``).
    """
    start = polar[routes[r, 0]]
    end = start
    for k in range(1, rlen[r]):
        a = polar[routes[r, k]]
        if (a - start) % 65536 > (end - start) % 65536:
            if (a - end) % 65536 <= (start - a) % 65536:
                end = a
            else:
                start = a
    return start, end


@nb.njit(cache=True, nogil=True)
def _sectors_overlap(s1: int, e1: int, s2: int, e2: int) -> bool:
    return (s2 - s1) % 65536 <= (e1 - s1) % 65536 or (s1 - s2) % 65536 <= (e2 - s2) % 65536


@nb.njit(cache=True, nogil=True)
def _neighbour_routes(routes: np.ndarray, rlen: np.ndarray, ra: int, rb: int, neighbours: np.ndarray,
                      node_route: np.ndarray) -> bool:
    """Whether a client of route ``ra`` has a granular neighbour in route ``rb``."""
    for k in range(rlen[ra]):
        u = routes[ra, k]
        for ni in range(neighbours.shape[1]):
            v = neighbours[u, ni]
            if v > 0 and node_route[v] == rb:
                return True
    return False


@nb.njit(cache=True, nogil=True)
def _best_insertions(routes: np.ndarray, rlen: np.ndarray, ra: int, rb: int, dist: np.ndarray,
                     cost3: np.ndarray, pos3: np.ndarray) -> None:
    """For every client ``u`` of route ``ra``: the three cheapest positions to insert it into route ``rb``.

    Position ``k`` means "before ``rb[k]``" (``k = len(rb)``: before the return to the depot);
    ``cost3[u]`` holds the insertion costs in increasing order, ``pos3[u]`` the positions
    (``-1`` when the route has fewer positions).
    """
    mb = rlen[rb]
    for q in range(rlen[ra]):
        u = routes[ra, q]
        for t in range(3):
            cost3[u, t] = np.inf
            pos3[u, t] = -1
        prev = 0
        for k in range(mb + 1):
            nxt = routes[rb, k] if k < mb else 0
            c = dist[prev, u] + dist[u, nxt] - dist[prev, nxt]
            if c < cost3[u, 2]:
                t = 2
                while t > 0 and c < cost3[u, t - 1]:
                    cost3[u, t] = cost3[u, t - 1]
                    pos3[u, t] = pos3[u, t - 1]
                    t -= 1
                cost3[u, t] = c
                pos3[u, t] = k
            prev = nxt


@nb.njit(cache=True, nogil=True)
def _insert_without(routes: np.ndarray, rlen: np.ndarray, r: int, x: int, px: int, cost3: np.ndarray,
                    pos3: np.ndarray, dist: np.ndarray) -> tuple[float, int]:
    """Cheapest insertion of ``x`` into route ``r`` once its client at position ``px`` is removed.

    Either one of the three best positions of the whole route not next to the removed client, or
    the gap the removed client leaves (position ``px``); exact because the three best positions
    include at least one that is not next to it.
    """
    m = rlen[r]
    a = routes[r, px - 1] if px > 0 else 0
    b = routes[r, px + 1] if px + 1 < m else 0
    best = dist[a, x] + dist[x, b] - dist[a, b]
    best_k = px
    for t in range(3):
        k = pos3[x, t]
        if k < 0:
            break
        if k != px and k != px + 1:
            if cost3[x, t] < best:
                best = cost3[x, t]
                best_k = k
            break
    return best, best_k


@nb.njit(cache=True, nogil=True)
def swap_star_pair(routes: np.ndarray, rlen: np.ndarray, ra: int, rb: int, dist: np.ndarray, demand: np.ndarray,
                   capacity: float, pen_cap: float, rd: np.ndarray, rload: np.ndarray, cost3: np.ndarray,
                   pos3: np.ndarray) -> tuple[float, int, int, int, int]:
    """Best SWAP* exchange between routes ``ra`` and ``rb`` (Vidal 2022), without time.

    Client ``u`` of ``ra`` and client ``v`` of ``rb`` change routes, each inserted at its best
    position in the other route (possibly, but not necessarily, in place of the other). After a
    preprocessing in ``O(|ra| |rb|)`` of the three best insertion positions of every client in the
    other route, each pair is evaluated in ``O(1)``.

    Returns
    -------
    tuple
        ``(delta, u, k_u, v, k_v)``: the change of ``distance + pen_cap * excess load`` of both
        routes; ``u`` goes into ``rb`` before its original position ``k_u`` (``v`` removed), ``v``
        into ``ra`` before ``k_v`` (``u`` removed). ``delta = inf`` and ``u = v = -1`` when a route
        is empty.
    """
    ma = rlen[ra]
    mb = rlen[rb]
    best = np.inf
    bu = -1
    bv = -1
    bku = -1
    bkv = -1
    if ma == 0 or mb == 0:
        return best, bu, bku, bv, bkv
    _best_insertions(routes, rlen, ra, rb, dist, cost3, pos3)
    _best_insertions(routes, rlen, rb, ra, dist, cost3, pos3)
    old_pen = pen_cap * (max(rload[ra] - capacity, 0.0) + max(rload[rb] - capacity, 0.0))
    for pu in range(ma):
        u = routes[ra, pu]
        up = routes[ra, pu - 1] if pu > 0 else 0
        un = routes[ra, pu + 1] if pu + 1 < ma else 0
        rem_u = dist[up, un] - dist[up, u] - dist[u, un]
        for pv in range(mb):
            v = routes[rb, pv]
            vp = routes[rb, pv - 1] if pv > 0 else 0
            vn = routes[rb, pv + 1] if pv + 1 < mb else 0
            rem_v = dist[vp, vn] - dist[vp, v] - dist[v, vn]
            shift = demand[v] - demand[u]
            pen = pen_cap * (max(rload[ra] + shift - capacity, 0.0) + max(rload[rb] - shift - capacity, 0.0))
            ins_u, ku = _insert_without(routes, rlen, rb, u, pv, cost3, pos3, dist)
            ins_v, kv = _insert_without(routes, rlen, ra, v, pu, cost3, pos3, dist)
            delta = rem_u + rem_v + ins_u + ins_v + pen - old_pen
            if delta < best:
                best = delta
                bu = u
                bv = v
                bku = ku
                bkv = kv
    return best, bu, bku, bv, bkv


@nb.njit(cache=True, nogil=True)
def _exchanged(routes: np.ndarray, rlen: np.ndarray, r: int, out_pos: int, x: int, k: int, buf: np.ndarray) -> int:
    """Route ``r`` without its client at ``out_pos`` and with ``x`` before original position ``k``, into ``buf``."""
    m = rlen[r]
    count = 0
    for q in range(m):
        if q == k:
            buf[count] = x
            count += 1
        if q != out_pos:
            buf[count] = routes[r, q]
            count += 1
    if k == m:
        buf[count] = x
        count += 1
    return count


@nb.njit(cache=True, nogil=True)
def _ls_kernel(routes: np.ndarray, rlen: np.ndarray, neighbours: np.ndarray, order: np.ndarray,
               dist: np.ndarray, dur: np.ndarray, demand: np.ndarray, early: np.ndarray, late: np.ndarray,
               service: np.ndarray, capacity: float, max_duration: float, has_tw: bool, symmetric: bool,
               pen_cap: float, pen_tw: float, swap_star: bool, use_polar: bool, polar: np.ndarray,
               max_work: int) -> tuple[int, int]:
    n_routes = routes.shape[0]
    n = demand.size - 1
    node_route = np.zeros(n + 1, dtype=np.int64)
    node_pos = np.zeros(n + 1, dtype=np.int64)
    prefix_load = np.zeros(n + 1)
    rd = np.zeros(n_routes)
    rload = np.zeros(n_routes)
    rtw = np.zeros(n_routes)
    rpen = np.zeros(n_routes)
    for r in range(n_routes):
        _refresh(r, routes, rlen, node_route, node_pos, rd, rload, rtw, rpen, prefix_load, dist, dur, demand,
                 early, late, service, capacity, max_duration, has_tw, pen_cap, pen_tw)
    buf1 = np.zeros(n + 1, dtype=np.int64)
    buf2 = np.zeros(n + 1, dtype=np.int64)
    n_neigh = neighbours.shape[1]
    moves = 0
    # when a route last changed and when a client was last tested (in moves applied so far):
    # a pair whose two routes are unchanged since the client was tested is skipped (Vidal 2022)
    modified = np.zeros(n_routes, dtype=np.int64)
    last_test = np.full(n + 1, -1, dtype=np.int64)
    # SWAP* (CVRP only): when each route was last tested as the first route of a pair, the routes'
    # polar sectors, the three best insertions of every client into the other route of a pair
    star = swap_star and not has_tw
    last_star = np.full(n_routes, -1, dtype=np.int64)
    sec_start = np.zeros(n_routes, dtype=np.int64)
    sec_end = np.zeros(n_routes, dtype=np.int64)
    cost3 = np.zeros((n + 1, 3))
    pos3 = np.zeros((n + 1, 3), dtype=np.int64)
    # work done (granular pairs tested, clients of routes evaluated exactly, SWAP* pair evaluations):
    # the search stops, keeping what it has, once it exceeds ``max_work``
    work = 0
    improved = True
    while improved:
        improved = False
        for oi in range(order.size):
            if work > max_work:
                break
            u = order[oi]
            u_last = last_test[u]
            last_test[u] = moves
            for ni in range(n_neigh):
                v = neighbours[u, ni]
                if v <= 0:
                    continue
                work += 1
                if modified[node_route[u]] <= u_last and modified[node_route[v]] <= u_last:
                    continue
                ru = node_route[u]
                pu = node_pos[u]
                rv = node_route[v]
                pv = node_pos[v]
                mu = rlen[ru]
                mv = rlen[rv]
                u_prev = _node_at(routes, rlen, ru, pu - 1)
                u_next = _node_at(routes, rlen, ru, pu + 1)
                v_prev = _node_at(routes, rlen, rv, pv - 1)
                v_next = _node_at(routes, rlen, rv, pv + 1)
                applied = False
                # --- relocate u after v (side 0) or before v (side 1)
                for side in range(2):
                    if applied:
                        break
                    k = pv + 1 if side == 0 else pv
                    a = _node_at(routes, rlen, rv, k - 1)
                    b = _node_at(routes, rlen, rv, k)
                    if a == u or b == u:
                        continue
                    dd = (dist[a, u] + dist[u, b] - dist[a, b]
                          + dist[u_prev, u_next] - dist[u_prev, u] - dist[u, u_next])
                    if ru == rv:
                        old = rpen[ru]
                        lb = rd[ru] + dd + pen_cap * max(rload[ru] - capacity, 0.0) - old
                        if lb > -_EPS:
                            continue
                        kk = k if k < pu else k - 1
                        m1 = 0
                        for q in range(mu):
                            if q == pu:
                                continue
                            if m1 == kk:
                                buf1[m1] = u
                                m1 += 1
                            buf1[m1] = routes[ru, q]
                            m1 += 1
                        if m1 == kk:
                            buf1[m1] = u
                            m1 += 1
                        work += m1
                        d1, l1, t1 = route_eval(buf1, m1, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
                        if _pen(d1, l1, t1, capacity, pen_cap, pen_tw) < old - _EPS:
                            for q in range(m1):
                                routes[ru, q] = buf1[q]
                            _refresh(ru, routes, rlen, node_route, node_pos, rd, rload, rtw, rpen, prefix_load,
                                     dist, dur, demand, early, late, service, capacity, max_duration, has_tw,
                                     pen_cap, pen_tw)
                            applied = True
                    else:
                        old = rpen[ru] + rpen[rv]
                        new_lb = (_pen(rd[ru] + dist[u_prev, u_next] - dist[u_prev, u] - dist[u, u_next],
                                       rload[ru] - demand[u], 0.0, capacity, pen_cap, pen_tw)
                                  + _pen(rd[rv] + dist[a, u] + dist[u, b] - dist[a, b], rload[rv] + demand[u],
                                         0.0, capacity, pen_cap, pen_tw))
                        if new_lb > old - _EPS:
                            continue
                        m1 = 0
                        for q in range(mu):
                            if q != pu:
                                buf1[m1] = routes[ru, q]
                                m1 += 1
                        m2 = 0
                        for q in range(mv):
                            if q == k:
                                buf2[m2] = u
                                m2 += 1
                            buf2[m2] = routes[rv, q]
                            m2 += 1
                        if k == mv:
                            buf2[m2] = u
                            m2 += 1
                        work += m1
                        d1, l1, t1 = route_eval(buf1, m1, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
                        work += m2
                        d2, l2, t2 = route_eval(buf2, m2, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
                        if (_pen(d1, l1, t1, capacity, pen_cap, pen_tw)
                                + _pen(d2, l2, t2, capacity, pen_cap, pen_tw) < old - _EPS):
                            for q in range(m1):
                                routes[ru, q] = buf1[q]
                            rlen[ru] = m1
                            for q in range(m2):
                                routes[rv, q] = buf2[q]
                            rlen[rv] = m2
                            for rr in (ru, rv):
                                _refresh(rr, routes, rlen, node_route, node_pos, rd, rload, rtw, rpen, prefix_load,
                                         dist, dur, demand, early, late, service, capacity, max_duration, has_tw,
                                         pen_cap, pen_tw)
                            applied = True
                if applied:
                    moves += 1
                    modified[ru] = moves
                    modified[rv] = moves
                    improved = True
                    continue
                # --- swap u and v
                if ru != rv:
                    old = rpen[ru] + rpen[rv]
                    du = dist[u_prev, v] + dist[v, u_next] - dist[u_prev, u] - dist[u, u_next]
                    dv = dist[v_prev, u] + dist[u, v_next] - dist[v_prev, v] - dist[v, v_next]
                    new_lb = (_pen(rd[ru] + du, rload[ru] - demand[u] + demand[v], 0.0, capacity, pen_cap, pen_tw)
                              + _pen(rd[rv] + dv, rload[rv] - demand[v] + demand[u], 0.0, capacity, pen_cap,
                                     pen_tw))
                    if new_lb < old - _EPS:
                        for q in range(mu):
                            buf1[q] = routes[ru, q]
                        buf1[pu] = v
                        for q in range(mv):
                            buf2[q] = routes[rv, q]
                        buf2[pv] = u
                        work += mu
                        d1, l1, t1 = route_eval(buf1, mu, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
                        work += mv
                        d2, l2, t2 = route_eval(buf2, mv, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
                        if (_pen(d1, l1, t1, capacity, pen_cap, pen_tw)
                                + _pen(d2, l2, t2, capacity, pen_cap, pen_tw) < old - _EPS):
                            routes[ru, pu] = v
                            routes[rv, pv] = u
                            for rr in (ru, rv):
                                _refresh(rr, routes, rlen, node_route, node_pos, rd, rload, rtw, rpen, prefix_load,
                                         dist, dur, demand, early, late, service, capacity, max_duration, has_tw,
                                         pen_cap, pen_tw)
                            moves += 1
                            modified[ru] = moves
                            modified[rv] = moves
                            improved = True
                            continue
                else:
                    # swap inside a route, evaluated exactly when promising
                    if pu + 1 == pv:
                        dd = (dist[u_prev, v] + dist[v, u] + dist[u, v_next]
                              - dist[u_prev, u] - dist[u, v] - dist[v, v_next])
                    elif pv + 1 == pu:
                        dd = (dist[v_prev, u] + dist[u, v] + dist[v, u_next]
                              - dist[v_prev, v] - dist[v, u] - dist[u, u_next])
                    else:
                        dd = (dist[u_prev, v] + dist[v, u_next] - dist[u_prev, u] - dist[u, u_next]
                              + dist[v_prev, u] + dist[u, v_next] - dist[v_prev, v] - dist[v, v_next])
                    if (rd[ru] + dd + pen_cap * max(rload[ru] - capacity, 0.0)) < rpen[ru] - _EPS:
                        for q in range(mu):
                            buf1[q] = routes[ru, q]
                        buf1[pu] = v
                        buf1[pv] = u
                        work += mu
                        d1, l1, t1 = route_eval(buf1, mu, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
                        if _pen(d1, l1, t1, capacity, pen_cap, pen_tw) < rpen[ru] - _EPS:
                            routes[ru, pu] = v
                            routes[ru, pv] = u
                            _refresh(ru, routes, rlen, node_route, node_pos, rd, rload, rtw, rpen, prefix_load,
                                     dist, dur, demand, early, late, service, capacity, max_duration, has_tw,
                                     pen_cap, pen_tw)
                            moves += 1
                            modified[ru] = moves
                            modified[rv] = moves
                            improved = True
                            continue
                # --- 2-opt*: ru = ru[:pu+1] + rv[pv:], rv = rv[:pv] + ru[pu+1:]
                if ru != rv:
                    old = rpen[ru] + rpen[rv]
                    load_u_head = prefix_load[u]
                    load_v_head = prefix_load[v] - demand[v]
                    dd1 = dist[u, v] - dist[u, u_next]
                    dd2 = dist[v_prev, u_next] - dist[v_prev, v]
                    # split the distance change between the two new routes: a bound only on the sum
                    new_lb = (_pen(0.0, load_u_head + rload[rv] - load_v_head, 0.0, capacity, pen_cap, pen_tw)
                              + _pen(0.0, load_v_head + rload[ru] - load_u_head, 0.0, capacity, pen_cap, pen_tw)
                              + rd[ru] + rd[rv] + dd1 + dd2)
                    if new_lb < old - _EPS:
                        m1 = 0
                        for q in range(pu + 1):
                            buf1[m1] = routes[ru, q]
                            m1 += 1
                        for q in range(pv, mv):
                            buf1[m1] = routes[rv, q]
                            m1 += 1
                        m2 = 0
                        for q in range(pv):
                            buf2[m2] = routes[rv, q]
                            m2 += 1
                        for q in range(pu + 1, mu):
                            buf2[m2] = routes[ru, q]
                            m2 += 1
                        work += m1
                        d1, l1, t1 = route_eval(buf1, m1, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
                        work += m2
                        d2, l2, t2 = route_eval(buf2, m2, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
                        if (_pen(d1, l1, t1, capacity, pen_cap, pen_tw)
                                + _pen(d2, l2, t2, capacity, pen_cap, pen_tw) < old - _EPS):
                            for q in range(m1):
                                routes[ru, q] = buf1[q]
                            rlen[ru] = m1
                            for q in range(m2):
                                routes[rv, q] = buf2[q]
                            rlen[rv] = m2
                            for rr in (ru, rv):
                                _refresh(rr, routes, rlen, node_route, node_pos, rd, rload, rtw, rpen, prefix_load,
                                         dist, dur, demand, early, late, service, capacity, max_duration, has_tw,
                                         pen_cap, pen_tw)
                            moves += 1
                            modified[ru] = moves
                            modified[rv] = moves
                            improved = True
                            continue
                # --- 2-opt inside a route: reverse ru[pu+1 .. pv] (symmetric instances)
                if ru == rv and symmetric and pu < pv:
                    dd = dist[u, v] + dist[u_next, v_next] - dist[u, u_next] - dist[v, v_next]
                    if (rd[ru] + dd + pen_cap * max(rload[ru] - capacity, 0.0)) < rpen[ru] - _EPS:
                        for q in range(mu):
                            buf1[q] = routes[ru, q]
                        for q in range(pu + 1, pv + 1):
                            buf1[q] = routes[ru, pu + 1 + pv - q]
                        work += mu
                        d1, l1, t1 = route_eval(buf1, mu, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
                        if _pen(d1, l1, t1, capacity, pen_cap, pen_tw) < rpen[ru] - _EPS:
                            for q in range(mu):
                                routes[ru, q] = buf1[q]
                            _refresh(ru, routes, rlen, node_route, node_pos, rd, rload, rtw, rpen, prefix_load,
                                     dist, dur, demand, early, late, service, capacity, max_duration, has_tw,
                                     pen_cap, pen_tw)
                            moves += 1
                            modified[ru] = moves
                            modified[rv] = moves
                            improved = True
                            continue
            # --- relocate u into an empty route
            ru = node_route[u]
            if rlen[ru] > 1 and modified[ru] > u_last:
                empty = -1
                for r in range(n_routes):
                    if rlen[r] == 0:
                        empty = r
                        break
                if empty >= 0:
                    pu = node_pos[u]
                    mu = rlen[ru]
                    m1 = 0
                    for q in range(mu):
                        if q != pu:
                            buf1[m1] = routes[ru, q]
                            m1 += 1
                    buf2[0] = u
                    work += m1
                    d1, l1, t1 = route_eval(buf1, m1, dist, dur, demand, early, late, service, max_duration, has_tw)
                    work += 1
                    d2, l2, t2 = route_eval(buf2, 1, dist, dur, demand, early, late, service, max_duration, has_tw)
                    if (_pen(d1, l1, t1, capacity, pen_cap, pen_tw) + _pen(d2, l2, t2, capacity, pen_cap, pen_tw)
                            < rpen[ru] - _EPS):
                        for q in range(m1):
                            routes[ru, q] = buf1[q]
                        rlen[ru] = m1
                        routes[empty, 0] = u
                        rlen[empty] = 1
                        for rr in (ru, empty):
                            _refresh(rr, routes, rlen, node_route, node_pos, rd, rload, rtw, rpen, prefix_load,
                                     dist, dur, demand, early, late, service, capacity, max_duration, has_tw,
                                     pen_cap, pen_tw)
                        moves += 1
                        modified[ru] = moves
                        modified[empty] = moves
                        improved = True
        # --- SWAP* over route pairs, once the granular moves are at a local optimum; loop back if it improves
        if not improved and star and work <= max_work:
            if use_polar:
                for r in range(n_routes):
                    if rlen[r] > 0:
                        sec_start[r], sec_end[r] = _route_sector(routes, rlen, r, polar)
            for ra in range(n_routes):
                ra_last = last_star[ra]
                last_star[ra] = moves
                for rb in range(ra + 1, n_routes):
                    if rlen[ra] == 0 or rlen[rb] == 0 or work > max_work:
                        continue
                    if modified[ra] <= ra_last and modified[rb] <= ra_last:
                        continue
                    if use_polar:
                        if not _sectors_overlap(sec_start[ra], sec_end[ra], sec_start[rb], sec_end[rb]):
                            continue
                    else:
                        work += rlen[ra]
                        if not _neighbour_routes(routes, rlen, ra, rb, neighbours, node_route):
                            continue
                    work += 4 * rlen[ra] * rlen[rb]
                    delta, u, ku, v, kv = swap_star_pair(routes, rlen, ra, rb, dist, demand, capacity, pen_cap,
                                                         rd, rload, cost3, pos3)
                    if delta > -_EPS:
                        continue
                    m1 = _exchanged(routes, rlen, ra, node_pos[u], v, kv, buf1)
                    m2 = _exchanged(routes, rlen, rb, node_pos[v], u, ku, buf2)
                    work += m1
                    d1, l1, t1 = route_eval(buf1, m1, dist, dur, demand, early, late, service, max_duration, has_tw)
                    work += m2
                    d2, l2, t2 = route_eval(buf2, m2, dist, dur, demand, early, late, service, max_duration, has_tw)
                    if (_pen(d1, l1, t1, capacity, pen_cap, pen_tw) + _pen(d2, l2, t2, capacity, pen_cap, pen_tw)
                            < rpen[ra] + rpen[rb] - _EPS):
                        for q in range(m1):
                            routes[ra, q] = buf1[q]
                        for q in range(m2):
                            routes[rb, q] = buf2[q]
                        for rr in (ra, rb):
                            _refresh(rr, routes, rlen, node_route, node_pos, rd, rload, rtw, rpen, prefix_load,
                                     dist, dur, demand, early, late, service, capacity, max_duration, has_tw,
                                     pen_cap, pen_tw)
                            if use_polar:
                                sec_start[rr], sec_end[rr] = _route_sector(routes, rlen, rr, polar)
                        moves += 1
                        modified[ra] = moves
                        modified[rb] = moves
                        improved = True
        if work > max_work:
            break
    return moves, work


@nb.njit(cache=True, nogil=True)
def _ls_packed(tour: np.ndarray, lens: np.ndarray, slots: int, neighbours: np.ndarray, order: np.ndarray,
               dist: np.ndarray, dur: np.ndarray, demand: np.ndarray, early: np.ndarray, late: np.ndarray,
               service: np.ndarray, capacity: float, max_duration: float, has_tw: bool, symmetric: bool,
               pen_cap: float, pen_tw: float, swap_star: bool, use_polar: bool, polar: np.ndarray,
               max_work: int) -> tuple[int, int]:
    """Unpack routes from ``tour``/``lens``, search, and pack the non-empty routes back.

    Returns the number of routes packed and the work done (see :func:`_ls_kernel`).
    """
    n = tour.size
    routes = np.zeros((slots, n + 1), dtype=np.int64)
    rlen = np.zeros(slots, dtype=np.int64)
    pos = 0
    for r in range(lens.size):
        for k in range(lens[r]):
            routes[r, k] = tour[pos]
            pos += 1
        rlen[r] = lens[r]
    _, work = _ls_kernel(routes, rlen, neighbours, order, dist, dur, demand, early, late, service, capacity,
                         max_duration, has_tw, symmetric, pen_cap, pen_tw, swap_star, use_polar, polar, max_work)
    pos = 0
    count = 0
    for r in range(slots):
        if rlen[r] == 0:
            continue
        for k in range(rlen[r]):
            tour[pos] = routes[r, k]
            pos += 1
        lens[count] = rlen[r]
        count += 1
    return count, work


def bounded_local_search(routes: list[np.ndarray], arrays: ProblemArrays, neighbours: np.ndarray,
                         rng: np.random.Generator, pen_cap: float, pen_tw: float, *, swap_star: bool = True,
                         max_work: int | None = None) -> tuple[list[np.ndarray], int]:
    """Improve ``routes`` until no move of the neighbourhood lowers the penalised cost, or the work runs out.

    Parameters
    ----------
    routes
        Routes (client arrays); at most ``arrays.fleet`` of them.
    arrays
        The instance.
    neighbours
        ``(n+1, G)`` granular neighbours per client (row 0 unused, ``-1`` padding).
    rng
        Random generator for the order in which clients are visited.
    pen_cap, pen_tw
        Penalty per unit of excess load and of time warp.
    swap_star
        Whether SWAP* runs over route pairs once the granular moves are at a local optimum
        (instances without time windows or duration limit only; see the module notes).
    max_work
        Stop once this much work is done (one unit per granular pair tested, per client of a
        route evaluated exactly, per client pair of a SWAP* route pair; ``None``: no limit). The
        caller converts seconds into work with the rate it measured on earlier calls. The routes
        are never worse than given: only improving moves are applied.

    Returns
    -------
    tuple
        The improved non-empty routes and the work done.
    """
    n = arrays.n
    count = len(routes)
    slots = max(min(arrays.fleet, count + 1), count)
    tour = np.concatenate(routes).astype(np.int64, copy=False) if count else np.zeros(0, dtype=np.int64)
    lens = np.zeros(max(slots, 1), dtype=np.int64)
    lens[:count] = [r.size for r in routes]
    order = rng.permutation(n) + 1
    polar = arrays.polar if arrays.polar is not None else np.zeros(n + 1, dtype=np.int64)
    limit = _NO_LIMIT if max_work is None else int(min(max(max_work, 0), _NO_LIMIT))
    kept, work = _ls_packed(tour, lens, slots, neighbours, order, arrays.dist, arrays.dur, arrays.demand,
                            arrays.early, arrays.late, arrays.service, arrays.capacity, arrays.max_duration,
                            arrays.has_tw, arrays.symmetric, pen_cap, pen_tw, swap_star, arrays.polar is not None,
                            polar, limit)
    return (np.split(tour, np.cumsum(lens[:kept - 1])) if kept else []), int(work)


def local_search(routes: list[np.ndarray], arrays: ProblemArrays, neighbours: np.ndarray,
                 rng: np.random.Generator, pen_cap: float, pen_tw: float, *,
                 swap_star: bool = True) -> list[np.ndarray]:
    """:func:`bounded_local_search` without a work limit, returning the improved routes only."""
    return bounded_local_search(routes, arrays, neighbours, rng, pen_cap, pen_tw, swap_star=swap_star)[0]


def swap_star_py(route_a: list[int], route_b: list[int], dist: np.ndarray, demand: np.ndarray, capacity: float,
                 pen_cap: float) -> tuple[float, list[int], list[int]]:
    """Brute-force twin of :func:`swap_star_pair` (the test oracle): every exchange, every position.

    Returns
    -------
    tuple
        The smallest change of ``distance + pen_cap * excess load`` over all exchanges of a client
        of ``route_a`` with a client of ``route_b``, each inserted anywhere in the other route, and
        the two new routes (``inf`` and the routes unchanged when one is empty).
    """

    def cost(route: list[int]) -> float:
        path = [0, *route, 0]
        d = sum(float(dist[a, b]) for a, b in itertools.pairwise(path))
        return d + pen_cap * max(float(sum(demand[c] for c in route)) - capacity, 0.0)

    old = cost(route_a) + cost(route_b)
    best, best_a, best_b = float("inf"), list(route_a), list(route_b)
    for i, u in enumerate(route_a):
        rest_a = route_a[:i] + route_a[i + 1:]
        for j, v in enumerate(route_b):
            rest_b = route_b[:j] + route_b[j + 1:]
            new_a = min(([*rest_a[:k], v, *rest_a[k:]] for k in range(len(rest_a) + 1)), key=cost)
            new_b = min(([*rest_b[:k], u, *rest_b[k:]] for k in range(len(rest_b) + 1)), key=cost)
            delta = cost(new_a) + cost(new_b) - old
            if delta < best:
                best, best_a, best_b = delta, new_a, new_b
    return best, best_a, best_b
