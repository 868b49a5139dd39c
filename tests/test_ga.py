"""Hybrid genetic search (``solvers.vrp.ga``): optimality on tiny instances against brute force,
feasibility on real instances, seeding, the split and local search against plain-Python oracles."""

from __future__ import annotations

import dataclasses
import itertools
import threading

import numpy as np
import pytest

from datasets.generators.vrp import generate_cvrp, generate_vrptw
from planner.budget import Budget
from planner.errors import ValidationError
from planner.vrp import VrpInstance, check_feasibility, route_schedule
from solvers.vrp.ga import GaParams, StoppingCriterion, solve_ga
from solvers.vrp.ga.local_search import local_search, swap_star_pair, swap_star_py
from solvers.vrp.ga.neighbours import granular_neighbours
from solvers.vrp.ga.problem_arrays import ProblemArrays, problem_arrays
from solvers.vrp.ga.route_eval import route_eval, route_eval_py
from solvers.vrp.ga.split import split_cost_py, split_tour
from tests.conftest import requires_data


def _brute_force_optimum(instance: VrpInstance) -> float:
    """Cheapest feasible solution over every giant tour and every way to cut it (independent of the GA)."""
    n = instance.n_clients
    d = instance.distances
    tw = instance.time_windows
    cache: dict[tuple[int, ...], float] = {}

    def route_cost(route: tuple[int, ...]) -> float:
        if route not in cache:
            cost = float("inf")
            if instance.demands[list(route)].sum() <= instance.capacity:
                ok = True
                if tw is not None:
                    arrivals, back = route_schedule(instance, list(route))
                    ok = bool(np.all(arrivals <= tw[list(route), 1] + 1e-9) and back <= tw[0, 1] + 1e-9)
                if ok:
                    path = (0, *route, 0)
                    cost = float(sum(d[a, b] for a, b in itertools.pairwise(path)))
            cache[route] = cost
        return cache[route]

    best = float("inf")
    for perm in itertools.permutations(range(1, n + 1)):
        if perm[0] > perm[-1] and instance.is_symmetric and tw is None:
            continue
        # fewest-cost cut of this permutation, each route used at most once
        f = [0.0] + [float("inf")] * n
        for j in range(1, n + 1):
            for i in range(j):
                f[j] = min(f[j], f[i] + route_cost(perm[i:j]))
        best = min(best, f[n])
    return best


def _small_vrptw(seed: int) -> VrpInstance:
    rng = np.random.default_rng(seed)
    n = 6
    coords = rng.uniform(0, 50, size=(n + 1, 2))
    coords[0] = 25
    start = rng.uniform(0, 120, size=n)
    windows = np.vstack([[0.0, 400.0], np.column_stack([start, start + rng.uniform(20, 60, size=n)])])
    demands = np.concatenate([[0], rng.integers(1, 10, size=n)])
    return VrpInstance(f"tiny-tw-{seed}", demands=demands, capacity=20, coords=coords, time_windows=windows,
                       service_times=np.concatenate([[0.0], np.full(n, 5.0)]), rounding="dimacs")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ga_finds_brute_force_optimum_cvrp(seed: int) -> None:
    instance = generate_cvrp(7, seed=seed, route_size=3)
    expected = _brute_force_optimum(instance)
    solution = solve_ga(instance, Budget(time_limit=5, max_iterations=150, seed=seed))
    assert check_feasibility(instance, solution).feasible
    assert solution.objective == pytest.approx(expected)


@pytest.mark.parametrize("seed", [4, 5])
def test_ga_finds_brute_force_optimum_vrptw(seed: int) -> None:
    instance = _small_vrptw(seed)
    expected = _brute_force_optimum(instance)
    assert np.isfinite(expected)
    solution = solve_ga(instance, Budget(time_limit=5, max_iterations=150, seed=seed))
    assert check_feasibility(instance, solution).feasible
    assert solution.objective == pytest.approx(expected)


def test_ga_finds_brute_force_optimum_on_an_asymmetric_matrix() -> None:
    rng = np.random.default_rng(11)
    d = rng.integers(5, 60, size=(8, 8)).astype(float)
    np.fill_diagonal(d, 0.0)
    instance = VrpInstance("tiny-asym", demands=np.array([0, 3, 4, 2, 5, 3, 4, 2]), capacity=9, distances=d)
    assert not instance.is_symmetric
    expected = _brute_force_optimum(instance)
    solution = solve_ga(instance, Budget(time_limit=5, max_iterations=150, seed=0))
    assert check_feasibility(instance, solution).feasible
    assert solution.objective == pytest.approx(expected)


