"""Synthetic traffic: collective-communication workloads on fabrics, demand matrices on
topologies. No data needed; every random choice comes from ``seed``.

Fabric workloads (:class:`~planner.flows.Workload` over the fabric's dense node indices):

* :func:`ring_allreduce` - rank ``r`` sends to rank ``r + 1`` (mod the number of ranks), the
  traffic of one step of ring all-reduce;
* :func:`all_to_all` - every rank sends to every other rank;
* :func:`permutation` - every host sends to one other host, a uniformly random derangement.

Ranks are placed on hosts by ``placement``: ``"locality"`` (rank ``r`` on the ``r``-th host in
leaf-major order, so neighbouring ranks share a leaf), ``"strided"`` (round-robin over the
leaves: rank ``r`` on leaf ``r mod L``, so every ring flow crosses the spine layer) or
``"random"`` (a uniformly random injective placement).

Topology demands (:class:`~planner.flows.DemandMatrix` over the topology's nodes, zero
diagonal, summing to ``total``): :func:`gravity_demands`, :func:`uniform_demands`,
:func:`random_demands`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from planner.errors import ValidationError
from planner.flows import DemandMatrix, Workload
from planner.graph.csr import Graph
from planner.graph.fabric import Fabric

Placement = Literal["locality", "strided", "random"]

#: Placements :func:`place_ranks` knows.
PLACEMENTS: tuple[str, ...] = ("locality", "strided", "random")


def _check_size(size: float) -> float:
    value = float(size)
    if not (value >= 0 and math.isfinite(value)):
        raise ValidationError("size", f"must be non-negative and finite ({size})")
    return value


def place_ranks(fabric: Fabric, ranks: int | None = None, placement: Placement = "locality",
                seed: int = 0) -> np.ndarray:
    """Dense node index of the host of every rank.

    Parameters
    ----------
    fabric
        The fabric.
    ranks
        Number of ranks, at most the number of hosts (default: all hosts).
    placement
        ``"locality"``, ``"strided"`` or ``"random"`` (see the module notes).
    seed
        Seed of the random placement.

    Raises
    ------
    ValidationError
        ``ranks`` outside ``2..n_hosts`` or an unknown ``placement``.
    """
    n_hosts = fabric.n_hosts
    r = n_hosts if ranks is None else ranks
    if isinstance(r, bool) or not isinstance(r, int | np.integer) or not 2 <= r <= n_hosts:
        raise ValidationError("ranks", f"must be an integer in 2..{n_hosts} (hosts), got {ranks!r}")
    if placement == "locality":
        order = np.arange(n_hosts)
    elif placement == "strided":
        # slot = position of a host among the hosts of its leaf; visit leaves round-robin
        _, leaf_rank = np.unique(fabric.host_leaf, return_inverse=True)
        counts = np.bincount(leaf_rank)
        by_leaf = np.argsort(leaf_rank, kind="stable")
        slot = np.empty(n_hosts, dtype=np.int64)
        slot[by_leaf] = np.arange(n_hosts) - np.repeat(np.cumsum(counts) - counts, counts)
        order = np.lexsort((leaf_rank, slot))
    elif placement == "random":
        order = np.random.default_rng(seed).permutation(n_hosts)
    else:
        raise ValidationError("placement", f"unknown placement {placement!r} (known: {', '.join(PLACEMENTS)})")
    return fabric.hosts[order[:r]]


def ring_allreduce(fabric: Fabric, size: float, *, ranks: int | None = None,
                   placement: Placement = "locality", seed: int = 0) -> Workload:
    """One step of ring all-reduce: rank ``r`` sends ``size`` to rank ``(r + 1) mod ranks``.

    Parameters
    ----------
    fabric
        The fabric.
    size
        Size of every flow (Gb/s, the unit of the link capacities).
    ranks, placement, seed
        See :func:`place_ranks`.
    """
    size = _check_size(size)
    hosts = place_ranks(fabric, ranks, placement, seed)
    return Workload(hosts, np.roll(hosts, -1), np.full(hosts.size, size),
                    f"ring all-reduce ({hosts.size} ranks, {placement})",
                    {"pattern": "ring", "placement": placement, "seed": seed})


def all_to_all(fabric: Fabric, size: float, *, ranks: int | None = None,
               placement: Placement = "locality", seed: int = 0) -> Workload:
    """All-to-all: every rank sends ``size`` to every other rank (``ranks * (ranks - 1)`` flows,
    ordered by source rank, then destination rank)."""
    size = _check_size(size)
    hosts = place_ranks(fabric, ranks, placement, seed)
    r = hosts.size
    src, dst = np.meshgrid(np.arange(r), np.arange(r), indexing="ij")
    off = src != dst
    return Workload(hosts[src[off]], hosts[dst[off]], np.full(r * (r - 1), size),
                    f"all-to-all ({r} ranks, {placement})",
                    {"pattern": "all-to-all", "placement": placement, "seed": seed})


def permutation(fabric: Fabric, size: float, *, seed: int = 0) -> Workload:
    """Every host sends ``size`` to one other host: a uniformly random derangement of the
    hosts (rejection sampling of uniform permutations; about ``e`` draws on average)."""
    size = _check_size(size)
    n = fabric.n_hosts
    if n < 2:
        raise ValidationError("fabric.hosts", f"a permutation needs at least 2 hosts ({n})")
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            break
    return Workload(fabric.hosts, fabric.hosts[perm], np.full(n, size), f"permutation ({n} hosts)",
                    {"pattern": "permutation", "seed": seed})


def _n_nodes(topology: Any) -> int:
    graph = topology if isinstance(topology, Graph) else getattr(topology, "graph", None)
    if not isinstance(graph, Graph):
        raise ValidationError("topology", f"must be a Topology, Fabric or Graph, got {type(topology).__name__}")
    if graph.n_nodes < 2:
        raise ValidationError("topology", f"needs at least 2 nodes ({graph.n_nodes})")
    return graph.n_nodes


def _scaled(weights: np.ndarray, total: float, name: str, meta: dict[str, Any]) -> DemandMatrix:
    total = float(total)
    if not (total >= 0 and math.isfinite(total)):
        raise ValidationError("total", f"must be non-negative and finite ({total})")
    np.fill_diagonal(weights, 0.0)
    s = weights.sum()
    matrix = weights * (total / s) if s > 0 else weights
    return DemandMatrix(matrix, name, {**meta, "total": total})


def gravity_demands(topology: Any, total: float, seed: int = 0) -> DemandMatrix:
    """Gravity-model demands (Roughan, "Simplifying the synthesis of Internet traffic
    matrices", 2005): every node gets an outgoing and an incoming mass drawn i.i.d. from the unit
    exponential distribution, and ``T[s, d]`` is proportional to ``out[s] * in[d]``, scaled so
    the off-diagonal entries sum to ``total``.

    Parameters
    ----------
    topology
        A :class:`~datasets.graphml.Topology`, a :class:`~planner.graph.fabric.Fabric` or a
        :class:`~planner.graph.csr.Graph`.
    total
        Sum of all demands (the unit of the link capacities).
    seed
        Seed of the masses.
    """
    n = _n_nodes(topology)
    rng = np.random.default_rng(seed)
    out_mass, in_mass = rng.exponential(size=n), rng.exponential(size=n)
    return _scaled(np.outer(out_mass, in_mass), total, "gravity", {"model": "gravity", "seed": seed})


def uniform_demands(topology: Any, total: float) -> DemandMatrix:
    """The same demand ``total / (n (n - 1))`` between every ordered pair of distinct nodes."""
    n = _n_nodes(topology)
    return _scaled(np.ones((n, n)), total, "uniform", {"model": "uniform"})


def random_demands(topology: Any, total: float, seed: int = 0, *, density: float = 1.0) -> DemandMatrix:
    """Independent uniform random demands on a random ``density`` share of the ordered pairs,
    scaled to sum to ``total``.

    Parameters
    ----------
    topology, total, seed
        As for :func:`gravity_demands`.
    density
        Probability that a pair has demand at all, in ``(0, 1]``.
    """
    n = _n_nodes(topology)
    if not 0 < density <= 1:
        raise ValidationError("density", f"must be in (0, 1] ({density})")
    rng = np.random.default_rng(seed)
    weights = rng.random((n, n)) * (rng.random((n, n)) < density)
    return _scaled(weights, total, "random", {"model": "random", "seed": seed, "density": density})
