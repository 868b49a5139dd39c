"""Hybrid genetic search for CVRP and VRPTW (after Vidal 2022, HGS-CVRP), registered as ``ga``.

One generation: two parents by binary tournament on biased fitness, order crossover of their
giant tours, optimal split (:mod:`~solvers.vrp.ga.split`), education by compiled local search
(:mod:`~solvers.vrp.ga.local_search`), insertion into the feasible or infeasible subpopulation
(:mod:`~solvers.vrp.ga.population`), and, for an infeasible offspring, a repair attempt with
ten-fold penalties. Penalties adapt every ``penalty_interval`` offspring so that about
``target_feasible`` of them are feasible after education.

Initial population: the given members (solutions or giant tours) first, then built-in seeds
(savings, nearest neighbour, random) until ``initial_size`` or ``initial_time_share`` of the time
limit; the savings seed is left out when its expected time (quadratic in the client count) exceeds
a quarter of the time limit, since it cannot be interrupted. Every local search gets a work limit
converted from a share of the remaining time at the rate measured on the previous ones, so that
one education cannot overrun the time limit. The first progress event reports the best feasible
member as given, before education, so a seeded run starts from its best member.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from planner.budget import Budget, Stopwatch
from planner.errors import InfeasibleError, ValidationError
from planner.vrp import VrpInstance, VrpSolution, check_feasibility, solution_cost
from solvers.vrp.ga.individual import Individual, make_individual
from solvers.vrp.ga.local_search import bounded_local_search
from solvers.vrp.ga.neighbours import granular_neighbours
from solvers.vrp.ga.operators import make_toolbox
from solvers.vrp.ga.params import GaParams, StoppingCriterion
from solvers.vrp.ga.population import Population
from solvers.vrp.ga.problem_arrays import ProblemArrays, problem_arrays
from solvers.vrp.ga.seeds import seed_tours, validate_tour
from solvers.vrp.ga.split import split_tour
from solvers.vrp.savings import solve_savings

#: Penalty bounds.
MIN_PENALTY, MAX_PENALTY = 0.1, 100_000.0
#: Offspring without improvement that end a run given no other limit.
DEFAULT_NO_IMPROVEMENT = 2000
#: Seconds kept for the final feasibility check.
FINAL_CHECK_S = 0.01
#: Initial penalty per unit of time warp.
INITIAL_TW_PENALTY = 10.0
#: Seconds per squared client count that the savings seed takes (measured: 0.6-0.75 s for 1000
#: clients on a shared 2-core machine), and the share of the time limit it may take.
SAVINGS_S_PER_N2, SAVINGS_TIME_SHARE = 1e-6, 0.25
#: Local-search work units per second assumed before the first measurement (a slow machine's rate).
INITIAL_WORK_RATE = 2e6
#: Share of the remaining time one local search may use (the rest covers the split, the
#: evaluation and the population update of the offspring, and a slower moment of the machine).
WORK_TIME_SHARE = 0.5

InitialMember = VrpSolution | Sequence[int] | np.ndarray


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel by a short run on two tiny instances."""
    coords = np.array([[0, 0], [1, 0], [2, 1], [0, 2], [1, 1]], dtype=float)
    for tw in (None, np.array([[0, 100], [0, 50], [0, 50], [0, 50], [0, 50]], dtype=float)):
        inst = VrpInstance("warm-up", demands=np.array([0, 1, 1, 1, 1]), capacity=2, coords=coords,
                           time_windows=tw)
        # with and without a time limit: the bounded local search is compiled for both
        for budget in (Budget(max_iterations=3), Budget(max_iterations=3, time_limit=60.0)):
            _run(inst, budget, GaParams(initial_size=3), StoppingCriterion(), [np.arange(1, 5)])


def _fit_fleet(routes: list[np.ndarray], fleet: int, arrays: ProblemArrays) -> list[np.ndarray]:
    """Merge the lightest routes until at most ``fleet`` remain (the penalties then repair)."""
    routes = [r for r in routes if r.size]
    while len(routes) > fleet:
        loads = [arrays.demand[r].sum() for r in routes]
        a, b = np.argsort(loads)[:2]
        merged = np.concatenate((routes[a], routes[b]))
        routes = [r for k, r in enumerate(routes) if k not in (a, b)] + [merged]
    return routes


