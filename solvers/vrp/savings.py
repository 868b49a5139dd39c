"""Clarke-Wright parallel savings for CVRP and VRPTW.

Every client starts on its own route. Pairs ``(i, j)`` are taken in decreasing order of the
saving ``s_ij = d_i0 + d_0j - shape * d_ij`` (Clarke & Wright 1964; ``shape`` is the route-shape
parameter of Yellow 1970, 1 for the classic rule), and the route ending at ``i`` is joined to the
route starting at ``j`` when

- neither ``i`` nor ``j`` is inside its route, and they are on different routes;
- the joined load fits the vehicle capacity;
- the joined route still meets every time window, the depot's closing time and the maximum
  route duration (checked in O(1) from each client's earliest departure and latest feasible
  service start, which are updated along the joined route).

Orientation: with a symmetric matrix and no time windows a route may be reversed, so any two
route ends can be joined; with time windows routes keep their direction (both joining orders
are tried when the matrix is symmetric); with an asymmetric matrix only "end of one route ->
start of another" is considered, with the directed saving ``d_i0 + d_0j - d_ij``.

Fleet: when the result uses more routes than ``num_vehicles``, the merge loop continues with
non-positive savings, then whole routes are dissolved by cheapest feasible insertion of their
clients into the others. If that still fails, the solution is returned anyway and
:func:`planner.vrp.check_feasibility` reports the excess.

Pairs: all pairs up to :data:`ALL_PAIRS_MAX_CLIENTS` clients, else each client's
:data:`NEIGHBOURS` nearest clients (both orientations).
"""

from __future__ import annotations

import math

import numpy as np

from planner.budget import Budget, Stopwatch
from planner.vrp import VrpInstance, VrpSolution, solution_cost

#: Up to this many clients every pair is a merge candidate; beyond, nearest neighbours only.
ALL_PAIRS_MAX_CLIENTS = 2000
#: Neighbours per client considered beyond :data:`ALL_PAIRS_MAX_CLIENTS`.
NEIGHBOURS = 100

_TOL = 1e-9
_CHECK_EVERY = 8192


def _orientation_mode(instance: VrpInstance) -> str:
    """``undirected`` (routes may be reversed), ``both`` (keep direction, try both joins) or ``directed``."""
    d = instance.distances
    if not np.array_equal(d, d.T):
        return "directed"
    t = instance.durations
    durations_symmetric = t is d or np.array_equal(t, t.T)
    if instance.time_windows is None and (instance.max_route_duration is None or durations_symmetric):
        return "undirected"
    return "both"


