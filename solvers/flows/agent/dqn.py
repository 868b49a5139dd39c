"""Double DQN on the link Q-network: replay buffer, target network, one learning step.

A transition is (state, action, reward, next state, next state terminal). The actions are
masked to the candidates with room (any policy that can route a demand does so), so the
episode ends exactly when no candidate of the next demand fits: the next state is then
terminal and its value is 0. The target is
``r + gamma * Q_target(s', argmax_{a' fitting} Q_online(s', a'))``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from planner.errors import ValidationError
from solvers.flows.agent.gnn import LinkQNetwork, NetworkTensors, fitting_mask, q_of_graphs, state_action_features


class ReplayBuffer:
    """Fixed-size ring buffer of transitions on one network.

    Parameters
    ----------
    size
        Capacity in transitions.
    n_links
        Links of the network (the width of the capacity rows).
    """

    def __init__(self, size: int, n_links: int):
        if size < 1:
            raise ValidationError("size", f"must be >= 1 ({size})")
        self.size = size
        self.remaining = np.zeros((size, n_links), dtype=np.float32)
        self.pair = np.zeros(size, dtype=np.int64)
        self.bandwidth = np.zeros(size, dtype=np.float32)
        self.action = np.zeros(size, dtype=np.int64)
        self.reward = np.zeros(size, dtype=np.float32)
        self.next_remaining = np.zeros((size, n_links), dtype=np.float32)
        self.next_pair = np.zeros(size, dtype=np.int64)
        self.next_bandwidth = np.zeros(size, dtype=np.float32)
        self.terminal = np.zeros(size, dtype=np.float32)
        self._next = 0
        self.count = 0

    def add(self, remaining: np.ndarray, pair: int, bandwidth: float, action: int, reward: float,
            next_remaining: np.ndarray, next_pair: int, next_bandwidth: float, terminal: bool) -> None:
        """Store one transition (overwriting the oldest when full)."""
        i = self._next
        self.remaining[i] = remaining
        self.pair[i] = pair
        self.bandwidth[i] = bandwidth
        self.action[i] = action
        self.reward[i] = reward
        self.next_remaining[i] = next_remaining
        self.next_pair[i] = next_pair
        self.next_bandwidth[i] = next_bandwidth
        self.terminal[i] = float(terminal)
        self._next = (i + 1) % self.size
        self.count = min(self.count + 1, self.size)

    def sample(self, batch: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """A uniform batch as tensors."""
        idx = rng.integers(0, self.count, size=batch)
        return {
            "remaining": torch.from_numpy(self.remaining[idx]), "pair": torch.from_numpy(self.pair[idx]),
            "bandwidth": torch.from_numpy(self.bandwidth[idx]), "action": torch.from_numpy(self.action[idx]),
            "reward": torch.from_numpy(self.reward[idx]),
            "next_remaining": torch.from_numpy(self.next_remaining[idx]),
            "next_pair": torch.from_numpy(self.next_pair[idx]),
            "next_bandwidth": torch.from_numpy(self.next_bandwidth[idx]),
            "terminal": torch.from_numpy(self.terminal[idx]),
        }


@dataclass(frozen=True)
class LearnerConfig:
    """DQN hyper-parameters.

    Parameters
    ----------
    gamma
        Discount (the paper: 0.95).
    learning_rate
        Adam step size.
    target_every
        Learning steps between hard copies of the online network to the target network.
    grad_clip
        Gradient norm clip.
    """

    gamma: float = 0.95
    learning_rate: float = 1e-3
    target_every: int = 500
    grad_clip: float = 10.0


class DoubleDqn:
    """Online and target Q-networks with an Adam optimiser.

    Parameters
    ----------
    model
        The online network (the target starts as its copy).
    config
        Hyper-parameters.
    capacity, max_demand
        Feature normalisers of the environment.
    """

    def __init__(self, model: LinkQNetwork, config: LearnerConfig, capacity: float, max_demand: float):
        self.online = model
        self.target = copy.deepcopy(model)
        self.target.requires_grad_(False)
        self.config = config
        self.capacity = capacity
        self.max_demand = max_demand
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        self.updates = 0

    def learn(self, tensors: NetworkTensors, batch: dict[str, torch.Tensor]) -> float:
        """One gradient step on a batch; returns the Huber loss."""
        cap, md = self.capacity, self.max_demand
        rows = torch.arange(batch["action"].shape[0])
        with torch.no_grad():
            nr, npair, nbw = batch["next_remaining"], batch["next_pair"], batch["next_bandwidth"]
            fits = fitting_mask(tensors, nr, npair, nbw)
            feats = state_action_features(tensors, nr, npair, nbw, cap, md)
            b, k, m, f = feats.shape
            q_next = q_of_graphs(self.online, tensors, feats.reshape(b * k, m, f)).reshape(b, k)
            best = q_next.masked_fill(~fits, float("-inf")).argmax(dim=1)
            value = q_of_graphs(self.target, tensors, feats[rows, best])
            alive = fits.any(dim=1) & (batch["terminal"] < 0.5)
            target = batch["reward"] + self.config.gamma * torch.where(alive, value, torch.zeros_like(value))
        feats = state_action_features(tensors, batch["remaining"], batch["pair"], batch["bandwidth"], cap, md)
        q = q_of_graphs(self.online, tensors, feats[rows, batch["action"]])
        loss = nn.functional.smooth_l1_loss(q, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.online.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.updates += 1
        if self.updates % self.config.target_every == 0:
            self.target.load_state_dict(self.online.state_dict())
        return float(loss.detach())
