"""``routeplanner bench routing-agent``: the DRL+GNN routing agent against its baselines.

Topologies: the three DRL+GNN ones (``nsfnet``, the training topology; ``geant2`` and ``gbn``,
never seen in training) and a seeded sample of Topology Zoo networks (:func:`zoo_sample`).
Every policy (``routing-agent``, ``sap``, ``lb``, ``least-max-util``) plays the same episodes:
episode ``e`` of seed ``seed`` has the same demand sequence whoever routes it. The bench seed
(default 1) differs from the training and validation seeds of ``solvers.flows.agent.train``.

Records: family ``routing-agent``, suite ``drl-gnn`` or ``zoo``; metrics ``mean_routed`` (mean
routed bandwidth / largest demand per episode: the paper's score, 14.97 for SAP on NSFNet),
``stderr`` (its standard error), ``mean_demands`` (demands routed per episode), ``episodes``,
``wall_s``, ``nodes``, ``links``. The agent is ``baseline=false``, the others ``true``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from planner.bench.records import BenchRecord
from planner.demand_routing import DemandRoutingProblem
from planner.registry import ProblemKind, get_solver

#: The three topologies of the paper.
DRL_GNN_TOPOLOGIES: tuple[str, ...] = ("nsfnet", "geant2", "gbn")
#: Policies in table order.
POLICIES: tuple[str, ...] = ("routing-agent", "sap", "lb", "least-max-util")
#: Zoo networks never drawn: the Zoo's own NSFNET and GEANT versions (near the paper's topologies).
ZOO_EXCLUDED_PREFIXES: tuple[str, ...] = ("Nsfnet", "Geant")


def zoo_sample(count: int = 20, seed: int = 0, min_nodes: int = 10, max_nodes: int = 60,
               min_cycles: int = 4) -> list[str]:
    """A seeded sample of Topology Zoo networks.

    The rule: every Zoo file of ``topologies/index.csv`` that is connected, has ``min_nodes`` to
    ``max_nodes`` nodes and at least ``min_cycles`` independent cycles (simple links - nodes + 1;
    on a tree or near-tree most demands have a single candidate path and every policy routes
    alike), minus the Zoo's NSFNET and GEANT files, sorted by name; ``count`` of them drawn
    without replacement by ``numpy.random.default_rng(seed)``, returned in sorted order.

    Raises
    ------
    ValidationError
        If ``count`` is not positive or exceeds the eligible networks.
    """
    from datasets.location import data_path
    from planner.errors import ValidationError

    index = data_path("topologies", "index.csv")
    with index.open() as fh:
        rows = list(csv.DictReader(fh))
    eligible = sorted(
        row["file"].split("/")[-1].removesuffix(".graphml") for row in rows
        if row["file"].startswith("zoo_graphml/") and int(row["components"]) == 1
        and min_nodes <= int(row["nodes"]) <= max_nodes
        and int(row["simple_edges"]) - int(row["nodes"]) + 1 >= min_cycles
    )
    eligible = [name for name in eligible if not name.startswith(ZOO_EXCLUDED_PREFIXES)]
    if not 1 <= count <= len(eligible):
        raise ValidationError("count", f"must be in [1, {len(eligible)}] ({count})")
    chosen = np.random.default_rng(seed).choice(len(eligible), size=count, replace=False)
    return sorted(eligible[i] for i in chosen)


@dataclass(frozen=True)
class AgentMeasurement:
    """One policy on one topology."""

    suite: str
    topology: str
    policy: str
    mean_routed: float
    stderr: float
    mean_demands: float
    episodes: int
    wall_s: float
    nodes: int
    links: int


def run_agent_bench(topologies: Sequence[tuple[str, str]], *, episodes: int = 2000, zoo_episodes: int = 500,
                    seed: int = 1, policies: Sequence[str] = POLICIES, checkpoint: str | None = None,
                    threads: int = 1, progress: Callable[[AgentMeasurement], None] | None = None
                    ) -> list[AgentMeasurement]:
    """Play every policy on every ``(suite, topology)``.

    Parameters
    ----------
    topologies
        ``(suite, name)`` pairs; suite ``zoo`` plays ``zoo_episodes`` episodes, others
        ``episodes``.
    episodes, zoo_episodes
        Episodes per policy and topology.
    seed
        Seed of the demand sequences.
    policies
        Registered ``demand-routing`` solvers.
    checkpoint
        Agent checkpoint (default: the shipped one).
    threads
        Torch threads of the agent.
    progress
        Called after each measurement.
    """
    from datasets.graphml import read_topology
    from solvers.flows.agent.solver import prepare

    out = []
    for suite, name in topologies:
        topo = read_topology(name)
        count = zoo_episodes if suite == "zoo" else episodes
        problem = DemandRoutingProblem(topo.graph, name=name, episodes=count, seed=seed)
        prepare(problem)  # the candidate paths, once for every policy and outside their timings
        for policy in policies:
            solver = get_solver(policy, ProblemKind.DEMAND_ROUTING)
            if policy == "routing-agent":
                result = solver.solve(problem, None, checkpoint=checkpoint, threads=threads)
            else:
                result = solver.solve(problem, None)
            m = AgentMeasurement(
                suite=suite, topology=name, policy=policy, mean_routed=result.mean_score,
                stderr=result.score_stderr, mean_demands=result.mean_routed,
                episodes=count, wall_s=result.wall_s, nodes=topo.n_nodes, links=topo.n_links)
            out.append(m)
            if progress is not None:
                progress(m)
    return out


def agent_records(measurements: Sequence[AgentMeasurement], seed: int) -> list[BenchRecord]:
    """Bench records of the measurements (family ``routing-agent``)."""
    return [
        BenchRecord(
            family="routing-agent", suite=m.suite, instance=m.topology, solver=m.policy, seed=seed, budget_s=None,
            baseline=m.policy != "routing-agent",
            metrics={"mean_routed": m.mean_routed, "stderr": m.stderr, "mean_demands": m.mean_demands,
                     "episodes": m.episodes, "wall_s": m.wall_s, "nodes": m.nodes, "links": m.links},
        )
        for m in measurements
    ]


def comparison_rows(measurements: Sequence[AgentMeasurement]) -> list[dict[str, object]]:
    """One row per topology: every policy's mean score, and whether the agent beat each
    baseline (by more than twice the larger standard error counts as a clear win)."""
    by_topo: dict[tuple[str, str], dict[str, AgentMeasurement]] = {}
    for m in measurements:
        by_topo.setdefault((m.suite, m.topology), {})[m.policy] = m
    rows = []
    for (suite, topo), ms in by_topo.items():
        row: dict[str, object] = {"suite": suite, "topology": topo, "nodes": next(iter(ms.values())).nodes,
                                  "episodes": next(iter(ms.values())).episodes}
        for policy in POLICIES:
            if policy in ms:
                row[policy] = round(ms[policy].mean_routed, 2)
        agent = ms.get("routing-agent")
        baselines = [ms[p] for p in POLICIES[1:] if p in ms]
        if agent is not None and baselines:
            best = max(baselines, key=lambda b: b.mean_routed)
            row["best_baseline"] = best.policy
            row["agent_minus_best"] = round(agent.mean_routed - best.mean_routed, 2)
            row["beats_all"] = agent.mean_routed > best.mean_routed
        rows.append(row)
    return rows