@requires_data("vrp", "cvrp", "X", "X-n101-k25.vrp")
@pytest.mark.parametrize(("folder", "name"), [("cvrp/X", "X-n101-k25"), ("cvrp/X", "X-n157-k13"),
                                              ("vrptw/Solomon", "R101"), ("vrptw/Solomon", "RC201"),
                                              ("vrptw/Solomon", "C101")])
def test_ga_solutions_on_benchmarks_are_feasible(folder: str, name: str) -> None:
    from datasets.location import data_path
    from datasets.vrplib import best_known, read_instance

    instance = read_instance(data_path("vrp", *folder.split("/"), f"{name}.vrp"))
    solution = solve_ga(instance, Budget(time_limit=0.6, seed=1))
    report = check_feasibility(instance, solution)
    assert report.feasible, str(report)
    assert solution.meta["feasible"]
    assert solution.objective == report.objective
    assert solution.objective >= best_known(name) - 1e-6


@requires_data("vrp", "cvrp", "X", "X-n101-k25.sol")
def test_seeded_run_starts_from_its_best_member() -> None:
    from datasets.location import data_path
    from datasets.vrplib import best_known, read_instance, read_solution
    from solvers.vrp.savings import solve_savings

    instance = read_instance(data_path("vrp", "cvrp", "X", "X-n101-k25.vrp"))
    bks = read_solution(data_path("vrp", "cvrp", "X", "X-n101-k25.sol"))
    savings = solve_savings(instance)
    events = []
    solution = solve_ga(instance, Budget(max_iterations=5, seed=0, progress=events.append),
                        initial=[savings, bks])
    assert events[0].objective == best_known("X-n101-k25")
    assert events[0].iteration == 0
    assert solution.objective == best_known("X-n101-k25")  # nothing beats the best known here
    objectives = [e.objective for e in events]
    assert objectives == sorted(objectives, reverse=True)


def test_seeded_run_with_giant_tours() -> None:
    instance = generate_cvrp(30, seed=7)
    arrays = problem_arrays(instance)
    rng = np.random.default_rng(0)
    tours = [rng.permutation(np.arange(1, 31)) for _ in range(3)]
    events = []
    solve_ga(instance, Budget(max_iterations=3, seed=0, progress=events.append), initial=tours,
             params=GaParams(initial_size=3))
    # the giant tours as given, split at the start penalties; the best feasible one is reported first
    costs = []
    for tour in tours:
        routes = split_tour(tour, arrays, 1e9, 1e9)
        if all(instance.demands[r].sum() <= instance.capacity for r in routes):
            costs.append(sum(route_eval_py(list(r), arrays.dist, arrays.dur, arrays.demand, arrays.early,
                                           arrays.late, arrays.service, arrays.max_duration, False)[0]
                             for r in routes))
    assert events[0].iteration == 0
    assert events[0].objective <= min(costs) + 1e-9


def test_bad_initial_member_is_named() -> None:
    instance = generate_cvrp(10, seed=1)
    with pytest.raises(ValidationError, match=r"initial\[1\]"):
        solve_ga(instance, Budget(max_iterations=2), initial=[np.arange(1, 11), np.array([1, 2, 2, 4])])


@pytest.mark.parametrize("seed", range(6))
def test_split_equals_python_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    instance = (generate_cvrp(25, seed=seed) if seed % 2 == 0 else generate_vrptw(25, seed=seed))
    arrays = problem_arrays(instance)
    for _ in range(5):
        tour = rng.permutation(np.arange(1, 26))
        pen_cap, pen_tw = rng.uniform(0.1, 50), rng.uniform(0.1, 50)
        routes = split_tour(tour, arrays, pen_cap, pen_tw)
        assert np.array_equal(np.concatenate(routes), tour)
        total = 0.0
        for r in routes:
            d, load, tw = route_eval_py(list(r), arrays.dist, arrays.dur, arrays.demand, arrays.early, arrays.late,
                                        arrays.service, arrays.max_duration, arrays.has_tw)
            total += d + pen_cap * max(0.0, load - arrays.capacity) + pen_tw * tw
        assert total == pytest.approx(split_cost_py(list(tour), arrays, pen_cap, pen_tw), rel=1e-9)


def test_route_eval_matches_python_and_feasibility_check() -> None:
    rng = np.random.default_rng(3)
    instance = generate_vrptw(30, seed=3)
    arrays = problem_arrays(instance)
    for _ in range(50):
        route = rng.permutation(np.arange(1, 31))[: rng.integers(1, 10)]
        fast = route_eval(route, route.size, arrays.dist, arrays.dur, arrays.demand, arrays.early, arrays.late,
                          arrays.service, arrays.max_duration, True)
        slow = route_eval_py(list(route), arrays.dist, arrays.dur, arrays.demand, arrays.early, arrays.late,
                             arrays.service, arrays.max_duration, True)
        assert fast == pytest.approx(slow)
        arrivals, back = route_schedule(instance, route)
        on_time = bool(np.all(arrivals <= instance.time_windows[route, 1] + 1e-9)
                       and back <= instance.time_windows[0, 1] + 1e-9)
        assert (fast[2] <= 1e-9) == on_time


