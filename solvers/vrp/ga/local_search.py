"""Education: compiled local search over granular neighbourhoods (relocate, swap, 2-opt, 2-opt*).

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
"""

from __future__ import annotations

import numba as nb
import numpy as np

from solvers.vrp.ga.problem_arrays import ProblemArrays
from solvers.vrp.ga.route_eval import route_eval

_EPS = 1e-7


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
def _ls_kernel(routes: np.ndarray, rlen: np.ndarray, neighbours: np.ndarray, order: np.ndarray,
               dist: np.ndarray, dur: np.ndarray, demand: np.ndarray, early: np.ndarray, late: np.ndarray,
               service: np.ndarray, capacity: float, max_duration: float, has_tw: bool, symmetric: bool,
               pen_cap: float, pen_tw: float) -> int:
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
    improved = True
    while improved:
        improved = False
        for oi in range(order.size):
            u = order[oi]
            u_last = last_test[u]
            last_test[u] = moves
            for ni in range(n_neigh):
                v = neighbours[u, ni]
                if v <= 0:
                    continue
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
                        d1, l1, t1 = route_eval(buf1, m1, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
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
                        d1, l1, t1 = route_eval(buf1, mu, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
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
                        d1, l1, t1 = route_eval(buf1, m1, dist, dur, demand, early, late, service, max_duration,
                                                has_tw)
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
                    d1, l1, t1 = route_eval(buf1, m1, dist, dur, demand, early, late, service, max_duration, has_tw)
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
    return moves


@nb.njit(cache=True, nogil=True)
def _ls_packed(tour: np.ndarray, lens: np.ndarray, slots: int, neighbours: np.ndarray, order: np.ndarray,
               dist: np.ndarray, dur: np.ndarray, demand: np.ndarray, early: np.ndarray, late: np.ndarray,
               service: np.ndarray, capacity: float, max_duration: float, has_tw: bool, symmetric: bool,
               pen_cap: float, pen_tw: float) -> int:
    """Unpack routes from ``tour``/``lens``, search, and pack the non-empty routes back; returns their count."""
    n = tour.size
    routes = np.zeros((slots, n + 1), dtype=np.int64)
    rlen = np.zeros(slots, dtype=np.int64)
    pos = 0
    for r in range(lens.size):
        for k in range(lens[r]):
            routes[r, k] = tour[pos]
            pos += 1
        rlen[r] = lens[r]
    _ls_kernel(routes, rlen, neighbours, order, dist, dur, demand, early, late, service, capacity, max_duration,
               has_tw, symmetric, pen_cap, pen_tw)
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
    return count


def local_search(routes: list[np.ndarray], arrays: ProblemArrays, neighbours: np.ndarray,
                 rng: np.random.Generator, pen_cap: float, pen_tw: float) -> list[np.ndarray]:
    """Improve ``routes`` until no move of the neighbourhood lowers the penalised cost.

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

    Returns
    -------
    list of numpy.ndarray
        The improved non-empty routes.
    """
    n = arrays.n
    count = len(routes)
    slots = max(min(arrays.fleet, count + 1), count)
    tour = np.concatenate(routes).astype(np.int64, copy=False) if count else np.zeros(0, dtype=np.int64)
    lens = np.zeros(max(slots, 1), dtype=np.int64)
    lens[:count] = [r.size for r in routes]
    order = rng.permutation(n) + 1
    kept = _ls_packed(tour, lens, slots, neighbours, order, arrays.dist, arrays.dur, arrays.demand, arrays.early,
                      arrays.late, arrays.service, arrays.capacity, arrays.max_duration, arrays.has_tw,
                      arrays.symmetric, pen_cap, pen_tw)
    return np.split(tour, np.cumsum(lens[:kept - 1])) if kept else []
