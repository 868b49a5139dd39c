"""ECMP (equal-cost multi-path) routing with hash collisions: the baseline that flow splitting
and min-congestion solvers are compared against.

Every flow follows one hop-count shortest path, unsplit. Real switches do not pick a whole path
at the source: each switch hashes the flow's header and forwards it to one of its next hops on
a shortest path to the destination. This module does the same: at every node ``u`` a flow is at,
the candidate next hops are the out-edges ``u -> v`` with ``dist(v, dst) = dist(u, dst) - 1``
(the shortest-path DAG towards the destination; parallel links count separately), and the flow
takes candidate ``hash(seed, flow, u) mod (number of candidates)``. The hash is a splitmix64
mix, so the choice is uniform over the candidates, independent between switches and flows, and
the same seed gives the same routing. Two flows that hash onto the same link collide; that is
the congestion ECMP is known for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numba
import numpy as np

from planner.budget import Budget
from planner.errors import InfeasibleError, ValidationError
from planner.flows import FlowAssignment, FlowRoutingProblem
from planner.registry import ProblemKind, register

#: Most (flow, candidate edge) pairs expanded at once per hop; larger workloads go in chunks.
_CHUNK_PAIRS = 1 << 22

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _hash(seed: int, flows: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """A 64-bit hash of (seed, flow, node), elementwise; the seed is taken modulo 2**64."""
    with np.errstate(over="ignore"):
        h = _mix(np.uint64(int(seed) % (1 << 64)) * _GOLDEN + _GOLDEN)
        h = _mix(h ^ (flows.astype(np.uint64) * _GOLDEN))
        return _mix(h ^ (nodes.astype(np.uint64) + _GOLDEN))


@numba.njit(cache=True, nogil=True)
def _bfs_hops(indptr: np.ndarray, heads: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Hop distance from every source to every node (-1: unreachable), one BFS per source."""
    n = indptr.size - 1
    dist = np.full((sources.size, n), -1, dtype=np.int32)
    queue = np.empty(n, dtype=np.int64)
    for r in range(sources.size):
        row = dist[r]
        row[sources[r]] = 0
        queue[0] = sources[r]
        head, tail = 0, 1
        while head < tail:
            u = queue[head]
            head += 1
            du = row[u] + 1
            for e in range(indptr[u], indptr[u + 1]):
                v = heads[e]
                if row[v] < 0:
                    row[v] = du
                    queue[tail] = v
                    tail += 1
    return dist


