"""Playing episodes: the trained agent as a policy, and batched greedy episodes for evaluation.

Every policy is scored on the same episodes: episode ``e`` of seed ``s`` draws its demands from
``DemandStream(seed=s, episode=e)`` whoever routes them. The score of an episode is the routed
bandwidth divided by the largest demand size (the paper's episode reward; 14.97 for SAP on
NSFNet), and the number of demands routed is kept beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from planner.errors import ValidationError
from solvers.flows.agent.baselines import RoutingPolicy, run_episode
from solvers.flows.agent.environment import EnvConfig, RoutingEnv, RoutingNetwork
from solvers.flows.agent.gnn import NetworkTensors, QModel, fitting_mask, q_values


@dataclass(frozen=True)
class EpisodeScores:
    """Per-episode results of one policy on one network.

    Parameters
    ----------
    score
        Routed bandwidth / largest demand size, per episode.
    routed
        Demands routed, per episode.
    """

    score: np.ndarray
    routed: np.ndarray

    @property
    def mean_score(self) -> float:
        """Mean score per episode."""
        return float(self.score.mean()) if self.score.size else float("nan")


class AgentPolicy:
    """The Q-network as a :class:`~solvers.flows.agent.baselines.RoutingPolicy`: the fitting
    candidate of highest Q (candidate 0 when none fits)."""

    name = "routing-agent"

    def __init__(self, model: QModel):
        self.model = model
        self._tensors: dict[int, NetworkTensors] = {}

    def tensors(self, network: RoutingNetwork) -> NetworkTensors:
        """The torch view of a network (built once per network object)."""
        t = self._tensors.get(id(network))
        if t is None or t.network is not network:
            t = NetworkTensors(network)
            self._tensors = {id(network): t}
        return t

    def reset(self, seed: int, episode: int) -> None:
        """Nothing to prepare (the policy is deterministic)."""

    def choose(self, env: RoutingEnv) -> int:
        """Greedy fitting action."""
        tensors = self.tensors(env.network)
        remaining = torch.from_numpy(env.remaining.astype(np.float32))[None]
        pair = torch.tensor([env.demand.source * env.network.n_nodes + env.demand.target])
        bw = torch.tensor([env.demand.bandwidth], dtype=torch.float32)
        with torch.no_grad():
            q = q_values(self.model, tensors, remaining, pair, bw, env.config.capacity, env.config.max_demand)
            fits = fitting_mask(tensors, remaining, pair, bw)
        k = env.config.k
        fits = fits[:, :k]
        if not fits.any():
            return 0
        return int(q[:, :k].masked_fill(~fits, float("-inf")).argmax())


def play_policy(policy: RoutingPolicy, network: RoutingNetwork, config: EnvConfig, seed: int,
                episodes: Sequence[int]) -> EpisodeScores:
    """Play the given episodes one by one with any policy."""
    score, routed = [], []
    for e in episodes:
        env = RoutingEnv(network, config, seed=seed, episode=e)
        policy.reset(seed, e)
        run_episode(env, policy)
        score.append(env.routed_bandwidth / config.max_demand)
        routed.append(env.routed)
    return EpisodeScores(np.asarray(score, dtype=np.float64), np.asarray(routed, dtype=np.int64))


class BatchChooser(Protocol):
    """Picks actions for a batch of live episodes of one network."""

    def __call__(self, remaining: np.ndarray, pairs: np.ndarray, bandwidth: np.ndarray, fits: np.ndarray,
                 episodes: np.ndarray) -> np.ndarray:
        """``(B,)`` candidate indices given ``(B, m)`` remaining capacities, ``(B,)`` pair
        indices and bandwidths, ``(B, k)`` fitting candidates (at least one per row) and the
        ``(B,)`` episode numbers."""


def play_batched(chooser: BatchChooser, network: RoutingNetwork, config: EnvConfig, seed: int,
                 episodes: Sequence[int], *, batch_size: int = 256) -> EpisodeScores:
    """Play episodes ``batch_size`` at a time, one chooser call per step for all live ones.

    An episode ends when no candidate of its demand fits, so the chooser only ever sees rows
    with a fitting candidate.
    """
    if config.k > network.k:
        raise ValidationError("config.k", f"exceeds the network's candidate paths ({config.k} > {network.k})")
    episodes = list(episodes)
    n, k = network.n_nodes, config.k
    score = np.zeros(len(episodes))
    routed = np.zeros(len(episodes), dtype=np.int64)
    for start in range(0, len(episodes), batch_size):
        chunk = episodes[start:start + batch_size]
        envs = [RoutingEnv(network, config, seed=seed, episode=e) for e in chunk]
        live = list(range(len(envs)))
        while live:
            remaining = np.stack([envs[i].remaining for i in live])
            pairs = np.array([envs[i].demand.source * n + envs[i].demand.target for i in live], dtype=np.int64)
            bandwidth = np.array([envs[i].demand.bandwidth for i in live])
            fits = batch_fits(network, remaining, pairs, bandwidth, k)
            any_fit = fits.any(axis=1)
            for row in np.flatnonzero(~any_fit):
                envs[live[row]].step(0)  # nothing fits: the episode ends here
            rows = np.flatnonzero(any_fit)
            if rows.size:
                ids = [live[r] for r in rows]
                actions = chooser(remaining[rows], pairs[rows], bandwidth[rows], fits[rows],
                                  np.array([chunk[i] for i in ids], dtype=np.int64))
                for i, a in zip(ids, actions.tolist(), strict=True):
                    envs[i].step(int(a))
            live = [i for i in live if not envs[i].done]
        for j, env in enumerate(envs):
            score[start + j] = env.routed_bandwidth / config.max_demand
            routed[start + j] = env.routed
    return EpisodeScores(score, routed)


def batch_fits(network: RoutingNetwork, remaining: np.ndarray, pairs: np.ndarray, bandwidth: np.ndarray,
               k: int) -> np.ndarray:
    """``(B, k)`` whether each candidate exists and has room."""
    links = network.path_links[pairs, :k]  # (B, k, L)
    room = np.where(links >= 0, np.take_along_axis(remaining[:, None, :], np.maximum(links, 0), axis=2), np.inf)
    exists = np.arange(k)[None, :] < network.path_count[pairs][:, None]
    return exists & (room.min(axis=2) >= bandwidth[:, None])


class AgentChooser:
    """The Q-network's greedy choice among the fitting candidates, for :func:`play_batched`."""

    def __init__(self, model: QModel, tensors: NetworkTensors, config: EnvConfig):
        self.model = model
        self.tensors = tensors
        self.config = config

    def __call__(self, remaining: np.ndarray, pairs: np.ndarray, bandwidth: np.ndarray, fits: np.ndarray,
                 episodes: np.ndarray) -> np.ndarray:
        """Greedy actions."""
        with torch.no_grad():
            q = q_values(self.model, self.tensors, torch.from_numpy(remaining.astype(np.float32)),
                         torch.from_numpy(pairs), torch.from_numpy(bandwidth.astype(np.float32)),
                         self.config.capacity, self.config.max_demand)
        k = fits.shape[1]
        q = q[:, :k].masked_fill(~torch.from_numpy(fits), float("-inf"))
        return q.argmax(dim=1).numpy()


def play_agent(model: QModel, network: RoutingNetwork, config: EnvConfig, seed: int,
               episodes: Sequence[int], *, batch_size: int = 256, tensors: NetworkTensors | None = None
               ) -> EpisodeScores:
    """Play episodes greedily with the Q-network (batched); same results as
    :func:`play_policy` with :class:`AgentPolicy`."""
    model.eval()
    chooser = AgentChooser(model, tensors or NetworkTensors(network), config)
    return play_batched(chooser, network, config, seed, episodes, batch_size=batch_size)