class _Search:
    """State of one GA run."""

    def __init__(self, instance: VrpInstance, budget: Budget, params: GaParams, stopping: StoppingCriterion,
                 clock: Stopwatch):
        self.instance = instance
        self.params = params
        self.stopping = stopping
        self.clock = clock
        self.rng = np.random.default_rng(budget.seed)
        self.arrays = problem_arrays(instance)
        self.neighbours = granular_neighbours(self.arrays, params.granular_size)
        a = self.arrays
        max_demand = float(a.demand.max()) if a.demand.max() > 0 else 1.0
        self.pen_cap = float(np.clip(a.dist.max() / max_demand, MIN_PENALTY, 1000.0))
        self.pen_tw = INITIAL_TW_PENALTY
        self.population = Population(params)
        self.toolbox = make_toolbox()
        self.load_ok: deque[bool] = deque(maxlen=4 * params.penalty_interval)
        self.time_ok: deque[bool] = deque(maxlen=4 * params.penalty_interval)
        self.best: Individual | None = None
        self.best_infeasible: Individual | None = None
        self.iteration = 0
        self.no_improvement = 0
        # slowly decaying maxima of the time of one offspring outside its local searches and in them
        self.step_time = 0.0
        self.ls_time = 0.0
        self.ls_time_step = 0.0
        self.work_rate = INITIAL_WORK_RATE
        self.deadline = self._deadline(budget)

    # --- evaluation -------------------------------------------------------------------------
    def cost_of(self, ind: Individual) -> float:
        return ind.penalised_cost(self.pen_cap, self.pen_tw)

    def _deadline(self, budget: Budget) -> float:
        """Seconds after the start by which the search must end (``inf`` without a time limit)."""
        limit = math.inf if budget.time_limit is None else budget.time_limit
        if self.stopping.max_runtime is not None:
            limit = min(limit, self.stopping.max_runtime)
        return limit

    def educate(self, routes: list[np.ndarray], factor: float = 1.0) -> Individual:
        """Local search, bounded so that it ends within a share of the remaining time."""
        routes = _fit_fleet(routes, self.arrays.fleet, self.arrays)
        max_work = None
        start = self.clock.elapsed()
        if math.isfinite(self.deadline):
            left = max(self.deadline - start - FINAL_CHECK_S, 0.0)
            max_work = int(WORK_TIME_SHARE * left * self.work_rate)
        improved, work = bounded_local_search(routes, self.arrays, self.neighbours, self.rng, self.pen_cap * factor,
                                              self.pen_tw * factor, swap_star=self.params.swap_star,
                                              max_work=max_work)
        took = self.clock.elapsed() - start
        self.ls_time_step += took
        if took > 0.002 and work > 0:
            # a slower rate is taken at once, a faster one slowly (the machine may be shared)
            rate = work / took
            self.work_rate = min(rate, 0.8 * self.work_rate + 0.2 * rate)
        return make_individual(improved, self.arrays)

    def offer(self, ind: Individual) -> None:
        """Record ``ind`` as best if it is, and add it to the population."""
        if ind.feasible and (self.best is None or ind.distance < self.best.distance - 1e-9):
            self.best = ind
            self.no_improvement = 0
            self.clock.report(self.iteration, objective=solution_cost(self.instance, ind.routes))
        elif not ind.feasible and (self.best_infeasible is None
                                   or self.cost_of(ind) < self.cost_of(self.best_infeasible)):
            self.best_infeasible = ind
        self.population.add(ind, self.cost_of)

    def process(self, routes: list[np.ndarray]) -> None:
        """Educate, record penalty statistics, repair when infeasible, insert."""
        ind = self.educate(routes)
        self.load_ok.append(ind.excess_load <= 1e-9)
        self.time_ok.append(ind.time_warp <= 1e-9)
        self.offer(ind)
        if not ind.feasible and self.rng.random() < self.params.repair_probability:
            repaired = self.educate(ind.routes, factor=10.0)
            if repaired.feasible:
                self.offer(repaired)

    def adapt_penalties(self) -> None:
        target = self.params.target_feasible

        def adjust(penalty: float, history: deque[bool]) -> float:
            share = sum(history) / max(len(history), 1)
            if share < target - 0.05:
                penalty *= 1.2
            elif share > target + 0.05:
                penalty *= 0.85
            return float(np.clip(penalty, MIN_PENALTY, MAX_PENALTY))

        self.pen_cap = adjust(self.pen_cap, self.load_ok)
        if self.arrays.has_tw:
            self.pen_tw = adjust(self.pen_tw, self.time_ok)
        self.population.refresh(self.cost_of)

    def has_solution(self) -> bool:
        return self.best is not None or self.best_infeasible is not None

    def should_stop(self) -> bool:
        # stop early when the next offspring would likely overrun the time limit: its local search is
        # bounded by the time left, the rest of its processing is not; and an offspring whose search
        # would get less than half its usual time is not worth starting
        left = self.deadline - self.clock.elapsed()
        if left < 1.5 * self.step_time + 0.5 * self.ls_time + FINAL_CHECK_S:
            return True
        return self.stopping.should_stop(self.clock, self.iteration, self.no_improvement)

    def timed_process(self, routes: list[np.ndarray], start: float | None = None) -> None:
        """:meth:`process`, timed from ``start`` (default: now) on, its local searches apart."""
        start = self.clock.elapsed() if start is None else start
        self.ls_time_step = 0.0
        self.process(routes)
        # slowly decaying maxima: one slow offspring (a repair) keeps the margin up for a while
        other = self.clock.elapsed() - start - self.ls_time_step
        self.step_time = max(0.95 * self.step_time, other)
        self.ls_time = max(0.95 * self.ls_time, self.ls_time_step)

    # --- phases ---------------------------------------------------------------------------
    def initialise(self, initial: Sequence[InitialMember]) -> None:
        n = self.arrays.n
        given: list[list[np.ndarray]] = []
        for k, member in enumerate(initial):
            if isinstance(member, VrpSolution):
                report = check_feasibility(self.instance, VrpSolution(member.routes, solution_cost(
                    self.instance, [r for r in member.routes if _valid_route(r, n)])))
                if any(v.field.startswith(("routes[", "clients[")) and ("unknown" in v.reason or "twice" in v.reason
                       or "not visited" in v.reason) for v in report.violations):
                    raise ValidationError(f"initial[{k}]", "solution must visit every client exactly once")
                given.append([np.asarray(r, dtype=np.int64) for r in member.routes if len(r)])
            else:
                tour = validate_tour(member, n, field=f"initial[{k}]")
                given.append(split_tour(tour, self.arrays, self.pen_cap, self.pen_tw))
        as_given = [make_individual(routes, self.arrays) for routes in given]
        feasible = [ind for ind in as_given if ind.feasible]
        if feasible:
            start = min(feasible, key=lambda ind: ind.distance)
            self.best = start
            self.clock.report(0, objective=solution_cost(self.instance, start.routes))
        for routes in given:
            if self.should_stop() and self.has_solution():
                return
            self.timed_process(routes)
        limit = self.clock.budget.time_limit
        if self.stopping.max_runtime is not None:
            limit = self.stopping.max_runtime if limit is None else min(limit, self.stopping.max_runtime)
        init_deadline = math.inf if limit is None else self.params.initial_time_share * limit
        missing = self.params.initial_size - len(given)
        methods = self.params.seeds
        if limit is not None and SAVINGS_S_PER_N2 * n * n > SAVINGS_TIME_SHARE * limit:
            # the savings heuristic cannot be interrupted: left out when it would take much of the time
            methods = tuple(m for m in methods if m != "savings")
        if missing > 0 and "savings" in methods:
            # the savings routes themselves, not only their giant tour: they are feasible for any
            # CVRP with an unlimited fleet, so a tight instance always has a feasible member
            start = self.clock.elapsed()
            routes = [np.asarray(r, dtype=np.int64) for r in solve_savings(self.instance).routes if len(r)]
            seed = make_individual(routes, self.arrays)
            if seed.feasible and (self.best is None or seed.distance < self.best.distance):
                self.best = seed
                self.clock.report(0, objective=solution_cost(self.instance, seed.routes))
            self.timed_process(routes, start)
            missing -= 1
        if missing > 0:
            cyclic = [m for m in methods if m != "savings"] or ["random"]
            k = 0
            while missing > 0 and not (self.should_stop() and self.has_solution()):
                if k > 0 and self.clock.elapsed() > init_deadline:
                    break
                start = self.clock.elapsed()
                tour = seed_tours(self.instance, [cyclic[k % len(cyclic)]], 1, self.rng)[0]
                self.timed_process(split_tour(tour, self.arrays, self.pen_cap, self.pen_tw), start)
                missing -= 1
                k += 1

    def evolve(self) -> None:
        while not self.should_stop():
            start = self.clock.elapsed()
            members = self.population.all()
            if len(members) < 2:
                tour = seed_tours(self.instance, ["random"], 1, self.rng)[0]
                self.timed_process(split_tour(tour, self.arrays, self.pen_cap, self.pen_tw), start)
            else:
                self.population.refresh(self.cost_of)
                p1 = self.toolbox.select(members, self.rng)
                p2 = self.toolbox.select(members, self.rng)
                child = self.toolbox.mate(p1.tour, p2.tour, self.rng)
                self.timed_process(split_tour(child, self.arrays, self.pen_cap, self.pen_tw), start)
            self.iteration += 1
            self.no_improvement += 1
            if self.iteration % self.params.penalty_interval == 0:
                self.adapt_penalties()


