"""Training the policy: REINFORCE with POMO's shared baseline and a size curriculum.

One step: ``B`` fresh instances of the stage's size (generated, and a share on a road network's
travel-time matrix when one is named), ``P`` solutions each, decoded by sampling from ``P``
different first clients; the advantage of a solution is its cost minus the mean cost of the
``P`` solutions of its instance (Kwon et al. 2020), costs divided by the instance's distance
scale so that instances of any size and unit weigh alike; the loss is
``mean(advantage * log_prob)``; Adam with gradient clipping.

Stages run in order (e.g. 50 -> 100 -> 200 clients); the batch shrinks as the size grows
(``batch_size * sizes[0] / size`` instances) so one step costs about the same. Checkpoints
(:mod:`~solvers.vrp.policy.checkpoint`) hold the model, the optimiser, the step, the random
generators' states and the history, so a run stopped at any point resumes where it was. A fixed
validation set (generated, per stage size) is decoded greedily from every start and compared
with the Clarke-Wright savings solution of each instance.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from planner.errors import ValidationError
from planner.vrp import VrpInstance
from solvers.vrp.policy.checkpoint import load_checkpoint, save_checkpoint
from solvers.vrp.policy.data import ROAD_NETWORKS, RoadInstanceSampler, random_generated_instance
from solvers.vrp.policy.decoder import default_starts, rollout
from solvers.vrp.policy.features import instance_arrays
from solvers.vrp.policy.model import PolicyConfig, PolicyModel

#: Seeds of the validation instances start here (training seeds are drawn from the run's generator).
VALIDATION_SEED = 1_000_000


@dataclass(frozen=True)
class TrainConfig:
    """Training parameters.

    Parameters
    ----------
    sizes
        Client counts of the curriculum stages.
    stage_steps
        Steps per stage (same length as ``sizes``).
    batch_size
        Instances per step at the first size (scaled down for larger sizes, at least 2).
    max_starts
        Solutions per instance: ``min(size, max_starts)``.
    learning_rate
        Adam step size.
    max_grad_norm
        Gradient clipping norm.
    distributions
        Client distributions of generated instances.
    road
        A road network of :data:`~solvers.vrp.policy.data.ROAD_NETWORKS` (or an OSM XML path) whose
        travel-time matrices supply ``road_share`` of the instances, or ``None``.
    road_share
        Share of road instances per batch when ``road`` is set.
    seed
        Seed of the run (instances, sampling, initial weights).
    checkpoint_every
        Steps between checkpoints.
    validate_every
        Steps between validations (0: only at stage ends).
    validation_instances
        Validation instances per stage size.
    threads
        Torch intra-op threads.
    model
        Architecture (ignored when resuming: the checkpoint's is used).
    """

    sizes: tuple[int, ...] = (50, 100, 200)
    stage_steps: tuple[int, ...] = (700, 150, 40)
    batch_size: int = 16
    max_starts: int = 100
    learning_rate: float = 5e-4
    max_grad_norm: float = 1.0
    distributions: tuple[str, ...] = ("uniform", "clustered", "mixed")
    road: str | None = None
    road_share: float = 0.25
    seed: int = 0
    checkpoint_every: int = 25
    validate_every: int = 100
    validation_instances: int = 4
    threads: int = 1
    model: PolicyConfig = field(default_factory=PolicyConfig)

    def __post_init__(self) -> None:
        if not self.sizes or len(self.sizes) != len(self.stage_steps):
            raise ValidationError("stage_steps", f"need one step count per size ({len(self.sizes)} sizes, "
                                                 f"{len(self.stage_steps)} counts)")
        for k, size in enumerate(self.sizes):
            if int(size) < 2:
                raise ValidationError(f"sizes[{k}]", f"must be at least 2 ({size})")
        for k, steps in enumerate(self.stage_steps):
            if int(steps) < 0:
                raise ValidationError(f"stage_steps[{k}]", f"must be non-negative ({steps})")
        for name in ("batch_size", "max_starts", "checkpoint_every", "validation_instances", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValidationError(name, f"must be at least 1 ({getattr(self, name)})")
        if not (self.learning_rate > 0 and self.max_grad_norm > 0):
            raise ValidationError("learning_rate", "learning rate and gradient norm must be positive")
        if not 0.0 <= self.road_share <= 1.0:
            raise ValidationError("road_share", f"must be in [0, 1] ({self.road_share})")
        if self.validate_every < 0:
            raise ValidationError("validate_every", f"must be non-negative ({self.validate_every})")

    @property
    def total_steps(self) -> int:
        """Steps of the whole curriculum."""
        return int(sum(self.stage_steps))

    def stage_of(self, step: int) -> int:
        """Index of the stage that step ``step`` (0-based) belongs to."""
        end = 0
        for k, steps in enumerate(self.stage_steps):
            end += steps
            if step < end:
                return k
        return len(self.stage_steps) - 1

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for checkpoints."""
        out = asdict(self)
        out["sizes"] = list(self.sizes)
        out["stage_steps"] = list(self.stage_steps)
        out["distributions"] = list(self.distributions)
        return out


@dataclass(frozen=True)
class TrainProgress:
    """What a training run reports after each step.

    Parameters
    ----------
    step, total_steps
        Steps done and planned.
    size
        Clients per instance of this step.
    mean_cost
        Running mean (exponential, weight 0.05) of the solutions' cost over the distance scale.
    loss
        This step's loss.
    elapsed_s
        Training seconds so far (over every resumed session).
    validation_gap_pct
        Latest validation gap to savings (percent; negative is better than savings), if any.
    """

    step: int
    total_steps: int
    size: int
    mean_cost: float
    loss: float
    elapsed_s: float
    validation_gap_pct: float | None = None


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`."""

    checkpoint: Path
    step: int
    total_steps: int
    elapsed_s: float
    finished: bool
    history: list[dict[str, Any]]


def validation_set(size: int, count: int) -> list[VrpInstance]:
    """Fixed validation instances of ``size`` clients (uniform and clustered in turn)."""
    from datasets.generators.vrp import generate_cvrp

    return [generate_cvrp(size, distribution=("uniform", "clustered")[k % 2], seed=VALIDATION_SEED + k)
            for k in range(count)]


def validate(model: PolicyModel, instances: list[VrpInstance], reference: list[float]) -> float:
    """Mean gap (percent) of the greedy multi-start policy to ``reference`` costs."""
    gaps = []
    with torch.inference_mode():
        for instance, ref in zip(instances, reference, strict=True):
            n = instance.n_clients
            arrays = instance_arrays(instance, model.config.knn)
            out = rollout(model, [arrays], n, starts=default_starts(n, 1, n), with_log_prob=False)
            gaps.append(100.0 * (float(out.cost.min()) - ref) / ref)
    return float(np.mean(gaps))


class _Trainer:
    def __init__(self, config: TrainConfig, checkpoint: Path, resume: bool):
        self.checkpoint = checkpoint
        torch.set_num_threads(config.threads)
        self.meta: dict[str, Any] = {}
        if resume and checkpoint.is_file():
            loaded = load_checkpoint(checkpoint)
            self.model = loaded.model
            self.step = loaded.step
            self.meta = loaded.meta
            config = replace(config, model=self.model.config)
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
            if loaded.optimizer_state is not None:
                self.optimizer.load_state_dict(loaded.optimizer_state)
            self.rng = np.random.default_rng()
            self.rng.bit_generator.state = self.meta["numpy_state"]
            self.torch_gen = torch.Generator().manual_seed(config.seed)
            self.torch_gen.set_state(self.meta["torch_state"])
        else:
            with torch.random.fork_rng():
                torch.manual_seed(config.seed)
                self.model = PolicyModel(config.model)
            self.step = 0
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
            self.rng = np.random.default_rng(config.seed)
            self.torch_gen = torch.Generator().manual_seed(config.seed)
        self.config = config
        self.history: list[dict[str, Any]] = list(self.meta.get("history", []))
        self.elapsed_before = float(self.meta.get("train_seconds", 0.0))
        self.mean_cost = float(self.meta.get("running_mean_cost", math.nan))
        self.road = RoadInstanceSampler(config.road) if config.road else None
        self.validation: dict[int, tuple[list[VrpInstance], list[float]]] = {}
        self.last_gap: float | None = self.history[-1].get("validation_gap_pct") if self.history else None

    def _validation(self, size: int) -> tuple[list[VrpInstance], list[float]]:
        if size not in self.validation:
            from solvers.vrp.savings import solve_savings

            instances = validation_set(size, self.config.validation_instances)
            self.validation[size] = (instances, [solve_savings(i).objective for i in instances])
        return self.validation[size]

    def instances(self, size: int, count: int) -> list[VrpInstance]:
        out = []
        for _ in range(count):
            if self.road is not None and self.rng.random() < self.config.road_share:
                out.append(self.road.sample(size, self.rng))
            else:
                out.append(random_generated_instance(size, self.rng, self.config.distributions))
        return out

    def train_step(self, size: int) -> tuple[float, float]:
        cfg = self.config
        count = max(2, round(cfg.batch_size * cfg.sizes[0] / size))
        starts = min(size, cfg.max_starts)
        arrays = [instance_arrays(i, self.model.config.knn) for i in self.instances(size, count)]
        self.model.train()
        start_nodes = torch.stack([torch.randperm(size, generator=self.torch_gen)[:starts] + 1 for _ in arrays])
        out = rollout(self.model, arrays, starts, starts=start_nodes, sample=True, generator=self.torch_gen)
        scale = torch.tensor([a.scale for a in arrays], dtype=torch.float64).view(-1, 1)
        cost = out.cost / scale
        advantage = (cost - cost.mean(dim=1, keepdim=True)).to(out.log_prob.dtype)
        loss = (advantage * out.log_prob).mean()
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.model.eval()
        return float(cost.mean()), float(loss.detach())

    def save(self, elapsed: float) -> None:
        meta = {
            "train_config": self.config.to_dict(),
            "numpy_state": self.rng.bit_generator.state,
            "torch_state": self.torch_gen.get_state(),
            "history": self.history,
            "train_seconds": elapsed,
            "running_mean_cost": self.mean_cost,
            "torch_version": str(torch.__version__),
            "threads": self.config.threads,
        }
        save_checkpoint(self.checkpoint, self.model, step=self.step, optimizer=self.optimizer, meta=meta)


def train(config: TrainConfig, checkpoint: str | Path, *, resume: bool = True, max_seconds: float | None = None,
          progress: Callable[[TrainProgress], None] | None = None,
          cancel: threading.Event | None = None) -> TrainResult:
    """Train (or resume training) the policy and keep checkpointing it to ``checkpoint``.

    Parameters
    ----------
    config
        Training parameters; on resume, the checkpoint's architecture wins.
    checkpoint
        File to write (and, with ``resume``, to continue from when it exists).
    resume
        Continue from ``checkpoint`` (weights, optimiser, step, generators) when it exists.
    max_seconds
        Stop (with a checkpoint) after this many seconds of this session.
    progress
        Called after every step.
    cancel
        Set it to stop after the current step (with a checkpoint).

    Returns
    -------
    TrainResult
        ``finished`` is true when the whole curriculum has run.

    Raises
    ------
    ValidationError
        For a road network name that is not known.
    DataFormatError
        If ``checkpoint`` exists, ``resume`` is set, and it is not a policy checkpoint.
    """
    if config.road is not None and config.road not in ROAD_NETWORKS and not Path(config.road).is_file():
        raise ValidationError("road", f"unknown network {config.road!r} (known: {', '.join(ROAD_NETWORKS)}, "
                                      "or a path to an OSM XML file)")
    path = Path(checkpoint)
    trainer = _Trainer(config, path, resume)
    cfg = trainer.config
    session_start = time.perf_counter()

    def elapsed() -> float:
        return trainer.elapsed_before + time.perf_counter() - session_start

    def session_over() -> bool:
        return ((max_seconds is not None and time.perf_counter() - session_start >= max_seconds)
                or (cancel is not None and cancel.is_set()))

    while trainer.step < cfg.total_steps and not session_over():
        stage = cfg.stage_of(trainer.step)
        size = int(cfg.sizes[stage])
        cost, loss = trainer.train_step(size)
        trainer.step += 1
        trainer.mean_cost = cost if math.isnan(trainer.mean_cost) else 0.95 * trainer.mean_cost + 0.05 * cost
        stage_end = trainer.step == sum(cfg.stage_steps[:stage + 1])
        record: dict[str, Any] | None = None
        if stage_end or (cfg.validate_every and trainer.step % cfg.validate_every == 0):
            instances, reference = trainer._validation(size)
            trainer.last_gap = validate(trainer.model, instances, reference)
            record = {"step": trainer.step, "size": size, "running_mean_cost": trainer.mean_cost,
                      "validation_gap_pct": trainer.last_gap, "train_seconds": elapsed()}
            trainer.history.append(record)
        if record is not None or trainer.step % cfg.checkpoint_every == 0:
            trainer.save(elapsed())
        if progress is not None:
            progress(TrainProgress(trainer.step, cfg.total_steps, size, trainer.mean_cost, loss, elapsed(),
                                   trainer.last_gap))
    trainer.save(elapsed())
    return TrainResult(checkpoint=path, step=trainer.step, total_steps=cfg.total_steps, elapsed_s=elapsed(),
                       finished=trainer.step >= cfg.total_steps, history=trainer.history)
