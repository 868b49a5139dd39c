"""Genetic algorithm over design genomes (deap toolbox, numpy random generator).

Genomes are the ``int8`` vectors of :mod:`solvers.design.problem`. One generation keeps the
``elite`` best distinct designs and fills the rest with children (made as one batch): two
parents by tournament, uniform crossover, mutation (each addition gene flips and each reversal gene takes another
allowed value with probability ``mutation_genes / n_genes``), then *repair*: while the design
is over budget a random added lane is dropped, so every member of every generation respects the
budget. Children already in the new generation are mutated again (up to a few times) to keep
the population diverse. The fitness is a batched callable ``genomes -> TSTT`` (minimised): the
exact assignment (:class:`~solvers.design.evaluation.ExactFitness`) or the GNN surrogate.

The search stops after ``generations`` (or the budget's ``max_iterations``), after
``stall_generations`` generations without improvement of the best fitness, on the budget's time
limit, or on cancel. deap's own operators draw from the global ``random`` module; ours draw
from the generator seeded by the budget so the same seed gives the same run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from deap import base

from planner.budget import Budget
from planner.errors import ValidationError
from solvers.design.problem import NetworkDesignProblem

#: A batched fitness: ``(n, n_genes)`` genomes -> ``(n,)`` values to minimise.
Fitness = Callable[[np.ndarray], np.ndarray]

#: Tries to turn a duplicate child into a new design by mutating it again.
_DEDUP_TRIES = 4


@dataclass(frozen=True)
class GaParams:
    """Parameters of the design GA.

    Parameters
    ----------
    population_size
        Designs per generation (``>= 4``).
    generations
        Generation limit (the budget's ``max_iterations`` applies too; the smaller wins).
    elite
        Best distinct designs copied to the next generation unchanged.
    tournament_size
        Designs drawn per tournament.
    crossover_rate
        Probability that a child is a uniform crossover of its parents (else a copy of one).
    mutation_genes
        Expected number of mutated genes per child.
    stall_generations
        Stop after this many generations without improvement (``0``: never).
    initial_fill
        Range of budget shares the random initial designs spend.
    reversal_rate
        Probability that a random initial design reverses a given pair.

    Raises
    ------
    ValidationError
        Naming the parameter, e.g. ``population_size: must be at least 4 (2)``.
    """

    population_size: int = 40
    generations: int = 200
    elite: int = 2
    tournament_size: int = 3
    crossover_rate: float = 0.9
    mutation_genes: float = 2.0
    stall_generations: int = 40
    initial_fill: tuple[float, float] = (0.5, 1.0)
    reversal_rate: float = 0.1

    def __post_init__(self) -> None:
        if self.population_size < 4:
            raise ValidationError("population_size", f"must be at least 4 ({self.population_size})")
        if self.generations < 1:
            raise ValidationError("generations", f"must be at least 1 ({self.generations})")
        if not 0 <= self.elite < self.population_size:
            raise ValidationError("elite", f"must be in 0..{self.population_size - 1} ({self.elite})")
        if not 1 <= self.tournament_size <= self.population_size:
            raise ValidationError("tournament_size", f"must be in 1..{self.population_size} ({self.tournament_size})")
        for name in ("crossover_rate", "reversal_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValidationError(name, f"must be in [0, 1] ({value})")
        if not (math.isfinite(self.mutation_genes) and self.mutation_genes >= 0):
            raise ValidationError("mutation_genes", f"must be finite and non-negative ({self.mutation_genes})")
        if self.stall_generations < 0:
            raise ValidationError("stall_generations", f"must be non-negative ({self.stall_generations})")
        lo, hi = self.initial_fill
        if not 0 <= lo <= hi <= 1:
            raise ValidationError("initial_fill", f"must be 0 <= low <= high <= 1 ({self.initial_fill})")


@dataclass(frozen=True, eq=False)
class GaRun:
    """What one GA run found.

    Parameters
    ----------
    best
        Best genome.
    best_fitness
        Its fitness.
    ranked
        ``(k, n_genes)`` distinct genomes seen, best first (the archive, at most
        ``4 * population_size``).
    ranked_fitness
        Their fitness.
    generations
        Generations run (the initial population is generation 0).
    evaluations
        Fitness calls made (genomes passed to the fitness, duplicates included).
    history
        ``(generation, elapsed_s, best, mean)`` per generation.
    elapsed_s
        Seconds the run took.
    stopped_by
        ``generations``, ``stall``, ``time``, ``iterations`` or ``cancel``.
    """

    best: np.ndarray
    best_fitness: float
    ranked: np.ndarray
    ranked_fitness: np.ndarray
    generations: int
    evaluations: int
    history: tuple[tuple[int, float, float, float], ...]
    elapsed_s: float
    stopped_by: str


# ---------------------------------------------------------------------------------------------
# operators


def repair(problem: NetworkDesignProblem, genome: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drop random added lanes until the design is within budget; reset reversal genes a pair
    does not allow (donor with one lane). Returns a new genome."""
    g = np.array(genome, dtype=np.int8)
    n_add = problem.n_additions
    if problem.n_reversals:
        r = g[n_add:]
        wrong = (r < 0) | (r > 2)
        if wrong.any():
            r[wrong] = 0
        options = problem.reversal_options()
        allowed = options.ravel()[3 * np.arange(r.size) + r]
        if not allowed.all():
            r[~allowed] = 0
    a = g[:n_add]
    wrong = (a < 0) | (a > 1)
    if wrong.any():
        a[wrong] = 0
    cost = float(problem.add_costs @ a)
    if cost > problem.budget:
        for k in rng.permutation(np.flatnonzero(a)):
            a[k] = 0
            cost -= problem.add_costs[k]
            if cost <= problem.budget * (1 + 1e-12):
                break
    return g


def random_genome(problem: NetworkDesignProblem, rng: np.random.Generator, fill: float | None = None,
                  reversal_rate: float = 0.1) -> np.ndarray:
    """A random feasible design: candidates in random order get a lane while the cost stays
    within ``fill`` times the budget (``fill`` drawn from ``U(0.5, 1)`` when ``None``); each
    reversal pair is reversed, in a random allowed direction, with probability
    ``reversal_rate``."""
    if fill is None:
        fill = float(rng.uniform(0.5, 1.0))
    g = problem.empty_genome()
    limit = fill * problem.budget
    spent = 0.0
    for k in rng.permutation(problem.n_additions):
        c = problem.add_costs[k]
        if spent + c <= limit:
            g[k] = 1
            spent += c
    if problem.n_reversals:
        options = problem.reversal_options()
        for k in np.flatnonzero(rng.random(problem.n_reversals) < reversal_rate):
            choices = np.flatnonzero(options[k, 1:]) + 1
            if choices.size:
                g[problem.n_additions + k] = rng.choice(choices)
    return g


def uniform_crossover(parent1: np.ndarray, parent2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each gene from either parent with probability 1/2."""
    take = rng.random(parent1.size) < 0.5
    return np.where(take, parent1, parent2).astype(np.int8)


def mutate(problem: NetworkDesignProblem, genome: np.ndarray, rng: np.random.Generator,
           expected_genes: float) -> np.ndarray:
    """Flip addition genes and change reversal genes (to another allowed value), each with
    probability ``expected_genes / n_genes``."""
    g = genome.copy()
    n = problem.n_genes
    if n == 0:
        return g
    rate = min(1.0, expected_genes / n)
    hit = np.flatnonzero(rng.random(n) < rate)
    n_add = problem.n_additions
    options = problem.reversal_options() if problem.n_reversals else None
    for k in hit:
        if k < n_add:
            g[k] = 1 - g[k]
        else:
            assert options is not None
            row = options[k - n_add].copy()
            row[g[k]] = False
            choices = np.flatnonzero(row)
            if choices.size:
                g[k] = rng.choice(choices)
    return g


def tournament(fitness: np.ndarray, size: int, rng: np.random.Generator) -> int:
    """Index of the best (lowest fitness) of ``size`` members drawn at random."""
    drawn = rng.integers(fitness.size, size=size)
    return int(drawn[np.argmin(fitness[drawn])])


def tournaments(fitness: np.ndarray, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Winners (indices) of ``n`` independent tournaments of ``size`` members each."""
    drawn = rng.integers(fitness.size, size=(n, size))
    return drawn[np.arange(n), np.argmin(fitness[drawn], axis=1)]


def uniform_crossovers(parents1: np.ndarray, parents2: np.ndarray, rate: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Row ``k``: with probability ``rate`` a uniform crossover of ``parents1[k]`` and
    ``parents2[k]``, else a copy of ``parents1[k]``."""
    crossed = rng.random(parents1.shape[0]) < rate
    take2 = (rng.random(parents1.shape) < 0.5) & crossed[:, None]
    return np.where(take2, parents2, parents1).astype(np.int8)


def mutate_many(problem: NetworkDesignProblem, genomes: np.ndarray, rng: np.random.Generator,
                expected_genes: float) -> np.ndarray:
    """:func:`mutate` on every row (addition genes flip; a reversal gene takes another allowed
    value), each gene with probability ``expected_genes / n_genes``."""
    g = genomes.copy()
    n_genes = problem.n_genes
    if n_genes == 0 or g.shape[0] == 0:
        return g
    hit = rng.random(g.shape) < min(1.0, expected_genes / n_genes)
    n_add = problem.n_additions
    adds = g[:, :n_add]
    adds[hit[:, :n_add]] ^= 1
    if problem.n_reversals:
        options = problem.reversal_options()
        for k, j in zip(*np.nonzero(hit[:, n_add:]), strict=True):
            row = options[j].copy()
            row[g[k, n_add + j]] = False
            choices = np.flatnonzero(row)
            if choices.size:
                g[k, n_add + j] = choices[int(rng.integers(choices.size))]
    return g


def repair_many(problem: NetworkDesignProblem, genomes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:func:`repair` on every row; rows already feasible are left as they are."""
    g = genomes.copy()
    n_add = problem.n_additions
    bad = ((g[:, :n_add] < 0) | (g[:, :n_add] > 1)).any(axis=1)
    if problem.n_reversals:
        r = g[:, n_add:]
        in_range = (r >= 0) & (r <= 2)
        allowed = problem.reversal_options().ravel()[3 * np.arange(r.shape[1]) + np.clip(r, 0, 2)]
        bad |= ~(in_range & allowed).all(axis=1)
    bad |= g[:, :n_add].astype(np.float64) @ problem.add_costs > problem.budget * (1 + 1e-12)
    for k in np.flatnonzero(bad):
        g[k] = repair(problem, g[k], rng)
    return g


def make_toolbox(problem: NetworkDesignProblem, params: GaParams) -> base.Toolbox:
    """A deap toolbox of batched operators bound to the problem: ``select(fitness, n, rng)``
    (tournament winners), ``mate(parents1, parents2, rng)`` (uniform crossover at the crossover
    rate), ``mutate(genomes, rng)`` and ``repair(genomes, rng)``; plus ``mutate_one`` and
    ``repair_one`` for single genomes."""
    toolbox = base.Toolbox()
    toolbox.register("select", lambda fit, n, rng: tournaments(fit, n, params.tournament_size, rng))
    toolbox.register("mate", lambda p1, p2, rng: uniform_crossovers(p1, p2, params.crossover_rate, rng))
    toolbox.register("mutate", lambda g, rng: mutate_many(problem, g, rng, params.mutation_genes))
    toolbox.register("repair", lambda g, rng: repair_many(problem, g, rng))
    toolbox.register("mutate_one", lambda g, rng: mutate(problem, g, rng, max(1.0, params.mutation_genes)))
    toolbox.register("repair_one", lambda g, rng: repair(problem, g, rng))
    return toolbox


# ---------------------------------------------------------------------------------------------
# the search


def run_ga(problem: NetworkDesignProblem, fitness: Fitness, budget: Budget,
           params: GaParams | None = None) -> GaRun:
    """Minimise ``fitness`` over the feasible designs of ``problem``.

    Parameters
    ----------
    problem
        The design problem.
    fitness
        Batched fitness (TSTT), lower is better.
    budget
        Time limit, generation limit (``max_iterations``), seed, progress (one event per
        generation: best fitness as objective), cancel.
    params
        GA parameters.

    Returns
    -------
    GaRun
        The best design and the archive of the best distinct designs seen.
    """
    params = params or GaParams()
    if not isinstance(problem, NetworkDesignProblem):
        raise ValidationError("problem", f"must be a NetworkDesignProblem, got {type(problem).__name__}")
    clock = budget.start()
    rng = np.random.default_rng(budget.seed)
    toolbox = make_toolbox(problem, params)
    size = params.population_size
    lo, hi = params.initial_fill
    population = [problem.empty_genome()]
    seen = {population[0].tobytes()}
    tries = 0
    while len(population) < size and tries < 20 * size:
        tries += 1
        g = random_genome(problem, rng, float(rng.uniform(lo, hi)), params.reversal_rate)
        if g.tobytes() not in seen:
            seen.add(g.tobytes())
            population.append(g)
    pop = np.array(population, dtype=np.int8).reshape(len(population), problem.n_genes)
    fit = np.asarray(fitness(pop), dtype=np.float64)
    evaluations = pop.shape[0]
    archive: dict[bytes, tuple[np.ndarray, float]] = {}
    archive_size = 4 * size

    def remember(genomes: np.ndarray, values: np.ndarray) -> None:
        for g, v in zip(genomes, values, strict=True):
            archive.setdefault(g.tobytes(), (g.copy(), float(v)))
        if len(archive) > 2 * archive_size:
            keep = sorted(archive.items(), key=lambda kv: kv[1][1])[:archive_size]
            archive.clear()
            archive.update(keep)

    remember(pop, fit)
    best_value = float(fit.min())
    history = [(0, clock.elapsed(), best_value, float(fit.mean()))]
    clock.report(0, objective=best_value)
    limit = params.generations if budget.max_iterations is None else min(params.generations, budget.max_iterations)
    stall = 0
    generation = 0
    stopped_by = "generations"
    while generation < limit:
        if budget.cancel.is_set():
            stopped_by = "cancel"
            break
        if budget.time_limit is not None and clock.elapsed() >= budget.time_limit:
            stopped_by = "time"
            break
        generation += 1
        order = np.argsort(fit, kind="stable")
        children: list[np.ndarray] = []
        keys: set[bytes] = set()
        for idx in order:
            if len(children) >= params.elite:
                break
            key = pop[idx].tobytes()
            if key not in keys:
                keys.add(key)
                children.append(pop[idx].copy())
        n_new = size - len(children)
        parents1 = pop[toolbox.select(fit, n_new, rng)]
        parents2 = pop[toolbox.select(fit, n_new, rng)]
        offspring = toolbox.repair(toolbox.mutate(toolbox.mate(parents1, parents2, rng), rng), rng)
        for child in offspring:
            for _ in range(_DEDUP_TRIES):
                if child.tobytes() not in keys:
                    break
                child = toolbox.repair_one(toolbox.mutate_one(child, rng), rng)
            keys.add(child.tobytes())
            children.append(child)
        pop = np.array(children, dtype=np.int8)
        fit = np.asarray(fitness(pop), dtype=np.float64)
        evaluations += pop.shape[0]
        remember(pop, fit)
        value = float(fit.min())
        if value < best_value * (1 - 1e-9):
            best_value = value
            stall = 0
        else:
            stall += 1
        history.append((generation, clock.elapsed(), best_value, float(fit.mean())))
        clock.report(generation, objective=best_value)
        if params.stall_generations and stall >= params.stall_generations:
            stopped_by = "stall"
            break
        if budget.max_iterations is not None and generation >= budget.max_iterations and limit < params.generations:
            stopped_by = "iterations"
            break
    ranked_items = sorted(archive.values(), key=lambda item: item[1])[:archive_size]
    ranked = np.array([g for g, _ in ranked_items], dtype=np.int8).reshape(-1, problem.n_genes)
    ranked_fit = np.array([v for _, v in ranked_items])
    return GaRun(best=ranked[0].copy(), best_fitness=float(ranked_fit[0]), ranked=ranked, ranked_fitness=ranked_fit,
                 generations=generation, evaluations=evaluations, history=tuple(history),
                 elapsed_s=clock.elapsed(), stopped_by=stopped_by)
