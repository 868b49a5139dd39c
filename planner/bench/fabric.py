"""``routeplanner bench fabric`` and ``routeplanner bench te``.

Fabric bench: leaf-spine fabrics (16x16x24, 32x32x32, 64x64x64 by default: spines x leaves x
hosts per leaf, every link 100 Gb/s, flows of one link rate), collective workloads (ring
all-reduce and all-to-all over randomly placed ranks, random permutations), ten placements
(seeds) each, every policy: the exact LP (GLOP, pair form), ideal spraying, minimal splitting,
the best single path, ECMP (Monte Carlo over hash seeds: mean and p99) and 8-way hashed ECMP.
Checks per case: minimal splitting's congestion equals the LP optimum to 1e-9, and no flow has
more pieces than its Theorem 1 bound.

TE bench: every connected Topology Zoo network (and the three DRL+GNN ones) with gravity
demands: multiplicative weights to a certified ``epsilon`` against the LP (GLOP, same bridge
reduction), times, certified gap, true gap to the LP optimum, and the speed ratio.

Records: family ``fabric`` (``max_congestion``, ``lp_optimum``, ``pieces_max``, ``wall_s``) and
``te`` (``max_utilisation``, ``lp_optimum``, ``dual_bound``, ``wall_s``), schema of
``shared/BENCH.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.bench.records import BenchRecord
from planner.budget import Budget
from planner.flows import FlowRoutingProblem, Workload

#: Default fabrics: (spines, leaves, hosts per leaf).
DEFAULT_FABRICS: tuple[tuple[int, int, int], ...] = ((16, 16, 24), (32, 32, 32), (64, 64, 64))
#: Default workloads.
DEFAULT_WORKLOADS: tuple[str, ...] = ("ring", "all-to-all", "permutation")
#: Ranks of the all-to-all workload (all hosts of a 64x64x64 fabric would be 16.8 M flows; 128
#: ranks are 16,256 flows).
ALL_TO_ALL_RANKS = 128
#: Link rate and flow size, Gb/s.
LINK_GBPS = 100.0
#: ECMP hash seeds per case.
ECMP_SEEDS = 10
#: Largest fabric (spines x leaves) whose bench LP is solved by GLOP; PDLP beyond.
GLOP_MAX_LINKS = 256
#: Policies in table order.
FABRIC_POLICIES: tuple[str, ...] = ("lp", "minimal-split", "spray", "single-path", "ecmp", "ecmp-8")


def make_workload(fabric: Any, workload: str, seed: int, placement: str = "random",
                  ranks: int | None = None) -> Workload:
    """A collective workload: ring and permutation flows of one link rate; all-to-all flows of
    ``link rate / (ranks - 1)`` (every rank sends one link rate in all).

    Raises
    ------
    ValidationError
        Unknown ``workload`` or ``placement``.
    """
    from datasets.generators.fabric import all_to_all, permutation, ring_allreduce
    from planner.errors import ValidationError

    if workload == "ring":
        return ring_allreduce(fabric, LINK_GBPS, ranks=ranks, placement=placement, seed=seed)
    if workload == "all-to-all":
        r = ranks if ranks is not None else min(ALL_TO_ALL_RANKS, fabric.n_hosts)
        # every rank sends one link rate in all, split evenly over the other ranks
        return all_to_all(fabric, LINK_GBPS / (r - 1), ranks=r, placement=placement, seed=seed)
    if workload == "permutation":
        return permutation(fabric, LINK_GBPS, seed=seed)
    raise ValidationError("workload", f"unknown workload {workload!r} (known: ring, all-to-all, permutation)")


@dataclass(frozen=True)
class FabricMeasurement:
    """One policy on one (fabric, workload, placement)."""

    fabric: str
    workload: str
    seed: int
    policy: str
    max_congestion: float
    lp_optimum: float
    pieces_max: int
    theorem1_max: int
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> BenchRecord:
        """As a ``fabric`` bench record."""
        return BenchRecord(
            family="fabric", suite="leaf-spine", instance=f"{self.fabric}/{self.workload}", solver=self.policy,
            seed=self.seed, budget_s=None, baseline=self.policy not in ("minimal-split",),
            metrics={"max_congestion": self.max_congestion, "lp_optimum": self.lp_optimum,
                     "pieces_max": self.pieces_max, "wall_s": self.wall_s, "theorem1_max": self.theorem1_max,
                     **self.extra})


def run_fabric_case(spines: int, leaves: int, hosts: int, workload: str, seed: int,
                    policies: Sequence[str] = FABRIC_POLICIES, ecmp_seeds: int = ECMP_SEEDS,
                    placement: str = "random", lp_backend: str = "auto") -> list[FabricMeasurement]:
    """Every policy on one case; the LP is always solved (it is the reference). ``lp_backend``
    ``"auto"``: GLOP up to :data:`GLOP_MAX_LINKS` leaf-spine links, PDLP beyond (GLOP took
    5-13 s on 32x32 and minutes on 64x64, PDLP 0.25 s on 32x32)."""
    from planner.graph.fabric import leaf_spine
    from solvers.flows.ecmp import ecmp_monte_carlo
    from solvers.flows.lp import min_congestion_lp
    from solvers.flows.splitting import ecmp_x, minimal_split, single_path, spray

    fabric = leaf_spine(spines, leaves, hosts)
    problem = FlowRoutingProblem(fabric.graph, make_workload(fabric, workload, seed, placement))
    name = f"{spines}x{leaves}x{hosts}"
    backend = lp_backend if lp_backend != "auto" else ("glop" if leaves * spines <= GLOP_MAX_LINKS else "pdlp")
    t0 = time.perf_counter()
    lp = min_congestion_lp(problem, backend)
    lp_s = time.perf_counter() - t0
    out: list[FabricMeasurement] = []

    def add(policy: str, congestion: float, pieces: int, wall: float, theorem1: int = 0, **extra: Any) -> None:
        out.append(FabricMeasurement(name, workload, seed, policy, congestion, lp.optimum, pieces, theorem1,
                                     wall, extra))

    for policy in policies:
        if policy == "lp":
            add("lp", lp.optimum, spines, lp_s, n_variables=lp.n_variables, backend=backend)
            continue
        if policy == "ecmp":
            t0 = time.perf_counter()
            mean, p99 = ecmp_monte_carlo(problem, ecmp_seeds)
            add("ecmp", mean, 1, time.perf_counter() - t0, p99=p99, seeds=ecmp_seeds)
            continue
        solve: Callable = {"minimal-split": minimal_split, "spray": spray, "single-path": single_path,
                           "ecmp-8": lambda p, b: ecmp_x(p, b, 8)}[policy]
        t0 = time.perf_counter()
        result = solve(problem, Budget(seed=seed))
        wall = time.perf_counter() - t0
        extra: dict[str, Any] = {}
        theorem1 = 0
        if policy == "minimal-split":
            bound = result.stats["theorem1_pieces"]
            theorem1 = int(bound.max(initial=1))
            extra = {"equals_lp": abs(result.max_congestion - lp.optimum) <= 1e-9 * max(1.0, lp.optimum),
                     "within_theorem1": bool(result.stats["within_theorem1"]),
                     "strategy": result.stats["strategy"]}
        add(policy, result.max_congestion, int(result.pieces_per_flow.max(initial=1)), wall, theorem1, **extra)
    return out


def run_fabric_bench(fabrics: Sequence[tuple[int, int, int]] = DEFAULT_FABRICS,
                     workloads: Sequence[str] = DEFAULT_WORKLOADS, placements: int = 10,
                     policies: Sequence[str] = FABRIC_POLICIES, ecmp_seeds: int = ECMP_SEEDS,
                     on_case: Callable[[list[FabricMeasurement]], None] | None = None,
                     lp_backend: str = "auto") -> list[FabricMeasurement]:
    """:func:`run_fabric_case` over fabrics x workloads x placement seeds ``0..placements-1``."""
    out: list[FabricMeasurement] = []
    for spines, leaves, hosts in fabrics:
        for workload in workloads:
            for seed in range(placements):
                case = run_fabric_case(spines, leaves, hosts, workload, seed, policies, ecmp_seeds,
                                       lp_backend=lp_backend)
                out += case
                if on_case is not None:
                    on_case(case)
    return out


def summarise_fabric(measurements: Sequence[FabricMeasurement]) -> list[dict[str, Any]]:
    """One row per (fabric, workload): congestion of every policy (mean over placements),
    minimal splitting's agreement with the LP and its pieces against Theorem 1, times."""
    rows = []
    keys = list(dict.fromkeys((m.fabric, m.workload) for m in measurements))
    for fabric, workload in keys:
        ms = [m for m in measurements if m.fabric == fabric and m.workload == workload]
        by = {p: [m for m in ms if m.policy == p] for p in dict.fromkeys(m.policy for m in ms)}
        row: dict[str, Any] = {"fabric": fabric, "workload": workload, "cases": len(by.get("lp", []))}
        lp = by.get("lp", [])
        row["LP"] = float(np.mean([m.max_congestion for m in lp])) if lp else None
        split = by.get("minimal-split", [])
        if split:
            row["min-split"] = float(np.mean([m.max_congestion for m in split]))
            row["= LP"] = f"{sum(m.extra['equals_lp'] for m in split)}/{len(split)}"
            row["pieces max"] = max(m.pieces_max for m in split)
            row["Thm1 max"] = max(m.theorem1_max for m in split)
            row["<= Thm1"] = f"{sum(m.extra['within_theorem1'] for m in split)}/{len(split)}"
        for policy, label in (("spray", "spray"), ("single-path", "single"), ("ecmp-8", "ECMP-8")):
            if by.get(policy):
                row[label] = float(np.mean([m.max_congestion for m in by[policy]]))
        if by.get("ecmp"):
            row["ECMP mean"] = float(np.mean([m.max_congestion for m in by["ecmp"]]))
            row["ECMP p99"] = float(np.mean([m.extra["p99"] for m in by["ecmp"]]))
        if lp:
            row["LP s"] = float(np.mean([m.wall_s for m in lp]))
        if split:
            row["split s"] = float(np.mean([m.wall_s for m in split]))
        rows.append(row)
    return rows


