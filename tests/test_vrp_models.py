"""VrpInstance validation, distance conventions, costs and the independent feasibility check."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import CapacityError, ValidationError
from planner.vrp import (
    MAX_DENSE_CLIENTS,
    VrpInstance,
    VrpSolution,
    check_feasibility,
    euclidean_distances,
    route_cost,
    solution_cost,
)


def _line_instance(n: int = 4, **kwargs) -> VrpInstance:
    """Depot at 0, clients at x = 1..n on a line; demand 1 each."""
    coords = np.column_stack((np.arange(n + 1, dtype=float), np.zeros(n + 1)))
    args = dict(name="line", demands=np.r_[0, np.ones(n)], capacity=10, coords=coords, rounding="exact")
    args.update(kwargs)
    return VrpInstance(**args)


def _fields(exc: ValidationError) -> list[str]:
    return [v.field for v in exc.violations]


# --- validation -----------------------------------------------------------------------------

def test_negative_demand_names_client_and_value() -> None:
    demands = np.ones(18)
    demands[0] = 0
    demands[17] = -3
    with pytest.raises(ValidationError) as info:
        VrpInstance("neg", demands, 100, coords=np.zeros((18, 2)))
    assert str(info.value) == "clients[17].demand: negative (-3)"


def test_demand_above_capacity() -> None:
    demands = np.r_[0, 10, 10, 10, 10, 120]
    with pytest.raises(ValidationError) as info:
        VrpInstance("big", demands, 100, coords=np.zeros((6, 2)))
    assert str(info.value) == "clients[5].demand: 120 exceeds vehicle capacity 100"


def test_every_violation_is_reported_at_once() -> None:
    coords = np.zeros((4, 2))
    coords[2, 1] = np.nan
    with pytest.raises(ValidationError) as info:
        VrpInstance("many", np.r_[0, -1, 5, 200], 100, coords=coords, num_vehicles=0)
    fields = _fields(info.value)
    assert fields == ["clients[1].demand", "clients[3].demand", "clients[2].coords", "num_vehicles"]
    assert "not finite" in str(info.value)


@pytest.mark.parametrize("capacity", [0, -5, float("nan"), float("inf")])
def test_capacity_must_be_positive(capacity: float) -> None:
    with pytest.raises(ValidationError, match="capacity: must be positive"):
        VrpInstance("cap", np.r_[0, 1], capacity, coords=np.zeros((2, 2)))


def test_matrix_shape_and_finiteness() -> None:
    with pytest.raises(ValidationError, match="distances: not a square matrix"):
        VrpInstance("m", np.r_[0, 1, 1], 5, distances=np.zeros((3, 2)))
    bad = np.ones((3, 3))
    bad[1, 2] = np.inf
    with pytest.raises(ValidationError, match=r"distances\[1,2\]: not finite"):
        VrpInstance("m", np.r_[0, 1, 1], 5, distances=bad)
    with pytest.raises(ValidationError, match="does not match 3 nodes"):
        VrpInstance("m", np.r_[0, 1, 1], 5, distances=np.ones((4, 4)))
    with pytest.raises(ValidationError, match="distances: missing"):
        VrpInstance("m", np.r_[0, 1, 1], 5)


def test_time_window_earliest_after_latest() -> None:
    tw = np.array([[0, 100], [50, 40], [0, 100]])
    with pytest.raises(ValidationError) as info:
        _line_instance(2, time_windows=tw)
    assert str(info.value) == "clients[1].time_window: earliest 50 after latest 40"


def test_unreachable_and_unreturnable_windows() -> None:
    # client 3 sits at distance 3: a window closing at 2 cannot be reached
    tw = np.array([[0, 100], [0, 100], [0, 100], [0, 2], [0, 100]], dtype=float)
    with pytest.raises(ValidationError) as info:
        _line_instance(4, time_windows=tw)
    assert info.value.violations[0].field == "clients[3].time_window"
    assert "unreachable: earliest arrival 3" in str(info.value)
    # client 4 opens at 95, serves 3, needs 4 back: 102 > depot latest 100
    tw = np.array([[0, 100], [0, 100], [0, 100], [0, 100], [95, 99]], dtype=float)
    with pytest.raises(ValidationError, match=r"clients\[4\].time_window: no return to the depot: back at 102"):
        _line_instance(4, time_windows=tw, service_times=np.r_[0, 3, 3, 3, 3])


def test_round_trip_longer_than_max_duration() -> None:
    with pytest.raises(ValidationError, match=r"clients\[4\]: round trip takes 8, exceeds max_route_duration 7"):
        _line_instance(4, max_route_duration=7)


def test_dense_matrix_limit_is_a_clear_error() -> None:
    n = MAX_DENSE_CLIENTS + 1
    with pytest.raises(CapacityError, match=f"{n} clients exceed the dense-matrix limit"):
        VrpInstance("huge", np.r_[0, np.ones(n)], 10, coords=np.zeros((n + 1, 2)))


def test_arrays_are_read_only_and_defaults_resolved() -> None:
    inst = _line_instance(3)
    assert inst.n_clients == 3 and not inst.has_time_windows
    assert inst.durations is inst.distances
    assert inst.demands.dtype == np.int64
    with pytest.raises(ValueError, match="read-only"):
        inst.distances[0, 1] = 5
    given_matrix = VrpInstance("m", np.r_[0, 1], 5, distances=np.array([[0.0, 2.0], [3.0, 0.0]]))
    assert given_matrix.rounding == "none" and not given_matrix.is_symmetric


# --- distance conventions -------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=2, max_size=8))
def test_rounding_conventions_match_their_definitions(points: list[tuple[int, int]]) -> None:
    coords = np.asarray(points, dtype=float)
    nint = euclidean_distances(coords, "nint")
    dimacs = euclidean_distances(coords, "dimacs")
    for i, (xi, yi) in enumerate(points):
        for j, (xj, yj) in enumerate(points):
            sq = (xi - xj) ** 2 + (yi - yj) ** 2
            assert nint[i, j] == math.floor(math.sqrt(sq) + 0.5)
            # exact integer arithmetic: the largest t with t^2 <= 100 sq
            assert round(dimacs[i, j] * 10) == math.isqrt(100 * sq)


# --- costs ----------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**16), st.sampled_from(["exact", "nint", "dimacs"]))
def test_solution_cost_matches_a_plain_loop(n: int, seed: int, rounding: str) -> None:
    rng = np.random.default_rng(seed)
    coords = rng.integers(0, 100, size=(n + 1, 2)).astype(float)
    inst = VrpInstance("r", np.r_[0, np.ones(n)], n, coords=coords, rounding=rounding)
    perm = rng.permutation(np.arange(1, n + 1))
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(2, n - 1), replace=False)) if n > 2 else []
    routes = np.split(perm, cuts)
    rnd = {"exact": lambda d: d, "nint": lambda d: math.floor(d + 0.5),
           "dimacs": lambda d: math.isqrt(round(100 * d * d)) / 10}[rounding]
    expected = 0.0
    for route in routes:
        path = [0, *route.tolist(), 0]
        leg = sum(rnd(math.dist(coords[a], coords[b])) for a, b in itertools.pairwise(path))
        assert route_cost(inst, route) == pytest.approx(leg, abs=1e-9)
        expected += leg
    assert solution_cost(inst, routes) == pytest.approx(expected, abs=1e-9)


# --- feasibility report ---------------------------------------------------------------------

def _tw_instance() -> VrpInstance:
    """Clients on a line at x = 1..4, unit demand, capacity 3, fleet 2; clients 1-3 close at 3."""
    tw = np.array([[0, 50], [0, 3], [0, 3], [0, 3], [0, 40]], dtype=float)
    return _line_instance(4, time_windows=tw, capacity=3, num_vehicles=2)


def _solution(routes: list[list[int]], inst: VrpInstance, objective: float | None = None) -> VrpSolution:
    valid = [[c for c in r if 1 <= c <= inst.n_clients] for r in routes]
    return VrpSolution(tuple(np.asarray(r) for r in routes),
                       solution_cost(inst, valid) if objective is None else objective)


def test_feasible_solution_passes() -> None:
    inst = _tw_instance()
    report = check_feasibility(inst, _solution([[1, 2, 3], [4]], inst))
    assert report.feasible and report.violations == ()
    assert report.objective == 6 + 8


@pytest.mark.parametrize(
    ("routes", "objective", "expected"),
    [
        ([[1, 2, 3]], None, ["clients[4]: not visited"]),
        ([[1, 2, 3], [4, 2]], None, ["clients[2]: visited twice (routes 0 and 1)",
                                     "routes[1].clients[2].time_window: arrival 6 after latest 3"]),
        ([[1, 2, 3], [4, 9]], None, ["routes[1][1]: unknown client 9 (clients are 1..4)"]),
        ([[1, 2, 3, 4]], None, ["routes[0].load: 4 exceeds capacity 3"]),
        ([[4, 3], [1, 2]], None, ["routes[0].clients[3].time_window: arrival 5 after latest 3"]),
        ([[1], [2], [3, 4]], None, ["routes: 3 routes exceed the fleet of 2 vehicles"]),
        ([[1, 2, 3], [4]], 13.0, ["objective: stated 13 differs from recomputed 14"]),
    ],
)
def test_each_violation_is_named(routes: list[list[int]], objective: float | None, expected: list[str]) -> None:
    inst = _tw_instance()
    report = check_feasibility(inst, _solution(routes, inst, objective))
    assert [str(v) for v in report.violations] == expected
    assert report.feasible is (not expected)


def test_time_window_and_depot_violations() -> None:
    tw = np.array([[0, 20], [0, 100], [0, 100], [0, 4], [0, 100]], dtype=float)
    inst = _line_instance(4, time_windows=tw, service_times=np.r_[0, 5, 5, 5, 5])
    # 4 -> 3: arrive at 4 at t=4, leave 9, arrive at 3 at 10 > 4; back at depot 18 <= 20
    report = check_feasibility(inst, _solution([[4, 3], [1, 2]], inst))
    assert [str(v) for v in report.violations] == ["routes[0].clients[3].time_window: arrival 10 after latest 4"]
    # arrival at 3 only after 1 and 2: late there, and back at the depot at 3+15+3 = 21 > 20
    report = check_feasibility(inst, _solution([[1, 2, 3], [4]], inst))
    assert [str(v) for v in report.violations] == [
        "routes[0].clients[3].time_window: arrival 13 after latest 4",
        "routes[0].depot.time_window: return 21 after the depot's latest 20",
    ]


def test_waiting_at_an_early_arrival_is_allowed() -> None:
    tw = np.array([[0, 100], [30, 40], [0, 100]], dtype=float)
    inst = _line_instance(2, time_windows=tw)
    # arrive at 1 at t=1, wait until 30, reach client 2 at 31 (inside [0, 100])
    assert check_feasibility(inst, _solution([[1, 2]], inst)).feasible


def test_route_duration_exceeded() -> None:
    inst = _line_instance(4, max_route_duration=8)
    report = check_feasibility(inst, _solution([[1, 4], [2, 3]], inst))
    assert report.feasible  # durations 8 and 6
    inst = _line_instance(4, max_route_duration=9, service_times=np.r_[0, 1, 1, 1, 1])
    report = check_feasibility(inst, _solution([[1, 4], [2, 3]], inst))
    assert [str(v) for v in report.violations] == ["routes[0].duration: 10 exceeds max_route_duration 9"]


def test_solution_rejects_fractional_indices() -> None:
    with pytest.raises(ValidationError, match=r"routes\[0\]: client indices must be integers"):
        VrpSolution((np.array([1.5, 2.0]),), 3.0)
