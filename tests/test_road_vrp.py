"""Real-city VRP instances: travel times against an independent Dijkstra, asymmetry, windows that
can be met, determinism, specs and suites, and the solvers on asymmetric matrices."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csgraph

from datasets.detect import load_problem
from datasets.generators.road_vrp import ROAD_SUITES, central_node, generate_road_vrp, parse_road_spec
from planner.budget import Budget
from planner.errors import ValidationError
from planner.registry import ProblemKind, get_solver
from planner.vrp import check_feasibility, route_schedule
from tests.conftest import requires_data

pytestmark = requires_data("osm", "monaco.drive.osm.bz2")


@pytest.fixture(scope="module")
def monaco():
    from datasets.osm import read_osm

    return read_osm("monaco")


@pytest.fixture(scope="module")
def instance():
    return generate_road_vrp("monaco", 40, seed=1)


def test_travel_times_match_scipy_dijkstra(monaco, instance):
    nodes = np.array([monaco.node_index(int(i)) for i in instance.client_ids])
    want = csgraph.dijkstra(monaco.graph.to_scipy("travel_time"), directed=True, indices=nodes)[:, nodes]
    np.testing.assert_allclose(instance.distances, np.round(want), atol=1.0)  # rounding of near-halves
    assert np.array_equal(instance.durations, instance.distances)
    assert np.all(np.isfinite(instance.distances))


def test_matrix_is_asymmetric_and_depot_central(monaco, instance):
    d = instance.distances
    assert not instance.is_symmetric
    assert np.count_nonzero(np.abs(d - d.T) > 1) > d.shape[0]  # one-way streets, not rounding noise
    coords = np.asarray(monaco.graph.coords)
    centre = np.median(coords, axis=0)
    depot = monaco.node_index(int(instance.client_ids[0]))
    assert depot == central_node(coords)
    # no node is nearer to the median point (plain degrees, independent of the projection used)
    dist = np.hypot(*(coords - centre).T)
    assert dist[depot] <= np.quantile(dist, 0.01)
    assert instance.client_ids[0] not in set(instance.client_ids[1:].tolist())
    assert len(set(instance.client_ids.tolist())) == instance.n_clients + 1


def test_windows_can_be_met_by_direct_trips(instance):
    tw = instance.time_windows
    assert tw is not None and instance.service_times is not None
    assert np.all(tw[1:, 0] <= tw[1:, 1])
    for c in range(1, instance.n_clients + 1):
        arrivals, back = route_schedule(instance, [c])
        assert arrivals[0] <= tw[c, 1]
        assert back <= tw[0, 1]


def test_deterministic_under_seed():
    a = generate_road_vrp("monaco", 25, seed=7, time_windows=False)
    b = generate_road_vrp("monaco", 25, seed=7, time_windows=False)
    c = generate_road_vrp("monaco", 25, seed=8, time_windows=False)
    assert a.name == "road-monaco-n25-s7-cvrp" and a.time_windows is None
    assert np.array_equal(a.client_ids, b.client_ids) and np.array_equal(a.distances, b.distances)
    assert np.array_equal(a.demands, b.demands)
    assert not np.array_equal(a.client_ids, c.client_ids)


@pytest.mark.parametrize("solver", ["savings", "ga", "ortools"])
def test_solvers_accept_the_asymmetric_matrix(instance, solver):
    budget = Budget(max_iterations=50, seed=1) if solver == "ga" else Budget(time_limit=1.0, seed=1)
    solution = get_solver(solver, ProblemKind.VRPTW).solve(instance, budget)
    report = check_feasibility(instance, solution)
    assert report.feasible, str(report)
    # the cost is read in driving direction: reversing a route changes it on this matrix
    longest = max(solution.routes, key=len)
    path = np.concatenate(([0], longest, [0]))
    forward = instance.distances[path[:-1], path[1:]].sum()
    backward = instance.distances[path[::-1][:-1], path[::-1][1:]].sum()
    assert len(longest) < 2 or forward != backward


def test_specs_and_suites():
    loaded = load_problem("road:monaco:n=20,seed=3,tw=0")
    assert loaded.kind == ProblemKind.CVRP and loaded.name == "road-monaco-n20-s3-cvrp"
    assert load_problem("road:monaco:n=20,seed=3").kind == ProblemKind.VRPTW
    city, kwargs = parse_road_spec("road:porto:n=400,seed=2,tw=0")
    assert city == "porto" and kwargs == {"n_clients": 400, "seed": 2, "time_windows": False}
    for bad in ("road:monaco:n=ten", "road:monaco:colour=red", "road::n=3", "road:monaco:n"):
        with pytest.raises(ValidationError):
            parse_road_spec(bad)
    with pytest.raises(ValidationError):
        generate_road_vrp("monaco", 10**6)
    for specs in ROAD_SUITES.values():
        for spec in specs:
            parse_road_spec(spec)