def _valid_route(route: np.ndarray, n: int) -> bool:
    r = np.asarray(route)
    return r.size == 0 or (r.min() >= 1 and r.max() <= n)


def solve_ga(instance: VrpInstance, budget: Budget | None = None, *, params: GaParams | None = None,
             stopping: StoppingCriterion | None = None,
             initial: Sequence[InitialMember] = ()) -> VrpSolution:
    """Hybrid genetic search (see the module notes).

    Parameters
    ----------
    instance
        A validated CVRP or VRPTW instance.
    budget
        Time limit, iteration limit (offspring), seed, progress callback (one event per new best
        feasible solution), cancel flag.
    params
        Algorithm parameters.
    stopping
        Extra stopping rules (e.g. iterations without improvement). Without any limit at all, the
        run stops after :data:`DEFAULT_NO_IMPROVEMENT` offspring without improvement.
    initial
        Initial members: :class:`~planner.vrp.VrpSolution` objects or giant tours (every client
        ``1..n`` once). They are used before the built-in seeds.

    Returns
    -------
    VrpSolution
        ``solver="ga"``; the objective is recomputed with :func:`planner.vrp.solution_cost`;
        ``meta["feasible"]`` and ``meta["violations"]`` come from
        :func:`planner.vrp.check_feasibility`.

    Raises
    ------
    ValidationError
        For a malformed initial member.
    InfeasibleError
        If no solution was found at all (a zero time limit).
    """
    budget = budget if budget is not None else Budget()
    params = params if params is not None else GaParams()
    stopping = stopping if stopping is not None else StoppingCriterion()
    if (budget.time_limit is None and budget.max_iterations is None and stopping.max_runtime is None
            and stopping.max_iterations is None and stopping.max_no_improvement is None):
        stopping = StoppingCriterion(max_no_improvement=DEFAULT_NO_IMPROVEMENT)
    warm_up()
    return _run(instance, budget, params, stopping, initial)


