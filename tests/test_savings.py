"""Clarke-Wright savings: feasible on real and generated instances, sane gaps to the best-known
values, never below the brute-force optimum on tiny instances."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from datasets.generators.vrp import generate_cvrp, generate_vrptw
from datasets.vrplib import best_known, read_instance
from planner.budget import Budget
from planner.errors import ValidationError
from planner.registry import ProblemKind, get_solver
from planner.vrp import VrpInstance, check_feasibility, route_schedule
from solvers.vrp.savings import solve_savings
from tests.conftest import data_file


def _gap(objective: float, bks: float) -> float:
    return (objective - bks) / bks


# --- real instances -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("parts", "max_gap"),
    [
        (("cvrp", "X", "X-n101-k25.vrp"), 0.15),
        (("cvrp", "X", "X-n1001-k43.vrp"), 0.15),
        (("vrptw", "Solomon", "C101.vrp"), 0.30),
        (("vrptw", "Solomon", "R101.vrp"), 0.30),
        (("vrptw", "GH400", "C1_4_1.vrp"), 0.60),
    ],
    ids=lambda p: p[-1] if isinstance(p, tuple) else str(p),
)
def test_savings_on_benchmarks_is_feasible_with_a_sane_gap(parts: tuple[str, ...], max_gap: float) -> None:
    instance = read_instance(data_file("vrp", *parts))
    solver = get_solver("savings", ProblemKind.VRPTW if instance.has_time_windows else ProblemKind.CVRP)
    solution = solver.solve(instance, Budget())
    report = check_feasibility(instance, solution)
    assert report.feasible, report
    bks = best_known(instance.name)
    assert bks is not None
    assert 0 < _gap(report.objective, bks) < max_gap
    assert solution.solver == "savings" and solution.iterations > 0


def test_fleet_repair_brings_r101_within_25_vehicles() -> None:
    instance = read_instance(data_file("vrp", "vrptw", "Solomon", "R101.vrp"))
    solution = solve_savings(instance)
    assert solution.n_routes <= instance.num_vehicles == 25
    assert check_feasibility(instance, solution).feasible


# --- generated instances --------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 10, 75, 300])
@pytest.mark.parametrize("distribution", ["uniform", "clustered", "mixed"])
def test_savings_feasible_on_generated_instances(n: int, distribution: str) -> None:
    for instance in (generate_cvrp(n, distribution=distribution, seed=n),
                     generate_vrptw(n, distribution=distribution, seed=n)):
        solution = solve_savings(instance)
        report = check_feasibility(instance, solution)
        assert report.feasible, (instance.name, report)
        # merging only ever saves distance: never worse than one route per client
        singles = sum(instance.distances[0, c] + instance.distances[c, 0] for c in range(1, n + 1))
        assert report.objective <= singles + 1e-9


def test_generators_are_deterministic_and_named() -> None:
    a, b = generate_cvrp(100, seed=1), generate_cvrp(100, seed=1)
    assert a.name == "gen-cvrp-uniform-n100-s1" and a.rounding == "nint"
    np.testing.assert_array_equal(a.coords, b.coords)
    np.testing.assert_array_equal(a.demands, b.demands)
    assert a.capacity == b.capacity
    c = generate_cvrp(100, seed=2)
    assert not np.array_equal(a.coords, c.coords)
    assert np.all((a.coords >= 0) & (a.coords <= 1000)) and np.all(a.coords == np.round(a.coords))
    assert generate_cvrp(50, distribution="clustered", capacity=300, seed=4).name == \
        "gen-cvrp-clustered-n50-s4-q300"
    tw = generate_vrptw(200, distribution="mixed", seed=3)
    assert tw.name == "gen-vrptw-mixed-n200-s3" and tw.has_time_windows and tw.rounding == "dimacs"
    np.testing.assert_array_equal(tw.time_windows, generate_vrptw(200, distribution="mixed", seed=3).time_windows)
    with pytest.raises(ValidationError, match="distribution: unknown 'gaussian'"):
        generate_cvrp(10, distribution="gaussian")
    with pytest.raises(ValidationError, match="n_clients"):
        generate_vrptw(0)


def test_generated_capacity_targets_route_size() -> None:
    for route_size in (4.0, 12.0):
        inst = generate_cvrp(400, seed=5, route_size=route_size)
        lower_bound_routes = inst.total_demand / inst.capacity
        assert inst.n_clients / lower_bound_routes == pytest.approx(route_size, rel=0.05)


def test_default_instance_is_solved_feasibly() -> None:
    instance = generate_cvrp(100, seed=1)
    solution = solve_savings(instance)
    assert check_feasibility(instance, solution).feasible


# --- brute force on tiny instances ----------------------------------------------------------

def _route_ok(instance: VrpInstance, route: tuple[int, ...]) -> bool:
    if instance.demands[list(route)].sum() > instance.capacity:
        return False
    arrivals, back = route_schedule(instance, route)
    tw = instance.time_windows
    if tw is not None and (np.any(arrivals > tw[list(route), 1] + 1e-9) or back > tw[0, 1] + 1e-9):
        return False
    start = 0.0 if tw is None else tw[0, 0]
    return instance.max_route_duration is None or back - start <= instance.max_route_duration + 1e-9


def brute_force_optimum(instance: VrpInstance) -> float:
    """Exact optimum by enumeration: best route per client subset, then a set-partition DP."""
    n = instance.n_clients
    d = instance.distances
    best_route = {}
    for mask in range(1, 1 << n):
        members = [c + 1 for c in range(n) if mask >> c & 1]
        best = math.inf
        for perm in itertools.permutations(members):
            path = (0, *perm, 0)
            cost = sum(d[a, b] for a, b in itertools.pairwise(path))
            if cost < best and _route_ok(instance, perm):
                best = cost
        best_route[mask] = best
    fleet = instance.num_vehicles or n
    # dp[k][mask]: cheapest cover of mask with k routes
    dp = {0: 0.0}
    best_total = math.inf
    full = (1 << n) - 1
    for _ in range(fleet):
        nxt: dict[int, float] = {}
        for mask, cost in dp.items():
            rest = full & ~mask
            low = rest & -rest  # the route holding the lowest uncovered client
            sub = rest
            while sub:
                if sub & low and best_route[sub] < math.inf:
                    new = mask | sub
                    value = cost + best_route[sub]
                    if value < nxt.get(new, math.inf):
                        nxt[new] = value
                sub = (sub - 1) & rest
        dp = nxt
        best_total = min(best_total, dp.get(full, math.inf))
    return best_total


def _asymmetric(n: int, seed: int) -> VrpInstance:
    rng = np.random.default_rng(seed)
    coords = rng.uniform(0, 100, size=(n + 1, 2))
    base = np.sqrt(((coords[:, None] - coords[None]) ** 2).sum(axis=2))
    skew = rng.uniform(0.0, 30.0, size=(n + 1, n + 1))
    matrix = base + np.triu(skew, 1)  # going "up" the index order costs extra
    return VrpInstance(f"asym-{seed}", np.r_[0, rng.integers(1, 10, size=n)], 20, distances=matrix)


TINY = (
    [("cvrp", n, s) for n, s in [(3, 0), (5, 1), (6, 2), (7, 3), (7, 4)]]
    + [("cvrp-clustered", 7, s) for s in (5, 6)]
    + [("vrptw", n, s) for n, s in [(4, 0), (6, 1), (7, 2), (7, 3)]]
    + [("asymmetric", n, s) for n, s in [(5, 0), (6, 1), (7, 2)]]
    + [("duration", 6, s) for s in (0, 1)]
)


@pytest.mark.parametrize(("family", "n", "seed"), TINY, ids=[f"{f}-n{n}-s{s}" for f, n, s in TINY])
def test_savings_never_beats_brute_force(family: str, n: int, seed: int) -> None:
    if family == "cvrp":
        instance = generate_cvrp(n, seed=seed, route_size=3)
    elif family == "cvrp-clustered":
        instance = generate_cvrp(n, distribution="clustered", seed=seed, route_size=3)
    elif family == "vrptw":
        instance = generate_vrptw(n, seed=seed, window_width=20, capacity=60)
    elif family == "asymmetric":
        instance = _asymmetric(n, seed)
    else:
        base = generate_cvrp(n, seed=seed, capacity=10**6)
        longest = max(base.distances[0, c] + base.distances[c, 0] for c in range(1, n + 1))
        instance = VrpInstance(base.name, base.demands, base.capacity, coords=base.coords, rounding="nint",
                               max_route_duration=1.3 * longest)
    solution = solve_savings(instance)
    report = check_feasibility(instance, solution)
    assert report.feasible, report
    optimum = brute_force_optimum(instance)
    assert math.isfinite(optimum)
    assert report.objective >= optimum - 1e-6
    # a sane heuristic on tiny instances: within 40 % of the optimum
    assert report.objective <= 1.4 * optimum + 1e-6


def test_asymmetric_routes_respect_orientation() -> None:
    instance = _asymmetric(30, 7)
    solution = solve_savings(instance)
    assert solution.meta["mode"] == "directed"
    report = check_feasibility(instance, solution)
    assert report.feasible
    # costs are directed: reversing the routes changes the objective the report computes
    reversed_cost = sum(instance.distances[np.r_[0, r[::-1]], np.r_[r[::-1], 0]].sum() for r in solution.routes)
    assert reversed_cost != pytest.approx(report.objective)


def test_cancelled_budget_still_returns_every_client() -> None:
    instance = generate_cvrp(300, seed=3)
    budget = Budget()
    budget.cancel.set()
    solution = solve_savings(instance, budget)
    served = np.sort(np.concatenate(solution.routes))
    np.testing.assert_array_equal(served, np.arange(1, 301))
    assert check_feasibility(instance, solution).feasible


def test_deterministic() -> None:
    instance = generate_vrptw(120, distribution="clustered", seed=9)
    a, b = solve_savings(instance), solve_savings(instance)
    assert [r.tolist() for r in a.routes] == [r.tolist() for r in b.routes]

