"""Flow-splitting policies on leaf-spine fabrics: ideal packet spraying, ECMP with x-way hashed
splitting (MP-RDMA-x), best single path per flow, and minimal flow splitting.

Minimal splitting follows Theorem 1 of "Challenging the Need for Packet Spraying in Large-Scale
Distributed Training" (arXiv 2407.00550): a leaf with ``r`` equal cross-leaf flows over ``s``
spines, ``g = gcd(r, s)``, cuts every flow into ``s / g`` equal pieces and puts ``r / g`` pieces
on every uplink, so every uplink carries exactly what ideal spraying would. The generalisation
here balances the *downlinks* too: all pieces of the fabric form a bipartite multigraph (source
leaf -> destination leaf, one edge per piece, every flow cut into the ``s / g`` pieces of its
source leaf) which is coloured with ``s`` colours (spines) by recursive Euler splitting, so that
every leaf sends and receives an equal number of pieces through every spine whenever its piece
count is a multiple of ``s`` (always true on the sending side by construction). The pieces of one
flow that land on the same spine are merged into one path (its fraction a multiple of
``1 / pieces``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numba
import numpy as np

from planner.budget import Budget
from planner.errors import ValidationError
from planner.flows import FlowAssignment, FlowRoutingProblem, Workload
from planner.registry import ProblemKind, register


@dataclass(frozen=True, eq=False)
class LeafSpineIndex:
    """Edge indices of a complete leaf-spine fabric graph.

    Parameters
    ----------
    spines, leaves
        Counts.
    host_leaf
        Leaf number (0-based) of every node (-1 for switches).
    up, down
        ``up[l, s]``: edge leaf ``l`` -> spine ``s``; ``down[s, l]`` the reverse.
    host_up, host_down
        Per node: edge host -> its leaf and leaf -> host (-1 for switches).
    """

    spines: int
    leaves: int
    host_leaf: np.ndarray
    up: np.ndarray
    down: np.ndarray
    host_up: np.ndarray
    host_down: np.ndarray


def leaf_spine_index(problem: FlowRoutingProblem) -> LeafSpineIndex:
    """Recover the leaf-spine structure of ``problem.graph`` (built by ``leaf_spine``).

    Raises
    ------
    ValidationError
        ``graph`` if it is not a complete leaf-spine fabric (e.g. after a link failure: use
        ``lp`` or ``mwu`` there), or ``flows[i]`` if a flow does not run host to host.
    """
    g = problem.graph
    meta = g.metadata
    if meta.get("fabric") != "leaf-spine":
        raise ValidationError("graph", "this policy needs a leaf-spine fabric (use lp, mwu or ecmp elsewhere)")
    S, L, H = int(meta["spines"]), int(meta["leaves"]), int(meta["hosts_per_leaf"])
    n = g.n_nodes
    tails, heads = g.tails, g.indices
    up = np.full((L, S), -1, dtype=np.int64)
    down = np.full((S, L), -1, dtype=np.int64)
    host_up = np.full(n, -1, dtype=np.int64)
    host_down = np.full(n, -1, dtype=np.int64)
    e = np.arange(g.n_edges)
    is_spine = tails < S
    is_leaf_t = (tails >= S) & (tails < S + L)
    m = is_leaf_t & (heads < S)
    up[tails[m] - S, heads[m]] = e[m]
    m = is_spine & (heads >= S) & (heads < S + L)
    down[tails[m], heads[m] - S] = e[m]
    m = tails >= S + L
    host_up[tails[m]] = e[m]
    m = heads >= S + L
    host_down[heads[m]] = e[m]
    hosts = np.arange(S + L, n)
    if (up < 0).any() or (down < 0).any() or (host_up[hosts] < 0).any() or (host_down[hosts] < 0).any():
        raise ValidationError("graph", f"not a complete leaf-spine fabric ({meta.get('failed', 'links missing')});"
                                       " use lp or mwu to route around failures")
    host_leaf = np.full(n, -1, dtype=np.int64)
    host_leaf[hosts] = (hosts - S - L) // H
    wl = problem.workload
    for key, arr in (("source", wl.sources), ("destination", wl.destinations)):
        bad = np.flatnonzero(host_leaf[arr] < 0)
        if bad.size:
            raise ValidationError(f"flows[{int(bad[0])}].{key}", f"{g.node_ids[arr[bad[0]]]} is not a host")
    return LeafSpineIndex(S, L, host_leaf, up, down, host_up, host_down)


def route_over_spines(problem: FlowRoutingProblem, ix: LeafSpineIndex, spine_lists: list[np.ndarray],
                      frac_lists: list[np.ndarray], pieces: np.ndarray, solver: str, stats: dict) -> FlowAssignment:
    """FlowAssignment from per-flow spine choices and fractions (empty for same-leaf flows)."""
    wl = problem.workload
    s_host, d_host = wl.sources, wl.destinations
    a, b = ix.host_leaf[s_host], ix.host_leaf[d_host]
    counts = np.array([max(1, sl.size) for sl in spine_lists], dtype=np.int64)
    flow_ptr = np.r_[0, np.cumsum(counts)]
    n_paths = int(flow_ptr[-1])
    flow_of = np.repeat(np.arange(wl.n_flows), counts)
    spine = np.concatenate([sl if sl.size else np.array([-1]) for sl in spine_lists]).astype(np.int64)
    frac = np.concatenate([fl if fl.size else np.array([1.0]) for fl in frac_lists])
    cross = spine >= 0
    length = np.where(cross, 4, 2)
    path_ptr = np.r_[0, np.cumsum(length)]
    edges = np.empty(int(path_ptr[-1]), dtype=np.int64)
    start = path_ptr[:-1]
    fa, fb = a[flow_of], b[flow_of]
    edges[start] = ix.host_up[s_host[flow_of]]
    sp_safe = np.maximum(spine, 0)
    edges[start[cross] + 1] = ix.up[fa[cross], sp_safe[cross]]
    edges[start[cross] + 2] = ix.down[sp_safe[cross], fb[cross]]
    edges[start + length - 1] = ix.host_down[d_host[flow_of]]
    assert n_paths == frac.size
    return FlowAssignment.from_flat(problem, flow_ptr, path_ptr, edges, frac, pieces, solver=solver, stats=stats)


def _cross(problem: FlowRoutingProblem, ix: LeafSpineIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    wl = problem.workload
    a, b = ix.host_leaf[wl.sources], ix.host_leaf[wl.destinations]
    return a, b, (a != b) & (wl.sizes > 0)


def spray(problem: FlowRoutingProblem, budget: Budget) -> FlowAssignment:
    """Ideal packet spraying (fluid): every cross-leaf flow split equally over all spines."""
    clock = budget.start()
    ix = leaf_spine_index(problem)
    _, _, cross = _cross(problem, ix)
    S = ix.spines
    all_s, eq = np.arange(S), np.full(S, 1.0 / S)
    empty = np.zeros(0, dtype=np.int64)
    spines = [all_s if c else empty for c in cross]
    fracs = [eq if c else np.zeros(0) for c in cross]
    pieces = np.where(cross, S, 1)
    return route_over_spines(problem, ix, spines, fracs, pieces, "spray", {"time_s": clock.elapsed()})


def theorem1_pieces(r: int, s: int) -> int:
    """Pieces per flow by Theorem 1: ``s / gcd(r, s)`` (1 when ``r == 0``)."""
    return 1 if r <= 0 else s // math.gcd(r, s)


def _units(sizes: np.ndarray) -> np.ndarray:
    """Sizes as integer multiples of their greatest common unit (sizes rounded to 1e-9)."""
    ints = np.round(np.asarray(sizes, dtype=np.float64) * 1e9).astype(np.int64)
    g = int(np.gcd.reduce(ints)) if ints.size else 1
    return ints // max(g, 1)


def theorem1_bound(sizes: np.ndarray, s: int) -> np.ndarray:
    """Theorem 1 at one leaf, generalised to unequal flows: pieces of every flow.

    With equal flows, ``r`` of them over ``s`` spines, every flow is cut into ``s / gcd(r, s)``
    pieces. Unequal flows are measured in their greatest common unit ``u`` (flow ``i`` is
    ``m_i`` units, ``R = sum m_i``): Theorem 1 on the ``R`` unit flows cuts every unit into
    ``s / gcd(R, s)`` pieces, so flow ``i`` needs at most ``min(s, m_i s / gcd(R, s))`` pieces
    (pieces of one flow on one spine merge, so never more than ``s``). Equal flows give
    ``s / gcd(r, s)`` back.
    """
    m = _units(sizes)
    if m.size == 0:
        return np.zeros(0, dtype=np.int64)
    R = int(m.sum())
    return np.minimum(s, m * (s // math.gcd(R, s))).astype(np.int64)


def _euler_halves(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a bipartite multigraph (count matrix, rows = left) into two halves so that every
    vertex's degree is split as evenly as possible (difference at most 1).

    Even multiplicities split in two; the odd remainder is a simple bipartite graph whose
    odd-degree vertices are joined to a dummy vertex, and every closed trail of the resulting
    even graph is coloured alternately, trails through the dummy first (only those can be of
    odd length), so every real vertex ends balanced up to its one dummy edge.
    """
    h1 = M // 2
    h2 = M // 2
    odd_r, odd_c = np.nonzero(M % 2)
    if odd_r.size == 0:
        return h1, h2
    nl, nr = M.shape
    dummy = nl + nr
    ends = [(int(r), nl + int(c)) for r, c in zip(odd_r, odd_c, strict=True)]
    degree = np.bincount(np.array(ends).ravel(), minlength=dummy + 1)
    ends += [(v, dummy) for v in np.flatnonzero(degree[:dummy] % 2).tolist()]
    incident: list[list[int]] = [[] for _ in range(dummy + 1)]
    for e, (u, v) in enumerate(ends):
        incident[u].append(e)
        incident[v].append(e)
    used = [False] * len(ends)
    pos = [0] * (dummy + 1)

    def next_edge(v: int) -> int:
        lst = incident[v]
        while pos[v] < len(lst) and used[lst[pos[v]]]:
            pos[v] += 1
        return lst[pos[v]] if pos[v] < len(lst) else -1

    for start in [dummy, *range(dummy)]:
        while next_edge(start) >= 0:
            v, colour = start, 0
            while (e := next_edge(v)) >= 0:
                used[e] = True
                u, w = ends[e]
                if w != dummy:
                    (h1 if colour == 0 else h2)[u, w - nl] += 1
                colour ^= 1
                v = w if v == u else u
    return h1, h2