# ---------------------------------------------------------------------- traffic engineering
@dataclass(frozen=True)
class TeMeasurement:
    """MWU and the LP on one network."""

    network: str
    nodes: int
    links: int
    demands: int
    mwu_primal: float
    mwu_dual: float
    mwu_s: float
    phases: int
    certified: bool
    lp_optimum: float | None
    lp_s: float | None
    lp_note: str = ""

    @property
    def certified_gap(self) -> float:
        """MWU's own ``primal / dual - 1``."""
        return self.mwu_primal / self.mwu_dual - 1 if self.mwu_dual > 0 else math.inf

    @property
    def gap_to_lp(self) -> float | None:
        """``primal / LP - 1`` where the LP finished."""
        if self.lp_optimum is None or self.lp_optimum <= 0:
            return None
        return self.mwu_primal / self.lp_optimum - 1

    @property
    def speed_ratio(self) -> float | None:
        """MWU time / LP time (below 1: MWU faster); a timed-out LP counts its limit."""
        return None if self.lp_s is None else self.mwu_s / self.lp_s

    def records(self, epsilon: float, lp_limit: float | None) -> list[BenchRecord]:
        """An ``mwu`` and an ``lp`` record."""
        common = {"nodes": self.nodes, "links": self.links, "demands": self.demands}
        mwu = BenchRecord(
            family="te", suite="zoo-gravity", instance=self.network, solver="mwu", seed=1, budget_s=None,
            baseline=False,
            metrics={"max_utilisation": self.mwu_primal, "lp_optimum": self.lp_optimum, "dual_bound": self.mwu_dual,
                     "wall_s": self.mwu_s, "epsilon": epsilon, "certified": self.certified,
                     "certified_gap": self.certified_gap, "gap_to_lp": self.gap_to_lp, "phases": self.phases,
                     **common})
        lp = BenchRecord(
            family="te", suite="zoo-gravity", instance=self.network, solver="lp", seed=1, budget_s=lp_limit,
            baseline=True,
            metrics={"max_utilisation": self.lp_optimum, "lp_optimum": self.lp_optimum, "dual_bound": self.lp_optimum,
                     "wall_s": self.lp_s, "note": self.lp_note, **common})
        return [mwu, lp]


