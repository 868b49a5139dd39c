"""Autoregressive attention decoder with feasibility masks, and batched multi-start decoding.

At every step each partial solution (one per instance and start) chooses its next node: the
depot or an unvisited client. The context is the graph embedding plus the embedding of the
current node and the remaining capacity (and the time used, with windows); a multi-head glimpse
over the allowed nodes refines it and a single-head compatibility, clipped with ``tanh``, gives
the logits (Kool et al. 2019; Kwon et al. 2020, POMO).

Masks (computed in float64, in the instance's units, with the same arithmetic as
:func:`planner.vrp.check_feasibility`, so every decoded solution is feasible):

- a client is allowed when unvisited, when its demand fits the remaining capacity, and, with
  time windows or a route-duration limit, when the vehicle arrives before its latest time and
  can still return to the depot before the depot closes and within the duration limit;
- the depot is allowed except right after the depot (no empty routes) while clients remain;
  after the last client the depot is the only choice, with probability one.

A validated instance can serve every client from a fresh route, so a partial solution never
gets stuck. The fleet size (``num_vehicles``) is not part of the mask: a decoded solution may
use more routes than the fleet; callers report that (the GA repairs it).

Multi-start: the first client of each partial solution can be forced (POMO), which makes the
solutions of one batch differ even when decoding greedily; sampling draws from the policy with a
seeded generator, so the same seed gives the same solutions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from solvers.vrp.policy.features import InstanceArrays

if TYPE_CHECKING:
    from solvers.vrp.policy.model import PolicyModel

#: Context features besides the current node: remaining capacity share, time used share.
STEP_FEATURES = 2


class AttentionDecoder(nn.Module):
    """Logits over the next node given embeddings, the current node and the step features."""

    def __init__(self, embed_dim: int, n_heads: int, tanh_clip: float):
        super().__init__()
        self.n_heads = n_heads
        self.tanh_clip = tanh_clip
        self.project_node = nn.Linear(embed_dim, 3 * embed_dim, bias=False)
        self.project_graph = nn.Linear(embed_dim, embed_dim, bias=False)
        self.project_step = nn.Linear(embed_dim + STEP_FEATURES, embed_dim, bias=False)
        self.project_out = nn.Linear(embed_dim, embed_dim, bias=False)

    def precompute(self, emb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per-instance tensors, computed once per batch: ``(compat_node, compat_step, gv, lk)``.

        The glimpse query is linear in the graph embedding, the current node's embedding and the
        two step features, so its compatibility with every node splits into a part per current
        node, ``compat_node`` ``(B, H, n+1, n+1)``, and a part per step feature, ``compat_step``
        ``(B, H, 2, n+1)``, both scaled by the square root of the head width. A decoding step
        then gathers a row instead of multiplying the query by all keys. ``lk`` holds the
        logit keys, transposed and divided by the square root of their width.
        """
        b, m, d = emb.shape
        h = self.n_heads
        width = d // h
        graph = self.project_graph(emb.mean(dim=1))
        gk, gv, lk = self.project_node(emb).chunk(3, dim=-1)
        gk = gk.view(b, m, h, width).permute(0, 2, 3, 1) / math.sqrt(width)
        gv = gv.view(b, m, h, width).transpose(1, 2)
        lk = lk.transpose(-1, -2) / math.sqrt(d)
        node_query = graph.unsqueeze(1) + emb @ self.project_step.weight[:, :d].T
        compat_node = node_query.view(b, m, h, width).transpose(1, 2) @ gk
        step_query = self.project_step.weight[:, d:].T.reshape(STEP_FEATURES, h, width).transpose(0, 1)
        compat_step = step_query.unsqueeze(0) @ gk
        return compat_node.contiguous(), compat_step.contiguous(), gv.contiguous(), lk.contiguous()

    def forward(self, cache: tuple[torch.Tensor, ...], emb: torch.Tensor, current: torch.Tensor,
                step: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, P, n+1)``; ``-inf`` where ``mask`` (True = allowed) forbids."""
        compat_node, compat_step, gv, lk = cache
        b, p = current.shape
        d = emb.shape[-1]
        h, m = compat_node.shape[1], compat_node.shape[-1]
        offsets = torch.arange(0, b * h * m, m, device=current.device).view(b, h, 1)
        rows = compat_node.view(b * h * m, m).index_select(0, (offsets + current.view(b, 1, p)).view(-1))
        rows = rows.view(b, h, p, m)
        compat = rows + step.unsqueeze(1) @ compat_step
        forbidden = ~mask
        compat = compat.masked_fill_(forbidden.unsqueeze(1), float("-inf"))
        glimpse = torch.softmax(compat, dim=-1) @ gv
        glimpse = self.project_out(glimpse.transpose(1, 2).reshape(b, p, d))
        logits = self.tanh_clip * torch.tanh(glimpse @ lk)
        return logits.masked_fill_(forbidden, float("-inf"))


@dataclass
class Rollout:
    """Decoded solutions of a batch.

    Attributes
    ----------
    actions
        ``(B, P, T)`` visited nodes in order (0 = depot; trailing zeros are padding).
    log_prob
        ``(B, P)`` sum of the log-probabilities of the chosen actions (forced starts excluded).
    cost
        ``(B, P)`` float64 total distance in the instance's units.
    """

    actions: torch.Tensor
    log_prob: torch.Tensor
    cost: torch.Tensor

    def routes(self, b: int, p: int) -> list[np.ndarray]:
        """The routes of solution ``p`` of instance ``b`` (client arrays)."""
        return routes_of(self.actions[b, p].cpu().numpy())


def routes_of(actions: np.ndarray) -> list[np.ndarray]:
    """Split a node sequence at the depot into non-empty routes."""
    seq = np.asarray(actions, dtype=np.int64)
    cuts = np.flatnonzero(seq == 0)
    parts = (part[part != 0] for part in np.split(seq, cuts))
    return [part for part in parts if part.size]


def _batch(instances: Sequence[InstanceArrays], device: torch.device) -> dict[str, torch.Tensor]:
    def t(values: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(values)).to(device=device, dtype=torch.float64)

    return {
        "dist": t([a.distances for a in instances]),
        "dur": t([a.durations for a in instances]),
        "demand": t([a.demands for a in instances]),
        "capacity": t([np.float64(a.capacity) for a in instances]),
        "early": t([a.early for a in instances]),
        "late": t([a.late for a in instances]),
        "service": t([a.service for a in instances]),
        "max_duration": t([np.float64(a.max_duration) for a in instances]),
    }


def default_starts(n_clients: int, batch_size: int, n_starts: int, device: torch.device | None = None) -> torch.Tensor:
    """``(B, P)`` first clients ``1, 2, ..., n, 1, 2, ...`` (POMO's multi-start)."""
    starts = torch.arange(n_starts, device=device) % max(n_clients, 1) + 1
    return starts.unsqueeze(0).expand(batch_size, n_starts).contiguous()


def rollout(model: PolicyModel, instances: Sequence[InstanceArrays], n_starts: int, *,
            starts: torch.Tensor | None = None, sample: bool = False, temperature: float = 1.0,
            generator: torch.Generator | None = None, emb: torch.Tensor | None = None,
            with_log_prob: bool = True, replay: torch.Tensor | None = None) -> Rollout:
    """Decode ``n_starts`` solutions of each instance in one batch.

    Parameters
    ----------
    model
        The policy.
    instances
        Instances of one size (see :meth:`PolicyModel.encode`).
    n_starts
        Solutions per instance (``P``).
    starts
        ``(B, P)`` forced first clients; ``None`` lets the policy choose the first client too.
    sample
        Sample from the policy (``True``) or take the most likely node (``False``).
    temperature
        Softmax temperature when sampling.
    generator
        Random generator for sampling (determinism under a seed).
    emb
        Precomputed embeddings ``(B, n+1, d)``, or ``None`` to encode here.
    with_log_prob
        Accumulate the log-probabilities (training); without, greedy decoding skips the softmax
        and ``log_prob`` is zero.
    replay
        ``(B, P, T)`` actions of an earlier rollout to follow instead of choosing (teacher
        forcing): their log-probabilities under the current weights. They must be feasible.

    Returns
    -------
    Rollout
    """
    if emb is None:
        emb = model.encode(instances)
    device = emb.device
    data = _batch(instances, device)
    b, m, _ = emb.shape
    p = int(n_starts)
    n = m - 1
    has_time = any(a.has_time for a in instances)
    cache = model.decoder.precompute(emb)
    capacity = data["capacity"].view(b, 1)
    demand = data["demand"]
    early0 = data["early"][:, 0].view(b, 1)
    late0 = data["late"][:, 0].view(b, 1)
    max_dur = data["max_duration"].view(b, 1)
    horizon = torch.where(torch.isfinite(late0 - early0), late0 - early0, torch.ones_like(late0))
    dist_flat = data["dist"].view(b, m * m)
    visited = torch.zeros(b, p, m, dtype=torch.bool, device=device)
    current = torch.zeros(b, p, dtype=torch.long, device=device)
    load = torch.zeros(b, p, dtype=torch.float64, device=device)
    clock = early0.expand(b, p).clone()
    cost = torch.zeros(b, p, dtype=torch.float64, device=device)
    log_prob = torch.zeros(b, p, dtype=emb.dtype, device=device)
    actions: list[torch.Tensor] = []
    served = torch.zeros((), dtype=torch.long, device=device)
    first = True
    steps = 2 * n + 1 if replay is None else replay.shape[-1]
    for _ in range(steps):
        client_ok = ~visited[:, :, 1:]
        client_ok &= demand[:, None, 1:] + load.unsqueeze(-1) <= capacity.unsqueeze(-1) + 1e-9
        if has_time:
            idx = current.unsqueeze(-1).expand(b, p, m)
            arrive = clock.unsqueeze(-1) + data["dur"].gather(1, idx)
            begin = torch.maximum(arrive, data["early"].unsqueeze(1))
            back = begin + data["service"].unsqueeze(1) + data["dur"][:, :, 0].unsqueeze(1)
            time_ok = ((arrive <= data["late"].unsqueeze(1)) & (back <= late0.unsqueeze(-1))
                       & (back - early0.unsqueeze(-1) <= max_dur.unsqueeze(-1)))
            client_ok &= time_ok[:, :, 1:]
        depot_ok = (current != 0) | ~client_ok.any(dim=-1)
        mask = torch.cat((depot_ok.unsqueeze(-1), client_ok), dim=-1)
        if first and starts is not None:
            chosen = starts.to(device)
        else:
            step = torch.stack((((capacity - load) / capacity).to(emb.dtype),
                                ((clock - early0) / horizon).to(emb.dtype)), dim=-1)
            logits = model.decoder(cache, emb, current, step, mask)
            if replay is not None:
                chosen = replay[:, :, len(actions)].to(device)
                log_prob = log_prob + torch.log_softmax(logits, dim=-1).gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
            elif sample or with_log_prob:
                log_p = torch.log_softmax(logits / temperature if sample else logits, dim=-1)
                if sample:
                    chosen = torch.multinomial(log_p.exp().view(b * p, m), 1, generator=generator).view(b, p)
                else:
                    chosen = log_p.argmax(dim=-1)
                if with_log_prob:
                    log_prob = log_prob + log_p.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
            else:
                chosen = logits.argmax(dim=-1)
        first = False
        cost = cost + dist_flat.gather(1, current * m + chosen)
        at_depot = chosen == 0
        load = torch.where(at_depot, torch.zeros_like(load), load + demand.gather(1, chosen))
        if has_time:
            arrive = clock + data["dur"].view(b, m * m).gather(1, current * m + chosen)
            begin = torch.maximum(arrive, data["early"].gather(1, chosen))
            clock = torch.where(at_depot, early0.expand(b, p), begin + data["service"].gather(1, chosen))
        visited.scatter_(2, chosen.unsqueeze(-1), True)
        visited[:, :, 0] = False
        current = chosen
        actions.append(chosen)
        served += (~at_depot).sum()
        # cheap test first: every solution has served all clients (counts), then the exact one
        if int(served) >= b * p * n and bool((visited[:, :, 1:].all(dim=-1) & (current == 0)).all()):
            break
    return Rollout(actions=torch.stack(actions, dim=-1), log_prob=log_prob, cost=cost)
