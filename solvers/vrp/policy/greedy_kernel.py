"""Greedy multi-start decoding of one instance, compiled: the inference path of the policy.

:func:`~solvers.vrp.policy.decoder.rollout` decodes with one torch call per operation and
step; at 500 clients that is about a thousand small operations per step, and their dispatch
costs more than their arithmetic. This kernel runs the same decoder, with the same masks, as one
numba loop per partial solution, and attends only over the nodes the mask allows (a shrinking
set as the tour fills up). It takes the tensors :meth:`AttentionDecoder.precompute` returns,
so it shares the weights and the arithmetic of the torch decoder; ``rollout`` stays the
reference (the tests check both choose the same nodes in float64).

Only greedy decoding from forced first clients is compiled (what the solvers use); sampling and
training go through ``rollout``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np
import torch

from solvers.vrp.policy.decoder import Rollout
from solvers.vrp.policy.features import InstanceArrays

if TYPE_CHECKING:
    from solvers.vrp.policy.model import PolicyModel


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp"})
def _greedy_kernel(compat_node, compat_step, gv, lk_t, w_out, tanh_clip, dist, dur, demand, capacity,
                   early, late, service, max_duration, has_time, starts):  # pragma: no cover - compiled
    heads, m, width = gv.shape
    d = heads * width
    p_count = starts.shape[0]
    n = m - 1
    max_steps = 2 * n + 1
    actions = np.zeros((p_count, max_steps), dtype=np.int64)
    lengths = np.zeros(p_count, dtype=np.int64)
    costs = np.zeros(p_count, dtype=np.float64)
    early0 = early[0]
    late0 = late[0]
    horizon = late0 - early0 if math.isfinite(late0 - early0) else 1.0
    allowed = np.empty(m, dtype=np.int64)
    weights = np.empty(m, dtype=np.float64)
    glimpse = np.empty(d, dtype=np.float64)
    query = np.empty(d, dtype=np.float64)
    visited = np.zeros(m, dtype=np.bool_)
    for p in range(p_count):
        visited[:] = False
        current = 0
        load = 0.0
        clock = early0
        cost = 0.0
        served = 0
        t = 0
        while t < max_steps and not (served == n and current == 0):
            # the mask, with the torch decoder's arithmetic
            count = 0
            for j in range(1, m):
                if visited[j] or not demand[j] + load <= capacity + 1e-9:
                    continue
                if has_time:
                    arrive = clock + dur[current, j]
                    begin = max(arrive, early[j])
                    back = begin + service[j] + dur[j, 0]
                    if not (arrive <= late[j] and back <= late0 and back - early0 <= max_duration):
                        continue
                allowed[count] = j
                count += 1
            if t == 0:
                chosen = starts[p]
            else:
                depot_ok = current != 0 or count == 0
                if depot_ok:
                    # the depot goes first, as index 0 does in the torch decoder
                    for k in range(count, 0, -1):
                        allowed[k] = allowed[k - 1]
                    allowed[0] = 0
                    count += 1
                s0 = (capacity - load) / capacity
                s1 = (clock - early0) / horizon
                for h in range(heads):
                    best = -np.inf
                    for k in range(count):
                        j = allowed[k]
                        c = compat_node[h, current, j] + s0 * compat_step[h, 0, j] + s1 * compat_step[h, 1, j]
                        weights[k] = c
                        if c > best:
                            best = c
                    total = 0.0
                    for k in range(count):
                        weights[k] = math.exp(weights[k] - best)
                        total += weights[k]
                    for i in range(width):
                        glimpse[h * width + i] = 0.0
                    for k in range(count):
                        w = weights[k] / total
                        j = allowed[k]
                        for i in range(width):
                            glimpse[h * width + i] += w * gv[h, j, i]
                for i in range(d):
                    acc = 0.0
                    for k in range(d):
                        acc += w_out[i, k] * glimpse[k]
                    query[i] = acc
                chosen = -1
                best = -np.inf
                for k in range(count):
                    j = allowed[k]
                    acc = 0.0
                    for i in range(d):
                        acc += query[i] * lk_t[j, i]
                    logit = tanh_clip * math.tanh(acc)
                    if logit > best or chosen < 0:
                        best = logit
                        chosen = j
            cost += dist[current, chosen]
            if chosen == 0:
                load = 0.0
                if has_time:
                    clock = early0
            else:
                load += demand[chosen]
                served += 1
                if has_time:
                    begin = max(clock + dur[current, chosen], early[chosen])
                    clock = begin + service[chosen]
            visited[chosen] = True
            visited[0] = False
            current = chosen
            actions[p, t] = chosen
            t += 1
        lengths[p] = t
        costs[p] = cost
    return actions, lengths, costs


def greedy_rollout(model: PolicyModel, instance: InstanceArrays, starts: np.ndarray,
                   emb: torch.Tensor | None = None) -> Rollout:
    """Greedy solutions of one instance from the forced first clients ``starts``.

    Parameters
    ----------
    model
        The policy.
    instance
        The instance, prepared for the policy.
    starts
        ``(P,)`` first clients (``1..n``).
    emb
        Its embeddings ``(1, n+1, d)``, or ``None`` to encode here.

    Returns
    -------
    Rollout
        As :func:`~solvers.vrp.policy.decoder.rollout` with ``starts`` and greedy decoding, with
        ``B = 1`` and ``log_prob`` zero; trailing zeros pad the shorter solutions.
    """
    with torch.inference_mode():
        if emb is None:
            emb = model.encode([instance])
        compat_node, compat_step, gv, lk = model.decoder.precompute(emb)
        w_out = model.decoder.project_out.weight
    as_f64 = lambda x: np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float64)  # noqa: E731
    actions, lengths, costs = _greedy_kernel(
        as_f64(compat_node[0]), as_f64(compat_step[0]), as_f64(gv[0]), as_f64(lk[0].T), as_f64(w_out),
        float(model.decoder.tanh_clip), instance.distances, instance.durations, instance.demands,
        float(instance.capacity), instance.early, instance.late, instance.service, float(instance.max_duration),
        bool(instance.has_time), np.ascontiguousarray(starts, dtype=np.int64))
    steps = int(lengths.max())
    return Rollout(actions=torch.from_numpy(actions[None, :, :steps].copy()),
                   log_prob=torch.zeros(1, len(starts)), cost=torch.from_numpy(costs[None, :]))
