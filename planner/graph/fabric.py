"""Datacenter fabrics: leaf-spine (2-tier Clos) and k-ary fat-tree generators, and link/node
failures on any graph.

A :class:`Fabric` is a :class:`~planner.graph.csr.Graph` with every cable stored as two directed
edges (one each way) plus the role of every node. Edge attributes:

``capacity``
    Link rate in Gb/s (float64).
``layer``
    Which tier the cable belongs to (int8): :data:`LAYER_HOST` (host to leaf / edge switch),
    :data:`LAYER_LEAF_SPINE` (leaf to spine / edge to aggregation), :data:`LAYER_CORE`
    (aggregation to core, fat-tree only).
``up``
    1 for the direction towards the core (host to leaf, leaf to spine, ...), 0 for the other.

Node names (the graph's ``node_ids``):

* leaf-spine: ``spine{s}``, ``leaf{l}``, ``host{l}-{h}`` (host ``h`` of leaf ``l``);
* fat-tree: ``core{c}``, ``agg{p}-{i}``, ``edge{p}-{i}``, ``host{p}-{e}-{h}`` (pod ``p``).

Dense node order: the top tier first (spines / cores), then aggregation, then leaves / edge
switches, then hosts in leaf-major order, so ``fabric.hosts`` is increasing and the hosts of one
leaf are consecutive.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.errors import ValidationError
from planner.graph.csr import Graph

#: Node role codes (``Fabric.roles``).
ROLE_HOST, ROLE_LEAF, ROLE_SPINE, ROLE_EDGE, ROLE_AGGREGATION, ROLE_CORE = range(6)
#: Name of every role code, indexed by code.
ROLE_NAMES: tuple[str, ...] = ("host", "leaf", "spine", "edge", "aggregation", "core")

#: Edge layer codes (edge attribute ``layer``).
LAYER_HOST, LAYER_LEAF_SPINE, LAYER_CORE = 0, 1, 2
#: Name of every layer code, indexed by code.
LAYER_NAMES: tuple[str, ...] = ("host", "leaf-spine", "core")


@dataclass(frozen=True, eq=False)
class Fabric:
    """A datacenter fabric: the graph, node roles and the host-to-leaf attachment.

    Parameters
    ----------
    graph
        Directed graph, every cable as two edges, with edge attributes ``capacity`` (Gb/s),
        ``layer`` and ``up``.
    roles
        ``int8`` role code of every node (see :data:`ROLE_NAMES`).
    hosts
        Dense indices of the hosts, increasing.
    host_leaf
        ``host_leaf[i]`` is the dense index of the leaf (or fat-tree edge switch) that host
        ``hosts[i]`` hangs off.
    kind
        ``"leaf-spine"`` or ``"fat-tree"``.
    parameters
        The generator's arguments (counts and link rates).

    Raises
    ------
    ValidationError
        If the arrays do not fit the graph.
    """

    graph: Graph
    roles: np.ndarray
    hosts: np.ndarray
    host_leaf: np.ndarray
    kind: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.graph.n_nodes
        roles = np.ascontiguousarray(self.roles, dtype=np.int8)
        hosts = np.ascontiguousarray(self.hosts, dtype=np.int64)
        host_leaf = np.ascontiguousarray(self.host_leaf, dtype=np.int64)
        if roles.shape != (n,):
            raise ValidationError("roles", f"length {roles.shape} != {n} nodes")
        if roles.size and (roles.min() < 0 or roles.max() >= len(ROLE_NAMES)):
            raise ValidationError("roles", f"role code outside 0..{len(ROLE_NAMES) - 1}")
        if hosts.ndim != 1 or host_leaf.shape != hosts.shape:
            raise ValidationError("host_leaf", f"shape {host_leaf.shape} != hosts shape {hosts.shape}")
        if hosts.size and (hosts.min() < 0 or hosts.max() >= n or np.any(roles[hosts] != ROLE_HOST)):
            raise ValidationError("hosts", "must be dense indices of nodes with role host")
        if host_leaf.size and (host_leaf.min() < 0 or host_leaf.max() >= n):
            raise ValidationError("host_leaf", f"node index outside 0..{n - 1}")
        for key in ("capacity", "layer"):
            if key not in self.graph.edge_attrs:
                raise ValidationError(f"graph.edge_attrs[{key!r}]", "missing")
        object.__setattr__(self, "roles", roles)
        object.__setattr__(self, "hosts", hosts)
        object.__setattr__(self, "host_leaf", host_leaf)
        object.__setattr__(self, "parameters", dict(self.parameters))

    @property
    def n_hosts(self) -> int:
        """Number of hosts."""
        return int(self.hosts.size)

    def nodes_with_role(self, role: int | str) -> np.ndarray:
        """Dense indices of the nodes with ``role`` (a code or a name from :data:`ROLE_NAMES`)."""
        if isinstance(role, str):
            if role not in ROLE_NAMES:
                raise ValidationError("role", f"unknown role {role!r} (known: {', '.join(ROLE_NAMES)})")
            role = ROLE_NAMES.index(role)
        return np.flatnonzero(self.roles == role)

    def role_of(self, node: int) -> str:
        """Role name of the node with dense index ``node``."""
        return ROLE_NAMES[int(self.roles[node])]

    def leaf_of_host(self, node: int) -> int:
        """Dense index of the leaf (edge switch) of the host with dense index ``node``."""
        i = int(np.searchsorted(self.hosts, node))
        if i >= self.hosts.size or self.hosts[i] != node:
            raise ValidationError("node", f"{self.graph.node_ids[node]!r} is not a host")
        return int(self.host_leaf[i])


# ---------------------------------------------------------------------- validation helpers
def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValidationError(name, f"must be an integer, got {value!r}")
    if value < 1:
        raise ValidationError(name, f"must be positive ({value})")
    return int(value)


def _positive_rate(name: str, value: Any) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ValidationError(name, f"must be a number, got {value!r}") from None
    if not (rate > 0 and math.isfinite(rate)):
        raise ValidationError(name, f"must be positive and finite ({value})")
    return rate


def _build(
    n_nodes: int,
    cables: list[tuple[np.ndarray, np.ndarray, float, int]],
    names: np.ndarray,
    name: str,
    metadata: Mapping[str, Any],
) -> Graph:
    """Graph with every cable (lower, upper, rate, layer) as an up edge and a down edge."""
    tails, heads, caps, layers, ups = [], [], [], [], []
    for lower, upper, rate, layer in cables:
        m = lower.size
        tails += [lower, upper]
        heads += [upper, lower]
        caps.append(np.full(2 * m, rate))
        layers.append(np.full(2 * m, layer, dtype=np.int8))
        ups.append(np.repeat(np.array([1, 0], dtype=np.int8), m))
    return Graph.from_edges(
        n_nodes,
        np.concatenate(tails),
        np.concatenate(heads),
        {"capacity": np.concatenate(caps), "layer": np.concatenate(layers), "up": np.concatenate(ups)},
        node_ids=names,
        name=name,
        metadata=metadata,
    )


# ---------------------------------------------------------------------- generators
def leaf_spine(
    spines: int,
    leaves: int,
    hosts_per_leaf: int,
    *,
    host_link_gbps: float = 100.0,
    uplink_gbps: float | None = None,
    oversubscription: float | None = None,
) -> Fabric:
    """A two-tier leaf-spine fabric: every leaf connects to every spine by one link.

    Parameters
    ----------
    spines, leaves, hosts_per_leaf
        Counts, all positive.
    host_link_gbps
        Rate of every host-to-leaf link, Gb/s.
    uplink_gbps
        Rate of every leaf-to-spine link, Gb/s. Default: the host link rate (unless
        ``oversubscription`` is given).
    oversubscription
        Host bandwidth per leaf divided by uplink bandwidth per leaf; the uplink rate is then
        ``hosts_per_leaf * host_link_gbps / (spines * oversubscription)``. Give at most one of
        ``uplink_gbps`` and ``oversubscription``.

    Returns
    -------
    Fabric
        Nodes ``spine0..`` first, then ``leaf0..``, then ``host{l}-{h}`` leaf-major.

    Raises
    ------
    ValidationError
        Naming the parameter: a non-positive count or rate, or both uplink options given.
    """
    S = _positive_int("spines", spines)
    L = _positive_int("leaves", leaves)
    H = _positive_int("hosts_per_leaf", hosts_per_leaf)
    host_rate = _positive_rate("host_link_gbps", host_link_gbps)
    if uplink_gbps is not None and oversubscription is not None:
        raise ValidationError("oversubscription", "give either uplink_gbps or oversubscription, not both")
    if oversubscription is not None:
        ratio = _positive_rate("oversubscription", oversubscription)
        uplink = H * host_rate / (S * ratio)
    elif uplink_gbps is not None:
        uplink = _positive_rate("uplink_gbps", uplink_gbps)
    else:
        uplink = host_rate
    n = S + L + L * H
    spine_idx = np.arange(S, dtype=np.int64)
    leaf_idx = S + np.arange(L, dtype=np.int64)
    host_idx = S + L + np.arange(L * H, dtype=np.int64)
    host_leaf = np.repeat(leaf_idx, H)
    names = np.array(
        [f"spine{s}" for s in range(S)] + [f"leaf{j}" for j in range(L)]
        + [f"host{j}-{h}" for j in range(L) for h in range(H)]
    )
    roles = np.empty(n, dtype=np.int8)
    roles[spine_idx], roles[leaf_idx], roles[host_idx] = ROLE_SPINE, ROLE_LEAF, ROLE_HOST
    params = {"spines": S, "leaves": L, "hosts_per_leaf": H, "host_link_gbps": host_rate,
              "uplink_gbps": uplink, "oversubscription": H * host_rate / (S * uplink)}
    graph = _build(
        n,
        [(host_idx, host_leaf, host_rate, LAYER_HOST),
         (np.repeat(leaf_idx, S), np.tile(spine_idx, L), uplink, LAYER_LEAF_SPINE)],
        names,
        f"leaf-spine {S}x{L}x{H}",
        {"fabric": "leaf-spine", **params},
    )
    return Fabric(graph, roles, host_idx, host_leaf, "leaf-spine", params)


def fat_tree(k: int, link_gbps: float = 100.0) -> Fabric:
    """The standard k-ary fat tree (Al-Fares et al., SIGCOMM 2008).

    ``k`` pods, each with ``k/2`` edge and ``k/2`` aggregation switches (complete bipartite
    inside the pod); ``(k/2)^2`` core switches, aggregation switch ``i`` of every pod connecting
    to cores ``i*k/2 .. i*k/2 + k/2 - 1``; ``k/2`` hosts per edge switch, ``k^3/4`` hosts in all.
    Every switch has ``k`` ports, every link the same rate.

    Parameters
    ----------
    k
        Switch port count, even and at least 2.
    link_gbps
        Rate of every link, Gb/s.

    Raises
    ------
    ValidationError
        Naming the parameter: ``k`` odd or below 2, a non-positive rate.
    """
    k = _positive_int("k", k)
    if k % 2 or k < 2:
        raise ValidationError("k", f"must be even and at least 2 ({k})")
    rate = _positive_rate("link_gbps", link_gbps)
    half = k // 2
    n_core, n_pod_sw = half * half, k * half
    core = np.arange(n_core, dtype=np.int64)
    agg = n_core + np.arange(n_pod_sw, dtype=np.int64)  # agg p-i = agg[p*half + i]
    edge = n_core + n_pod_sw + np.arange(n_pod_sw, dtype=np.int64)
    hosts = n_core + 2 * n_pod_sw + np.arange(n_pod_sw * half, dtype=np.int64)
    n = int(hosts[-1]) + 1
    pods = np.arange(k)
    # edge e of pod p -- agg i of pod p, for all e, i
    p, e, i = np.meshgrid(pods, np.arange(half), np.arange(half), indexing="ij")
    edge_agg = (edge[(p * half + e).ravel()], agg[(p * half + i).ravel()])
    # agg i of pod p -- core i*half + j
    p, i, j = np.meshgrid(pods, np.arange(half), np.arange(half), indexing="ij")
    agg_core = (agg[(p * half + i).ravel()], core[(i * half + j).ravel()])
    host_leaf = np.repeat(edge, half)
    names = np.array(
        [f"core{c}" for c in range(n_core)]
        + [f"agg{p}-{i}" for p in range(k) for i in range(half)]
        + [f"edge{p}-{i}" for p in range(k) for i in range(half)]
        + [f"host{p}-{e}-{h}" for p in range(k) for e in range(half) for h in range(half)]
    )
    roles = np.empty(n, dtype=np.int8)
    roles[core], roles[agg], roles[edge], roles[hosts] = ROLE_CORE, ROLE_AGGREGATION, ROLE_EDGE, ROLE_HOST
    params = {"k": k, "link_gbps": rate}
    graph = _build(
        n,
        [(hosts, host_leaf, rate, LAYER_HOST), (*edge_agg, rate, LAYER_LEAF_SPINE),
         (*agg_core, rate, LAYER_CORE)],
        names,
        f"fat-tree k={k}",
        {"fabric": "fat-tree", **params},
    )
    return Fabric(graph, roles, hosts, host_leaf, "fat-tree", params)


# ---------------------------------------------------------------------- failures
def _without_edges(graph: Graph, drop: np.ndarray, note: str) -> Graph:
    keep = ~drop
    tails = graph.tails[keep]
    indptr = np.zeros(graph.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=graph.n_nodes), out=indptr[1:])
    failed = (*graph.metadata.get("failed", ()), note)
    return Graph(
        indptr, graph.indices[keep], {k: v[keep] for k, v in graph.edge_attrs.items()},
        graph.node_ids, graph.coords, graph.node_attrs, graph.name,
        {**graph.metadata, "failed": failed},
    )


def fail_links(
    graph: Graph,
    links: Iterable[int | tuple[Hashable, Hashable]],
    *,
    both_directions: bool = True,
) -> Graph:
    """The graph without the given links; nodes (and their dense indices) are unchanged.

    Parameters
    ----------
    graph
        Any graph (a fabric's or a topology's).
    links
        Each an edge index (``int``) or a ``(tail, head)`` pair of external node ids (e.g.
        ``("leaf0", "spine3")``); a pair removes every parallel edge between the two.
    both_directions
        Also remove the reverse edges (a cut cable fails both ways).

    Raises
    ------
    ValidationError
        ``links[i]`` naming a link that does not exist.
    """
    drop = np.zeros(graph.n_edges, dtype=bool)
    tails, heads = graph.tails, graph.indices
    notes = []
    for i, link in enumerate(links):
        if isinstance(link, int | np.integer) and not isinstance(link, bool):
            if not 0 <= link < graph.n_edges:
                raise ValidationError(f"links[{i}]", f"edge index {link} outside 0..{graph.n_edges - 1}")
            u, v = int(tails[link]), int(heads[link])
        else:
            try:
                a, b = link
                u, v = graph.index_of(a), graph.index_of(b)
            except (TypeError, ValueError, LookupError) as exc:
                raise ValidationError(f"links[{i}]", f"not an edge index or a (tail, head) pair: {exc}") from None
        hit = (tails == u) & (heads == v)
        if both_directions:
            hit |= (tails == v) & (heads == u)
        if not hit.any():
            raise ValidationError(f"links[{i}]", f"no link {graph.node_ids[u]} -> {graph.node_ids[v]}")
        drop |= hit
        notes.append(f"{graph.node_ids[u]}->{graph.node_ids[v]}")
    return _without_edges(graph, drop, "links " + ", ".join(notes))


def fail_node(graph: Graph, node: Hashable) -> Graph:
    """The graph without any edge into or out of ``node`` (an external id); the node stays, so
    dense indices are unchanged.

    Raises
    ------
    ValidationError
        ``node`` naming an unknown node.
    """
    try:
        u = graph.index_of(node)
    except LookupError as exc:
        raise ValidationError("node", str(exc)) from None
    drop = (graph.tails == u) | (graph.indices == u)
    return _without_edges(graph, drop, f"node {node}")
