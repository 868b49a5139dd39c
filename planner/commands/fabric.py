"""Commands of fabrics and networks: ``routeplanner fabric``, ``routeplanner te``,
``routeplanner bench fabric`` and ``routeplanner bench te``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from planner.budget import Budget
from planner.commands._output import console, err_console, print_rows, print_summary, split_list
from planner.errors import ValidationError

#: Fabric policies of ``routeplanner fabric``.
FABRIC_POLICIES = ("minimal-split", "lp", "lp-pdlp", "spray", "single-path", "ecmp", "ecmp-x", "mwu")
#: Policies of ``routeplanner te``.
TE_POLICIES = ("mwu", "lp", "lp-pdlp", "ecmp", "ecmp-x")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``fabric``, ``te``, ``bench fabric`` and ``bench te``."""
    app.command("fabric")(fabric_command)
    app.command("te")(te_command)
    bench_app.command("fabric")(bench_fabric_command)
    bench_app.command("te")(bench_te_command)


def _check_choice(field: str, value: str, known: tuple[str, ...]) -> None:
    if value not in known:
        raise ValidationError(field, f"unknown {field} {value!r} (known: {', '.join(known)})")


def fabric_command(
    spines: Annotated[int, typer.Option(help="Spine switches.")] = 16,
    leaves: Annotated[int, typer.Option(help="Leaf switches.")] = 16,
    hosts_per_leaf: Annotated[int, typer.Option(help="Hosts per leaf.")] = 24,
    workload: Annotated[str, typer.Option(help="ring, all-to-all or permutation.")] = "ring",
    policy: Annotated[str, typer.Option(help=", ".join(FABRIC_POLICIES) + ".")] = "minimal-split",
    placement: Annotated[str, typer.Option(help="Rank placement: random, locality or strided.")] = "random",
    ranks: Annotated[int | None, typer.Option(help="Ranks (default: all hosts; all-to-all: 128).")] = None,
    seed: Annotated[int, typer.Option(help="Placement / permutation / hash seed.")] = 0,
    link_gbps: Annotated[float, typer.Option(help="Host link rate, Gb/s (flows are one link rate).")] = 100.0,
    oversubscription: Annotated[float | None, typer.Option(help="Host to uplink bandwidth ratio per leaf.")] = None,
    lp: Annotated[bool, typer.Option("--lp", help="Also solve the LP optimum (GLOP) and compare.")] = False,
    ecmp_seeds: Annotated[int, typer.Option(help="ECMP: hash seeds for the mean and p99.")] = 20,
    epsilon: Annotated[float, typer.Option(help="mwu: target certified gap.")] = 0.01,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Route a collective's flows over a leaf-spine fabric and print the maximum congestion."""
    from planner.bench.fabric import ALL_TO_ALL_RANKS
    from planner.flows import FlowRoutingProblem
    from planner.graph.fabric import leaf_spine
    from planner.registry import ProblemKind, get_solver
    from solvers.flows.ecmp import ecmp_monte_carlo
    from solvers.flows.lp import min_congestion_lp
    from solvers.flows.mwu import solve_mwu

    _check_choice("policy", policy, FABRIC_POLICIES)
    fabric = leaf_spine(spines, leaves, hosts_per_leaf, host_link_gbps=link_gbps, oversubscription=oversubscription)
    from datasets.generators.fabric import all_to_all, permutation, ring_allreduce

    if workload == "ring":
        wl = ring_allreduce(fabric, link_gbps, ranks=ranks, placement=placement, seed=seed)
    elif workload == "all-to-all":
        r = ranks or min(ALL_TO_ALL_RANKS, fabric.n_hosts)
        wl = all_to_all(fabric, link_gbps / (r - 1), ranks=r, placement=placement, seed=seed)
    elif workload == "permutation":
        wl = permutation(fabric, link_gbps, seed=seed)
    else:
        raise ValidationError("workload", f"unknown workload {workload!r} (known: ring, all-to-all, permutation)")
    problem = FlowRoutingProblem(fabric.graph, wl)
    budget = Budget(seed=seed)
    clock = budget.start()
    summary: dict[str, Any] = {"fabric": fabric.graph.name, "workload": wl.name, "flows": wl.n_flows,
                               "policy": policy}
    if policy == "ecmp":
        mean, p99 = ecmp_monte_carlo(problem, ecmp_seeds)
        summary.update({"max_congestion_mean": mean, "max_congestion_p99": p99, "hash_seeds": ecmp_seeds,
                        "pieces_max": 1})
        congestion = mean
    else:
        if policy == "mwu":
            result = solve_mwu(problem, budget, epsilon)
        else:
            result = get_solver(policy, ProblemKind.FABRIC_ROUTING).solve(problem, budget)
        congestion = result.max_congestion
        summary["max_congestion"] = congestion
        summary["pieces_max"] = int(result.pieces_per_flow.max(initial=1))
        if "theorem1_pieces" in result.stats:
            summary["theorem1_pieces_max"] = int(result.stats["theorem1_pieces"].max(initial=1))
            summary["within_theorem1"] = bool(result.stats["within_theorem1"])
            summary["strategy"] = result.stats["strategy"]
        if "dual_bound" in result.stats:
            summary["dual_bound"] = result.stats["dual_bound"]
            summary["certified"] = bool(result.stats["certified"])
    summary["wall_s"] = clock.elapsed()
    if lp:
        solution = min_congestion_lp(problem)
        summary["lp_optimum"] = solution.optimum
        summary["lp_wall_s"] = solution.wall_s
        summary["ratio_to_lp"] = congestion / solution.optimum if solution.optimum > 0 else None
    print_summary(f"{fabric.graph.name} · {wl.name} · {policy}", summary, as_json)


def te_command(
    topology: Annotated[str, typer.Argument(help="GraphML file or a topology name (Abilene, Kdl, nsfnet, ...).")],
    demand: Annotated[str, typer.Option(help="gravity, uniform or random.")] = "gravity",
    policy: Annotated[str, typer.Option(help=", ".join(TE_POLICIES) + ".")] = "mwu",
    epsilon: Annotated[float, typer.Option(help="mwu: target certified gap primal/dual - 1.")] = 0.01,
    total: Annotated[float, typer.Option(help="Total demand, Gb/s.")] = 100.0,
    seed: Annotated[int, typer.Option(help="Demand / hash seed.")] = 1,
    fail_link: Annotated[list[str] | None, typer.Option(
        "--fail-link", help="What-if: fail this link, as NODE-NODE (GraphML node ids); repeatable.")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="Seconds.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Route a demand matrix over a WAN topology with the lowest maximum link utilisation."""
    from datasets.generators.fabric import gravity_demands, random_demands, uniform_demands
    from datasets.graphml import read_topology
    from planner.flows import FlowRoutingProblem
    from planner.graph.fabric import fail_links
    from solvers.flows.ecmp import solve_ecmp
    from solvers.flows.lp import min_congestion_lp
    from solvers.flows.mwu import mwu_min_congestion
    from solvers.flows.splitting import ecmp_8

    _check_choice("policy", policy, TE_POLICIES)
    topo = read_topology(topology)
    makers = {"gravity": lambda: gravity_demands(topo, total, seed=seed),
              "uniform": lambda: uniform_demands(topo, total),
              "random": lambda: random_demands(topo, total, seed=seed)}
    if demand not in makers:
        raise ValidationError("demand", f"unknown demand model {demand!r} (known: {', '.join(makers)})")
    matrix = makers[demand]()
    problem = FlowRoutingProblem(topo.graph, matrix)

    def route(p: FlowRoutingProblem) -> dict[str, Any]:
        budget = Budget(time_limit=time_limit, seed=seed)
        clock = budget.start()
        if policy == "mwu":
            sol = mwu_min_congestion(p, epsilon, budget)
            return {"max_utilisation": sol.primal, "dual_bound": sol.dual, "certified_gap": sol.gap,
                    "certified": sol.certified, "phases": sol.phases, "wall_s": clock.elapsed(), "_loads": sol.loads}
        if policy in ("lp", "lp-pdlp"):
            sol = min_congestion_lp(p, "pdlp" if policy == "lp-pdlp" else "glop", time_limit)
            return {"max_utilisation": sol.optimum, "lp_optimum": sol.optimum, "wall_s": clock.elapsed(),
                    "_loads": sol.loads}
        result = (solve_ecmp if policy == "ecmp" else ecmp_8)(p, budget)
        return {"max_utilisation": result.max_congestion, "wall_s": clock.elapsed(), "_loads": result.loads}

    summary: dict[str, Any] = {"network": topo.network, "nodes": topo.n_nodes, "links": topo.n_links,
                               "demand": demand, "demands": problem.workload.n_flows, "policy": policy}
    before = route(problem)
    loads_before = before.pop("_loads")
    summary.update(before)
    if fail_link:
        pairs = []
        for i, text in enumerate(fail_link):
            a, sep, b = text.partition("-")
            if not sep:
                raise ValidationError(f"fail_link[{i}]", f"must be NODE-NODE, got {text!r}")
            pairs.append((a, b))
        failed = FlowRoutingProblem(fail_links(topo.graph, pairs), problem.workload)
        after = route(failed)
        after.pop("_loads")
        summary["failed_links"] = ", ".join(fail_link)
        for key, value in after.items():
            summary[f"after_{key}"] = value
        summary["utilisation_change"] = after["max_utilisation"] - summary["max_utilisation"]
    cap = problem.capacity
    top = int(loads_before.argmax()) if loads_before.size else -1
    if top >= 0:
        ids = topo.graph.node_ids
        e = int((loads_before / cap).argmax())
        summary["busiest_link"] = f"{ids[topo.graph.tails[e]]}-{ids[topo.graph.indices[e]]}"
    print_summary(f"{topo.network} · {demand} · {policy}", summary, as_json)


def bench_fabric_command(
    fabrics: Annotated[str, typer.Option(help="Comma-separated SxLxH fabrics.")] = "16x16x24,32x32x32,64x64x64",
    workloads: Annotated[str, typer.Option(help="Comma-separated workloads.")] = "ring,all-to-all,permutation",
    placements: Annotated[int, typer.Option(help="Placements (seeds) per workload.")] = 10,
    ecmp_seeds: Annotated[int, typer.Option(help="ECMP hash seeds per case.")] = 10,
    lp_backend: Annotated[str, typer.Option(help="auto (GLOP up to 16x16, else PDLP), glop or pdlp.")] = "auto",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the records here.")] = None,
) -> None:
    """Every policy on leaf-spine collectives; checks minimal splitting == LP and Theorem 1."""
    from planner.bench.fabric import run_fabric_bench, summarise_fabric
    from planner.bench.records import write_records

    sizes = []
    for text in split_list(fabrics):
        try:
            s, leaf, h = (int(x) for x in text.lower().split("x"))
        except ValueError:
            raise ValidationError("fabrics", f"{text!r} is not SxLxH") from None
        sizes.append((s, leaf, h))
    _check_choice("lp_backend", lp_backend, ("auto", "glop", "pdlp"))

    def show(case: list) -> None:
        split = [m for m in case if m.policy == "minimal-split"]
        lp = [m for m in case if m.policy == "lp"]
        if split and lp:
            m = split[0]
            err_console.print(f"{m.fabric:10s} {m.workload:12s} seed {m.seed}: LP {lp[0].max_congestion:.6f} "
                              f"({lp[0].wall_s:.2f} s), minimal split {m.max_congestion:.6f} "
                              f"({m.wall_s:.3f} s, pieces {m.pieces_max} <= {m.theorem1_max})")

    ms = run_fabric_bench(sizes, split_list(workloads), placements, ecmp_seeds=ecmp_seeds, on_case=show,
                          lp_backend=lp_backend)
    rows = summarise_fabric(ms)
    print_rows("leaf-spine collectives: maximum congestion (mean over placements)", rows)
    bad = [m for m in ms if m.policy == "minimal-split" and not (m.extra["equals_lp"] and m.extra["within_theorem1"])]
    console.print(f"minimal split == LP (1e-9) and pieces <= Theorem 1: "
                  f"{sum(1 for m in ms if m.policy == 'minimal-split') - len(bad)} of "
                  f"{sum(1 for m in ms if m.policy == 'minimal-split')} cases")
    if json_out is not None:
        write_records(json_out, [m.record() for m in ms])
        console.print(f"wrote {len(ms)} records to {json_out}")


def bench_te_command(
    networks: Annotated[str, typer.Option(help="Comma-separated topology names (default: every connected one).")] = "",
    limit: Annotated[int | None, typer.Option(help="Only the N largest of the selected networks.")] = None,
    epsilon: Annotated[float, typer.Option(help="MWU target certified gap.")] = 0.01,
    lp_limit: Annotated[float, typer.Option(help="Seconds for GLOP per network.")] = 300.0,
    mwu_limit: Annotated[float, typer.Option(help="Seconds for MWU per network.")] = 120.0,
    no_lp: Annotated[bool, typer.Option("--no-lp", help="Skip the LP (MWU certificates only).")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the records here.")] = None,
) -> None:
    """MWU to a certified epsilon against the LP (GLOP) on Topology Zoo networks, gravity demands."""
    from planner.bench.fabric import connected_networks, run_te_case
    from planner.bench.records import write_records

    names = split_list(networks) or connected_networks()
    if limit is not None:
        names = names[-limit:] if not networks else names[:limit]
    results = []
    for name in names:
        m = run_te_case(name, epsilon, lp_limit, with_lp=not no_lp, mwu_limit=mwu_limit)
        results.append(m)
        lp_text = "-" if m.lp_optimum is None else f"{m.lp_optimum:.6g} ({m.lp_s:.2f} s)"
        err_console.print(f"{name:20s} n={m.nodes:4d}: MWU {m.mwu_primal:.6g} >= {m.mwu_dual:.6g} "
                          f"({m.mwu_s:.2f} s, {m.phases} phases)  LP {lp_text} {m.lp_note}")
    rows = []
    for m in results:
        rows.append({"network": m.network, "nodes": m.nodes, "links": m.links, "MWU util": m.mwu_primal,
                     "dual": m.mwu_dual, "cert. gap %": 100 * m.certified_gap, "certified": m.certified,
                     "LP opt": m.lp_optimum, "gap to LP %": None if m.gap_to_lp is None else 100 * m.gap_to_lp,
                     "MWU s": m.mwu_s, "LP s": m.lp_s, "MWU/LP time": m.speed_ratio})
    print_rows(f"traffic engineering, gravity demands, MWU eps={epsilon} vs GLOP", rows)
    big = [m for m in results if m.nodes > 100]
    console.print(f"certified within {epsilon:.0%}: {sum(m.certified for m in results)}/{len(results)}; "
                  f"MWU faster than the LP on >100 nodes: "
                  f"{sum(1 for m in big if m.speed_ratio is not None and m.speed_ratio < 1)}/{len(big)}; "
                  f"largest MWU time {max((m.mwu_s for m in results), default=math.nan):.2f} s")
    if json_out is not None:
        write_records(json_out, [r for m in results for r in m.records(epsilon, None if no_lp else lp_limit)])
        console.print(f"wrote {2 * len(results)} records to {json_out}")
