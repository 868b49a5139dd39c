"""Training the routing agent: epsilon-greedy actors, replay, double DQN, validation, resumable.

``envs`` episodes run side by side on the training topology; every loop iteration all of them
act once (one batched network call scores every candidate of every live episode), their
transitions go to the replay buffer, and ``updates_per_iteration`` learning steps follow. Every
``validate_every`` learning steps the greedy agent plays ``validation_episodes`` episodes of
the validation seed on the training topology; the best of these validations is written to the
checkpoint (the shipped model), the latest state to ``<checkpoint>.train.pt`` (resume file).

Seeds: training episodes use seed ``TRAIN_SEED_BASE + seed``, validation episodes
``VALIDATION_SEED``; the benchmark uses other seeds (``planner.bench.agent``), so no model is
selected on the episodes it is scored on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from planner.errors import ValidationError
from solvers.flows.agent.baselines import (
    BatchLeastMaxUtilisation,
    LeastMaxUtilisation,
    LoadBalancing,
    ShortestAvailablePath,
)
from solvers.flows.agent.checkpoint import save_agent
from solvers.flows.agent.dqn import DoubleDqn, LearnerConfig, ReplayBuffer
from solvers.flows.agent.environment import EnvConfig, RoutingEnv, RoutingNetwork
from solvers.flows.agent.gnn import GnnConfig, LinkQNetwork, NetworkTensors, fitting_mask, q_values
from solvers.flows.agent.play import play_agent, play_batched

#: Training episodes draw their demands with seed ``TRAIN_SEED_BASE + seed``.
TRAIN_SEED_BASE = 1_000_000
#: Validation episodes use this seed.
VALIDATION_SEED = 2


@dataclass(frozen=True)
class TrainConfig:
    """A training run.

    Parameters
    ----------
    topology
        Training topology (a name for :func:`datasets.graphml.read_topology`).
    steps
        Learning steps in all.
    envs
        Episodes played side by side.
    batch_size
        Transitions per learning step.
    updates_per_iteration
        Learning steps after each acting round.
    buffer_size, warmup
        Replay capacity; transitions gathered before learning starts. The warm-up episodes are
        played by demonstrators (each episode by one of least-max-utilisation, SAP and a random
        fitting choice), so the replay starts with useful off-policy data.
    epsilon_start, epsilon_end, epsilon_fraction
        Linear exploration schedule over the first ``epsilon_fraction`` of the steps.
    validate_every, validation_episodes
        Validation period (learning steps) and size.
    validation_topologies, validation_topology_episodes
        Optional extra validation topologies (names for :func:`datasets.graphml.read_topology`;
        none by default) and their episodes (validation seed). With any, the model is selected
        on the mean of (agent - least-max-utilisation) over the training topology and these,
        instead of the agent's score on the training topology alone.
    capacity_jitter
        Regularisation (0, off, by default): every training episode draws its link capacity
        uniformly from ``env.capacity * [1 - jitter, 1 + jitter]`` (the same on every link);
        the features stay normalised by ``env.capacity``. Validation uses ``env.capacity``.
    seed
        Seed of the weights, the exploration and the training episodes.
    threads
        Torch threads.
    gnn, learner, env
        Network sizes, DQN hyper-parameters, environment.
    """

    topology: str = "nsfnet"
    steps: int = 12_000
    envs: int = 16
    batch_size: int = 32
    updates_per_iteration: int = 1
    buffer_size: int = 50_000
    warmup: int = 3_000
    epsilon_start: float = 0.5
    epsilon_end: float = 0.02
    epsilon_fraction: float = 0.25
    validate_every: int = 500
    validation_episodes: int = 100
    validation_topologies: tuple[str, ...] = ()
    validation_topology_episodes: int = 150
    capacity_jitter: float = 0.0
    seed: int = 0
    threads: int = 1
    gnn: GnnConfig = field(default_factory=GnnConfig)
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    env: EnvConfig = field(default_factory=EnvConfig)

    def __post_init__(self) -> None:
        for name in ("steps", "envs", "batch_size", "updates_per_iteration", "buffer_size", "validate_every",
                     "validation_episodes", "validation_topology_episodes", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValidationError(name, f"must be a positive integer ({value!r})")
        if self.warmup < self.batch_size:
            raise ValidationError("warmup", f"must be >= batch_size ({self.warmup} < {self.batch_size})")
        if not 0 <= self.epsilon_end <= self.epsilon_start <= 1:
            raise ValidationError("epsilon_start", "need 0 <= epsilon_end <= epsilon_start <= 1")
        if not 0 < self.epsilon_fraction <= 1:
            raise ValidationError("epsilon_fraction", f"must be in (0, 1] ({self.epsilon_fraction})")
        if self.seed < 0:
            raise ValidationError("seed", f"must be non-negative ({self.seed})")
        if not 0 <= self.capacity_jitter < 1:
            raise ValidationError("capacity_jitter", f"must be in [0, 1) ({self.capacity_jitter})")

    def epsilon(self, step: int) -> float:
        """Exploration rate at a learning step."""
        frac = min(1.0, step / (self.epsilon_fraction * self.steps))
        return self.epsilon_start + frac * (self.epsilon_end - self.epsilon_start)


@dataclass(frozen=True)
class TrainProgress:
    """A progress report of a training run."""

    step: int
    total_steps: int
    episodes: int
    epsilon: float
    loss: float
    mean_train_score: float
    validation_score: float | None
    best_validation_score: float | None
    elapsed_s: float


@dataclass(frozen=True)
class TrainResult:
    """The end of a training run (finished or stopped by the time limit)."""

    checkpoint: Path
    step: int
    total_steps: int
    finished: bool
    elapsed_s: float
    best_validation_score: float | None
    history: list[dict[str, Any]]


def _config_dict(config: TrainConfig) -> dict[str, Any]:
    d = asdict(config)
    d["env"]["demand_sizes"] = list(config.env.demand_sizes)
    d["validation_topologies"] = list(config.validation_topologies)
    return d


def _lmu_score(network: RoutingNetwork, env: EnvConfig, episodes: list[int]) -> float:
    """Mean score of least-max-utilisation on the validation episodes of a network."""
    chooser = BatchLeastMaxUtilisation(network.path_links, env.capacity)
    return play_batched(chooser, network, env, VALIDATION_SEED, episodes).mean_score


def train(config: TrainConfig, checkpoint: str | Path, *, resume: bool = True, max_seconds: float | None = None,
          progress: Callable[[TrainProgress], None] | None = None, network: RoutingNetwork | None = None
          ) -> TrainResult:
    """Train (or resume training) the agent.

    Parameters
    ----------
    config
        The run.
    checkpoint
        Where the best model goes; the resume state goes beside it (``.train.pt``).
    resume
        Continue from the resume state if it exists.
    max_seconds
        Stop (after writing the resume state) once this much training time has passed.
    progress
        Called after every validation.
    network
        The prepared training topology (default: read ``config.topology``).

    Returns
    -------
    TrainResult
    """
    from datasets.graphml import read_topology

    checkpoint = Path(checkpoint)
    state_path = checkpoint.with_suffix(checkpoint.suffix + ".train.pt")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng([config.seed, 11])
    demonstrators = (LeastMaxUtilisation(), ShortestAvailablePath(), LoadBalancing())
    if network is None:
        network = RoutingNetwork.from_graph(read_topology(config.topology).graph, k=config.env.k, name=config.topology)
    tensors = NetworkTensors(network)
    model = LinkQNetwork(config.gnn)
    learner = DoubleDqn(model, config.learner, config.env.capacity, config.env.max_demand)
    buffer = ReplayBuffer(config.buffer_size, network.n_links)
    step, episodes, elapsed0, best = 0, 0, 0.0, None
    history: list[dict[str, Any]] = []
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["online"])
        learner.target.load_state_dict(state["target"])
        learner.optimizer.load_state_dict(state["optimizer"])
        learner.updates = state["step"]
        step, episodes, elapsed0 = state["step"], state["episodes"], state["elapsed_s"]
        best, history = state["best"], state["history"]
        rng = np.random.default_rng([config.seed, 11, step])

    train_seed = TRAIN_SEED_BASE + config.seed

    def new_env(episode: int) -> RoutingEnv:
        env_config = config.env
        if config.capacity_jitter > 0:
            scale = rng.uniform(1 - config.capacity_jitter, 1 + config.capacity_jitter)
            env_config = replace(env_config, capacity=env_config.capacity * scale)
        return RoutingEnv(network, env_config, seed=train_seed, episode=episode)

    envs = [new_env(episodes + i) for i in range(config.envs)]
    demo = [int(rng.integers(len(demonstrators))) for _ in envs]
    for i, env in enumerate(envs):
        demonstrators[demo[i]].reset(train_seed, env.episode)
    next_episode = episodes + config.envs
    recent: list[float] = []
    losses: list[float] = []
    start = time.perf_counter()
    n = network.n_nodes
    capacity, max_demand = config.env.capacity, config.env.max_demand
    validation_episodes = list(range(config.validation_episodes))
    # optional selection on more topologies: mean (agent - least-max-utilisation) over all
    extra: list[tuple[RoutingNetwork, NetworkTensors, list[int], float]] = []
    lmu_train = 0.0
    if config.validation_topologies:
        lmu_train = _lmu_score(network, config.env, validation_episodes)
        for name in config.validation_topologies:
            net = RoutingNetwork.from_graph(read_topology(name).graph, k=config.env.k, name=name)
            eps_list = list(range(config.validation_topology_episodes))
            extra.append((net, NetworkTensors(net), eps_list, _lmu_score(net, config.env, eps_list)))

    def save_state() -> None:
        torch.save({"online": model.state_dict(), "target": learner.target.state_dict(),
                    "optimizer": learner.optimizer.state_dict(), "step": step, "episodes": episodes,
                    "elapsed_s": elapsed0 + time.perf_counter() - start, "best": best, "history": history,
                    "config": _config_dict(config)}, state_path)

    finished = step >= config.steps
    while not finished:
        # acting: every episode picks an action for its demand, in one network call
        remaining = torch.from_numpy(np.stack([e.remaining for e in envs]).astype(np.float32))
        pair = torch.tensor([e.demand.source * n + e.demand.target for e in envs])
        bw = torch.tensor([e.demand.bandwidth for e in envs], dtype=torch.float32)
        with torch.no_grad():
            fits = fitting_mask(tensors, remaining, pair, bw)
            q = q_values(model, tensors, remaining, pair, bw, capacity, max_demand)
        greedy = q.masked_fill(~fits, float("-inf")).argmax(dim=1).numpy()
        fits_np = fits.numpy()
        eps = config.epsilon(step)
        for i, env in enumerate(envs):
            ok = np.flatnonzero(fits_np[i])
            if ok.size == 0:  # no candidate fits: the episode is over
                recent.append(env.routed_bandwidth / max_demand)
                episodes += 1
                envs[i] = new_env(next_episode)
                demo[i] = int(rng.integers(len(demonstrators)))
                demonstrators[demo[i]].reset(train_seed, next_episode)
                next_episode += 1
                continue
            if buffer.count < config.warmup:
                action = demonstrators[demo[i]].choose(env)
            else:
                action = int(rng.choice(ok)) if rng.random() < eps else int(greedy[i])
            before = env.remaining.copy()
            p, b = env.demand.source * n + env.demand.target, env.demand.bandwidth
            reward, _ = env.step(action)
            nxt = env.demand
            next_fits = env.fits().any()
            buffer.add(before, p, b, action, reward, env.remaining, nxt.source * n + nxt.target, nxt.bandwidth,
                       not next_fits)
        if buffer.count < config.warmup:
            continue
        for _ in range(config.updates_per_iteration):
            losses.append(learner.learn(tensors, buffer.sample(config.batch_size, rng)))
            step += 1
            if step % config.validate_every == 0 or step >= config.steps:
                model.eval()
                val = play_agent(model, network, config.env, VALIDATION_SEED, validation_episodes,
                                 tensors=tensors).mean_score
                selection = val
                if extra:
                    gaps = [val - lmu_train]
                    for net, net_tensors, eps_list, lmu in extra:
                        score = play_agent(model, net, config.env, VALIDATION_SEED, eps_list,
                                           tensors=net_tensors).mean_score
                        gaps.append(score - lmu)
                    selection = float(np.mean(gaps))
                model.train()
                elapsed = elapsed0 + time.perf_counter() - start
                mean_train = float(np.mean(recent[-200:])) if recent else float("nan")
                row = {"step": step, "episodes": episodes, "epsilon": round(eps, 4),
                       "loss": float(np.mean(losses[-config.validate_every:])), "train_score": mean_train,
                       "validation_score": val, "elapsed_s": round(elapsed, 1)}
                if extra:
                    row["selection_score"] = selection
                history.append(row)
                if best is None or selection > best:
                    best = selection
                    save_agent(checkpoint, model, config.env, {
                        "trained_on": network.name, "step": step, "total_steps": config.steps,
                        "episodes": episodes, "train_seconds": round(elapsed, 1), "validation_seed": VALIDATION_SEED,
                        "validation_episodes": config.validation_episodes, "validation_score": val,
                        "selection_score": selection,
                        "train_seed": train_seed, "config": _config_dict(config)})
                save_state()
                if progress is not None:
                    progress(TrainProgress(step, config.steps, episodes, eps, row["loss"], mean_train, val, best,
                                           elapsed))
                if step >= config.steps:
                    finished = True
                    break
                if max_seconds is not None and time.perf_counter() - start >= max_seconds:
                    break
        if max_seconds is not None and time.perf_counter() - start >= max_seconds:
            save_state()
            break
    return TrainResult(checkpoint=checkpoint, step=step, total_steps=config.steps, finished=finished,
                       elapsed_s=elapsed0 + time.perf_counter() - start, best_validation_score=best,
                       history=history)
