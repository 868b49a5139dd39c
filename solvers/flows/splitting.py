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


def _assemble(problem: FlowRoutingProblem, ix: LeafSpineIndex, spine_lists: list[np.ndarray],
              frac_lists: list[np.ndarray], pieces: np.ndarray, solver: str, stats: dict) -> FlowAssignment:
    """FlowAssignment from per-flow spine choices (empty for same-leaf flows)."""
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
    return _assemble(problem, ix, spines, fracs, pieces, "spray", {"time_s": clock.elapsed()})


def theorem1_pieces(r: int, s: int) -> int:
    """Pieces per flow by Theorem 1: ``s / gcd(r, s)`` (1 when ``r == 0``)."""
    return 1 if r <= 0 else s // math.gcd(r, s)


def _euler_halves(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a bipartite multigraph (count matrix, rows = left) into two halves so that every
    vertex's degree is split as evenly as possible (difference at most 1)."""
    h1 = M // 2
    h2 = M // 2
    odd_r, odd_c = np.nonzero(M % 2)
    if odd_r.size == 0:
        return h1, h2
    nl = M.shape[0]
    adj: dict[int, set[int]] = {}
    for r, c in zip(odd_r.tolist(), odd_c.tolist(), strict=True):
        adj.setdefault(r, set()).add(nl + c)
        adj.setdefault(nl + c, set()).add(r)
    order = sorted(adj, key=lambda v: -(len(adj[v]) % 2))  # odd-degree vertices first
    for start in order:
        while adj.get(start):
            v, colour = start, 0
            while adj.get(v):
                w = adj[v].pop()
                adj[w].discard(v)
                r, c = (v, w - nl) if v < nl else (w, v - nl)
                (h1 if colour == 0 else h2)[r, c] += 1
                colour ^= 1
                v = w
    return h1, h2


def _colour(M: np.ndarray, colours: int) -> np.ndarray:
    """``(colours, L, L)`` counts: an equitable colouring of the piece multigraph ``M``."""
    if colours == 1:
        return M[None]
    if colours % 2 == 0:
        h1, h2 = _euler_halves(M)
        return np.concatenate([_colour(h1, colours // 2), _colour(h2, colours // 2)])
    # odd: peel one colour greedily with ~1/colours of every row and column, then recurse
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


def minimal_split(problem: FlowRoutingProblem, budget: Budget) -> FlowAssignment:
    """Minimal flow splitting (Theorem 1 of arXiv 2407.00550, balanced at both ends).

    Every cross-leaf flow from leaf ``a`` is cut into ``s / gcd(r_a, s)`` pieces (``r_a``: the
    cross-leaf flows of leaf ``a``); pieces get spines by an equitable colouring of the
    leaf-to-leaf piece multigraph; same-spine pieces of a flow share one path.
    ``stats["theorem1_pieces"]`` holds the Theorem 1 count of every flow.
    """
    clock = budget.start()
    ix = leaf_spine_index(problem)
    a, b, cross = _cross(problem, ix)
    S, L = ix.spines, ix.leaves
    r = np.bincount(a[cross], minlength=L)
    k_theorem = np.array([theorem1_pieces(int(x), S) for x in r], dtype=np.int64)
    target = _spray_congestion(problem, ix, a, b, cross)
    # first Theorem 1's pieces at every leaf; where mixed piece sizes leave a downlink above
    # the spraying bound, one common piece count (the lcm of Theorem 1's, a divisor of s)
    k_common = int(np.lcm.reduce(k_theorem[np.unique(a[cross])])) if cross.any() else 1
    attempts = [k_theorem, np.full(L, k_common, dtype=np.int64)]
    for attempt, k_leaf in enumerate(attempts):
        result = _split_with(problem, ix, a, b, cross, k_leaf)
        if result.max_congestion <= target * (1 + 1e-9) or attempt == len(attempts) - 1:
            break
    k = np.where(cross, k_theorem[a], 1)
    stats = {"time_s": clock.elapsed(), "theorem1_pieces": k, "cross_flows_per_leaf": r,
             "spray_congestion": target, "common_pieces": attempt == 1}
    return FlowAssignment(result.loads, result.flow_ptr, result.path_ptr, result.path_edges, result.fractions,
                          result.max_congestion, result.pieces_per_flow, "minimal-split", stats)


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
    return _assemble(problem, ix, spine_lists, frac_lists, k, "minimal-split", {})


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
    return _assemble(problem, ix, spine_lists, frac_lists, np.ones(n, dtype=np.int64), "single-path",
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
         description="Minimal flow splitting (Theorem 1 of arXiv 2407.00550, balanced both ends)",
         capabilities=["split", "leaf-spine"])