def _colour(M: np.ndarray, colours: int) -> np.ndarray:
    """``(colours, L, L)`` counts: an equitable colouring of the piece multigraph ``M`` (exact
    for a power-of-two number of colours; odd factors are peeled greedily)."""
    if colours == 1:
        return M[None]
    if colours % 2 == 0:
        h1, h2 = _euler_halves(M)
        return np.concatenate([_colour(h1, colours // 2), _colour(h2, colours // 2)])
    out = np.zeros((colours, *M.shape), dtype=np.int64)
    rest = M.copy()
    for c in range(colours - 1, 0, -1):
        take = np.zeros_like(rest)
        row_quota = -(-rest.sum(1) // (c + 1))
        col_quota = -(-rest.sum(0) // (c + 1))
        for r, q in sorted(enumerate(row_quota), key=lambda t: -t[1]):
            for col in np.argsort(-(rest[r] - take[r])):
                if q <= 0:
                    break
                room = min(q, int(rest[r, col] - take[r, col]), int(col_quota[col] - take[:, col].sum()))
                if room > 0:
                    take[r, col] += room
                    q -= room
        out[c] = take
        rest -= take
    out[0] = rest
    return out


def _slack_pieces(count: int, size: float, capacity: float, target: float, s: int) -> int:
    """Fewest equal pieces ``K`` per flow so that ``count`` flows of ``size``, cut into ``K``
    pieces spread evenly (``ceil(count K / s)`` pieces on the fullest link), stay within
    ``target`` utilisation on ``s`` links of ``capacity``. Theorem 1's ``s / gcd`` always
    qualifies when ``target`` is the leaf's own spraying load; more slack needs fewer."""
    if count == 0:
        return 1
    limit = target * capacity * (1 + 1e-12)
    for k in range(1, s + 1):
        if -(-count * k // s) * size / k <= limit:
            return k
    return theorem1_pieces(count, s)


def minimal_split(problem: FlowRoutingProblem, budget: Budget) -> FlowAssignment:
    """Minimal flow splitting reaching the spraying (= LP) optimum, Theorem 1 of arXiv
    2407.00550 applied per leaf on the flows that actually cross it.

    The optimum ``U`` on a complete leaf-spine fabric is ideal spraying's congestion. Every leaf
    gets the fewest pieces per flow that keep its uplinks (source side) and downlinks
    (destination side) within ``U`` - at a bottleneck leaf exactly Theorem 1's
    ``s / gcd(r, s)``, fewer where the leaf has slack. Strategies, first success kept:

    1. ``common``: equal flows, one piece count ``K`` for all (the largest leaf need), spines by
       an equitable colouring of the leaf-to-leaf piece multigraph (every leaf's pieces spread
       within one per spine) - used when no flow gets more pieces than its Theorem 1 bound;
    2. ``greedy``: every flow cut into the larger of its two leaves' needs, pieces placed
       largest first on the spines keeping both ends lowest;
    3. ``greedy-theorem1``: the same with every flow cut into its Theorem 1 bound;
    4. ``common`` regardless of the bound, then ``spray`` (always optimal).

    ``stats``: ``theorem1_pieces`` (per flow, the larger of its source and destination
    leaves' Theorem 1 counts, generalised to unequal flows by :func:`theorem1_bound`),
    ``within_theorem1``, ``strategy``, ``spray_congestion``.
    """
    clock = budget.start()
    ix = leaf_spine_index(problem)
    a, b, cross = _cross(problem, ix)
    wl = problem.workload
    S, L = ix.spines, ix.leaves
    cap = problem.capacity
    target = _spray_congestion(problem, ix, a, b, cross)
    flows = np.flatnonzero(cross)
    bound = np.ones(wl.n_flows, dtype=np.int64)
    for side in (a, b):
        for leaf in np.unique(side[flows]):
            mine = flows[side[flows] == leaf]
            bound[mine] = np.maximum(bound[mine], theorem1_bound(wl.sizes[mine], S))
    sizes = wl.sizes[flows]
    equal = flows.size == 0 or bool(np.allclose(sizes, sizes[0], rtol=1e-12, atol=0))
    need_up = np.ones(L, dtype=np.int64)
    need_down = np.ones(L, dtype=np.int64)
    if equal and flows.size:
        w = float(sizes[0])
        r = np.bincount(a[flows], minlength=L)
        q = np.bincount(b[flows], minlength=L)
        for leaf in range(L):
            need_up[leaf] = _slack_pieces(int(r[leaf]), w, float(cap[ix.up[leaf]].min()), target, S)
            need_down[leaf] = _slack_pieces(int(q[leaf]), w, float(cap[ix.down[:, leaf]].min()), target, S)
    else:
        need_up[:] = S
        need_down[:] = S
        for side, need in ((a, need_up), (b, need_down)):
            for leaf in np.unique(side[flows]):
                need[leaf] = int(bound[flows[side[flows] == leaf]].max())
    per_flow = np.where(cross, np.maximum(need_up[a], need_down[b]), 1)
    per_flow = np.minimum(per_flow, bound)
    common = int(per_flow[flows].max(initial=1))
    attempts: list[tuple[str, np.ndarray | None]] = []
    if equal and np.all(bound[flows] >= common):
        attempts.append(("common", np.full(L, common, dtype=np.int64)))
    attempts += [("greedy", per_flow), ("greedy-theorem1", np.where(cross, bound, 1))]
    if equal:
        attempts.append(("common", np.full(L, common, dtype=np.int64)))
    attempts.append(("spray", None))
    for name, k in attempts:
        if name == "spray":
            result = spray(problem, budget)
        elif name == "common":
            result = _split_with(problem, ix, a, b, cross, k)
        else:
            result = _greedy_split(problem, ix, a, b, cross, k, target)
        if result.max_congestion <= target * (1 + 1e-9):
            break
    pieces = result.pieces_per_flow
    stats = {"time_s": clock.elapsed(), "theorem1_pieces": bound, "strategy": name,
             "within_theorem1": bool(np.all(pieces[flows] <= bound[flows])), "spray_congestion": target}
    return FlowAssignment(result.loads, result.flow_ptr, result.path_ptr, result.path_edges, result.fractions,
                          result.max_congestion, pieces, "minimal-split", stats)


@numba.njit(cache=True)
def _place_pieces(order, fa, fb, k, size, up_cap, down_cap, limit, chosen):
    """Greedy placement of every flow's ``k`` equal pieces on distinct spines (lowest larger
    end utilisation, then lowest sum), then repair: a piece on an overloaded link moves to a
    spine with room at both ends. ``chosen[f, :k[f]]`` gets the spines. Returns the number of
    links still above ``limit``."""
    L, S = up_cap.shape
    up = np.zeros((L, S))
    down = np.zeros((S, L))
    used = np.zeros(S, dtype=np.bool_)
    for f in order:
        p = size[f] / k[f]
        a, b = fa[f], fb[f]
        used[:] = False
        for c in range(k[f]):
            best, best_max, best_sum = -1, np.inf, np.inf
            for j in range(S):
                if used[j]:
                    continue
                u = (up[a, j] + p) / up_cap[a, j]
                d = (down[j, b] + p) / down_cap[j, b]
                hi = max(u, d)
                if hi < best_max - 1e-12 or (hi <= best_max + 1e-12 and u + d < best_sum):
                    best, best_max, best_sum = j, hi, u + d
            used[best] = True
            chosen[f, c] = best
            up[a, best] += p
            down[best, b] += p
    for _sweep in range(50):
        moved = False
        bad = 0
        for f in order:
            p = size[f] / k[f]
            a, b = fa[f], fb[f]
            for c in range(k[f]):
                j = chosen[f, c]
                if up[a, j] <= limit * up_cap[a, j] and down[j, b] <= limit * down_cap[j, b]:
                    continue
                bad += 1
                for j2 in range(S):
                    taken = False
                    for c2 in range(k[f]):
                        if chosen[f, c2] == j2:
                            taken = True
                    if taken:
                        continue
                    if up[a, j2] + p <= limit * up_cap[a, j2] and down[j2, b] + p <= limit * down_cap[j2, b]:
                        up[a, j] -= p
                        down[j, b] -= p
                        up[a, j2] += p
                        down[j2, b] += p
                        chosen[f, c] = j2
                        moved = True
                        break
        if bad == 0 or not moved:
            break
    over = 0
    for a in range(L):
        for j in range(S):
            if up[a, j] > limit * up_cap[a, j]:
                over += 1
            if down[j, a] > limit * down_cap[j, a]:
                over += 1
    return over


def _greedy_split(problem: FlowRoutingProblem, ix: LeafSpineIndex, a: np.ndarray, b: np.ndarray,
                  cross: np.ndarray, k: np.ndarray, target: float) -> FlowAssignment:
    """Cut flow ``i`` into ``k[i]`` equal pieces on distinct spines: largest pieces first on
    the spines where the larger of uplink and downlink utilisation stays lowest, then pieces
    on links above ``target`` moved to spines with room at both ends."""
    wl = problem.workload
    cap = problem.capacity
    S = ix.spines
    n = wl.n_flows
    flows = np.flatnonzero(cross)
    piece = wl.sizes[flows] / k[flows]
    order = flows[np.lexsort((flows, -piece))].astype(np.int64)
    chosen = np.full((n, S), -1, dtype=np.int64)
    _place_pieces(order, a.astype(np.int64), b.astype(np.int64), k.astype(np.int64), wl.sizes,
                  np.ascontiguousarray(cap[ix.up]), np.ascontiguousarray(cap[ix.down]), target * (1 + 1e-12), chosen)
    spine_lists: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n
    frac_lists: list[np.ndarray] = [np.zeros(0)] * n
    for i in flows:
        kk = int(k[i])
        spine_lists[i] = np.sort(chosen[i, :kk])
        frac_lists[i] = np.full(kk, 1.0 / kk)
    return route_over_spines(problem, ix, spine_lists, frac_lists, np.where(cross, k, 1), "minimal-split", {})


def _spray_congestion(problem: FlowRoutingProblem, ix: LeafSpineIndex, a: np.ndarray, b: np.ndarray,
                      cross: np.ndarray) -> float:
    """Maximum congestion of ideal spraying (the LP optimum on a complete uniform fabric)."""
    wl = problem.workload
    cap = problem.capacity
    loads = np.bincount(ix.host_up[wl.sources], wl.sizes, problem.graph.n_edges)
    loads += np.bincount(ix.host_down[wl.destinations], wl.sizes, problem.graph.n_edges)
    S = ix.spines
    out = np.bincount(a[cross], wl.sizes[cross], ix.leaves) / S
    inn = np.bincount(b[cross], wl.sizes[cross], ix.leaves) / S
    loads[ix.up] += out[:, None]
    loads[ix.down] += inn[None, :]
    return float((loads / cap).max(initial=0.0))


def _split_with(problem: FlowRoutingProblem, ix: LeafSpineIndex, a: np.ndarray, b: np.ndarray,
                cross: np.ndarray, k_leaf: np.ndarray) -> FlowAssignment:
    """Every cross flow from leaf ``l`` cut into ``k_leaf[l]`` pieces, spines by an equitable
    colouring of the piece multigraph; a flow's pieces on one spine share its path."""
    S, L = ix.spines, ix.leaves
    k = np.where(cross, k_leaf[a], 1)
    M = np.zeros((L, L), dtype=np.int64)
    np.add.at(M, (a[cross], b[cross]), k[cross])
    C = _colour(M, S)  # (S, L, L)
    flows = np.flatnonzero(cross)
    order = flows[np.lexsort((flows, b[flows], a[flows]))]
    spine_lists: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * problem.workload.n_flows
    frac_lists: list[np.ndarray] = [np.zeros(0)] * problem.workload.n_flows
    pair = a[order] * L + b[order]
    bounds = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1], True])
    for lo, hi in itertools.pairwise(bounds):
        fa, fb = int(a[order[lo]]), int(b[order[lo]])
        seq = np.repeat(np.arange(S), C[:, fa, fb])
        kk = int(k_leaf[fa])
        for j, i in enumerate(order[lo:hi]):
            chunk = seq[j * kk:(j + 1) * kk]
            sp_ids, cnt = np.unique(chunk, return_counts=True)
            spine_lists[i] = sp_ids
            frac_lists[i] = cnt / kk
    return route_over_spines(problem, ix, spine_lists, frac_lists, k, "minimal-split", {})


def single_path(problem: FlowRoutingProblem, budget: Budget) -> FlowAssignment:
    """Best single path per flow (greedy): flows in decreasing size pick the spine that keeps
    the larger of their uplink and downlink utilisation lowest (ties: lowest spine)."""
    clock = budget.start()
    ix = leaf_spine_index(problem)
    a, b, cross = _cross(problem, ix)
    cap = problem.capacity
    wl = problem.workload
    up_load = np.zeros((ix.leaves, ix.spines))
    down_load = np.zeros((ix.spines, ix.leaves))
    up_cap = cap[ix.up]
    down_cap = cap[ix.down]
    n = wl.n_flows
    spine_lists: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n
    frac_lists: list[np.ndarray] = [np.zeros(0)] * n
    one = np.ones(1)
    for i in np.flatnonzero(cross)[np.argsort(-wl.sizes[cross], kind="stable")]:
        w, fa, fb = wl.sizes[i], a[i], b[i]
        cost = np.maximum((up_load[fa] + w) / up_cap[fa], (down_load[:, fb] + w) / down_cap[:, fb])
        s = int(np.argmin(cost))
        up_load[fa, s] += w
        down_load[s, fb] += w
        spine_lists[i] = np.array([s])
        frac_lists[i] = one
    return route_over_spines(problem, ix, spine_lists, frac_lists, np.ones(n, dtype=np.int64), "single-path",
                     {"time_s": clock.elapsed()})


def ecmp_x(problem: FlowRoutingProblem, budget: Budget, ways: int = 8) -> FlowAssignment:
    """ECMP with x-way hashed splitting (MP-RDMA-x): every flow is cut into ``ways`` equal
    subflows, each hashed onto its own ECMP path (per-hop hashing, seed ``budget.seed``);
    subflows that collide on one path share it. Works on any graph."""
    from solvers.flows.ecmp import EcmpRouter

    if ways < 1:
        raise ValidationError("ways", f"must be at least 1 ({ways})")
    clock = budget.start()
    wl = problem.workload
    n = wl.n_flows
    rep = Workload(np.repeat(wl.sources, ways), np.repeat(wl.destinations, ways), np.repeat(wl.sizes / ways, ways))
    path_ptr, path_edges = EcmpRouter(FlowRoutingProblem(problem.graph, rep)).route(budget.seed)
    paths: list[list[np.ndarray]] = []
    fracs: list[list[float]] = []
    for i in range(n):
        seen: dict[bytes, list] = {}
        for j in range(i * ways, (i + 1) * ways):
            p = path_edges[path_ptr[j]:path_ptr[j + 1]]
            key = p.tobytes()
            if key in seen:
                seen[key][1] += 1.0 / ways
            else:
                seen[key] = [p, 1.0 / ways]
        paths.append([v[0] for v in seen.values()])
        fracs.append([v[1] for v in seen.values()])
    return FlowAssignment.from_paths(problem, paths, fracs, np.full(n, ways, dtype=np.int64),
                                     solver=f"ecmp-{ways}", stats={"seed": budget.seed, "time_s": clock.elapsed()})


def ecmp_8(problem: FlowRoutingProblem, budget: Budget) -> FlowAssignment:
    """:func:`ecmp_x` with 8 ways (the registered ``ecmp-x``)."""
    return ecmp_x(problem, budget, 8)


_KINDS = [ProblemKind.FABRIC_ROUTING]
register("spray", _KINDS, spray, description="Ideal packet spraying (fluid) over all spines",
         capabilities=["split", "leaf-spine"], baseline=True)
register("ecmp-x", [ProblemKind.FABRIC_ROUTING, ProblemKind.TRAFFIC_ENGINEERING], ecmp_8,
         description="ECMP with 8-way hashed splitting (MP-RDMA-8)", capabilities=["randomized", "split"],
         baseline=True)
register("single-path", _KINDS, single_path, description="Best single path per flow (greedy, largest first)",
         capabilities=["unsplit", "leaf-spine"])
register("minimal-split", _KINDS, minimal_split,
         description="Minimal flow splitting to the LP optimum (Theorem 1 of arXiv 2407.00550 per leaf)",
         capabilities=["split", "leaf-spine"])