def _penalised(routes: list[list[int]], arrays: ProblemArrays, pen_cap: float, pen_tw: float) -> float:
    total = 0.0
    for r in routes:
        if r:
            d, load, tw = route_eval_py(r, arrays.dist, arrays.dur, arrays.demand, arrays.early, arrays.late,
                                        arrays.service, arrays.max_duration, arrays.has_tw)
            total += d + pen_cap * max(0.0, load - arrays.capacity) + pen_tw * tw
    return total


@pytest.mark.parametrize("kind", ["cvrp", "vrptw"])
def test_local_search_reaches_a_relocate_and_swap_optimum(kind: str) -> None:
    """After the compiled search no relocate or swap, recomputed from scratch in Python, improves."""
    instance = generate_cvrp(18, seed=2) if kind == "cvrp" else generate_vrptw(18, seed=2)
    arrays = problem_arrays(instance)
    neighbours = granular_neighbours(arrays, size=17)  # every client: the neighbourhood is complete
    rng = np.random.default_rng(1)
    pen_cap, pen_tw = 7.0, 3.0
    start = split_tour(rng.permutation(np.arange(1, 19)), arrays, pen_cap, pen_tw)
    before = _penalised([list(r) for r in start], arrays, pen_cap, pen_tw)
    routes = [list(r) for r in local_search(start, arrays, neighbours, rng, pen_cap, pen_tw)]
    after = _penalised(routes, arrays, pen_cap, pen_tw)
    assert sorted(c for r in routes for c in r) == list(range(1, 19))
    assert after <= before + 1e-9
    eps = 1e-7
    for a, ra in enumerate(routes):
        for i, u in enumerate(ra):
            for b, rb in enumerate(routes):
                for k in range(len(rb) + 1):
                    trial = [list(r) for r in routes]
                    trial[a].pop(i)
                    kk = k - 1 if a == b and k > i else k
                    trial[b].insert(kk, u)
                    assert _penalised(trial, arrays, pen_cap, pen_tw) >= after - eps, "improving relocate left"
                for j, v in enumerate(rb):
                    if (a, i) >= (b, j):
                        continue
                    trial = [list(r) for r in routes]
                    trial[a][i], trial[b][j] = v, u
                    assert _penalised(trial, arrays, pen_cap, pen_tw) >= after - eps, "improving swap left"


def test_stopping_criterion_and_cancel() -> None:
    instance = generate_cvrp(40, seed=3)
    solution = solve_ga(instance, Budget(time_limit=30, seed=0),
                        stopping=StoppingCriterion(max_no_improvement=30))
    assert solution.iterations is not None and solution.iterations < 10_000
    assert check_feasibility(instance, solution).feasible
    cancel = threading.Event()
    cancel.set()
    cancelled = solve_ga(instance, Budget(time_limit=30, seed=0, cancel=cancel))
    assert cancelled.iterations == 0
    assert sorted(np.concatenate(cancelled.routes).tolist()) == list(range(1, 41))


def test_same_seed_same_result() -> None:
    instance = generate_vrptw(30, seed=4)
    a = solve_ga(instance, Budget(max_iterations=40, seed=3))
    b = solve_ga(instance, Budget(max_iterations=40, seed=3))
    assert a.objective == b.objective
    assert all(np.array_equal(x, y) for x, y in zip(a.routes, b.routes, strict=True))


def test_ga_is_registered_for_cvrp_and_vrptw() -> None:
    from planner.registry import get_solver

    for kind in ("cvrp", "vrptw"):
        assert get_solver("ga", kind).solve is solve_ga
    assert get_solver("ortools").baseline and get_solver("pyvrp").baseline


