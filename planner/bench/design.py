"""``routeplanner bench design``: the exact-fitness GA against the surrogate GA, same networks,
same design problems, same run.

For every network the exact GA runs first (its time is the reference), then the surrogate GA
with the shipped checkpoint; the surrogate GA's design is re-evaluated exactly (that is part of
its time). Reported per network: exact TSTT of both designs, improvement over the network as it
is, wall time, the gap of the surrogate GA's design to the exact GA's best, the time ratio, and
the surrogate's error on held-out designs (from its checkpoint) with its data-generation and
training time, which is not part of any solve time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from planner.bench.records import BenchRecord
from planner.budget import Budget
from planner.registry import ProblemKind, get_solver

#: Networks of the comparison (the paper's, without Anaheim).
DEFAULT_NETWORKS: tuple[str, ...] = ("SiouxFalls", "Eastern-Massachusetts")


@dataclass(frozen=True)
class DesignMeasurement:
    """One solver on one network.

    Parameters
    ----------
    network, solver
        What ran.
    seed
        GA seed.
    base_tstt, tstt
        Exact TSTT of the network as it is and under the design found.
    improvement_pct
        ``100 (base - tstt) / base``.
    wall_s
        Seconds of the solve (exact re-evaluations included).
    generations, exact_solves, fitness_calls
        GA generations, user-equilibrium solves, fitness calls.
    stopped_by
        Why the GA stopped.
    gap_to_exact_pct
        ``100 (tstt - exact best) / exact best`` (0 for the exact GA).
    time_ratio
        ``wall_s / exact GA wall_s``.
    surrogate
        For the surrogate GA: held-out error and training times from its checkpoint.
    added_lanes, reversals
        Size of the design.
    best_by_generation
        ``(generation, best fitness)`` every 20 generations and at the end (the convergence
        trace; surrogate fitness for the surrogate GA).
    """

    network: str
    solver: str
    seed: int
    base_tstt: float
    tstt: float
    improvement_pct: float
    wall_s: float
    generations: int
    exact_solves: int
    fitness_calls: int
    stopped_by: str
    gap_to_exact_pct: float
    time_ratio: float
    surrogate: dict[str, float] | None
    added_lanes: int
    reversals: int
    best_by_generation: tuple[tuple[int, float], ...] = ()

    def record(self, budget_share: float) -> BenchRecord:
        """The measurement as a ``design`` bench record."""
        metrics: dict[str, object] = {
            "tstt": self.tstt, "base_tstt": self.base_tstt, "improvement_pct": self.improvement_pct,
            "wall_s": self.wall_s, "gap_to_exact_pct": self.gap_to_exact_pct, "time_ratio": self.time_ratio,
            "generations": self.generations, "exact_solves": self.exact_solves, "fitness_calls": self.fitness_calls,
            "stopped_by": self.stopped_by, "added_lanes": self.added_lanes, "reversals": self.reversals,
            "budget_share": budget_share, "best_by_generation": [list(x) for x in self.best_by_generation],
        }
        if self.surrogate:
            metrics.update({f"surrogate_{k}": v for k, v in self.surrogate.items()})
        return BenchRecord(family="design", suite="tntp-ndp", instance=self.network, solver=self.solver,
                           seed=self.seed, budget_s=None, baseline=self.solver == "design-ga-exact",
                           metrics=metrics)


def run_bench(
    networks: Sequence[str] = DEFAULT_NETWORKS,
    *,
    budget_share: float = 0.1,
    generations: int = 200,
    stall_generations: int = 40,
    population: int = 40,
    reevaluate: int = 10,
    seed: int = 0,
    on_measurement: Callable[[DesignMeasurement], None] | None = None,
) -> list[DesignMeasurement]:
    """Run the exact GA and the surrogate GA on every network; both with the same GA parameters.

    Raises
    ------
    DataNotFoundError
        A network's data or its surrogate checkpoint is missing.
    """
    from datasets.tntp import read_assignment_problem
    from solvers.design.evaluation import evaluate_design
    from solvers.design.ga import GaParams
    from solvers.design.problem import NetworkDesignProblem
    from solvers.design.solver import DesignParams
    from solvers.design.surrogate import load_surrogate

    exact = get_solver("design-ga-exact", ProblemKind.NETWORK_DESIGN)
    surrogate_solver = get_solver("design-ga-surrogate", ProblemKind.NETWORK_DESIGN)
    params = DesignParams(ga=GaParams(population_size=population, generations=generations,
                                      stall_generations=stall_generations), reevaluate=reevaluate)
    out: list[DesignMeasurement] = []
    for network in networks:
        problem = NetworkDesignProblem.from_assignment(read_assignment_problem(network), budget_share=budget_share)
        # compile the assignment kernels and load torch before anything is timed
        evaluate_design(problem, problem.empty_genome())
        load_surrogate(problem).predict(problem.empty_genome()[None])
        ref = exact.solve(problem, Budget(seed=seed), params)
        meta = load_surrogate(problem).meta
        err = meta.get("heldout_error", {})
        info = {"tstt_mape_pct": err.get("tstt_mape_pct"), "flow_wape_pct": err.get("flow_wape_pct"),
                "flow_mape_pct": err.get("flow_mape_pct"), "rank_correlation": err.get("rank_correlation"),
                "heldout_designs": err.get("designs"), "data_s": meta.get("data_seconds"),
                "training_s": meta.get("training_seconds")}
        sur = surrogate_solver.solve(problem, Budget(seed=seed), params)
        for name, sol in (("design-ga-exact", ref), ("design-ga-surrogate", sur)):
            m = DesignMeasurement(
                network=problem.assignment.network.name or network, solver=name, seed=seed,
                base_tstt=ref.base_tstt, tstt=sol.tstt,
                improvement_pct=100 * (ref.base_tstt - sol.tstt) / ref.base_tstt,
                wall_s=sol.elapsed_s, generations=sol.generations, exact_solves=sol.exact_solves,
                fitness_calls=sol.fitness_calls, stopped_by=sol.stopped_by,
                gap_to_exact_pct=100 * (sol.tstt - ref.tstt) / ref.tstt, time_ratio=sol.elapsed_s / ref.elapsed_s,
                surrogate=info if name == "design-ga-surrogate" else None,
                added_lanes=len(sol.design.added_lanes), reversals=len(sol.design.reversals),
                best_by_generation=tuple((int(h[0]), float(h[2])) for h in sol.history
                                         if h[0] % 20 == 0 or h[0] == sol.history[-1][0]),
            )
            out.append(m)
            if on_measurement is not None:
                on_measurement(m)
    return out
