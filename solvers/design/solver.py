"""The two network-design solvers: the GA with exact fitness and the GA with the GNN surrogate.

* ``design-ga-exact``: every fitness is a user-equilibrium assignment (memoised by design).
* ``design-ga-surrogate``: the GA runs on the surrogate's TSTT; then the ``reevaluate`` best
  distinct designs it saw are solved exactly and the best of them by exact TSTT is returned.
  Its time includes those exact solves (and loading the checkpoint), not the surrogate's
  training, which is done once per network beforehand (``routeplanner train design-surrogate``).

Both return a :class:`DesignSolution` whose TSTT comes from an exact assignment of the chosen
design.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner.budget import Budget
from planner.errors import ValidationError
from planner.registry import ProblemKind, register
from solvers.design.evaluation import DesignEvaluation, ExactFitness, evaluate_design
from solvers.design.ga import GaParams, run_ga
from solvers.design.problem import Design, NetworkDesignProblem

if TYPE_CHECKING:
    from solvers.design.surrogate import Surrogate


@dataclass(frozen=True)
class DesignParams:
    """Parameters of the design solvers.

    Parameters
    ----------
    ga
        GA parameters.
    reevaluate
        Surrogate GA only: best distinct designs solved exactly at the end (``>= 1``).
    checkpoint
        Surrogate GA only: surrogate checkpoint (default: the shipped one of the network).
    """

    ga: GaParams = field(default_factory=GaParams)
    reevaluate: int = 10
    checkpoint: Path | None = None

    def __post_init__(self) -> None:
        if self.reevaluate < 1:
            raise ValidationError("reevaluate", f"must be at least 1 ({self.reevaluate})")


@dataclass(frozen=True, eq=False)
class DesignSolution:
    """A design chosen by a solver, with its exact evaluation.

    Parameters
    ----------
    method
        ``exact`` or ``surrogate``.
    genome
        The design's genome.
    design
        The design in words (file rows).
    base_tstt
        Total system travel time of the network as it is.
    tstt
        Exact total system travel time under the design.
    improvement_pct
        ``100 * (base_tstt - tstt) / base_tstt``.
    predicted_tstt
        The surrogate's TSTT of the design (``None`` for the exact GA).
    evaluation
        The exact assignment of the design (flows, capacities, gap).
    generations
        GA generations run.
    exact_solves
        User-equilibrium assignments solved (distinct designs).
    fitness_calls
        Designs the GA's fitness was asked for.
    ga_seconds
        Seconds of the GA.
    exact_seconds
        Seconds of the exact assignments (all of them for the exact GA; the final
        re-evaluations for the surrogate GA).
    elapsed_s
        Seconds of the whole solve.
    stopped_by
        Why the GA stopped.
    history
        ``(generation, elapsed_s, best, mean)`` fitness per generation.
    """

    method: str
    genome: np.ndarray
    design: Design
    base_tstt: float
    tstt: float
    improvement_pct: float
    predicted_tstt: float | None
    evaluation: DesignEvaluation
    generations: int
    exact_solves: int
    fitness_calls: int
    ga_seconds: float
    exact_seconds: float
    elapsed_s: float
    stopped_by: str
    history: tuple[tuple[int, float, float, float], ...] = ()


def _check(problem: object, params: DesignParams | None) -> DesignParams:
    if not isinstance(problem, NetworkDesignProblem):
        raise ValidationError("problem", f"must be a NetworkDesignProblem, got {type(problem).__name__}")
    if params is not None and not isinstance(params, DesignParams):
        raise ValidationError("params", f"must be DesignParams, got {type(params).__name__}")
    return params or DesignParams()


def solve_design_exact(problem: NetworkDesignProblem, budget: Budget,
                       params: DesignParams | None = None) -> DesignSolution:
    """GA whose fitness is the exact user-equilibrium TSTT of each design."""
    params = _check(problem, params)
    start = time.perf_counter()
    fitness = ExactFitness(problem)
    base = float(fitness(problem.empty_genome()[None])[0])
    run = run_ga(problem, fitness, budget, params.ga)
    evaluation = evaluate_design(problem, run.best)
    elapsed = time.perf_counter() - start
    return DesignSolution(
        method="exact", genome=run.best.copy(), design=problem.describe(run.best), base_tstt=base,
        tstt=evaluation.tstt, improvement_pct=_improvement(base, evaluation.tstt), predicted_tstt=None,
        evaluation=evaluation, generations=run.generations, exact_solves=fitness.evaluations + 1,
        fitness_calls=run.evaluations, ga_seconds=run.elapsed_s, exact_seconds=fitness.seconds + evaluation.elapsed_s,
        elapsed_s=elapsed, stopped_by=run.stopped_by, history=run.history,
    )


def solve_design_surrogate(problem: NetworkDesignProblem, budget: Budget, params: DesignParams | None = None,
                           surrogate: Surrogate | None = None) -> DesignSolution:
    """GA on the GNN surrogate, then exact re-evaluation of its ``reevaluate`` best designs."""
    from solvers.design.surrogate import Surrogate, load_surrogate  # torch, on first use only

    params = _check(problem, params)
    start = time.perf_counter()
    if surrogate is None:
        surrogate = load_surrogate(problem, params.checkpoint)
    elif surrogate.problem is not problem:
        surrogate = Surrogate(problem, surrogate.model, surrogate.context, surrogate.meta)
    run = run_ga(problem, _Memo(surrogate), budget, params.ga)
    exact_start = time.perf_counter()
    best: DesignEvaluation | None = None
    best_pred = None
    candidates = run.ranked[:params.reevaluate]
    for genome, predicted in zip(candidates, run.ranked_fitness[:params.reevaluate], strict=True):
        evaluation = evaluate_design(problem, genome)
        if best is None or evaluation.tstt < best.tstt:
            best, best_pred = evaluation, float(predicted)
    assert best is not None
    exact_seconds = time.perf_counter() - exact_start
    base = surrogate.context.base_tstt
    return DesignSolution(
        method="surrogate", genome=best.genome.copy(), design=problem.describe(best.genome), base_tstt=base,
        tstt=best.tstt, improvement_pct=_improvement(base, best.tstt), predicted_tstt=best_pred, evaluation=best,
        generations=run.generations, exact_solves=len(candidates), fitness_calls=run.evaluations,
        ga_seconds=run.elapsed_s, exact_seconds=exact_seconds, elapsed_s=time.perf_counter() - start,
        stopped_by=run.stopped_by, history=run.history,
    )


class _Memo:
    """The surrogate's TSTT, memoised by genome (elites and repeats are not predicted twice)."""

    def __init__(self, surrogate: Surrogate):
        self.surrogate = surrogate
        self.cache: dict[bytes, float] = {}

    def __call__(self, genomes: np.ndarray) -> np.ndarray:
        keys = [g.tobytes() for g in genomes]
        todo = [k for k, key in enumerate(keys) if key not in self.cache]
        if todo:
            for k, value in zip(todo, self.surrogate(genomes[todo]), strict=True):
                self.cache[keys[k]] = float(value)
        return np.array([self.cache[key] for key in keys])


def _improvement(base: float, tstt: float) -> float:
    return 100.0 * (base - tstt) / base if base > 0 else 0.0


register("design-ga-exact", [ProblemKind.NETWORK_DESIGN], solve_design_exact,
         description="Network design GA (deap) whose fitness is the exact user-equilibrium TSTT",
         capabilities=["lane-addition", "lane-reversal", "budget", "exact-fitness", "anytime"])
register("design-ga-surrogate", [ProblemKind.NETWORK_DESIGN], solve_design_surrogate,
         description="Network design GA on a GNN surrogate of the assignment, best designs re-solved exactly",
         capabilities=["lane-addition", "lane-reversal", "budget", "surrogate", "gnn", "anytime"])