def candidate_pairs(instance: VrpInstance, shape: float = 1.0, *, ordered: bool = False) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Merge candidates ``(i, j, saving)`` sorted by decreasing saving (ties by index).

    Parameters
    ----------
    instance
        The instance.
    shape
        Weight of ``d_ij`` in the saving.
    ordered
        All ordered pairs ``i != j`` (asymmetric matrices) instead of ``i < j``.
    """
    n = instance.n_clients
    d = instance.distances
    to_depot = d[1:, 0]
    from_depot = d[0, 1:]
    if n < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    if n <= ALL_PAIRS_MAX_CLIENTS:
        if ordered:
            i, j = np.nonzero(~np.eye(n, dtype=bool))
        else:
            i, j = np.triu_indices(n, 1)
    else:
        k = min(NEIGHBOURS, n - 1)
        rows = []
        for start in range(0, n, 1024):
            block = d[1 + start:1 + min(n, start + 1024), 1:].copy()
            block[np.arange(block.shape[0]), np.arange(start, start + block.shape[0])] = np.inf
            rows.append(np.argpartition(block, k - 1, axis=1)[:, :k])
        near = np.concatenate(rows)
        i = np.repeat(np.arange(n), k)
        j = near.reshape(-1)
        if ordered:
            i, j = np.concatenate((i, j)), np.concatenate((j, i))
        else:
            i, j = np.minimum(i, j), np.maximum(i, j)
        key = np.unique(i * n + j)
        i, j = key // n, key % n
    saving = to_depot[i] + from_depot[j] - shape * d[i + 1, j + 1]
    order = np.lexsort((j, i, -saving))
    return (i[order] + 1).astype(np.int64), (j[order] + 1).astype(np.int64), saving[order]


class _Routes:
    """Mutable route set of one savings run (internal)."""

    def __init__(self, instance: VrpInstance, mode: str):
        n = instance.n_clients
        self.instance = instance
        self.mode = mode
        self.d = instance.distances
        self.t = instance.durations
        self.capacity = float(instance.capacity)
        self.demand = [float(x) for x in instance.demands]
        self.members: list[list[int] | None] = [None] + [[c] for c in range(1, n + 1)]
        self.route_of = list(range(n + 1))
        self.load = list(self.demand)
        self.interior = [False] * (n + 1)
        self.count = n
        tw = instance.time_windows
        self.timed = tw is not None or instance.max_route_duration is not None
        self.start = 0.0 if tw is None else float(tw[0, 0])
        close = math.inf if tw is None else float(tw[0, 1])
        if instance.max_route_duration is not None:
            close = min(close, self.start + float(instance.max_route_duration))
        self.close = close
        self.early = [0.0] * (n + 1) if tw is None else tw[:, 0].tolist()
        self.late = [math.inf] * (n + 1) if tw is None else tw[:, 1].tolist()
        self.service = [0.0] * (n + 1) if instance.service_times is None else instance.service_times.tolist()
        # additive duration per route (undirected mode only needs this)
        self.duration = [0.0] * (n + 1)
        # earliest departure from each client and latest feasible service start at it
        self.depart = [0.0] * (n + 1)
        self.latest = [math.inf] * (n + 1)
        for c in range(1, n + 1):
            self._retime([c])
            self.duration[c] = self.t.item(0, c) + self.service[c] + self.t.item(c, 0)

    def _retime(self, route: list[int]) -> None:
        if not self.timed:
            return
        t = self.t
        now = self.start
        prev = 0
        early, service, depart = self.early, self.service, self.depart
        for c in route:
            arrive = now + t.item(prev, c)
            now = (arrive if arrive > early[c] else early[c]) + service[c]
            depart[c] = now
            prev = c
        bound = self.close
        nxt = 0
        late, latest = self.late, self.latest
        for c in reversed(route):
            bound = min(late[c], bound - t.item(c, nxt) - service[c])
            latest[c] = bound
            nxt = c

    def _joinable(self, i: int, j: int) -> bool:
        """Whether service can continue from ``i`` (end of its route) to ``j`` (start of its route)."""
        if not self.timed:
            return True
        arrive = self.depart[i] + self.t.item(i, j)
        begin = arrive if arrive > self.early[j] else self.early[j]
        return begin <= self.latest[j] + _TOL

    def _join(self, a: int, b: int, route: list[int]) -> None:
        keep, drop = (a, b) if len(self.members[a]) >= len(self.members[b]) else (b, a)
        for c in self.members[drop]:
            self.route_of[c] = keep
        self.members[keep] = route
        self.members[drop] = None
        self.load[keep] = self.load[a] + self.load[b]
        self.count -= 1
        self._retime(route)

    def merge_pairs(self, first: np.ndarray, second: np.ndarray, clock: Stopwatch, stop_at: int = 0) -> int:
        """Run the savings loop over candidate pairs; returns the number of merges."""
        merges = 0
        interior, route_of, members, load = self.interior, self.route_of, self.members, self.load
        capacity = self.capacity + _TOL
        undirected = self.mode == "undirected"
        both = self.mode == "both"
        max_dur = self.instance.max_route_duration
        t = self.t
        for k, (i, j) in enumerate(zip(first.tolist(), second.tolist(), strict=True)):
            if k % _CHECK_EVERY == 0 and k and clock.should_stop():
                break
            if interior[i] or interior[j]:
                continue
            a, b = route_of[i], route_of[j]
            if a == b or load[a] + load[b] > capacity:
                continue
            A, B = members[a], members[b]
            if undirected:
                if max_dur is not None:
                    dur = self.duration[a] + self.duration[b] - t.item(i, 0) - t.item(0, j) + t.item(i, j)
                    if dur > max_dur + _TOL:
                        continue
                route = (A if A[-1] == i else A[::-1]) + (B if B[0] == j else B[::-1])
            elif A[-1] == i and B[0] == j and self._joinable(i, j):
                route = A + B
            elif both and B[-1] == j and A[0] == i and self._joinable(j, i):
                route = B + A
                i, j = j, i
            else:
                continue
            keep_duration = self.duration[a] + self.duration[b] - t.item(i, 0) - t.item(0, j) + t.item(i, j)
            self._join(a, b, route)
            self.duration[route_of[i]] = keep_duration
            for c in (i, j):
                interior[c] = c != route[0] and c != route[-1]
            merges += 1
            if stop_at and self.count <= stop_at:
                break
        return merges

    def routes(self) -> list[list[int]]:
        """Current routes, ordered by their first client."""
        return sorted((r for r in self.members if r), key=lambda r: r[0])

    def dissolve_routes(self, target: int, clock: Stopwatch) -> int:
        """Remove routes by inserting their clients into the others until ``target`` remain."""
        removed = 0
        if self.mode == "undirected" and self.timed:
            for r in self.members:
                if r:
                    self._retime(r)
        while self.count > target and not clock.should_stop():
            candidates = sorted((len(r), r[0], idx) for idx, r in enumerate(self.members) if r)
            for _, _, idx in candidates:
                if self._dissolve(idx):
                    removed += 1
                    break
            else:
                break
        return removed

    def _dissolve(self, idx: int) -> bool:
        victims = list(self.members[idx])
        saved = {r: list(route) for r, route in enumerate(self.members) if route and r != idx}
        saved_load = list(self.load)
        saved_duration = list(self.duration)
        self.members[idx] = None
        for c in victims:
            best = self._best_insertion(c)
            if best is None:
                for r, route in saved.items():
                    self.members[r] = route
                    self._retime(route)
                self.members[idx] = victims
                self._retime(victims)
                self.load = saved_load
                self.duration = saved_duration
                for r, route in saved.items():
                    for x in route:
                        self.route_of[x] = r
                for x in victims:
                    self.route_of[x] = idx
                return False
            r, pos = best
            route = self.members[r]
            route.insert(pos, c)
            self.route_of[c] = r
            self.load[r] += self.demand[c]
            self._retime(route)
            self.duration[r] = self._route_duration(route)
        self.count -= 1
        self.load[idx] = 0.0
        for route in self.members:
            if route:
                for k, c in enumerate(route):
                    self.interior[c] = 0 < k < len(route) - 1
        return True

    def _route_duration(self, route: list[int]) -> float:
        path = [0, *route, 0]
        return float(self.t[path[:-1], path[1:]].sum() + sum(self.service[c] for c in route))

    def _best_insertion(self, c: int) -> tuple[int, int] | None:
        d, t = self.d, self.t
        best: tuple[float, int, int] | None = None
        cap = self.capacity + _TOL
        max_dur = self.instance.max_route_duration
        for r, route in enumerate(self.members):
            if not route or self.load[r] + self.demand[c] > cap:
                continue
            for pos in range(len(route) + 1):
                p = route[pos - 1] if pos else 0
                q = route[pos] if pos < len(route) else 0
                delta = d.item(p, c) + d.item(c, q) - d.item(p, q)
                if best is not None and delta >= best[0]:
                    continue
                if self.timed:
                    if not self._insertion_in_time(p, c, q):
                        continue
                    if self.mode == "undirected" and max_dur is not None:
                        extra = t.item(p, c) + t.item(c, q) - t.item(p, q) + self.service[c]
                        if self.duration[r] + extra > max_dur + _TOL:
                            continue
                best = (delta, r, pos)
        return None if best is None else (best[1], best[2])

    def _insertion_in_time(self, p: int, c: int, q: int) -> bool:
        t = self.t
        leave = self.start if p == 0 else self.depart[p]
        arrive = leave + t.item(p, c)
        if arrive > self.late[c] + _TOL:
            return False
        leave_c = max(arrive, self.early[c]) + self.service[c]
        arrive_q = leave_c + t.item(c, q)
        if q == 0:
            return arrive_q <= self.close + _TOL
        return max(arrive_q, self.early[q]) <= self.latest[q] + _TOL


def solve_savings(instance: VrpInstance, budget: Budget | None = None, *, shape: float = 1.0) -> VrpSolution:
    """Clarke-Wright parallel savings (see the module notes).

    Parameters
    ----------
    instance
        A validated CVRP or VRPTW instance.
    budget
        Time limit and cancel flag are honoured (the routes built so far are returned, always
        feasible apart from the fleet size); the seed is unused (the method is deterministic).
    shape
        Route-shape parameter ``lambda`` of the saving ``d_i0 + d_0j - lambda d_ij``.

    Returns
    -------
    VrpSolution
        ``solver="savings"``, ``iterations`` = merges made; ``meta`` holds the orientation mode,
        the number of repair merges and of dissolved routes.
    """
    budget = budget if budget is not None else Budget()
    clock = budget.start()
    mode = _orientation_mode(instance)
    first, second, saving = candidate_pairs(instance, shape, ordered=mode == "directed")
    state = _Routes(instance, mode)
    positive = saving > 0
    merges = state.merge_pairs(first[positive], second[positive], clock)
    repair_merges = dissolved = 0
    fleet = instance.num_vehicles
    if fleet is not None and state.count > fleet and not clock.should_stop():
        repair_merges = state.merge_pairs(first[~positive], second[~positive], clock, stop_at=fleet)
        if state.count > fleet:
            dissolved = state.dissolve_routes(fleet, clock)
    routes = state.routes()
    objective = solution_cost(instance, routes)
    clock.report(merges + repair_merges, objective=objective)
    return VrpSolution(
        routes=tuple(np.asarray(r, dtype=np.int64) for r in routes),
        objective=objective,
        solver="savings",
        runtime_s=clock.elapsed(),
        iterations=merges + repair_merges,
        meta={"mode": mode, "shape": shape, "repair_merges": repair_merges, "dissolved_routes": dissolved},
    )
