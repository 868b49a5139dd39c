"""The demand-routing environment of Almasan et al. (DRL+GNN, arXiv:1910.07421).

Demands arrive one at a time between node pairs of a network whose undirected links all have
the same capacity (200 in the paper). For every demand a policy picks one of the ``k`` shortest
candidate paths of its (source, destination) pair; the demand's bandwidth is taken from every
link of the path. The episode ends at the first demand whose chosen path does not fit (some
link would go below zero). The score of an episode is the number of demands routed.

Conventions (from the paper's public environment, ``environment1.py``)
------------------------------------------------------------------------
* Links are undirected; both directions share one capacity. Links are numbered in the order of
  their sorted ``(min(u, v), max(u, v))`` node-index pairs.
* Candidate paths of a pair: the ``k`` simple paths with the fewest hops, ties broken by the
  node-index sequence (lexicographic), as the paper's ``sorted(..., key=(len, path))``.
* Demands: bandwidth uniform over ``demand_sizes`` (8, 32, 64), source uniform over the nodes,
  destination uniform over the other nodes.
* Link betweenness feature: the number of candidate paths (over all ordered pairs) crossing a
  link, divided by ``2 n (n - 1) k``, then standardised over the links.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from planner.errors import ValidationError
from planner.graph.csr import Graph

#: Link capacity of the paper's environment.
PAPER_CAPACITY = 200.0
#: Demand bandwidths of the paper's environment.
PAPER_DEMANDS = (8.0, 32.0, 64.0)
#: Candidate paths per demand in the paper.
PAPER_K = 4


@dataclass(frozen=True)
class EnvConfig:
    """Parameters of the routing environment.

    Parameters
    ----------
    capacity
        Capacity of every link (both directions share it).
    demand_sizes
        Bandwidths a demand draws from, uniformly.
    k
        Candidate paths per (source, destination) pair.
    """

    capacity: float = PAPER_CAPACITY
    demand_sizes: tuple[float, ...] = PAPER_DEMANDS
    k: int = PAPER_K

    def __post_init__(self) -> None:
        if not (isinstance(self.capacity, int | float) and math.isfinite(self.capacity) and self.capacity > 0):
            raise ValidationError("capacity", f"must be positive and finite ({self.capacity})")
        if not isinstance(self.k, int | np.integer) or isinstance(self.k, bool) or self.k < 1:
            raise ValidationError("k", f"must be an integer >= 1 ({self.k!r})")
        if len(self.demand_sizes) == 0:
            raise ValidationError("demand_sizes", "empty")
        for i, d in enumerate(self.demand_sizes):
            if not (math.isfinite(d) and d > 0):
                raise ValidationError(f"demand_sizes[{i}]", f"must be positive and finite ({d})")

    @property
    def max_demand(self) -> float:
        """The largest demand bandwidth (the paper's reward unit)."""
        return float(max(self.demand_sizes))


def _undirected_links(graph: Graph) -> np.ndarray:
    """``(m, 2)`` sorted unique ``(u, v)`` pairs, ``u < v``, of a graph's edges (self-loops dropped)."""
    tails, heads = graph.tails, graph.heads
    a, b = np.minimum(tails, heads), np.maximum(tails, heads)
    keep = a != b
    n = graph.n_nodes
    keys = np.unique(a[keep].astype(np.int64) * n + b[keep])
    return np.stack([keys // n, keys % n], axis=1)


#: Search steps of the bounded depth-first search per pair before Yen's algorithm takes over.
DFS_STEP_LIMIT = 20_000


def k_shortest_paths(adjacency: list[list[int]], source: int, target: int, k: int,
                     hops_to_target: np.ndarray) -> list[list[int]]:
    """The ``k`` simple paths with the fewest hops from ``source`` to ``target``.

    Ties are broken by the node sequence (lexicographic). A depth-first search bounded by
    ``bound`` hops (pruned with the hop distance to the target) lists every path of at most
    ``bound`` hops; the bound grows from the shortest distance until ``k`` paths are found or
    no longer path exists. Where that search would take more than :data:`DFS_STEP_LIMIT` steps
    (pairs with few paths behind a bridge of a large network), Yen's algorithm
    (``networkx.shortest_simple_paths``) lists the paths instead, up to every path as short as
    the ``k``-th, with the same ordering.

    Parameters
    ----------
    adjacency
        Sorted neighbour lists.
    source, target
        Node indices, distinct.
    k
        Paths wanted.
    hops_to_target
        Hop distance of every node to ``target`` (``-1`` where unreachable).

    Returns
    -------
    list of list of int
        Up to ``k`` node sequences, fewest hops first.
    """
    if hops_to_target[source] < 0:
        return []
    found = _bounded_dfs(adjacency, source, target, k, hops_to_target)
    if found is None:
        found = _yen(adjacency, source, target, k)
    found.sort(key=lambda p: (len(p), p))
    return found[:k]


def _bounded_dfs(adjacency: list[list[int]], source: int, target: int, k: int,
                 hops_to_target: np.ndarray) -> list[list[int]] | None:
    n = len(adjacency)
    bound = int(hops_to_target[source])
    found: list[list[int]] = []
    steps = 0
    while bound < n:
        found = []
        path = [source]
        on_path = np.zeros(n, dtype=bool)
        on_path[source] = True
        stack: list[Iterator[int]] = [iter(adjacency[source])]
        while stack:
            steps += 1
            if steps > DFS_STEP_LIMIT:
                return None
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                on_path[path.pop()] = False
                continue
            if on_path[nxt]:
                continue
            hops = len(path)  # hops after stepping to nxt
            d = hops_to_target[nxt]
            if d < 0 or hops + d > bound:
                continue
            if nxt == target:
                found.append([*path, target])
                continue
            path.append(nxt)
            on_path[nxt] = True
            stack.append(iter(adjacency[nxt]))
        if len(found) >= k:
            break
        bound += 1
    return found


def _yen(adjacency: list[list[int]], source: int, target: int, k: int) -> list[list[int]]:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(len(adjacency)))
    g.add_edges_from((u, v) for u, nbrs in enumerate(adjacency) for v in nbrs if u < v)
    found: list[list[int]] = []
    for p in nx.shortest_simple_paths(g, source, target):
        if len(found) >= k and len(p) > len(found[k - 1]):
            break
        found.append(p)
    return found


def _bfs_hops(adjacency: list[list[int]], target: int) -> np.ndarray:
    dist = np.full(len(adjacency), -1, dtype=np.int64)
    dist[target] = 0
    frontier = [target]
    while frontier:
        nxt = []
        for u in frontier:
            for v in adjacency[u]:
                if dist[v] < 0:
                    dist[v] = dist[u] + 1
                    nxt.append(v)
        frontier = nxt
    return dist


@dataclass(frozen=True, eq=False)
class RoutingNetwork:
    """A topology prepared for the routing environment: links, candidate paths, link features.

    Parameters
    ----------
    name
        Name of the topology.
    n_nodes
        Number of nodes.
    links
        ``(m, 2)`` node indices of every undirected link, ``u < v``, sorted.
    k
        Candidate paths per pair.
    path_links
        ``(n * n, k, L)`` link indices of candidate path ``j`` of pair ``s * n + t``, ``-1``
        padded; ``L`` is the longest candidate path's hop count.
    path_count
        ``(n * n,)`` number of candidate paths of every pair (0 on the diagonal).
    path_nodes
        Node sequences of the candidate paths, keyed by ``(s, t)``.
    betweenness
        ``(m,)`` standardised link betweenness (see the module notes).
    line_src, line_dst
        Directed edges of the line graph: link ``line_src[i]`` sends a message to link
        ``line_dst[i]`` when they share an end node.
    """

    name: str
    n_nodes: int
    links: np.ndarray
    k: int
    path_links: np.ndarray
    path_count: np.ndarray
    path_nodes: dict[tuple[int, int], list[list[int]]] = field(repr=False)
    betweenness: np.ndarray = field(repr=False)
    line_src: np.ndarray = field(repr=False)
    line_dst: np.ndarray = field(repr=False)

    @property
    def n_links(self) -> int:
        """Number of undirected links."""
        return int(self.links.shape[0])

    def candidates(self, source: int, target: int) -> np.ndarray:
        """``(count, L)`` link indices (``-1`` padded) of the candidate paths of a pair."""
        p = source * self.n_nodes + target
        return self.path_links[p, : self.path_count[p]]

    @classmethod
    def from_graph(cls, graph: Graph, k: int = PAPER_K, name: str | None = None) -> RoutingNetwork:
        """Prepare a graph (directed edges read as undirected links) for the environment.

        Raises
        ------
        ValidationError
            If ``k < 1``, the graph has fewer than 2 nodes or no link, or it is not connected.
        """
        EnvConfig(k=k)
        n = graph.n_nodes
        if n < 2:
            raise ValidationError("graph.n_nodes", f"needs at least 2 nodes ({n})")
        links = _undirected_links(graph)
        m = links.shape[0]
        if m == 0:
            raise ValidationError("graph.edges", "no link")
        adjacency: list[list[int]] = [[] for _ in range(n)]
        for u, v in links.tolist():
            adjacency[u].append(v)
            adjacency[v].append(u)
        for nbrs in adjacency:
            nbrs.sort()
        link_of = {}
        for i, (u, v) in enumerate(links.tolist()):
            link_of[(u, v)] = i
            link_of[(v, u)] = i

        paths: dict[tuple[int, int], list[list[int]]] = {}
        for t in range(n):
            hops = _bfs_hops(adjacency, t)
            if (hops < 0).any():
                raise ValidationError("graph", f"not connected (node {int(np.argmin(hops))} cannot reach node {t}); "
                                               "take the largest component first")
            for s in range(n):
                if s != t:
                    paths[(s, t)] = k_shortest_paths(adjacency, s, t, k, hops)
        longest = max(len(p) - 1 for ps in paths.values() for p in ps)
        path_links = np.full((n * n, k, longest), -1, dtype=np.int64)
        path_count = np.zeros(n * n, dtype=np.int64)
        crossings = np.zeros(m, dtype=np.float64)
        for (s, t), ps in paths.items():
            path_count[s * n + t] = len(ps)
            for j, p in enumerate(ps):
                ids = [link_of[(a, b)] for a, b in itertools.pairwise(p)]
                path_links[s * n + t, j, : len(ids)] = ids
                crossings[ids] += 1.0
        raw = crossings / (2.0 * n * (n - 1) * k)
        std = raw.std()
        betweenness = (raw - raw.mean()) / std if std > 0 else np.zeros(m)

        # line graph: links sharing an end node exchange messages
        src, dst = [], []
        incident: list[list[int]] = [[] for _ in range(n)]
        for i, (u, v) in enumerate(links.tolist()):
            incident[u].append(i)
            incident[v].append(i)
        for i, (u, v) in enumerate(links.tolist()):
            for end in (u, v):
                for j in incident[end]:
                    if j != i:
                        src.append(j)
                        dst.append(i)
        return cls(
            name=name if name is not None else (graph.name or "graph"),
            n_nodes=n, links=links, k=k, path_links=path_links, path_count=path_count, path_nodes=paths,
            betweenness=betweenness.astype(np.float32),
            line_src=np.asarray(src, dtype=np.int64), line_dst=np.asarray(dst, dtype=np.int64),
        )


@dataclass(frozen=True)
class Demand:
    """One demand: source and destination node indices and bandwidth."""

    source: int
    target: int
    bandwidth: float


class DemandStream:
    """The seeded, endless demand sequence of one episode.

    The same ``(seed, episode)`` gives the same sequence, whatever the policy does, so
    policies can be compared on identical episodes.
    """

    def __init__(self, n_nodes: int, demand_sizes: tuple[float, ...], seed: int, episode: int, chunk: int = 256):
        self._rng = np.random.default_rng([int(seed), int(episode)])
        self._n = n_nodes
        self._sizes = np.asarray(demand_sizes, dtype=np.float64)
        self._chunk = chunk
        self._buffer: list[tuple[int, int, float]] = []
        self._pos = 0

    def _refill(self) -> None:
        n, c = self._n, self._chunk
        src = self._rng.integers(0, n, size=c)
        # uniform over the other nodes: shift a draw over n - 1 values past the source
        dst = self._rng.integers(0, n - 1, size=c)
        dst = dst + (dst >= src)
        size = self._sizes[self._rng.integers(0, self._sizes.size, size=c)]
        self._buffer = list(zip(src.tolist(), dst.tolist(), size.tolist(), strict=True))
        self._pos = 0

    def next(self) -> Demand:
        """The next demand."""
        if self._pos >= len(self._buffer):
            self._refill()
        s, t, b = self._buffer[self._pos]
        self._pos += 1
        return Demand(s, t, b)


class RoutingEnv:
    """One episode of demand routing on a :class:`RoutingNetwork`.

    Parameters
    ----------
    network
        The prepared topology.
    config
        Capacity and demand sizes (its ``k`` must not exceed ``network.k``).
    seed, episode
        Select the demand sequence (see :class:`DemandStream`).
    """

    def __init__(self, network: RoutingNetwork, config: EnvConfig | None = None, *, seed: int = 0, episode: int = 0):
        config = config or EnvConfig(k=network.k)
        if config.k > network.k:
            raise ValidationError("config.k", f"exceeds the network's candidate paths ({config.k} > {network.k})")
        self.network = network
        self.config = config
        self.seed = int(seed)
        self.episode = int(episode)
        self.remaining = np.full(network.n_links, float(config.capacity))
        self._stream = DemandStream(network.n_nodes, config.demand_sizes, seed, episode)
        self.demand: Demand = self._stream.next()
        self.routed = 0
        self.routed_bandwidth = 0.0
        self.done = False

    def candidates(self) -> np.ndarray:
        """``(count, L)`` link indices (``-1`` padded) of the current demand's candidate paths."""
        c = self.network.candidates(self.demand.source, self.demand.target)
        return c[: self.config.k]

    def fits(self) -> np.ndarray:
        """``(count,)`` whether each candidate path has room for the current demand."""
        return path_fits(self.remaining, self.candidates(), self.demand.bandwidth)

    def step(self, action: int) -> tuple[float, bool]:
        """Route the current demand on candidate ``action``.

        Returns
        -------
        reward, done
            ``bandwidth / max_demand`` and False if it fitted (the next demand is drawn),
            else 0 and True (the episode is over and the capacities are unchanged).

        Raises
        ------
        ValidationError
            If the episode is over or ``action`` is not a candidate index.
        """
        if self.done:
            raise ValidationError("action", "the episode is over")
        cand = self.candidates()
        if not (0 <= int(action) < cand.shape[0]):
            raise ValidationError("action", f"must be in [0, {cand.shape[0]}) ({action})")
        links = cand[int(action)]
        links = links[links >= 0]
        bw = self.demand.bandwidth
        if np.any(self.remaining[links] < bw):
            self.done = True
            return 0.0, True
        self.remaining[links] -= bw
        self.routed += 1
        self.routed_bandwidth += bw
        self.demand = self._stream.next()
        return bw / self.config.max_demand, False


def path_fits(remaining: np.ndarray, candidates: np.ndarray, bandwidth: float) -> np.ndarray:
    """Whether each padded candidate path (rows of link indices, ``-1`` padding) has room."""
    room = np.where(candidates >= 0, remaining[np.maximum(candidates, 0)], np.inf)
    return room.min(axis=1) >= bandwidth
