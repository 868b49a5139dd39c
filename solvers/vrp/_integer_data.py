"""Integer scaling of an instance for solvers that need integer data (OR-Tools, PyVRP)."""

from __future__ import annotations

import numpy as np

from planner.vrp import VrpInstance


def integer_scale(instance: VrpInstance) -> int:
    """Factor that makes the instance's numbers integers without losing its convention.

    ``nint`` distances are integers already (1); ``dimacs`` distances are tenths (10, the DIMACS
    convention of the data README); other matrices are kept to three decimals (1000).
    """
    if instance.rounding == "nint":
        return 1
    if instance.rounding == "dimacs":
        return 10
    values = [instance.distances, instance.durations]
    if instance.time_windows is not None:
        values.append(instance.time_windows[np.isfinite(instance.time_windows)])
    if instance.service_times is not None:
        values.append(instance.service_times)
    if all(np.array_equal(v, np.round(v)) for v in values):
        return 1
    return 1000


def scaled(values: np.ndarray, scale: int) -> np.ndarray:
    """``values * scale`` rounded to int64 (infinite entries become the int64 maximum)."""
    v = np.asarray(values, dtype=np.float64) * scale
    out = np.full(v.shape, np.iinfo(np.int64).max, dtype=np.int64)
    finite = np.isfinite(v)
    out[finite] = np.round(v[finite]).astype(np.int64)
    return out


def fleet_size(instance: VrpInstance) -> int:
    """Vehicles to offer a solver: the fleet, or a generous bound when it is unlimited."""
    if instance.num_vehicles is not None:
        return int(instance.num_vehicles)
    lower = int(np.ceil(instance.total_demand / instance.capacity)) if instance.total_demand > 0 else 1
    return int(min(max(instance.n_clients, 1), max(lower + 3, int(np.ceil(1.3 * lower)) + 3)))
