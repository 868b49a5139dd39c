"""OR-Tools routing as a baseline: guided local search under the same time limit (``ortools``).

Model: one vehicle per fleet slot (:func:`~solvers.vrp._integer_data.fleet_size`), arc costs are
the distances scaled to integers (:func:`~solvers.vrp._integer_data.integer_scale`), a capacity
dimension, and with time windows or a route-duration limit a time dimension whose transit is
service at the origin plus travel time. Every vehicle leaves the depot at its earliest time, as
in :func:`planner.vrp.route_schedule`. First solution: path cheapest arc (CVRP) or parallel cheapest
insertion (time windows).
"""

from __future__ import annotations

import math

import numpy as np

from planner.budget import Budget
from planner.errors import InfeasibleError
from planner.vrp import VrpInstance, VrpSolution, check_feasibility, solution_cost
from solvers.vrp._integer_data import fleet_size, integer_scale, scaled

#: Seconds kept aside for building the model and reading the solution back.
_SETUP_MARGIN = 0.1


def solve_ortools(instance: VrpInstance, budget: Budget | None = None) -> VrpSolution:
    """Solve ``instance`` with OR-Tools routing (path-cheapest-arc start, guided local search).

    Parameters
    ----------
    instance
        CVRP or VRPTW instance.
    budget
        Time limit (default 10 s when none is given, OR-Tools' search needs one); the seed is
        unused (the search is deterministic).

    Returns
    -------
    VrpSolution
        ``solver="ortools"``, objective recomputed; ``meta["feasible"]`` from the feasibility check.

    Raises
    ------
    InfeasibleError
        When OR-Tools finds no solution in time.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    budget = budget if budget is not None else Budget()
    clock = budget.start()
    n = instance.n_clients
    if n == 0:
        return VrpSolution(routes=(), objective=0.0, solver="ortools", runtime_s=clock.elapsed(),
                           meta={"feasible": True, "violations": []})
    scale = integer_scale(instance)
    dist = scaled(instance.distances, scale)
    vehicles = fleet_size(instance)
    manager = pywrapcp.RoutingIndexManager(n + 1, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    dist_list = dist.tolist()

    def arc_cost(i: int, j: int) -> int:
        return dist_list[manager.IndexToNode(i)][manager.IndexToNode(j)]

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(arc_cost))
    demand = scaled(instance.demands, 1).tolist()
    demand_cb = routing.RegisterUnaryTransitCallback(lambda i: demand[manager.IndexToNode(i)])
    routing.AddDimensionWithVehicleCapacity(demand_cb, 0, [math.floor(instance.capacity)] * vehicles, True,
                                            "load")
    if instance.time_windows is not None or instance.max_route_duration is not None:
        service = np.zeros(n + 1) if instance.service_times is None else instance.service_times
        transit = scaled(instance.durations + service[:, None], scale).tolist()

        def time_cb(i: int, j: int) -> int:
            return transit[manager.IndexToNode(i)][manager.IndexToNode(j)]

        tw = instance.time_windows
        start = 0 if tw is None else int(scaled(tw[0, 0], scale))
        horizon = int(scaled(tw[0, 1], scale)) if tw is not None and np.isfinite(tw[0, 1]) else None
        if instance.max_route_duration is not None:
            limit = start + math.floor(instance.max_route_duration * scale)
            horizon = limit if horizon is None else min(horizon, limit)
        if horizon is None:
            horizon = start + int(np.asarray(transit).sum())
        routing.AddDimension(routing.RegisterTransitCallback(time_cb), horizon, horizon, False, "time")
        time_dim = routing.GetDimensionOrDie("time")
        if tw is not None:
            windows = scaled(tw, scale)
            for node in range(1, n + 1):
                lo, hi = int(windows[node, 0]), int(min(windows[node, 1], horizon))
                time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(lo, hi)
        for v in range(vehicles):
            time_dim.CumulVar(routing.Start(v)).SetRange(start, start)
            time_dim.CumulVar(routing.End(v)).SetRange(start, horizon)
    params = pywrapcp.DefaultRoutingSearchParameters()
    strategies = routing_enums_pb2.FirstSolutionStrategy
    params.first_solution_strategy = (strategies.PARALLEL_CHEAPEST_INSERTION if instance.time_windows is not None
                                      else strategies.PATH_CHEAPEST_ARC)
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    limit = budget.time_limit if budget.time_limit is not None else 10.0
    remaining = max(0.01, limit - clock.elapsed() - _SETUP_MARGIN)
    params.time_limit.FromMilliseconds(max(1, int(remaining * 1000)))
    if budget.max_iterations is not None:
        params.solution_limit = budget.max_iterations
    assignment = routing.SolveWithParameters(params)
    if assignment is None:
        raise InfeasibleError("instance", f"OR-Tools found no solution within {limit:g} s")
    routes = []
    for v in range(vehicles):
        index = routing.Start(v)
        route = []
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = assignment.Value(routing.NextVar(index))
        if route:
            routes.append(np.asarray(route, dtype=np.int64))
    objective = solution_cost(instance, routes)
    report = check_feasibility(instance, VrpSolution(tuple(routes), objective))
    clock.report(1, objective=objective)
    return VrpSolution(routes=tuple(routes), objective=objective, solver="ortools", runtime_s=clock.elapsed(),
                       meta={"feasible": report.feasible, "violations": [str(v) for v in report.violations],
                             "vehicles_offered": vehicles, "scale": scale})
