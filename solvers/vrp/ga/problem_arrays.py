"""The flat numpy view of a :class:`~planner.vrp.VrpInstance` that the compiled kernels read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.vrp import VrpInstance


@dataclass(frozen=True, eq=False)
class ProblemArrays:
    """Contiguous arrays of one instance, in the layout the numba kernels expect.

    Parameters
    ----------
    dist, dur
        ``(n+1, n+1)`` distances and travel times.
    demand
        ``(n+1,)`` demands (float).
    early, late, service
        ``(n+1,)`` time windows and service times (``-inf``/``inf``/0 without windows).
    capacity
        Vehicle capacity.
    max_duration
        Longest route duration (``inf`` when unlimited).
    has_tw
        Whether time (windows or route duration) must be tracked.
    fleet
        Fleet size (``n`` when unlimited).
    symmetric
        Whether distances and durations are symmetric.
    polar
        ``(n+1,)`` angle of every node around the depot in ``[0, 65536)`` (HGS-CVRP units), or
        ``None`` for an instance without coordinates (matrix only).
    """

    dist: np.ndarray
    dur: np.ndarray
    demand: np.ndarray
    early: np.ndarray
    late: np.ndarray
    service: np.ndarray
    capacity: float
    max_duration: float
    has_tw: bool
    fleet: int
    symmetric: bool
    polar: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of clients."""
        return int(self.demand.size - 1)


def problem_arrays(instance: VrpInstance) -> ProblemArrays:
    """Flatten ``instance`` into :class:`ProblemArrays`."""
    # writable contiguous copies throughout: numba compiles read-only arrays as a separate type, and
    # the instance's arrays are read-only
    size = instance.n_clients + 1
    dist = np.array(instance.distances, dtype=np.float64, order="C")
    dur = np.array(instance.durations, dtype=np.float64, order="C")
    if instance.time_windows is not None:
        early = np.array(instance.time_windows[:, 0], dtype=np.float64, order="C")
        late = np.array(instance.time_windows[:, 1], dtype=np.float64, order="C")
    else:
        early = np.zeros(size)
        late = np.full(size, np.inf)
    service = (np.zeros(size) if instance.service_times is None
               else np.array(instance.service_times, dtype=np.float64, order="C"))
    max_duration = np.inf if instance.max_route_duration is None else float(instance.max_route_duration)
    has_tw = instance.time_windows is not None or instance.max_route_duration is not None
    polar = None
    if instance.coords is not None:
        xy = np.asarray(instance.coords, dtype=np.float64)
        rel = xy - xy[0]
        angle = np.arctan2(rel[:, 1], rel[:, 0])
        polar = np.ascontiguousarray(np.mod(np.round(32768.0 * angle / np.pi), 65536).astype(np.int64))
    fleet = instance.n_clients if instance.num_vehicles is None else min(instance.num_vehicles, instance.n_clients)
    return ProblemArrays(
        dist=dist, dur=dur, demand=np.array(instance.demands, dtype=np.float64, order="C"),
        early=early, late=late, service=service, capacity=float(instance.capacity),
        max_duration=max_duration, has_tw=has_tw, fleet=max(fleet, 1), symmetric=instance.is_symmetric, polar=polar,
    )
