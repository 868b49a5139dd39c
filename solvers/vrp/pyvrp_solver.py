"""PyVRP (Wouda, Lan & Kool 2024) as a baseline, registered ``pyvrp``; imported lazily.

PyVRP works on integers: the instance is scaled by
:func:`~solvers.vrp._integer_data.integer_scale` (10 for the DIMACS convention of the Solomon
and Gehring-Homberger sets, as the data README says), and the routes it returns are re-costed
on the original instance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.budget import Budget
from planner.errors import DataNotFoundError
from planner.vrp import VrpInstance, VrpSolution, check_feasibility, solution_cost
from solvers.vrp._integer_data import fleet_size, integer_scale, scaled


def pyvrp_available() -> bool:
    """Whether PyVRP can be imported."""
    try:
        import pyvrp  # noqa: F401
    except ImportError:
        return False
    return True


def _problem_data(instance: VrpInstance, scale: int) -> Any:
    import pyvrp

    n = instance.n_clients
    coords = instance.coords if instance.coords is not None else np.zeros((n + 1, 2))
    tw = instance.time_windows
    windows = scaled(tw, scale) if tw is not None else None
    service = scaled(instance.service_times, scale) if instance.service_times is not None else np.zeros(n + 1, int)
    demand = scaled(instance.demands, 1)
    locations = [pyvrp.Location(float(x), float(y)) for x, y in coords]
    big = np.iinfo(np.int64).max
    depot = pyvrp.Depot(0, tw_early=int(windows[0, 0]) if windows is not None else 0,
                        tw_late=int(windows[0, 1]) if windows is not None else big)
    clients = [
        pyvrp.Client(c, delivery=[int(demand[c])], service_duration=int(service[c]),
                     tw_early=int(windows[c, 0]) if windows is not None else 0,
                     tw_late=int(windows[c, 1]) if windows is not None else big)
        for c in range(1, n + 1)
    ]
    shift = big if instance.max_route_duration is None else int(np.floor(instance.max_route_duration * scale))
    vehicle = pyvrp.VehicleType(fleet_size(instance), capacity=[int(np.floor(instance.capacity))],
                                tw_early=depot.tw_early, tw_late=depot.tw_late, shift_duration=shift)
    dist = scaled(instance.distances, scale)
    dur = scaled(instance.durations, scale)
    return pyvrp.ProblemData(locations, clients, [depot], [vehicle], [dist], [dur])


def solve_pyvrp(instance: VrpInstance, budget: Budget | None = None) -> VrpSolution:
    """Solve ``instance`` with PyVRP's hybrid genetic search under the budget's time limit.

    Parameters
    ----------
    instance
        CVRP or VRPTW instance.
    budget
        Time limit (default 10 s), iteration limit, seed.

    Returns
    -------
    VrpSolution
        ``solver="pyvrp"``, objective recomputed on the original instance.

    Raises
    ------
    DataNotFoundError
        When PyVRP is not installed (``pip install routeplanner[bench]``).
    """
    if not pyvrp_available():
        raise DataNotFoundError("pyvrp", "install the bench extra: pip install 'routeplanner[bench]'")
    import pyvrp
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

    budget = budget if budget is not None else Budget()
    clock = budget.start()
    scale = integer_scale(instance)
    data = _problem_data(instance, scale)
    limit = budget.time_limit if budget.time_limit is not None else 10.0
    criteria = [MaxRuntime(max(0.01, limit - clock.elapsed()))]
    if budget.max_iterations is not None:
        criteria.append(MaxIterations(budget.max_iterations))
    result = pyvrp.solve(data, stop=MultipleCriteria(criteria), seed=budget.seed, collect_stats=False)
    routes = tuple(r for r in (np.asarray([a.idx + 1 for a in route if a.is_client()], dtype=np.int64)
                               for route in result.best.routes()) if r.size)
    objective = solution_cost(instance, routes)
    report = check_feasibility(instance, VrpSolution(routes, objective))
    clock.report(result.num_iterations, objective=objective)
    return VrpSolution(routes=routes, objective=objective, solver="pyvrp", runtime_s=clock.elapsed(),
                       iterations=result.num_iterations,
                       meta={"feasible": report.feasible, "violations": [str(v) for v in report.violations],
                             "scale": scale})
