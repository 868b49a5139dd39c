"""Vehicle-routing problems and solutions: :class:`VrpInstance`, :class:`VrpSolution`, and an
independent feasibility check.

Conventions
-----------
- Node 0 is the depot, nodes ``1..n`` are the clients, numbered as in CVRPLIB ``.sol`` files.
- A route is the sequence of clients one vehicle visits; the depot is implied at both ends.
- Travel costs are ``distances[i, j]``; travel times are ``durations[i, j]`` (the distances when
  not given). Both may be asymmetric.
- Schedule of a route: the vehicle leaves the depot at the depot's earliest time ``e_0`` (0
  without time windows), arrives at client ``c`` at ``depart(prev) + durations[prev, c]``,
  waits until ``e_c`` if early, serves for ``service_times[c]`` and moves on. Arriving after
  ``l_c`` violates the window; returning after ``l_0`` violates the depot's window. The route
  duration is the return time minus ``e_0`` (travel, service and waiting).

Size limit
----------
Every instance holds dense ``(n+1, n+1)`` matrices. Computing one from coordinates for more
than :data:`MAX_DENSE_CLIENTS` clients (about 200 MB per matrix) raises
:class:`~planner.errors.CapacityError` instead of exhausting memory: the largest XXL instances
(30,000 clients) would need 7 GB per matrix. Solvers for those need neighbour lists, not matrices.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.errors import CapacityError, FieldViolation, ValidationError

#: Largest number of clients for which a distance matrix is computed from coordinates.
MAX_DENSE_CLIENTS = 5000

#: Rounding conventions of distances computed from coordinates.
ROUNDINGS = ("nint", "dimacs", "exact", "none")

_TIME_TOL = 1e-6


def _fmt(value: float) -> str:
    """A number as the files write it: ``-3`` not ``-3.0``, ``12.5`` as is."""
    v = float(value)
    if math.isfinite(v) and v == round(v):
        return str(round(v))
    return f"{v:.6g}"


def euclidean_distances(coords: np.ndarray, rounding: str = "exact") -> np.ndarray:
    """Dense matrix of Euclidean distances between ``coords`` under a rounding convention.

    Parameters
    ----------
    coords
        ``(m, 2)`` coordinates.
    rounding
        ``"nint"``: CVRPLIB ``EUC_2D``, ``floor(d + 0.5)``; ``"dimacs"``: ``trunc(10 d) / 10``
        (Solomon and Gehring-Homberger sets, DIMACS 2021); ``"exact"``: no rounding.

    Returns
    -------
    numpy.ndarray
        ``(m, m)`` float matrix.

    Notes
    -----
    ``dimacs`` is computed as ``floor(sqrt(100 d^2)) / 10`` so that distances that are exact
    multiples of 0.1 are not truncated one tenth too low by floating-point error.
    """
    c = np.asarray(coords, dtype=np.float64)
    sq = np.zeros((len(c), len(c)))
    for k in range(c.shape[1]):
        diff = c[:, k, None] - c[None, :, k]
        sq += diff * diff
    if rounding == "nint":
        return np.floor(np.sqrt(sq) + 0.5)
    if rounding == "dimacs":
        return np.floor(np.sqrt(100.0 * sq)) / 10.0
    if rounding in ("exact", "none"):
        return np.sqrt(sq)
    raise ValidationError("rounding", f"unknown convention {rounding!r} (known: {', '.join(ROUNDINGS)})")


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _as_array(name: str, value: Any, dtype: Any, violations: list[FieldViolation]) -> np.ndarray | None:
    try:
        return np.array(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        violations.append(FieldViolation(name, f"not numeric ({exc})"))
        return None


def _matrix_violations(name: str, m: np.ndarray, size: int, out: list[FieldViolation]) -> bool:
    """Record problems of a square cost matrix; True when it is usable."""
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        out.append(FieldViolation(name, f"not a square matrix (shape {m.shape})"))
        return False
    if m.shape[0] != size:
        out.append(FieldViolation(name, f"shape {m.shape} does not match {size} nodes (depot + clients)"))
        return False
    bad = ~np.isfinite(m)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        out.append(FieldViolation(f"{name}[{i},{j}]", f"not finite ({m[i, j]}); {int(bad.sum())} such entries"))
        return False
    neg = m < 0
    if neg.any():
        i, j = np.argwhere(neg)[0]
        out.append(FieldViolation(f"{name}[{i},{j}]", f"negative ({_fmt(m[i, j])}); {int(neg.sum())} such entries"))
        return False
    return True


@dataclass(frozen=True, eq=False)
class VrpInstance:
    """A capacitated vehicle-routing problem, optionally with time windows.

    Parameters
    ----------
    name
        Instance name (``X-n101-k25``, ``C101``, ``gen-cvrp-uniform-n100-s1``).
    demands
        ``(n+1,)`` demand per node; ``demands[0]`` (the depot) must be 0.
    capacity
        Vehicle capacity (identical fleet).
    coords
        ``(n+1, 2)`` coordinates, index 0 the depot; optional when ``distances`` is given.
    distances
        ``(n+1, n+1)`` travel costs, possibly asymmetric; computed from ``coords`` with
        ``rounding`` when omitted.
    durations
        ``(n+1, n+1)`` travel times; the distances when omitted.
    time_windows
        ``(n+1, 2)`` earliest and latest service start per node (row 0: depot opening and
        closing), or ``None``.
    service_times
        ``(n+1,)`` service time per node, or ``None`` for none.
    num_vehicles
        Fleet size, ``None`` for unlimited.
    max_route_duration
        Longest allowed route duration (CVRPLIB ``DISTANCE``), or ``None``.
    rounding
        How distances were derived from coordinates: ``"nint"``, ``"dimacs"``, ``"exact"``, or
        ``"none"`` for a given matrix. Default: ``"exact"`` with coordinates, ``"none"`` with a
        matrix.
    client_ids
        External id of each node (e.g. the node numbers of the file), ``(n+1,)``.

    Raises
    ------
    ValidationError
        Listing every violated field, e.g. ``clients[17].demand: negative (-3)``.
    CapacityError
        If a distance matrix would have to be computed for more than
        :data:`MAX_DENSE_CLIENTS` clients.
    """

    name: str
    demands: np.ndarray
    capacity: float
    coords: np.ndarray | None = None
    distances: np.ndarray | None = None
    durations: np.ndarray | None = None
    time_windows: np.ndarray | None = None
    service_times: np.ndarray | None = None
    num_vehicles: int | None = None
    max_route_duration: float | None = None
    rounding: str | None = None
    client_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        v: list[FieldViolation] = []
        set_ = object.__setattr__

        demands = _as_array("demands", self.demands, np.float64, v)
        if demands is not None and demands.ndim != 1:
            v.append(FieldViolation("demands", f"must be one value per node (shape {demands.shape})"))
            demands = None
        if demands is None:
            raise ValidationError(v)
        size = demands.size
        if size < 1:
            raise ValidationError("demands", "empty: need at least the depot")

        # capacity
        try:
            capacity = float(self.capacity)
        except (TypeError, ValueError):
            v.append(FieldViolation("capacity", f"not a number ({self.capacity!r})"))
            capacity = math.nan
        if not (capacity > 0 and math.isfinite(capacity)):
            v.append(FieldViolation("capacity", f"must be positive and finite ({self.capacity})"))

        # demands
        if not np.all(np.isfinite(demands)):
            for i in np.flatnonzero(~np.isfinite(demands)):
                v.append(FieldViolation(self._node(i, "demand"), f"not finite ({demands[i]})"))
        else:
            if demands[0] != 0:
                v.append(FieldViolation("depot.demand", f"must be 0 ({_fmt(demands[0])})"))
            for i in np.flatnonzero(demands[1:] < 0) + 1:
                v.append(FieldViolation(f"clients[{i}].demand", f"negative ({_fmt(demands[i])})"))
            if math.isfinite(capacity) and capacity > 0:
                for i in np.flatnonzero(demands[1:] > capacity) + 1:
                    v.append(FieldViolation(f"clients[{i}].demand",
                                            f"{_fmt(demands[i])} exceeds vehicle capacity {_fmt(capacity)}"))
        if np.all(np.isfinite(demands)) and np.all(demands == np.round(demands)):
            demands = demands.astype(np.int64)
        set_(self, "demands", _readonly(demands))
        if math.isfinite(capacity) and capacity == round(capacity):
            capacity = int(capacity)
        set_(self, "capacity", capacity)

        # coordinates
        coords = None
        if self.coords is not None:
            coords = _as_array("coords", self.coords, np.float64, v)
            if coords is not None:
                if coords.ndim != 2 or coords.shape != (size, 2):
                    v.append(FieldViolation("coords", f"shape {coords.shape}, expected ({size}, 2)"))
                    coords = None
                else:
                    bad = np.flatnonzero(~np.all(np.isfinite(coords), axis=1))
                    for i in bad:
                        v.append(FieldViolation(self._node(i, "coords"),
                                                f"not finite ({coords[i, 0]}, {coords[i, 1]})"))
                    if bad.size:
                        coords = None
                    else:
                        set_(self, "coords", _readonly(coords))

        # rounding and distances
        rounding = self.rounding
        if rounding is None:
            rounding = "none" if self.distances is not None else "exact"
        if rounding not in ROUNDINGS:
            v.append(FieldViolation("rounding", f"unknown convention {rounding!r} (known: {', '.join(ROUNDINGS)})"))
        set_(self, "rounding", rounding)

        distances = None
        if self.distances is not None:
            distances = _as_array("distances", self.distances, np.float64, v)
            if distances is not None and not _matrix_violations("distances", distances, size, v):
                distances = None
        elif self.coords is None:
            v.append(FieldViolation("distances", "missing: give coordinates or a distance matrix"))
        elif coords is not None and rounding in ROUNDINGS:
            if size - 1 > MAX_DENSE_CLIENTS:
                raise CapacityError(
                    f"{self.name}: {size - 1} clients exceed the dense-matrix limit of {MAX_DENSE_CLIENTS} "
                    f"(a distance matrix would need {8 * size * size / 1e9:.1f} GB)"
                )
            distances = euclidean_distances(coords, rounding)
        if distances is not None:
            set_(self, "distances", _readonly(distances))

        durations = distances
        if self.durations is not None:
            durations = _as_array("durations", self.durations, np.float64, v)
            if durations is not None and not _matrix_violations("durations", durations, size, v):
                durations = None
            if durations is not None:
                durations = _readonly(durations)
        set_(self, "durations", durations)

        # service times and time windows must both be valid before reachability is checked
        times_ok = True
        service = None
        if self.service_times is not None:
            service = _as_array("service_times", self.service_times, np.float64, v)
            times_ok = service is not None
            if service is not None:
                if service.shape != (size,):
                    v.append(FieldViolation("service_times", f"shape {service.shape}, expected ({size},)"))
                    service = None
                    times_ok = False
                else:
                    bad = np.flatnonzero(~np.isfinite(service) | (service < 0))
                    times_ok = times_ok and not bad.size
                    for i in bad:
                        v.append(FieldViolation(self._node(i, "service_time"),
                                                f"must be finite and non-negative ({service[i]})"))
                    set_(self, "service_times", _readonly(service))

        # fleet and duration limit
        if self.num_vehicles is not None:
            if int(self.num_vehicles) != self.num_vehicles or self.num_vehicles < 1:
                v.append(FieldViolation("num_vehicles", f"must be at least 1 ({self.num_vehicles})"))
            else:
                set_(self, "num_vehicles", int(self.num_vehicles))
        if self.max_route_duration is not None and not (self.max_route_duration > 0):
            v.append(FieldViolation("max_route_duration", f"must be positive ({self.max_route_duration})"))

        # time windows
        tw = None
        if self.time_windows is not None:
            tw = _as_array("time_windows", self.time_windows, np.float64, v)
            times_ok = times_ok and tw is not None
            if tw is not None:
                if tw.shape != (size, 2):
                    v.append(FieldViolation("time_windows", f"shape {tw.shape}, expected ({size}, 2)"))
                    tw = None
                    times_ok = False
                else:
                    bad = np.flatnonzero(np.isnan(tw).any(axis=1) | np.isinf(tw[:, 0]))
                    for i in bad:
                        v.append(FieldViolation(self._node(i, "time_window"),
                                                f"earliest must be finite and latest not NaN ({tw[i, 0]}, {tw[i, 1]})"))
                    crossed = np.flatnonzero(tw[:, 0] > tw[:, 1])
                    for i in crossed:
                        v.append(FieldViolation(self._node(i, "time_window"),
                                                f"earliest {_fmt(tw[i, 0])} after latest {_fmt(tw[i, 1])}"))
                    set_(self, "time_windows", _readonly(tw))
                    if bad.size or crossed.size:
                        tw = None
                        times_ok = False

        if self.client_ids is not None:
            ids = np.asarray(self.client_ids)
            if ids.shape != (size,):
                v.append(FieldViolation("client_ids", f"shape {ids.shape}, expected ({size},)"))
            else:
                set_(self, "client_ids", _readonly(ids.copy()))

        if durations is not None and times_ok:
            v.extend(self._reachability(durations, tw, service))
        if v:
            raise ValidationError(v)

    @staticmethod
    def _node(i: int, attr: str) -> str:
        return f"depot.{attr}" if i == 0 else f"clients[{i}].{attr}"

    def _reachability(self, durations: np.ndarray, tw: np.ndarray | None,
                      service: np.ndarray | None) -> list[FieldViolation]:
        """Clients that no route can serve: window unreachable, no way back, round trip too long."""
        out: list[FieldViolation] = []
        if durations.shape[0] < 2:
            return out
        start = 0.0 if tw is None else float(tw[0, 0])
        depot_close = math.inf if tw is None else float(tw[0, 1])
        s = np.zeros(durations.shape[0]) if service is None else service
        arrive = start + durations[0, 1:]
        if tw is not None:
            late = np.flatnonzero(arrive > tw[1:, 1] + _TIME_TOL) + 1
            for i in late:
                out.append(FieldViolation(f"clients[{i}].time_window",
                                          f"unreachable: earliest arrival {_fmt(arrive[i - 1])} from the depot is "
                                          f"after latest {_fmt(tw[i, 1])}"))
            begin = np.maximum(arrive, tw[1:, 0])
        else:
            late = np.zeros(0, dtype=np.int64)
            begin = arrive
        back = begin + s[1:] + durations[1:, 0]
        reachable = np.ones(back.size, dtype=bool)
        reachable[late - 1] = False
        no_return = np.flatnonzero(reachable & (back > depot_close + _TIME_TOL)) + 1
        for i in no_return:
            out.append(FieldViolation(f"clients[{i}].time_window",
                                      f"no return to the depot: back at {_fmt(back[i - 1])} after the depot's "
                                      f"latest {_fmt(depot_close)}"))
        if self.max_route_duration is not None and self.max_route_duration > 0:
            too_long = np.flatnonzero(reachable & (back - start > self.max_route_duration + _TIME_TOL)) + 1
            for i in too_long:
                out.append(FieldViolation(f"clients[{i}]",
                                          f"round trip takes {_fmt(back[i - 1] - start)}, exceeds "
                                          f"max_route_duration {_fmt(self.max_route_duration)}"))
        return out

    @property
    def n_clients(self) -> int:
        """Number of clients ``n`` (nodes minus the depot)."""
        return int(self.demands.size - 1)

    @property
    def has_time_windows(self) -> bool:
        """Whether the instance has time windows."""
        return self.time_windows is not None

    @property
    def is_symmetric(self) -> bool:
        """Whether both the distance and the duration matrices are symmetric."""
        d, t = self.distances, self.durations
        return bool(np.array_equal(d, d.T) and (t is d or np.array_equal(t, t.T)))

    @property
    def total_demand(self) -> float:
        """Sum of the client demands."""
        return self.demands[1:].sum().item()


@dataclass(frozen=True, eq=False)
class VrpSolution:
    """A set of routes for a :class:`VrpInstance`.

    Parameters
    ----------
    routes
        One integer array of client indices (``1..n``) per route, depot excluded.
    objective
        Total distance as stated by whoever produced the solution.
    solver
        Name of the solver, if any.
    runtime_s
        Wall-clock seconds the solver took.
    iterations
        Iterations the solver made (its own unit).
    meta
        Anything else worth keeping (parameters, statistics).
    """

    routes: tuple[np.ndarray, ...]
    objective: float
    solver: str | None = None
    runtime_s: float | None = None
    iterations: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        routes = []
        for r, route in enumerate(self.routes):
            arr = np.asarray(route)
            if (arr.size and not np.issubdtype(arr.dtype, np.integer)
                    and not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))):
                raise ValidationError(f"routes[{r}]", "client indices must be integers")
            routes.append(_readonly(arr.astype(np.int64).reshape(-1)))
        object.__setattr__(self, "routes", tuple(routes))
        object.__setattr__(self, "objective", float(self.objective))

    @property
    def n_routes(self) -> int:
        """Number of non-empty routes."""
        return sum(1 for r in self.routes if r.size)


def _round_cost(instance: VrpInstance, total: float) -> float:
    # remove the floating-point noise of summing tenths / integers
    if instance.rounding == "dimacs":
        return round(total, 1)
    if instance.rounding == "nint":
        return float(round(total))
    return float(total)


def _route_array(route: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(route, dtype=np.int64).reshape(-1)


def route_cost(instance: VrpInstance, route: Sequence[int] | np.ndarray) -> float:
    """Distance of one route, from the depot through ``route`` back to the depot.

    Raises
    ------
    ValidationError
        If the route names a node outside ``1..n``.
    """
    r = _route_array(route)
    if r.size == 0:
        return 0.0
    if r.min() < 1 or r.max() > instance.n_clients:
        raise ValidationError("route", f"client index outside 1..{instance.n_clients}")
    path = np.concatenate(([0], r, [0]))
    return _round_cost(instance, float(instance.distances[path[:-1], path[1:]].sum()))


def solution_cost(instance: VrpInstance, routes: Iterable[Sequence[int] | np.ndarray]) -> float:
    """Total distance of ``routes`` (sum of :func:`route_cost`, with the set's rounding noise removed)."""
    total = 0.0
    for route in routes:
        r = _route_array(route)
        if r.size == 0:
            continue
        if r.min() < 1 or r.max() > instance.n_clients:
            raise ValidationError("route", f"client index outside 1..{instance.n_clients}")
        path = np.concatenate(([0], r, [0]))
        total += float(instance.distances[path[:-1], path[1:]].sum())
    return _round_cost(instance, total)


@dataclass(frozen=True)
class FeasibilityReport:
    """Result of :func:`check_feasibility`.

    Parameters
    ----------
    feasible
        True when no constraint is violated.
    violations
        Every violated constraint, one :class:`FieldViolation` each.
    objective
        Total distance recomputed from the routes (unknown client indices skipped).
    """

    feasible: bool
    violations: tuple[FieldViolation, ...]
    objective: float

    def __str__(self) -> str:
        if self.feasible:
            return f"feasible, objective {_fmt(self.objective)}"
        return f"infeasible ({len(self.violations)} violations): " + "; ".join(str(x) for x in self.violations)


def route_schedule(instance: VrpInstance, route: Sequence[int] | np.ndarray) -> tuple[np.ndarray, float]:
    """Arrival times at the clients of ``route`` and the return time to the depot.

    The vehicle leaves at the depot's earliest time and waits at early arrivals (see the module
    notes). Indices must be valid clients.
    """
    r = _route_array(route)
    t = instance.durations
    tw = instance.time_windows
    s = instance.service_times
    now = 0.0 if tw is None else float(tw[0, 0])
    arrivals = np.empty(r.size)
    prev = 0
    for k, c in enumerate(r):
        arrive = now + t[prev, c]
        arrivals[k] = arrive
        begin = arrive if tw is None else max(arrive, tw[c, 0])
        now = begin + (0.0 if s is None else s[c])
        prev = c
    return arrivals, now + t[prev, 0]


def check_feasibility(instance: VrpInstance, solution: VrpSolution, *, rel_tol: float = 1e-6) -> FeasibilityReport:
    """Check every constraint of ``instance`` on ``solution``, independently of any solver.

    Reports: unknown client indices, clients visited twice, clients never visited, capacity
    exceeded per route, time windows violated per client and route (arrival after latest),
    late return to the depot, route duration over ``max_route_duration``, more routes than
    ``num_vehicles``, and a stated objective that differs from the recomputed distance by more
    than ``rel_tol`` (relative, at least ``1e-6`` absolute).

    Returns
    -------
    FeasibilityReport
    """
    v: list[FieldViolation] = []
    n = instance.n_clients
    seen = np.zeros(n + 1, dtype=np.int64)
    first_route = np.full(n + 1, -1, dtype=np.int64)
    valid_routes: list[np.ndarray] = []
    for r, route in enumerate(solution.routes):
        arr = _route_array(route)
        bad = (arr < 1) | (arr > n)
        for k in np.flatnonzero(bad):
            v.append(FieldViolation(f"routes[{r}][{k}]", f"unknown client {int(arr[k])} (clients are 1..{n})"))
        good = arr[~bad]
        for c in good:
            if seen[c]:
                v.append(FieldViolation(f"clients[{c}]", f"visited twice (routes {first_route[c]} and {r})"))
            else:
                first_route[c] = r
            seen[c] += 1
        valid_routes.append(good)
    missing = np.flatnonzero(seen[1:] == 0) + 1
    for c in missing:
        v.append(FieldViolation(f"clients[{c}]", "not visited"))

    tw = instance.time_windows
    for r, route in enumerate(valid_routes):
        if route.size == 0:
            continue
        load = instance.demands[route].sum().item()
        if load > instance.capacity + 1e-9:
            v.append(FieldViolation(f"routes[{r}].load", f"{_fmt(load)} exceeds capacity {_fmt(instance.capacity)}"))
        if tw is None and instance.max_route_duration is None:
            continue
        arrivals, back = route_schedule(instance, route)
        if tw is not None:
            late = np.flatnonzero(arrivals > tw[route, 1] + _TIME_TOL)
            for k in late:
                c = route[k]
                v.append(FieldViolation(f"routes[{r}].clients[{c}].time_window",
                                        f"arrival {_fmt(arrivals[k])} after latest {_fmt(tw[c, 1])}"))
            if back > tw[0, 1] + _TIME_TOL:
                v.append(FieldViolation(f"routes[{r}].depot.time_window",
                                        f"return {_fmt(back)} after the depot's latest {_fmt(tw[0, 1])}"))
        if instance.max_route_duration is not None:
            start = 0.0 if tw is None else float(tw[0, 0])
            if back - start > instance.max_route_duration + _TIME_TOL:
                v.append(FieldViolation(f"routes[{r}].duration",
                                        f"{_fmt(back - start)} exceeds max_route_duration "
                                        f"{_fmt(instance.max_route_duration)}"))

    used = sum(1 for r in valid_routes if r.size)
    if instance.num_vehicles is not None and used > instance.num_vehicles:
        v.append(FieldViolation("routes", f"{used} routes exceed the fleet of {instance.num_vehicles} vehicles"))

    objective = solution_cost(instance, valid_routes)
    stated = solution.objective
    if not math.isfinite(stated) or abs(stated - objective) > max(1e-6, rel_tol * abs(objective)):
        v.append(FieldViolation("objective", f"stated {_fmt(stated)} differs from recomputed {_fmt(objective)}"))
    return FeasibilityReport(feasible=not v, violations=tuple(v), objective=objective)
