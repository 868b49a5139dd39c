"""Training data and training of the design surrogate.

Data: random feasible designs (:func:`~solvers.design.ga.random_genome`, budget share drawn
from ``U(0, 1)``, reversal rate from ``U(0, 0.3)``, plus the empty design), each solved exactly
(:func:`~solvers.design.evaluation.evaluate_design`). A share of them (``holdout``) is kept out
of training and measures the surrogate's error.

Training: Adam, mean squared error on the log TSTT ratio plus ``flow_weight`` times the mean
squared error on flows over base capacity; the model with the lowest validation loss is kept.
Optional *refinement rounds* then run the surrogate GA with several seeds, solve the best
designs it finds exactly, add them to the training data and train on: the GA seeks the
surrogate's blind spots, and this shows the model where they are. All of it is data generation
and training time, reported separately from any solve.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from planner.budget import Budget
from planner.errors import ValidationError
from solvers.design.evaluation import evaluate_design
from solvers.design.ga import GaParams, random_genome, run_ga
from solvers.design.problem import NetworkDesignProblem
from solvers.design.surrogate import (
    NetworkContext,
    Surrogate,
    SurrogateConfig,
    build_model,
    link_features,
    network_fingerprint,
)


@dataclass(frozen=True, eq=False)
class DesignSamples:
    """Exactly evaluated designs.

    Parameters
    ----------
    genomes
        ``(n, n_genes)`` designs.
    tstt
        Their total system travel times.
    flows
        ``(n, n_links)`` equilibrium flows (graph edge order).
    seconds
        Seconds spent solving them.
    """

    genomes: np.ndarray
    tstt: np.ndarray
    flows: np.ndarray
    seconds: float

    def __len__(self) -> int:
        return int(self.tstt.size)

    def concat(self, other: DesignSamples) -> DesignSamples:
        """Both sets of samples."""
        return DesignSamples(np.concatenate([self.genomes, other.genomes]), np.concatenate([self.tstt, other.tstt]),
                             np.concatenate([self.flows, other.flows]), self.seconds + other.seconds)


@dataclass(frozen=True)
class TrainingParams:
    """Parameters of surrogate training.

    Parameters
    ----------
    samples
        Random designs solved for the initial data set.
    holdout
        Share of the random designs kept out for measuring the error.
    epochs
        Training epochs (first round).
    refine_rounds
        Refinement rounds (surrogate GA, exact evaluation of its best designs, more training).
    refine_designs
        Designs solved per refinement round.
    refine_epochs
        Epochs per refinement round.
    batch_size
        Designs per step.
    learning_rate
        Adam step size.
    flow_weight
        Weight of the flow loss.
    config
        Architecture.
    seed
        Seed of the designs, the split, the initial weights and the batches.
    """

    samples: int = 800
    holdout: float = 0.15
    epochs: int = 80
    refine_rounds: int = 2
    refine_designs: int = 120
    refine_epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 2e-3
    flow_weight: float = 0.1
    config: SurrogateConfig = field(default_factory=SurrogateConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 10:
            raise ValidationError("samples", f"must be at least 10 ({self.samples})")
        if not 0 < self.holdout < 0.9:
            raise ValidationError("holdout", f"must be in (0, 0.9) ({self.holdout})")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValidationError(name, f"must be at least 1 ({getattr(self, name)})")
        for name in ("refine_rounds", "refine_designs", "refine_epochs", "seed"):
            if getattr(self, name) < 0:
                raise ValidationError(name, f"must be non-negative ({getattr(self, name)})")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValidationError("learning_rate", f"must be positive ({self.learning_rate})")
        if not (math.isfinite(self.flow_weight) and self.flow_weight >= 0):
            raise ValidationError("flow_weight", f"must be non-negative ({self.flow_weight})")


@dataclass(frozen=True)
class SurrogateError:
    """Error of a surrogate on exactly solved designs it was not trained on.

    Parameters
    ----------
    designs
        Number of designs.
    tstt_mape_pct
        Mean absolute percentage error of TSTT.
    tstt_max_ape_pct
        Largest absolute percentage error of TSTT.
    flow_wape_pct
        Link-flow error ``sum |x_hat - x| / sum x`` (weighted MAPE; plain MAPE is undefined on
        links without flow), in percent.
    flow_mape_pct
        Plain MAPE of link flows over links carrying at least 1 % of the mean flow.
    rank_correlation
        Spearman correlation of predicted and true TSTT.
    """

    designs: int
    tstt_mape_pct: float
    tstt_max_ape_pct: float
    flow_wape_pct: float
    flow_mape_pct: float
    rank_correlation: float


def generate_samples(problem: NetworkDesignProblem, n: int, seed: int,
                     progress: Callable[[int, int], None] | None = None) -> DesignSamples:
    """Solve ``n`` random designs exactly (the first one is the empty design)."""
    rng = np.random.default_rng(seed)
    genomes = [problem.empty_genome()]
    while len(genomes) < n:
        genomes.append(random_genome(problem, rng, float(rng.uniform(0, 1)), float(rng.uniform(0, 0.3))))
    return solve_designs(problem, np.array(genomes, dtype=np.int8), progress)


def solve_designs(problem: NetworkDesignProblem, genomes: np.ndarray,
                  progress: Callable[[int, int], None] | None = None) -> DesignSamples:
    """Solve the given designs exactly."""
    start = time.perf_counter()
    tstt = np.empty(genomes.shape[0])
    flows = np.empty((genomes.shape[0], problem.n_links))
    for k, g in enumerate(genomes):
        ev = evaluate_design(problem, g)
        tstt[k] = ev.tstt
        flows[k] = ev.flows
        if progress is not None:
            progress(k + 1, genomes.shape[0])
    return DesignSamples(np.asarray(genomes, dtype=np.int8), tstt, flows, time.perf_counter() - start)


def surrogate_error(surrogate: Surrogate, samples: DesignSamples) -> SurrogateError:
    """Error of the surrogate on the given exactly solved designs."""
    tstt, flows = surrogate.predict(samples.genomes)
    ape = np.abs(tstt - samples.tstt) / samples.tstt * 100
    wape = float(np.abs(flows - samples.flows).sum() / max(samples.flows.sum(), 1e-12) * 100)
    big = samples.flows >= 0.01 * samples.flows.mean()
    mape = float(np.mean(np.abs(flows[big] - samples.flows[big]) / samples.flows[big]) * 100) if big.any() else 0.0
    return SurrogateError(len(samples), float(ape.mean()), float(ape.max()), wape, mape,
                          _spearman(tstt, samples.tstt))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2:
        return float("nan")
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _targets(problem: NetworkDesignProblem, context: NetworkContext,
             samples: DesignSamples) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    cap0 = np.asarray(problem.assignment.network.capacity, dtype=np.float64)
    feats = torch.from_numpy(link_features(problem, context, samples.genomes))
    flow = torch.from_numpy((samples.flows / np.where(cap0 > 0, cap0, 1.0)).astype(np.float32))
    ratio = torch.from_numpy(np.log(samples.tstt / context.base_tstt).astype(np.float32))
    return feats, flow, ratio


def _fit(surrogate: Surrogate, train: DesignSamples, valid: DesignSamples, epochs: int, params: TrainingParams,
         generator: torch.Generator, log: Callable[[str], None] | None,
         first: bool = False) -> list[tuple[int, float, float]]:
    model = surrogate.model
    problem = surrogate.problem
    xf, yf, yr = _targets(problem, surrogate.context, train)
    vf, vyf, vyr = _targets(problem, surrogate.context, valid)
    scale = float(yr.std()) if yr.numel() > 1 and float(yr.std()) > 0 else 1.0
    if first:
        model.target_mean.fill_(float(yr.mean()))
        model.target_scale.fill_(scale)
    scale = float(model.target_scale)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.learning_rate)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    best_state, best_loss = None, math.inf
    history: list[tuple[int, float, float]] = []

    def loss_of(f: torch.Tensor, r: torch.Tensor, tf: torch.Tensor, tr: torch.Tensor) -> torch.Tensor:
        return ((r - tr) / scale).pow(2).mean() + params.flow_weight * (f - tf).pow(2).mean()

    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(xf.shape[0], generator=generator)
        total = 0.0
        for s in range(0, order.numel(), params.batch_size):
            idx = order[s:s + params.batch_size]
            f, r = model(xf[idx])
            loss = loss_of(f, r, yf[idx], yr[idx])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * idx.numel()
        sched.step()
        model.eval()
        with torch.no_grad():
            f, r = model(vf)
            vloss = float(loss_of(f, r, vyf, vyr))
        history.append((epoch, total / order.numel(), vloss))
        if vloss < best_loss:
            best_loss = vloss
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if log is not None and (epoch % 10 == 0 or epoch == epochs):
            log(f"epoch {epoch:4d}  train {total / order.numel():.4e}  valid {vloss:.4e}")
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def train_surrogate(problem: NetworkDesignProblem, params: TrainingParams | None = None,
                    log: Callable[[str], None] | None = None) -> tuple[Surrogate, SurrogateError]:
    """Generate data, train a surrogate for ``problem``'s network and measure its held-out error.

    Parameters
    ----------
    problem
        The design problem (its candidate sets and budget shape the random designs).
    params
        Training parameters.
    log
        Called with one line of news now and then.

    Returns
    -------
    tuple[Surrogate, SurrogateError]
        The trained surrogate (its ``meta`` records data, times and the error) and its error on
        the held-out random designs.
    """
    params = params or TrainingParams()
    started = time.perf_counter()
    base = evaluate_design(problem, problem.empty_genome())
    context = NetworkContext(network_fingerprint(problem), problem.lanes.copy(), base.flows.copy(), base.tstt,
                             problem.assignment.network.name or problem.name)
    data = generate_samples(problem, params.samples, params.seed,
                            None if log is None else _every(log, params.samples, "random designs solved"))
    rng = np.random.default_rng(params.seed + 1)
    order = rng.permutation(len(data))
    n_hold = max(1, round(params.holdout * len(data)))
    hold = _take(data, order[:n_hold])
    train = _take(data, order[n_hold:])
    generator = torch.Generator().manual_seed(params.seed)
    surrogate = Surrogate(problem, build_model(problem, params.config, params.seed), context)
    history = _fit(surrogate, train, hold, params.epochs, params, generator, log, first=True)
    data_seconds = data.seconds
    refined = 0
    for round_ in range(params.refine_rounds):
        found: dict[bytes, np.ndarray] = {}
        for k in range(4):
            run = run_ga(problem, surrogate, Budget(seed=params.seed + 100 * (round_ + 1) + k),
                         GaParams(generations=100, stall_generations=30))
            for g in run.ranked[: max(1, params.refine_designs // 4)]:
                found.setdefault(g.tobytes(), g)
        genomes = np.array(list(found.values()), dtype=np.int8)[: params.refine_designs]
        extra = solve_designs(problem, genomes)
        data_seconds += extra.seconds
        refined += len(extra)
        train = train.concat(extra)
        if log is not None:
            err = surrogate_error(surrogate, extra)
            log(f"refinement {round_ + 1}: {len(extra)} GA designs solved; error on them before training "
                f"{err.tstt_mape_pct:.2f} % TSTT")
        history += _fit(surrogate, train, hold, params.refine_epochs, params, generator, log)
    error = surrogate_error(surrogate, hold)
    surrogate.meta.update({
        "samples_random": len(data), "samples_refinement": refined, "holdout": n_hold,
        "data_seconds": data_seconds, "total_seconds": time.perf_counter() - started,
        "training_seconds": time.perf_counter() - started - data_seconds,
        "params": {k: v for k, v in params.__dict__.items() if k != "config"},
        "heldout_error": error.__dict__, "history": [list(h) for h in history],
        "torch": str(torch.__version__),
    })
    return surrogate, error


def _take(samples: DesignSamples, idx: np.ndarray) -> DesignSamples:
    return DesignSamples(samples.genomes[idx], samples.tstt[idx], samples.flows[idx], 0.0)


def _every(log: Callable[[str], None], total: int, what: str) -> Callable[[int, int], None]:
    step = max(1, total // 10)

    def report(done: int, n: int) -> None:
        if done % step == 0 or done == n:
            log(f"{done}/{n} {what}")

    return report