class EcmpRouter:
    """ECMP routing of one problem, with the hop distances to every destination computed once
    so that many seeds (:func:`ecmp_monte_carlo`) cost little more than one.

    Parameters
    ----------
    problem
        The flows and the graph.

    Raises
    ------
    InfeasibleError
        ``flows[i]`` naming the first flow whose destination cannot be reached from its source.
    """

    def __init__(self, problem: FlowRoutingProblem) -> None:
        self.problem = problem
        graph, wl = problem.graph, problem.workload
        self.targets, self.target_row = np.unique(wl.destinations, return_inverse=True)
        # hop distances *to* each destination = BFS from it over the reversed edges
        reverse, _ = graph.reverse()
        self.dist = _bfs_hops(reverse.indptr, reverse.indices, self.targets)
        hops = self.dist[self.target_row, wl.sources]
        unreachable = np.flatnonzero(hops < 0)
        if unreachable.size:
            i = int(unreachable[0])
            raise InfeasibleError(f"flows[{i}]", f"{problem.flow_label(i)} disconnected")
        self.hops = hops.astype(np.int64)

    def route(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The ECMP paths for ``seed``.

        Returns
        -------
        path_ptr, path_edges
            Flow ``i``'s path is ``path_edges[path_ptr[i]:path_ptr[i + 1]]``.
        """
        graph, wl = self.problem.graph, self.problem.workload
        n_flows = wl.n_flows
        indptr, heads = graph.indptr, graph.indices
        path_ptr = np.zeros(n_flows + 1, dtype=np.int64)
        np.cumsum(self.hops, out=path_ptr[1:])
        path_edges = np.empty(int(path_ptr[-1]), dtype=np.int64)
        cur = wl.sources.copy()
        flow_ids = np.arange(n_flows, dtype=np.int64)
        for step in range(int(self.hops.max(initial=0))):
            active = flow_ids[self.hops > step]
            chunk = max(1, _CHUNK_PAIRS // max(1, int(np.diff(indptr).max(initial=1))))
            for lo in range(0, active.size, chunk):
                f = active[lo:lo + chunk]
                u = cur[f]
                rows = self.target_row[f]
                deg = indptr[u + 1] - indptr[u]
                owner = np.repeat(np.arange(f.size), deg)
                start = np.repeat(np.cumsum(deg) - deg, deg)
                edges = np.repeat(indptr[u], deg) + (np.arange(owner.size) - start)
                ok = self.dist[rows[owner], heads[edges]] == self.dist[rows[owner], u[owner]] - 1
                cand_edges, cand_owner = edges[ok], owner[ok]
                n_cand = np.bincount(cand_owner, minlength=f.size)
                first = np.cumsum(n_cand) - n_cand
                pick = (_hash(seed, f, u) % n_cand.astype(np.uint64)).astype(np.int64)
                chosen = cand_edges[first + pick]
                path_edges[path_ptr[f] + step] = chosen
                cur[f] = heads[chosen]
        return path_ptr, path_edges

    def assignment(self, seed: int) -> FlowAssignment:
        """The ECMP :class:`FlowAssignment` for ``seed`` (one path per flow, fraction 1)."""
        path_ptr, path_edges = self.route(seed)
        n = self.problem.workload.n_flows
        return FlowAssignment.from_flat(
            self.problem, np.arange(n + 1), path_ptr, path_edges, np.ones(n), np.ones(n, dtype=np.int64),
            solver="ecmp", stats={"seed": seed},
        )


def solve_ecmp(problem: FlowRoutingProblem, budget: Budget) -> FlowAssignment:
    """Route every flow unsplit on a hop-count shortest path chosen by per-hop ECMP hashing.

    Parameters
    ----------
    problem
        The flows and the capacitated graph.
    budget
        Only ``seed`` is used (the hash seed); ECMP is a single pass.

    Raises
    ------
    InfeasibleError
        ``flows[i]: a -> b disconnected`` for the first flow without a path.
    """
    clock = budget.start()
    result = EcmpRouter(problem).assignment(budget.seed)
    clock.report(1, objective=result.max_congestion)
    return replace(result, stats={"seed": budget.seed, "time_s": clock.elapsed()})


def ecmp_monte_carlo(problem: FlowRoutingProblem, seeds: Iterable[int] | int) -> tuple[float, float]:
    """Mean and 99th percentile of ECMP's maximum congestion over hash seeds.

    Parameters
    ----------
    problem
        The flows and the graph (fixed; only the hash seed varies).
    seeds
        The seeds, or a count ``n`` meaning seeds ``0..n-1``.

    Returns
    -------
    mean, p99
        Of ``max(load / capacity)`` over the seeds (p99 by linear interpolation).

    Raises
    ------
    ValidationError
        If no seed is given.
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int | np.integer) else [int(s) for s in seeds]
    if not seed_list:
        raise ValidationError("seeds", "at least one seed is needed")
    router = EcmpRouter(problem)
    values = np.array([router.assignment(s).max_congestion for s in seed_list])
    return float(values.mean()), float(np.percentile(values, 99))


register(
    "ecmp",
    [ProblemKind.FABRIC_ROUTING, ProblemKind.TRAFFIC_ENGINEERING],
    solve_ecmp,
    description="ECMP baseline: one unsplit hop-count shortest path per flow, per-hop seeded hashing",
    capabilities=["randomized", "unsplit", "parallel-edges"],
    baseline=True,
)
