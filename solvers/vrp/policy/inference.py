"""Using a trained policy: load it (cached), decode many solutions of one instance within a
deadline, and polish them with the GA's compiled local search.

Decoding encodes the instance once and then decodes chunks of multi-start solutions (each chunk
from distinct first clients, greedily or by sampling) until the wanted number is reached or the
deadline passes; the first chunk is always decoded, so there is always a solution. Greedy
decoding runs in the compiled kernel of :mod:`~solvers.vrp.policy.greedy_kernel`, sampling in
torch.

Decoding runs with a fixed number of torch threads (default one), restored afterwards: its
operations are small and many, and several threads only add synchronisation (on a loaded
machine, tens of times slower).

Loaded checkpoints are kept in a small cache keyed by path, size and modification time, so a
solver call does not pay for reading the file again; a rewritten file is read anew.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from planner.vrp import VrpInstance
from solvers.vrp.ga.individual import make_individual
from solvers.vrp.ga.local_search import local_search
from solvers.vrp.ga.neighbours import granular_neighbours
from solvers.vrp.ga.problem_arrays import ProblemArrays, problem_arrays
from solvers.vrp.policy.checkpoint import DEFAULT_CHECKPOINT, Checkpoint, load_checkpoint
from solvers.vrp.policy.decoder import rollout
from solvers.vrp.policy.features import instance_arrays
from solvers.vrp.policy.greedy_kernel import greedy_rollout


@dataclass(frozen=True)
class Decoded:
    """Solutions decoded by the policy, best first.

    Attributes
    ----------
    routes
        One list of routes per solution, sorted by cost.
    costs
        ``(k,)`` total distance of each.
    seconds
        Wall time of encoding and decoding.
    """

    routes: list[list[np.ndarray]]
    costs: np.ndarray
    seconds: float


def cached_checkpoint(path: str | Path | None = None) -> Checkpoint:
    """:func:`~solvers.vrp.policy.checkpoint.load_checkpoint`, cached (see the module notes)."""
    resolved = Path(path) if path is not None else DEFAULT_CHECKPOINT
    try:
        stat = resolved.stat()
        key = (str(resolved.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return load_checkpoint(resolved)  # raises the clear error for a missing file
    return _load_cached(*key)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, size: int, mtime_ns: int) -> Checkpoint:
    return load_checkpoint(path)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def decode(instance: VrpInstance, checkpoint: Checkpoint, n_solutions: int, *, seed: int = 0,
           sample: bool = False, temperature: float = 1.0, chunk: int = 32,
           deadline: float = math.inf, threads: int = 1) -> Decoded:
    """Up to ``n_solutions`` solutions of ``instance`` from the policy.

    Parameters
    ----------
    instance
        CVRP or VRPTW instance with at least one client.
    checkpoint
        The policy.
    n_solutions
        Solutions wanted (distinct first clients while there are clients left).
    seed
        Seed of the start choice and of sampling.
    sample
        Sample instead of decoding greedily from each start.
    temperature
        Sampling temperature.
    chunk
        Solutions decoded per batch.
    deadline
        ``time.perf_counter()`` value after which no further chunk is started.
    threads
        Torch threads while decoding.

    Returns
    -------
    Decoded
    """
    start = time.perf_counter()
    model = checkpoint.model
    n = instance.n_clients
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=gen) + 1
    arrays = instance_arrays(instance, model.config.knn)
    routes: list[list[np.ndarray]] = []
    costs: list[float] = []
    with torch.inference_mode(), torch_threads(threads):
        emb = model.encode([arrays])
        done = 0
        while done < n_solutions and (done == 0 or time.perf_counter() < deadline):
            p = min(chunk, n_solutions - done)
            starts = order[(torch.arange(done, done + p) % n)].view(1, p)
            if sample:
                out = rollout(model, [arrays], p, starts=starts, sample=True, temperature=temperature,
                              generator=gen, emb=emb, with_log_prob=False)
            else:
                out = greedy_rollout(model, arrays, starts[0].numpy(), emb=emb)
            for k in range(p):
                routes.append(out.routes(0, k))
                costs.append(float(out.cost[0, k]))
            done += p
    rank = np.argsort(costs, kind="stable")
    return Decoded(routes=[routes[k] for k in rank], costs=np.asarray(costs)[rank],
                   seconds=time.perf_counter() - start)


def distinct(decoded: Decoded, count: int) -> list[list[np.ndarray]]:
    """The ``count`` cheapest solutions with pairwise different giant tours."""
    seen: set[bytes] = set()
    out = []
    for routes in decoded.routes:
        key = np.concatenate(routes).tobytes() if routes else b""
        if key in seen:
            continue
        seen.add(key)
        out.append(routes)
        if len(out) == count:
            break
    return out


def polish(instance: VrpInstance, solutions: list[list[np.ndarray]], *, seed: int = 0, granular_size: int = 20,
           deadline: float = math.inf, arrays: ProblemArrays | None = None) -> list[list[np.ndarray]]:
    """Improve feasible ``solutions`` by the GA's local search, keeping them feasible.

    The penalties are high enough that no infeasible move pays; a result that is infeasible
    anyway (fractional demands) is replaced by its input. The first solution is always polished;
    the others left when the deadline passes are returned unchanged.
    """
    arrays = arrays if arrays is not None else problem_arrays(instance)
    neighbours = granular_neighbours(arrays, granular_size)
    rng = np.random.default_rng(seed)
    max_demand = float(arrays.demand.max()) if arrays.demand.max() > 0 else 1.0
    penalty = max(1e5, 10.0 * float(arrays.dist.max()) * max(1.0, 1.0 / max_demand))
    out = []
    for k, routes in enumerate(solutions):
        if k > 0 and time.perf_counter() >= deadline:
            out.append(routes)
            continue
        improved = local_search([np.asarray(r, dtype=np.int64) for r in routes], arrays, neighbours, rng, penalty,
                                penalty)
        before = make_individual(routes, arrays)
        after = make_individual(improved, arrays)
        out.append(improved if after.feasible or not before.feasible else routes)
    return out
