"""The demand-routing policies as registered solvers (kind ``demand-routing``).

``routing-agent`` (the trained DRL+GNN agent, shipped checkpoint), and the baselines ``sap``,
``lb`` and ``least-max-util``. Each plays ``problem.episodes`` episodes of
``problem.seed`` and returns a :class:`~planner.demand_routing.DemandRoutingResult`.
Registering them imports no torch: the agent's modules load when a solver first plays.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from planner.budget import Budget
from planner.demand_routing import DemandRoutingProblem, DemandRoutingResult
from planner.registry import ProblemKind, register
from solvers.flows.agent import DEFAULT_CHECKPOINT
from solvers.flows.agent.baselines import BatchLeastMaxUtilisation, BatchLoadBalancing, BatchSap
from solvers.flows.agent.environment import EnvConfig, RoutingNetwork

if TYPE_CHECKING:
    from solvers.flows.agent.checkpoint import AgentCheckpoint
    from solvers.flows.agent.play import BatchChooser


@lru_cache(maxsize=4)
def prepare(problem: DemandRoutingProblem) -> tuple[RoutingNetwork, EnvConfig]:
    """The environment of a problem, built once per problem object (problems hash by identity).

    Finding the candidate paths of every pair takes seconds on a 60-node network (2.7 s on
    Garr201111), so the policies played on one problem share it. Playing never changes it.
    """
    config = EnvConfig(capacity=float(problem.capacity), demand_sizes=tuple(float(d) for d in problem.demand_sizes),
                       k=problem.k)
    network = RoutingNetwork.from_graph(problem.graph, k=problem.k, name=problem.name or None)
    return network, config


@lru_cache(maxsize=4)
def _cached_agent(path: str, mtime_ns: int) -> AgentCheckpoint:
    from solvers.flows.agent.checkpoint import load_agent

    return load_agent(path)


def cached_agent(path: str | Path | None = None) -> AgentCheckpoint:
    """The agent of a checkpoint, loaded once per file version."""
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    mtime = path.stat().st_mtime_ns if path.is_file() else 0
    return _cached_agent(str(path), mtime)


def _play(name: str, make: Callable[[RoutingNetwork, EnvConfig], BatchChooser],
          problem: DemandRoutingProblem) -> DemandRoutingResult:
    from solvers.flows.agent.play import play_batched

    start = time.perf_counter()
    network, config = prepare(problem)
    scores = play_batched(make(network, config), network, config, problem.seed, range(problem.episodes))
    return DemandRoutingResult(name, scores.score, scores.routed, time.perf_counter() - start)


def solve_sap(problem: DemandRoutingProblem, budget: Budget | None = None) -> DemandRoutingResult:
    """Shortest available path: the first candidate with room."""
    return _play("sap", lambda network, config: BatchSap(), problem)


def solve_lb(problem: DemandRoutingProblem, budget: Budget | None = None) -> DemandRoutingResult:
    """Load balancing (the paper's LB): a random candidate with room, seeded per episode."""
    return _play("lb", lambda network, config: BatchLoadBalancing(problem.seed), problem)


def solve_least_max_util(problem: DemandRoutingProblem, budget: Budget | None = None) -> DemandRoutingResult:
    """The candidate with room leaving the smallest network-wide maximum link utilisation."""
    return _play("least-max-util",
                 lambda network, config: BatchLeastMaxUtilisation(network.path_links, config.capacity), problem)


def solve_agent(problem: DemandRoutingProblem, budget: Budget | None = None, *,
                checkpoint: str | Path | None = None, threads: int = 1) -> DemandRoutingResult:
    """The trained DRL+GNN agent (greedy on its Q-values over the candidates with room).

    Parameters
    ----------
    problem
        The episodes to play.
    budget
        Unused (the agent plays a fixed number of episodes).
    checkpoint
        Agent checkpoint (default: the shipped one).
    threads
        Torch threads while playing.
    """
    import torch

    from solvers.flows.agent.play import play_agent

    start = time.perf_counter()
    agent = cached_agent(checkpoint)
    network, config = prepare(problem)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        scores = play_agent(agent.model, network, config, problem.seed, range(problem.episodes))
    finally:
        torch.set_num_threads(previous)
    return DemandRoutingResult("routing-agent", scores.score, scores.routed, time.perf_counter() - start,
                               info={"checkpoint": str(checkpoint or DEFAULT_CHECKPOINT),
                                     "trained_on": agent.info.get("trained_on", "")})


register("routing-agent", [ProblemKind.DEMAND_ROUTING], solve_agent,
         description="DRL+GNN agent (double DQN over a link message-passing network), Almasan et al.",
         capabilities={"learned", "any-topology"})
register("sap", [ProblemKind.DEMAND_ROUTING], solve_sap, description="Shortest available path (first fitting "
         "candidate)", baseline=True)
register("lb", [ProblemKind.DEMAND_ROUTING], solve_lb, description="Load balancing: random fitting candidate "
         "(the paper's LB)", baseline=True)
register("least-max-util", [ProblemKind.DEMAND_ROUTING], solve_least_max_util,
         description="Fitting candidate with the least resulting maximum link utilisation", baseline=True)
