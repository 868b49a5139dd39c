"""Exact reduction of a min-congestion routing problem along the bridges of the network.

A *bridge* is a link whose removal disconnects the (undirected) network; in the Topology Zoo
most networks have many (trees of access nodes hanging off a meshed core), and every host link
of a fabric is one. Every path from ``s`` to ``t`` crosses exactly the bridges on the path
between their 2-edge-connected components in the *bridge tree* (components as nodes, bridges as
links): a walk that leaves a component over a bridge can only come back over the same bridge,
to the same node, so no useful route does. Therefore:

* the load of every bridge is fixed in advance (the demand across it), and
* inside every 2-edge-connected component (a *block*) the flow of ``s -> t`` runs from the node
  where it enters the block to the node where it leaves it (``s`` / ``t`` themselves where they
  lie inside).

The minimum maximum utilisation is then ``max(max fixed utilisation, max over blocks of the
block's own optimum)``, and the blocks can be solved independently. The reduction needs every
bridge to be a single edge in each direction (parallel links are never bridges); blocks are the
components of the graph without its bridges.

:func:`assemble_paths` glues per-block path splits and bridge edges back into a
:class:`~planner.flows.FlowAssignment` of the original problem.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

import numba
import numpy as np
from scipy.sparse import csgraph

from planner.errors import InfeasibleError
from planner.flows import FlowAssignment, FlowRoutingProblem
from planner.graph.csr import Graph

#: Flow below this (relative to the largest demand) is treated as zero in path decompositions.
FLOW_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class Block:
    """One 2-edge-connected component with the demand induced on it.

    Parameters
    ----------
    nodes
        Dense indices (in the original graph) of its nodes, increasing.
    graph
        Its induced subgraph (local node indices ``0..len(nodes)-1``).
    edges
        Original edge index of every edge of ``graph``.
    sources, destinations, sizes
        Induced demands between local node indices (aggregated per pair, positive).
    """

    nodes: np.ndarray
    graph: Graph
    edges: np.ndarray
    sources: np.ndarray
    destinations: np.ndarray
    sizes: np.ndarray

    @property
    def capacity(self) -> np.ndarray:
        """Capacity of every edge of the block."""
        return np.asarray(self.graph.edge_attrs["capacity"], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Reduction:
    """A routing problem split along its bridges.

    Parameters
    ----------
    fixed_loads
        Load of every original edge that is a bridge (zero elsewhere).
    is_bridge
        Per original edge.
    component
        2-edge-connected component of every node.
    blocks
        The components with at least one internal edge and some demand.
    parent, up_edge, down_edge, cnode, pnode, depth
        The rooted bridge tree: per component its parent component (-1 at a root), the bridge
        edge towards the parent and back, its own end and the parent's end of that bridge,
        and its depth.
    """

    fixed_loads: np.ndarray
    is_bridge: np.ndarray
    component: np.ndarray
    blocks: list[Block]
    block_of_component: np.ndarray
    parent: np.ndarray
    up_edge: np.ndarray
    down_edge: np.ndarray
    cnode: np.ndarray
    pnode: np.ndarray
    depth: np.ndarray

    def fixed_utilisation(self, capacity: np.ndarray) -> float:
        """Largest utilisation among the bridges (a lower bound on the optimum)."""
        return float((self.fixed_loads / capacity).max(initial=0.0))


def check_connected(problem: FlowRoutingProblem) -> None:
    """Raise :class:`InfeasibleError` naming the first flow whose destination cannot be reached.

    Raises
    ------
    InfeasibleError
        ``flows[i]``: ``a -> b disconnected (no path)``.
    """
    wl = problem.workload
    if wl.n_flows == 0:
        return
    adj = problem.graph.to_scipy()
    _n, labels = csgraph.connected_components(adj, directed=True, connection="strong")
    bad = np.flatnonzero(labels[wl.sources] != labels[wl.destinations])
    for i in bad:  # different strong components: confirm by directed reachability
        reach = csgraph.breadth_first_order(adj, int(wl.sources[i]), directed=True, return_predecessors=False)
        if not np.isin(wl.destinations[i], reach):
            raise InfeasibleError(f"flows[{int(i)}]", f"{problem.flow_label(int(i))} disconnected (no path)")


def _bridges(graph: Graph) -> np.ndarray:
    """Per edge: whether it is a bridge with exactly one edge in each direction."""
    import networkx as nx

    tails, heads = graph.tails, graph.indices
    n = graph.n_nodes
    a, b = np.minimum(tails, heads), np.maximum(tails, heads)
    key = a * n + b
    uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    fwd = np.bincount(inv, weights=(tails < heads).astype(float), minlength=uniq.size)
    simple = nx.Graph()
    simple.add_nodes_from(range(n))
    simple.add_edges_from(zip((uniq // n).tolist(), (uniq % n).tolist(), strict=True))
    bridge_keys = np.array(sorted(min(u, v) * n + max(u, v) for u, v in nx.bridges(simple)), dtype=np.int64)
    single = (counts == 2) & (fwd == 1)  # one edge each way
    ok_keys = np.intersect1d(bridge_keys, uniq[single])
    return np.isin(key, ok_keys) & (tails != heads)


@numba.njit(cache=True)
def _walk(src, dst, size, comp, parent, depth, cnode, pnode, up_edge, down_edge, nontrivial,
          fixed, out_block, out_entry, out_exit, out_size, fill):
    """Walk every flow's bridge-tree path: add bridge loads to ``fixed`` and, when ``fill``,
    write the (component, entry, exit, size) segments of non-trivial components. Returns the
    number of segments."""
    count = 0
    for i in range(src.size):
        s, t, d = src[i], dst[i], size[i]
        a, b = comp[s], comp[t]
        entry_a, exit_b = s, t
        # climb the deeper side until both are at the same component
        _last_a, _last_b = -1, -1  # child component we came up from, per side
        while a != b:
            if depth[a] >= depth[b]:
                # leave component a upwards: segment entry_a -> cnode[a]
                if nontrivial[a] and entry_a != cnode[a]:
                    if fill:
                        out_block[count], out_entry[count], out_exit[count], out_size[count] = a, entry_a, cnode[a], d
                    count += 1
                fixed[up_edge[a]] += d
                entry_a = pnode[a]
                a = parent[a]
            else:
                if nontrivial[b] and cnode[b] != exit_b:
                    if fill:
                        out_block[count], out_entry[count], out_exit[count], out_size[count] = b, cnode[b], exit_b, d
                    count += 1
                fixed[down_edge[b]] += d
                exit_b = pnode[b]
                b = parent[b]
        if nontrivial[a] and entry_a != exit_b:
            if fill:
                out_block[count], out_entry[count], out_exit[count], out_size[count] = a, entry_a, exit_b, d
            count += 1
    return count


def reduce_problem(problem: FlowRoutingProblem) -> Reduction:
    """Split ``problem`` along its bridges (see the module notes).

    Raises
    ------
    InfeasibleError
        ``flows[i]: a -> b disconnected`` for the first flow without a path.
    """
    check_connected(problem)
    g, wl = problem.graph, problem.workload
    n, m = g.n_nodes, g.n_edges
    tails, heads = g.tails, g.indices
    is_bridge = _bridges(g) if m else np.zeros(0, dtype=bool)
    keep = ~is_bridge
    n_comp, comp = csgraph.connected_components(_adjacency(n, tails[keep], heads[keep]), directed=False)
    comp = comp.astype(np.int64)
    # bridge tree: BFS from the component of the lowest node of every tree
    bt, bh = tails[is_bridge], heads[is_bridge]
    be = np.flatnonzero(is_bridge)
    adj: list[list[tuple[int, int, int, int]]] = [[] for _ in range(n_comp)]
    for e, u, v in zip(be.tolist(), bt.tolist(), bh.tolist(), strict=True):
        adj[comp[u]].append((comp[v], u, v, e))  # component of v reached from u's over u -> v
    edge_of = {(int(u), int(v)): int(e) for e, u, v in zip(be, bt, bh, strict=True)}
    parent = np.full(n_comp, -1, dtype=np.int64)
    depth = np.zeros(n_comp, dtype=np.int64)
    cnode = np.full(n_comp, -1, dtype=np.int64)
    pnode = np.full(n_comp, -1, dtype=np.int64)
    up_edge = np.full(n_comp, -1, dtype=np.int64)
    down_edge = np.full(n_comp, -1, dtype=np.int64)
    seen = np.zeros(n_comp, dtype=bool)
    for root in range(n_comp):
        if seen[root]:
            continue
        seen[root] = True
        queue = deque([root])
        while queue:
            c = queue.popleft()
            for child, u, v, _e in adj[c]:
                if seen[child]:
                    continue
                seen[child] = True
                parent[child], depth[child] = c, depth[c] + 1
                cnode[child], pnode[child] = v, u
                up_edge[child] = edge_of.get((v, u), -1)
                down_edge[child] = _e
                queue.append(child)
    n_internal = np.bincount(comp[tails[keep]], minlength=n_comp) if m else np.zeros(n_comp, dtype=np.int64)
    nontrivial = n_internal > 0
    live = wl.sizes > 0
    src, dst, size = wl.sources[live], wl.destinations[live], wl.sizes[live]
    fixed = np.zeros(m + 1)  # last slot absorbs a missing reverse bridge edge (-1)
    empty_i = np.zeros(0, dtype=np.int64)
    count = _walk(src, dst, size, comp, parent, depth, cnode, pnode, up_edge, down_edge, nontrivial,
                  fixed, empty_i, empty_i, empty_i, np.zeros(0), False)
    out_block = np.empty(count, dtype=np.int64)
    out_entry = np.empty(count, dtype=np.int64)
    out_exit = np.empty(count, dtype=np.int64)
    out_size = np.empty(count)
    fixed[:] = 0.0
    _walk(src, dst, size, comp, parent, depth, cnode, pnode, up_edge, down_edge, nontrivial,
          fixed, out_block, out_entry, out_exit, out_size, True)
    blocks: list[Block] = []
    block_of_component = np.full(n_comp, -1, dtype=np.int64)
    order = np.argsort(out_block, kind="stable")
    bounds = np.flatnonzero(np.r_[True, out_block[order][1:] != out_block[order][:-1], True]) if count else [0]
    for lo, hi in itertools.pairwise(bounds):
        sel = order[lo:hi]
        c = int(out_block[sel[0]])
        nodes = np.flatnonzero(comp == c)
        local = np.full(n, -1, dtype=np.int64)
        local[nodes] = np.arange(nodes.size)
        sub, edges = g.subgraph(nodes)
        k = nodes.size
        key = local[out_entry[sel]] * k + local[out_exit[sel]]
        uniq, inv = np.unique(key, return_inverse=True)
        sizes = np.bincount(inv, weights=out_size[sel])
        block_of_component[c] = len(blocks)
        blocks.append(Block(nodes, sub, edges, uniq // k, uniq % k, sizes))
    return Reduction(fixed[:m].copy(), is_bridge, comp, blocks, block_of_component, parent, up_edge, down_edge,
                     cnode, pnode, depth)


def _adjacency(n: int, tails: np.ndarray, heads: np.ndarray):
    import scipy.sparse as sp

    return sp.coo_array((np.ones(tails.size), (tails, heads)), shape=(n, n)).tocsr()


def _bfs_path(indptr: np.ndarray, heads: np.ndarray, flow: np.ndarray, s: int, t: int,
              tol: float) -> list[int] | None:
    """Edge indices of a fewest-hop ``s -> t`` path over edges carrying more than ``tol``."""
    pred = {s: -1}
    pred_node = {s: -1}
    queue = deque([s])
    while queue:
        u = queue.popleft()
        if u == t:
            break
        for e in range(indptr[u], indptr[u + 1]):
            v = int(heads[e])
            if flow[e] > tol and v not in pred:
                pred[v], pred_node[v] = e, u
                queue.append(v)
    if t not in pred:
        return None
    path, v = [], t
    while v != s:
        path.append(pred[v])
        v = pred_node[v]
    return path[::-1]


def decompose_block(block: Block, commodity_nodes: np.ndarray, commodity_flow: np.ndarray,
                    by: str) -> dict[tuple[int, int], tuple[list[np.ndarray], np.ndarray]]:
    """Paths (original edge indices) and fractions of every induced demand of a block.

    Parameters
    ----------
    block
        The block.
    commodity_nodes
        Local node of every aggregated commodity (its source, or destination when ``by`` is
        ``"destination"``).
    commodity_flow
        ``(n_commodities, n_block_edges)`` edge flow of every commodity.
    by
        ``"source"`` or ``"destination"``.

    Returns
    -------
    dict
        ``(entry, exit)`` (original node indices) -> (paths, fractions summing to 1).
    """
    g = block.graph
    indptr, heads = g.indptr, g.indices
    tol = FLOW_TOL * max(1.0, float(block.sizes.max(initial=0.0)))
    index = {int(c): k for k, c in enumerate(commodity_nodes)}
    residual = np.array(commodity_flow, dtype=np.float64, copy=True)
    out: dict[tuple[int, int], tuple[list[np.ndarray], np.ndarray]] = {}
    for a, z, total in zip(block.sources.tolist(), block.destinations.tolist(), block.sizes.tolist(), strict=True):
        f = residual[index[a if by == "source" else z]]
        paths, amounts, left = [], [], total
        while left > tol:
            p = _bfs_path(indptr, heads, f, a, z, tol)
            if p is None:
                break
            amount = min(left, float(f[p].min()))
            f[p] -= amount
            paths.append(block.edges[np.asarray(p, dtype=np.int64)])
            amounts.append(amount)
            left -= amount
        if not paths:  # numerically empty: fewest-hop path
            p = _bfs_path(indptr, heads, np.ones(g.n_edges), a, z, 0.5) or []
            paths, amounts = [block.edges[np.asarray(p, dtype=np.int64)]], [1.0]
        arr = np.asarray(amounts)
        out[(int(block.nodes[a]), int(block.nodes[z]))] = (paths, arr / arr.sum())
    return out


def _couple(segments: list[tuple[list[np.ndarray], np.ndarray]]) -> tuple[list[np.ndarray], list[float]]:
    """Join consecutive segments' path splits into whole paths (north-west corner coupling:
    each segment keeps its split, at most ``sum(k_i) - len + 1`` paths)."""
    paths: list[list[np.ndarray]] = [[]]
    fracs = [1.0]
    for seg_paths, seg_fracs in segments:
        if len(seg_paths) == 1:
            paths = [[*p, seg_paths[0]] for p in paths]
            continue
        new_paths, new_fracs = [], []
        i = j = 0
        left_i, left_j = fracs[0], float(seg_fracs[0])
        while i < len(paths) and j < len(seg_paths):
            take = min(left_i, left_j)
            if take > 1e-15:
                new_paths.append(paths[i] + [seg_paths[j]])
                new_fracs.append(take)
            left_i -= take
            left_j -= take
            if left_i <= 1e-15:
                i += 1
                left_i = fracs[i] if i < len(paths) else 0.0
            if left_j <= 1e-15:
                j += 1
                left_j = float(seg_fracs[j]) if j < len(seg_paths) else 0.0
        paths, fracs = new_paths, new_fracs
    total = sum(fracs)
    return [np.concatenate(p) if p else np.zeros(0, dtype=np.int64) for p in paths], [f / total for f in fracs]


def assemble_paths(problem: FlowRoutingProblem, reduction: Reduction,
                   splits: dict[tuple[int, int], tuple[list[np.ndarray], np.ndarray]], *,
                   solver: str, stats: dict) -> FlowAssignment:
    """Whole paths of every flow from the per-block splits of :func:`decompose_block` (all
    blocks' dicts merged) and the bridges between them.

    Raises
    ------
    InfeasibleError
        ``pair[...]`` if a block split is missing (should not happen after a solve).
    """
    g, wl = problem.graph, problem.workload
    comp, parent, depth = reduction.component, reduction.parent, reduction.depth
    cnode, pnode, up_e, down_e = reduction.cnode, reduction.pnode, reduction.up_edge, reduction.down_edge
    nontrivial = reduction.block_of_component >= 0
    ids = g.node_ids

    def seg(c: int, u: int, v: int) -> tuple[list[np.ndarray], np.ndarray]:
        if u == v:
            return [np.zeros(0, dtype=np.int64)], np.ones(1)
        if (u, v) not in splits:
            if not nontrivial[c]:
                raise InfeasibleError(f"pair[{ids[u]}->{ids[v]}]", "no route inside its component")
            raise InfeasibleError(f"pair[{ids[u]}->{ids[v]}]", "the block solution carries nothing for it")
        return splits[(u, v)]

    cache: dict[tuple[int, int], tuple[list[np.ndarray], list[float]]] = {}
    all_paths: list[list[np.ndarray]] = []
    all_fracs: list[list[float]] = []
    for i in range(wl.n_flows):
        s, t = int(wl.sources[i]), int(wl.destinations[i])
        if wl.sizes[i] <= 0:  # carries nothing: any fewest-hop path
            p = _bfs_path(g.indptr, g.indices, np.ones(g.n_edges), s, t, 0.5) or []
            all_paths.append([np.asarray(p, dtype=np.int64)])
            all_fracs.append([1.0])
            continue
        if (s, t) in cache:
            p, f = cache[(s, t)]
            all_paths.append(p)
            all_fracs.append(f)
            continue
        a, b = int(comp[s]), int(comp[t])
        head: list[tuple[list[np.ndarray], np.ndarray]] = []
        tail: list[tuple[list[np.ndarray], np.ndarray]] = []
        ea, xb = s, t
        while a != b:
            if depth[a] >= depth[b]:
                head.append(seg(a, ea, int(cnode[a])))
                head.append(([np.array([up_e[a]], dtype=np.int64)], np.ones(1)))
                ea, a = int(pnode[a]), int(parent[a])
            else:
                tail.append(([np.array([down_e[b]], dtype=np.int64)], np.ones(1)))
                tail.append(seg(b, int(cnode[b]), xb))
                xb, b = int(pnode[b]), int(parent[b])
        p, f = _couple([*head, seg(a, ea, xb), *tail[::-1]])
        cache[(s, t)] = (p, f)
        all_paths.append(p)
        all_fracs.append(f)
    return FlowAssignment.from_paths(problem, all_paths, all_fracs, solver=solver, stats=stats)