def connected_networks() -> list[str]:
    """Names of the connected topologies in the data directory (Zoo and DRL+GNN), by size."""
    from datasets.graphml import list_topologies, read_topology

    out = []
    for name in list_topologies():
        topo = read_topology(name, largest_component=False)
        if topo.metadata.get("components", 1) == 1:
            out.append((topo.n_nodes, name))
    return [name for _n, name in sorted(out)]


def run_te_case(network: str, epsilon: float = 0.01, lp_limit: float | None = 300.0,
                total_gbps: float = 100.0, seed: int = 1, with_lp: bool = True,
                mwu_limit: float | None = 120.0) -> TeMeasurement:
    """MWU (certified ``epsilon``, at most ``mwu_limit`` s) and GLOP (at most ``lp_limit`` s)
    on one network with gravity demands."""
    from datasets.generators.fabric import gravity_demands
    from datasets.graphml import read_topology
    from planner.errors import InfeasibleError
    from solvers.flows.lp import min_congestion_lp
    from solvers.flows.mwu import mwu_min_congestion

    topo = read_topology(network)
    demand = gravity_demands(topo, total_gbps, seed=seed)
    problem = FlowRoutingProblem(topo.graph, demand)
    sol = mwu_min_congestion(problem, epsilon, Budget(time_limit=mwu_limit))
    lp_opt = lp_s = None
    note = ""
    if with_lp:
        t0 = time.perf_counter()
        try:
            lp_opt = min_congestion_lp(problem, "glop", lp_limit, formulation="arc").optimum
            lp_s = time.perf_counter() - t0
        except InfeasibleError:
            lp_s = time.perf_counter() - t0
            note = f"no LP solution within {lp_limit} s"
    return TeMeasurement(network, topo.n_nodes, topo.n_links, problem.workload.n_flows, sol.primal, sol.dual,
                         sol.wall_s, sol.phases, sol.certified, lp_opt, lp_s, note)
