"""Hand-written routing policies the agent is compared against.

* :class:`ShortestAvailablePath` (SAP): the first candidate (fewest hops) with room.
* :class:`LoadBalancing` (LB, as in the paper): a uniformly random candidate among those with
  room.
* :class:`LeastMaxUtilisation` (LMU): the candidate with room that leaves the smallest maximum
  link utilisation over the whole network; ties go to the candidate that leaves the smallest
  maximum utilisation on its own links, then to the earlier (shorter) candidate.

Each policy returns candidate 0 when no candidate has room (the episode then ends).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from solvers.flows.agent.environment import RoutingEnv


class RoutingPolicy(Protocol):
    """Chooses a candidate path for the current demand of an environment."""

    name: str

    def reset(self, seed: int, episode: int) -> None:
        """Prepare for a new episode (seeds any random choice)."""

    def choose(self, env: RoutingEnv) -> int:
        """Index of the candidate path for ``env.demand``."""


class ShortestAvailablePath:
    """SAP: the first candidate path with room for the demand."""

    name = "sap"

    def reset(self, seed: int, episode: int) -> None:
        """Nothing to prepare."""

    def choose(self, env: RoutingEnv) -> int:
        """The first fitting candidate, else 0."""
        fits = env.fits()
        return int(np.argmax(fits)) if fits.any() else 0


class LoadBalancing:
    """LB: a uniformly random candidate among those with room (seeded per episode)."""

    name = "lb"

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def reset(self, seed: int, episode: int) -> None:
        """Seed the random choice from ``(seed, episode)``."""
        self._rng = np.random.default_rng([int(seed), int(episode), 7])

    def choose(self, env: RoutingEnv) -> int:
        """A random fitting candidate, else 0."""
        ok = np.flatnonzero(env.fits())
        return int(self._rng.choice(ok)) if ok.size else 0


class LeastMaxUtilisation:
    """LMU: the fitting candidate leaving the smallest network-wide maximum link utilisation."""

    name = "least-max-util"

    def reset(self, seed: int, episode: int) -> None:
        """Nothing to prepare."""

    def choose(self, env: RoutingEnv) -> int:
        """See the module notes for the tie-breaking."""
        cand = env.candidates()
        fits = env.fits()
        if not fits.any():
            return 0
        cap = env.config.capacity
        used = cap - env.remaining
        bw = env.demand.bandwidth
        best, best_key = 0, (np.inf, np.inf)
        for j in np.flatnonzero(fits):
            links = cand[j][cand[j] >= 0]
            after = used.copy()
            after[links] += bw
            key = (float(after.max()) / cap, float(after[links].max()) / cap)
            if key < best_key:
                best, best_key = int(j), key
        return best


def run_episode(env: RoutingEnv, policy: RoutingPolicy, max_steps: int = 1_000_000) -> int:
    """Play one episode to its end; returns the number of demands routed."""
    steps = 0
    while not env.done and steps < max_steps:
        env.step(policy.choose(env))
        steps += 1
    return env.routed


class BatchSap:
    """SAP for :func:`~solvers.flows.agent.play.play_batched`."""

    def __call__(self, remaining: np.ndarray, pairs: np.ndarray, bandwidth: np.ndarray, fits: np.ndarray,
                 episodes: np.ndarray) -> np.ndarray:
        """The first fitting candidate of every row."""
        return np.argmax(fits, axis=1)


class BatchLoadBalancing:
    """LB for :func:`~solvers.flows.agent.play.play_batched`; draws exactly as
    :class:`LoadBalancing` does for the same ``(seed, episode)``."""

    def __init__(self, seed: int):
        self.seed = seed
        self._rngs: dict[int, np.random.Generator] = {}

    def __call__(self, remaining: np.ndarray, pairs: np.ndarray, bandwidth: np.ndarray, fits: np.ndarray,
                 episodes: np.ndarray) -> np.ndarray:
        """A random fitting candidate per row."""
        out = np.empty(fits.shape[0], dtype=np.int64)
        for row, e in enumerate(episodes.tolist()):
            rng = self._rngs.get(e)
            if rng is None:
                rng = self._rngs[e] = np.random.default_rng([int(self.seed), int(e), 7])
            out[row] = rng.choice(np.flatnonzero(fits[row]))
        return out


class BatchLeastMaxUtilisation:
    """LMU for :func:`~solvers.flows.agent.play.play_batched` (same choices as
    :class:`LeastMaxUtilisation`)."""

    def __init__(self, path_links: np.ndarray, capacity: float):
        self.path_links = path_links
        self.capacity = capacity

    def __call__(self, remaining: np.ndarray, pairs: np.ndarray, bandwidth: np.ndarray, fits: np.ndarray,
                 episodes: np.ndarray) -> np.ndarray:
        """Lexicographic minimum of (network max utilisation, path max utilisation), first index."""
        b, m = remaining.shape
        k = fits.shape[1]
        links = self.path_links[pairs, :k]  # (B, k, L)
        on_path = np.zeros((b, k, m + 1), dtype=bool)
        on_path[np.arange(b)[:, None, None], np.arange(k)[None, :, None], np.where(links >= 0, links, m)] = True
        on_path = on_path[:, :, :m]
        after = (self.capacity - remaining)[:, None, :] + on_path * bandwidth[:, None, None]
        network_max = after.max(axis=2)
        path_max = np.where(on_path, after, -np.inf).max(axis=2)
        network_max = np.where(fits, network_max, np.inf)
        tied = fits & (network_max == network_max.min(axis=1, keepdims=True))
        return np.argmin(np.where(tied, path_max, np.inf), axis=1)
