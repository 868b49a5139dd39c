"""Demand-routing agent commands: ``routeplanner route-demands`` and ``routeplanner bench routing-agent``
(training is ``routeplanner train routing-agent``, in :mod:`planner.commands.train`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.commands._output import console, err_console, print_rows, split_list


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``route-demands`` and ``bench routing-agent``."""
    app.command("route-demands")(route_demands_command)
    bench_app.command("routing-agent")(bench_routing_agent_command)


def route_demands_command(
    topology: Annotated[str, typer.Argument(help="Topology name (nsfnet, geant2, gbn, a Zoo name) or GraphML file.")],
    policy: Annotated[str, typer.Option(help="routing-agent, sap, lb or least-max-util (comma-separated for "
                                             "several).")] = "routing-agent,sap,lb,least-max-util",
    episodes: Annotated[int, typer.Option(help="Episodes per policy.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the demand sequences.")] = 1,
    capacity: Annotated[float, typer.Option(help="Capacity of every link.")] = 200.0,
    k: Annotated[int, typer.Option(help="Candidate paths per demand.")] = 4,
    checkpoint: Annotated[Path | None, typer.Option(help="Agent checkpoint (default: the shipped one).")] = None,
) -> None:
    """Play online demand-routing episodes (DRL+GNN environment) with one or more policies."""
    from datasets.graphml import read_topology
    from planner.demand_routing import DemandRoutingProblem
    from planner.registry import ProblemKind, get_solver

    topo = read_topology(topology)
    problem = DemandRoutingProblem(topo.graph, name=topology, capacity=capacity, k=k, episodes=episodes, seed=seed)
    rows = []
    for name in split_list(policy):
        solver = get_solver(name, ProblemKind.DEMAND_ROUTING)
        if name == "routing-agent":
            result = solver.solve(problem, None, checkpoint=checkpoint)
        else:
            result = solver.solve(problem, None)
        rows.append({"policy": name, "mean_routed (bw/max demand)": round(result.mean_score, 3),
                     "demands/episode": round(result.mean_routed, 2), "episodes": episodes,
                     "wall_s": round(result.wall_s, 2)})
    print_rows(f"{topology}: {topo.n_nodes} nodes, {topo.n_links} links, capacity {capacity:g}, k={k}, seed {seed}",
               rows)


def bench_routing_agent_command(
    topologies: Annotated[str, typer.Option(help="DRL+GNN topologies, comma-separated.")] = "nsfnet,geant2,gbn",
    zoo_count: Annotated[int, typer.Option(help="Topology Zoo networks in the sample (0: none).")] = 20,
    zoo_seed: Annotated[int, typer.Option(help="Seed of the Zoo sample.")] = 0,
    episodes: Annotated[int, typer.Option(help="Episodes per policy on the DRL+GNN topologies.")] = 2000,
    zoo_episodes: Annotated[int, typer.Option(help="Episodes per policy on each Zoo network.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the demand sequences (not a training/validation seed).")] = 1,
    checkpoint: Annotated[Path | None, typer.Option(help="Agent checkpoint (default: the shipped one).")] = None,
    threads: Annotated[int, typer.Option(help="Torch threads for the agent.")] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the records here.")] = None,
) -> None:
    """The DRL+GNN agent vs SAP, LB and least-max-utilisation on the same episodes."""
    from planner.bench.agent import AgentMeasurement, agent_records, comparison_rows, run_agent_bench, zoo_sample
    from planner.bench.records import write_records

    cases = [("drl-gnn", name) for name in split_list(topologies)]
    if zoo_count > 0:
        cases += [("zoo", name) for name in zoo_sample(zoo_count, zoo_seed)]

    def on_measure(m: AgentMeasurement) -> None:
        err_console.print(f"{m.suite:8s} {m.topology:22s} {m.policy:15s} {m.mean_routed:8.3f} "
                          f"± {m.stderr:.3f}  ({m.episodes} episodes, {m.wall_s:.1f} s)", highlight=False)

    results = run_agent_bench(cases, episodes=episodes, zoo_episodes=zoo_episodes, seed=seed,
                              checkpoint=None if checkpoint is None else str(checkpoint), threads=threads,
                              progress=on_measure)
    rows = comparison_rows(results)
    print_rows(f"mean routed demand per episode (bandwidth / 64), seed {seed}", rows)
    for suite in ("drl-gnn", "zoo"):
        part = [r for r in rows if r["suite"] == suite]
        if part:
            console.print(f"{suite}: the agent beats every baseline on {sum(bool(r.get('beats_all')) for r in part)}"
                          f"/{len(part)} topologies")
    if json_out is not None:
        write_records(json_out, agent_records(results, seed))
        console.print(f"wrote {len(results)} records to {json_out}")
