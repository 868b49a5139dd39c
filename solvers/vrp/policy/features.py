"""What the policy sees of an instance: node features, a k-nearest-neighbour graph with edge
features in both directions, and the raw arrays its masks are computed from.

Node features (per node, depot first): normalised coordinates (or a two-dimensional classical
MDS embedding of the symmetrised matrix when the instance has none), demand over capacity, a
depot flag, the distance from and to the depot, and the time window and service time over the
depot's horizon (``0, 1, 0`` without windows).

Edges: every node receives messages from its ``k`` nearest nodes under ``min(d_ij, d_ji)``, and
the depot exchanges messages with every client. An edge ``j -> i`` carries ``d_ji`` and ``d_ij``
over the distance scale, so asymmetric road matrices are seen in both directions.

The feasibility arrays (demands, capacity, durations, windows) stay in float64 and in the
instance's own units: the masks compare them exactly as :func:`planner.vrp.check_feasibility`
does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from planner.vrp import VrpInstance

#: Number of node features.
NODE_FEATURES = 9
#: Number of edge features.
EDGE_FEATURES = 2


@dataclass(frozen=True, eq=False)
class InstanceArrays:
    """One instance prepared for the policy (numpy; converted to tensors by the decoder).

    Parameters
    ----------
    node_features
        ``(n+1, NODE_FEATURES)`` float32.
    edge_index
        ``(2, E)`` int64, row 0 the source, row 1 the target of each message.
    edge_features
        ``(E, EDGE_FEATURES)`` float32.
    distances
        ``(n+1, n+1)`` float64 travel costs (instance units).
    durations
        ``(n+1, n+1)`` float64 travel times.
    demands
        ``(n+1,)`` float64.
    capacity
        Vehicle capacity.
    early, late, service
        ``(n+1,)`` float64 windows and service times (``0``/``inf``/``0`` without windows).
    max_duration
        Longest route duration (``inf`` when unlimited).
    has_time
        Whether windows or a duration limit must be tracked.
    scale
        Distance scale the features were divided by.
    """

    node_features: np.ndarray
    edge_index: np.ndarray
    edge_features: np.ndarray
    distances: np.ndarray
    durations: np.ndarray
    demands: np.ndarray
    capacity: float
    early: np.ndarray
    late: np.ndarray
    service: np.ndarray
    max_duration: float
    has_time: bool
    scale: float

    @property
    def n_nodes(self) -> int:
        """Depot plus clients."""
        return int(self.demands.size)


def mds_embedding(distances: np.ndarray) -> np.ndarray:
    """Two-dimensional classical multidimensional scaling of the symmetrised matrix, in [0, 1]."""
    d = 0.5 * (distances + distances.T)
    m = d.shape[0]
    if m < 3:
        return np.zeros((m, 2))
    sq = d * d
    centre = np.eye(m) - np.full((m, m), 1.0 / m)
    gram = -0.5 * centre @ sq @ centre
    values, vectors = scipy.linalg.eigh(gram, subset_by_index=[m - 2, m - 1])
    xy = vectors * np.sqrt(np.maximum(values, 0.0))[None, :]
    return _unit_box(xy)


def _unit_box(xy: np.ndarray) -> np.ndarray:
    low = xy.min(axis=0)
    span = float((xy.max(axis=0) - low).max())
    return (xy - low) / span if span > 0 else np.zeros_like(xy)


def knn_edges(distances: np.ndarray, k: int) -> np.ndarray:
    """``(2, E)`` messages ``j -> i`` from the ``k`` nearest nodes of every node, plus depot <-> clients."""
    m = distances.shape[0]
    prox = np.minimum(distances, distances.T).astype(np.float64, copy=True)
    np.fill_diagonal(prox, np.inf)
    k = max(0, min(k, m - 1))
    if k == 0:
        return np.zeros((2, 0), dtype=np.int64)
    nearest = np.argpartition(prox, k - 1, axis=1)[:, :k] if k < m - 1 else np.argsort(prox, axis=1)[:, :k]
    targets = np.repeat(np.arange(m), k)
    sources = nearest.reshape(-1)
    clients = np.arange(1, m)
    depot = np.zeros(m - 1, dtype=np.int64)
    src = np.concatenate((sources, depot, clients))
    dst = np.concatenate((targets, clients, depot))
    return np.stack((src, dst)).astype(np.int64)


def instance_arrays(instance: VrpInstance, k: int = 16) -> InstanceArrays:
    """Prepare ``instance`` for the policy (see the module notes).

    Parameters
    ----------
    instance
        A validated CVRP or VRPTW instance.
    k
        Nearest neighbours per node in the message graph.
    """
    dist = np.array(instance.distances, dtype=np.float64)
    dur = np.array(instance.durations, dtype=np.float64)
    m = dist.shape[0]
    scale = float(dist.max()) if m > 1 and dist.max() > 0 else 1.0
    xy = _unit_box(np.asarray(instance.coords, dtype=np.float64)) if instance.coords is not None else mds_embedding(
        dist / scale)
    demands = np.asarray(instance.demands, dtype=np.float64)
    capacity = float(instance.capacity)
    service = (np.zeros(m) if instance.service_times is None
               else np.asarray(instance.service_times, dtype=np.float64))
    if instance.time_windows is not None:
        early = np.asarray(instance.time_windows[:, 0], dtype=np.float64)
        late = np.asarray(instance.time_windows[:, 1], dtype=np.float64)
    else:
        early = np.zeros(m)
        late = np.full(m, np.inf)
    max_duration = np.inf if instance.max_route_duration is None else float(instance.max_route_duration)
    has_time = instance.time_windows is not None or instance.max_route_duration is not None
    if instance.time_windows is not None and np.isfinite(late[0]) and late[0] > early[0]:
        horizon = late[0] - early[0]
        tw_feat = np.column_stack(((early - early[0]) / horizon, np.minimum((late - early[0]) / horizon, 1.0),
                                   service / horizon))
    else:
        tw_feat = np.column_stack((np.zeros(m), np.ones(m), np.zeros(m)))
    flag = np.zeros(m)
    flag[0] = 1.0
    feats = np.column_stack((xy, demands / capacity, flag, dist[0] / scale, dist[:, 0] / scale, tw_feat))
    edges = knn_edges(dist, k)
    edge_feat = np.column_stack((dist[edges[0], edges[1]], dist[edges[1], edges[0]])) / scale
    return InstanceArrays(
        node_features=feats.astype(np.float32), edge_index=edges, edge_features=edge_feat.astype(np.float32),
        distances=dist, durations=dur, demands=demands, capacity=capacity, early=early, late=late,
        service=service, max_duration=max_duration, has_time=has_time, scale=scale,
    )