def _as_route_arrays(routes: list[list[int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    table = np.zeros((len(routes), n + 1), dtype=np.int64)
    lens = np.zeros(len(routes), dtype=np.int64)
    for r, route in enumerate(routes):
        table[r, :len(route)] = route
        lens[r] = len(route)
    return table, lens


@pytest.mark.parametrize("seed", range(4))
def test_swap_star_pair_equals_brute_force(seed: int) -> None:
    """The compiled SWAP* (three best insertions, O(1) per pair) finds the brute-force best exchange."""
    rng = np.random.default_rng(seed)
    n = 24
    instance = generate_cvrp(n, seed=seed) if seed % 2 else VrpInstance(
        f"asym-{seed}", demands=np.concatenate([[0], rng.integers(1, 9, size=n)]), capacity=30,
        distances=_asymmetric_matrix(rng, n))
    arrays = problem_arrays(instance)
    cost3 = np.zeros((n + 1, 3))
    pos3 = np.zeros((n + 1, 3), dtype=np.int64)
    for trial in range(12):
        perm = [int(c) for c in rng.permutation(np.arange(1, n + 1))]
        cut = int(rng.integers(1, 7))
        size_b = int(rng.integers(1, 9))
        routes = [perm[:cut], perm[cut:cut + size_b], perm[cut + size_b:]]
        pen_cap = float(rng.choice([0.0, 2.0, 50.0]))
        table, lens = _as_route_arrays(routes, n)
        rd = np.zeros(3)
        rload = np.zeros(3)
        for r, route in enumerate(routes):
            rd[r], rload[r], _ = route_eval_py(route, arrays.dist, arrays.dur, arrays.demand, arrays.early,
                                               arrays.late, arrays.service, arrays.max_duration, False)
        delta, u, ku, v, kv = swap_star_pair(table, lens, 0, 1, arrays.dist, arrays.demand, arrays.capacity,
                                             pen_cap, rd, rload, cost3, pos3)
        expected, _, _ = swap_star_py(routes[0], routes[1], arrays.dist, arrays.demand, arrays.capacity, pen_cap)
        assert delta == pytest.approx(expected, abs=1e-9), f"trial {trial}"
        # the move the kernel names has exactly the change it claims
        a, b = routes[0], routes[1]
        new_a = [c for c in a[:kv] if c != u] + [v] + [c for c in a[kv:] if c != u]
        new_b = [c for c in b[:ku] if c != v] + [u] + [c for c in b[ku:] if c != v]
        assert sorted(new_a + new_b) == sorted(a + b)
        before = _penalised([a, b], arrays, pen_cap, 0.0)
        assert _penalised([new_a, new_b], arrays, pen_cap, 0.0) - before == pytest.approx(delta, abs=1e-9)


def _asymmetric_matrix(rng: np.random.Generator, n: int) -> np.ndarray:
    d = rng.integers(5, 80, size=(n + 1, n + 1)).astype(float)
    np.fill_diagonal(d, 0.0)
    return d


@pytest.mark.parametrize("polar", [False, True])
def test_local_search_leaves_no_improving_swap_star(polar: bool) -> None:
    """With coordinates dropped and every client a neighbour, every route pair is tried: none improves."""
    instance = generate_cvrp(30, seed=5)
    arrays = problem_arrays(instance)
    if not polar:
        arrays = dataclasses.replace(arrays, polar=None)
    neighbours = granular_neighbours(arrays, size=29)
    rng = np.random.default_rng(2)
    pen_cap = 5.0
    for _ in range(3):
        start = split_tour(rng.permutation(np.arange(1, 31)), arrays, pen_cap, 1.0)
        before = _penalised([list(r) for r in start], arrays, pen_cap, 1.0)
        routes = [list(r) for r in local_search(start, arrays, neighbours, rng, pen_cap, 1.0)]
        assert sorted(c for r in routes for c in r) == list(range(1, 31))
        assert _penalised(routes, arrays, pen_cap, 1.0) <= before + 1e-9
        if polar:
            continue  # pairs whose sectors do not overlap are not tried
        for a, b in itertools.combinations(range(len(routes)), 2):
            best, _, _ = swap_star_py(routes[a], routes[b], arrays.dist, arrays.demand, arrays.capacity, pen_cap)
            assert best >= -1e-7, "improving SWAP* left"


@pytest.mark.parametrize("kind", ["cvrp", "vrptw", "matrix"])
def test_local_search_is_never_worse_than_its_input(kind: str) -> None:
    rng = np.random.default_rng(7)
    if kind == "matrix":
        instance = VrpInstance("asym-60", demands=np.concatenate([[0], rng.integers(1, 9, size=60)]), capacity=40,
                               distances=_asymmetric_matrix(rng, 60))
    else:
        instance = generate_cvrp(60, seed=7) if kind == "cvrp" else generate_vrptw(60, seed=7)
    arrays = problem_arrays(instance)
    neighbours = granular_neighbours(arrays, size=10)
    for _ in range(10):
        pen_cap, pen_tw = float(rng.uniform(0.1, 100)), float(rng.uniform(0.1, 100))
        start = split_tour(rng.permutation(np.arange(1, 61)), arrays, pen_cap, pen_tw)
        before = _penalised([list(r) for r in start], arrays, pen_cap, pen_tw)
        for star in (False, True):
            routes = [list(r) for r in local_search(start, arrays, neighbours, rng, pen_cap, pen_tw,
                                                    swap_star=star)]
            assert sorted(c for r in routes for c in r) == list(range(1, 61))
            assert _penalised(routes, arrays, pen_cap, pen_tw) <= before + 1e-9