def _run(instance: VrpInstance, budget: Budget, params: GaParams, stopping: StoppingCriterion,
         initial: Sequence[InitialMember]) -> VrpSolution:
    clock = budget.start()
    n = instance.n_clients
    if n == 0:
        return VrpSolution(routes=(), objective=0.0, solver="ga", runtime_s=clock.elapsed(), iterations=0,
                           meta={"feasible": True, "violations": []})
    search = _Search(instance, budget, params, stopping, clock)
    search.initialise(initial)
    search.evolve()
    chosen = search.best if search.best is not None else search.best_infeasible
    if chosen is None:
        raise InfeasibleError("time_limit", "no solution was built before the search had to stop")
    routes = tuple(np.asarray(r, dtype=np.int64) for r in chosen.routes)
    objective = solution_cost(instance, routes)
    solution = VrpSolution(routes=routes, objective=objective, solver="ga")
    report = check_feasibility(instance, solution)
    return VrpSolution(
        routes=routes, objective=report.objective, solver="ga", runtime_s=clock.elapsed(),
        iterations=search.iteration,
        meta={"feasible": report.feasible, "violations": [str(v) for v in report.violations],
              "penalty_capacity": search.pen_cap, "penalty_time_warp": search.pen_tw,
              "population": len(search.population)},
    )
