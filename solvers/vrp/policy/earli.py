"""Solvers ``policy`` (the learned construction policy alone, best of N) and ``earli`` (the policy
seeds the genetic algorithm; after Kohn et al. 2025, "Accelerating Vehicle Routing via
AI-Initialized Genetic Algorithms", arXiv 2504.06126).

``earli`` within one time limit, every step counted against it:

1. the policy decodes up to ``n_solutions`` solutions (multi-start), stopping after
   ``policy_share`` of the time limit;
2. the ``n_seeds`` best distinct ones are improved by the GA's local search (high penalties, so
   they stay feasible), within ``polish_share`` of the time limit;
3. they come first in the GA's initial population (:func:`solvers.vrp.ga.solve_ga` with
   ``initial``), which the GA completes with its built-in seeds up to ``ga_initial_size``, and the
   GA runs for the rest of the time limit. Its first progress event is the best seed. When the
   policy has used the whole limit, the best polished seed is returned.

Torch is imported when a solver first runs, not when the package is imported; call
:func:`warm_up` once beforehand (the benchmark does, as it compiles the GA's kernels) so that the
first timed call does not pay for importing torch and reading the checkpoint.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from planner.budget import Budget, ProgressEvent
from planner.errors import ValidationError
from planner.registry import ProblemKind, register
from planner.vrp import VrpInstance, VrpSolution, check_feasibility, solution_cost
from solvers.vrp.ga import GaParams, solve_ga
from solvers.vrp.ga import warm_up as ga_warm_up
from solvers.vrp.ga.problem_arrays import problem_arrays

#: Below this many seconds left after the policy, the GA is not started.
MIN_GA_SECONDS = 0.02


@dataclass(frozen=True)
class PolicyParams:
    """Parameters of the ``policy`` and ``earli`` solvers.

    Parameters
    ----------
    checkpoint
        Checkpoint file; ``None`` for the one shipped in ``solvers/vrp/policy/checkpoints``.
    n_solutions
        Solutions the policy decodes (at most; fewer when the time share runs out).
    sample
        Sample from the policy instead of greedy decoding from each start.
    temperature
        Sampling temperature.
    chunk
        Solutions decoded per batch. The first batch always runs, whatever the time share, so it
        is small: 8 solutions of 500 clients decode in about 0.13 s on one CPU thread, 32 in
        about 0.45 s, which left ``earli`` half of a 1 s limit for the GA.
    n_seeds
        ``earli``: best distinct policy solutions polished and given to the GA.
    policy_share
        ``earli``: share of the time limit after which no further chunk is decoded.
    polish_share
        ``earli``: share of the time limit (counted from the start) by which polishing stops.
    ga_initial_size
        ``earli``: size of the GA's initial population (seeds plus built-in savings, nearest-
        neighbour and random members); ``None`` for the GA's ``initial_size``.
    threads
        Torch threads while decoding (restored afterwards).
    """

    checkpoint: str | None = None
    n_solutions: int = 32
    sample: bool = False
    temperature: float = 1.0
    chunk: int = 8
    n_seeds: int = 25
    policy_share: float = 0.1
    polish_share: float = 0.2
    ga_initial_size: int | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("n_solutions", "chunk", "n_seeds", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValidationError(name, f"must be at least 1 ({getattr(self, name)})")
        if not self.temperature > 0:
            raise ValidationError("temperature", f"must be positive ({self.temperature})")
        for name in ("policy_share", "polish_share"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValidationError(name, f"must be in (0, 1) ({getattr(self, name)})")
        if self.ga_initial_size is not None and self.ga_initial_size < 1:
            raise ValidationError("ga_initial_size", f"must be at least 1 ({self.ga_initial_size})")


def warm_up(checkpoint: str | Path | None = None) -> None:
    """Import torch, read the checkpoint into the cache, and decode a tiny instance once."""
    from solvers.vrp.policy.inference import cached_checkpoint, decode

    ga_warm_up()
    inst = VrpInstance("warm-up", demands=np.array([0, 1, 1, 1]), capacity=2,
                       coords=np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float))
    decode(inst, cached_checkpoint(checkpoint), 2)


def _empty(solver: str, start: float) -> VrpSolution:
    return VrpSolution(routes=(), objective=0.0, solver=solver, runtime_s=time.perf_counter() - start,
                       iterations=0, meta={"feasible": True, "violations": []})


def solve_policy(instance: VrpInstance, budget: Budget | None = None, *,
                 params: PolicyParams | None = None) -> VrpSolution:
    """The best of ``params.n_solutions`` solutions decoded by the policy.

    The decoder's masks keep every solution within capacity and time windows; a solution may
    still use more routes than ``num_vehicles`` (reported in ``meta``). Decoding stops starting
    new chunks when the budget's time limit is reached (the first chunk always runs).

    Returns
    -------
    VrpSolution
        ``solver="policy"``; ``meta``: ``feasible``, ``violations``, ``solutions`` (decoded),
        ``decode_s``, ``checkpoint``.
    """
    from solvers.vrp.policy.inference import cached_checkpoint, decode

    budget = budget if budget is not None else Budget()
    params = params if params is not None else PolicyParams()
    clock = budget.start()
    if instance.n_clients == 0:
        return _empty("policy", clock.started)
    checkpoint = cached_checkpoint(params.checkpoint)
    deadline = math.inf if budget.time_limit is None else clock.started + budget.time_limit
    decoded = decode(instance, checkpoint, params.n_solutions, seed=budget.seed, sample=params.sample,
                     temperature=params.temperature, chunk=params.chunk, deadline=deadline,
                     threads=params.threads)
    routes = tuple(np.asarray(r, dtype=np.int64) for r in decoded.routes[0])
    objective = solution_cost(instance, routes)
    clock.report(len(decoded.routes), objective=objective)
    report = check_feasibility(instance, VrpSolution(routes, objective))
    return VrpSolution(
        routes=routes, objective=report.objective, solver="policy", runtime_s=clock.elapsed(),
        iterations=len(decoded.routes),
        meta={"feasible": report.feasible, "violations": [str(v) for v in report.violations],
              "solutions": len(decoded.routes), "decode_s": decoded.seconds, "checkpoint": str(checkpoint.path)},
    )


def solve_earli(instance: VrpInstance, budget: Budget | None = None, *, params: PolicyParams | None = None,
                ga_params: GaParams | None = None) -> VrpSolution:
    """Policy solutions, polished by local search, seed the GA (see the module notes).

    Parameters
    ----------
    instance
        CVRP or VRPTW instance.
    budget
        Time limit (covering the policy, the polishing and the GA), iteration limit (GA offspring),
        seed, progress (one event per new best; the first is the best seed), cancel flag.
    params
        Policy and seeding parameters.
    ga_params
        :class:`solvers.vrp.ga.GaParams` for the GA (``initial_size`` is overridden, see
        ``params.ga_initial_size``).

    Returns
    -------
    VrpSolution
        ``solver="earli"``; ``meta`` adds ``policy_best`` (best decoded cost), ``seed_best`` (best
        polished seed), ``seeds``, ``decoded``, ``policy_s`` and ``polish_s`` to the GA's.

    Raises
    ------
    InfeasibleError
        Never for lack of time: without time left for the GA, the best seed is returned.
    """
    from solvers.vrp.policy.inference import cached_checkpoint, decode, distinct, polish

    budget = budget if budget is not None else Budget()
    params = params if params is not None else PolicyParams()
    base = ga_params if ga_params is not None else GaParams()
    clock = budget.start()
    start = clock.started
    if instance.n_clients == 0:
        return _empty("earli", start)
    limit = budget.time_limit
    checkpoint = cached_checkpoint(params.checkpoint)
    decode_deadline = math.inf if limit is None else start + params.policy_share * limit
    decoded = decode(instance, checkpoint, params.n_solutions, seed=budget.seed, sample=params.sample,
                     temperature=params.temperature, chunk=params.chunk, deadline=decode_deadline,
                     threads=params.threads)
    policy_s = time.perf_counter() - start
    chosen = distinct(decoded, params.n_seeds)
    polish_deadline = math.inf if limit is None else start + params.polish_share * limit
    arrays = problem_arrays(instance)
    seeds = polish(instance, chosen, seed=budget.seed, granular_size=base.granular_size, deadline=polish_deadline,
                   arrays=arrays)
    polish_s = time.perf_counter() - start - policy_s
    initial = [VrpSolution(tuple(r), solution_cost(instance, r)) for r in seeds]
    seed_best = min(s.objective for s in initial)
    size = params.ga_initial_size if params.ga_initial_size is not None else base.initial_size
    offset = clock.elapsed()
    remaining = None if limit is None else limit - offset
    stats = {"policy_best": float(decoded.costs[0]), "seed_best": seed_best, "seeds": len(initial),
             "decoded": len(decoded.routes), "policy_s": policy_s, "polish_s": polish_s,
             "checkpoint": str(checkpoint.path)}
    if remaining is not None and remaining < MIN_GA_SECONDS:
        best = min(initial, key=lambda s: s.objective)
        report = check_feasibility(instance, best)
        clock.report(0, objective=best.objective)
        return VrpSolution(routes=best.routes, objective=report.objective, solver="earli",
                           runtime_s=clock.elapsed(), iterations=0,
                           meta={"feasible": report.feasible, "violations": [str(v) for v in report.violations],
                                 **stats})

    def shifted(event: ProgressEvent) -> None:
        if budget.progress is not None:
            budget.progress(replace(event, elapsed_s=event.elapsed_s + offset))

    ga_budget = Budget(time_limit=remaining, max_iterations=budget.max_iterations, seed=budget.seed,
                       progress=shifted if budget.progress is not None else None, cancel=budget.cancel)
    result = solve_ga(instance, ga_budget, params=replace(base, initial_size=max(size, 1)), initial=initial)
    meta = dict(result.meta)
    meta.update(stats)
    return VrpSolution(routes=result.routes, objective=result.objective, solver="earli",
                       runtime_s=clock.elapsed(), iterations=result.iterations, meta=meta)


register(
    "policy",
    [ProblemKind.CVRP, ProblemKind.VRPTW],
    solve_policy,
    description="Learned construction policy (graph encoder + attention decoder), best of N multi-start",
    capabilities={"time-windows", "asymmetric", "learned"},
)
register(
    "earli",
    [ProblemKind.CVRP, ProblemKind.VRPTW],
    solve_earli,
    description="EARLI: learned policy solutions, polished by local search, seed the GA",
    capabilities={"time-windows", "asymmetric", "anytime", "learned"},
)
