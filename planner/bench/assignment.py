"""``routeplanner bench assignment``: our assignment solvers against AequilibraE, same networks,
same run, same target relative gaps.

Every run is a :class:`~planner.bench.records.BenchRecord` of family ``assignment`` with the
metrics ``target_gap``, ``reached_gap`` (as the solver reports it), ``iterations``, ``wall_s``,
``objective`` (Beckmann objective of the flows, computed by :mod:`planner.assignment` for every
solver alike), ``rel_diff_best`` (relative difference to the Beckmann objective of the network's
best-known flow file; ``None`` without one) and, in addition, ``independent_gap``
(:func:`planner.assignment.relative_gap` of the returned flows) and ``reached`` (whether the
target was met).

AequilibraE (optional ``bench`` extra) is imported lazily. It rejects free-flow times ``<= 0``
and BPR powers ``< 1``, so its copy of the network has 1e-6 / 1 there (the data README: cost-
neutral to ~1e-6; powers below 1 occur only with ``b = 0``, where the power is irrelevant).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from datasets.tntp import read_assignment_problem, read_tntp_link_flows, tntp_folder
from planner.assignment import AssignmentProblem, beckmann_objective, relative_gap
from planner.bench.records import BenchRecord
from planner.budget import Budget
from planner.errors import DataNotFoundError
from planner.registry import ProblemKind, get_solver

#: Networks of the issue's targets.
DEFAULT_NETWORKS: tuple[str, ...] = ("SiouxFalls", "Anaheim", "Chicago-Sketch", "Berlin-Center")
#: Our solvers benchmarked by default.
DEFAULT_SOLVERS: tuple[str, ...] = ("bfw", "gradient-projection")
#: Peer solvers (AequilibraE algorithms) benchmarked by default.
DEFAULT_PEERS: tuple[str, ...] = ("aequilibrae-bfw",)
#: Flow files with the best-known solutions (the README: none for Berlin-Center).
FLOW_FILES: dict[str, str] = {
    "SiouxFalls": "SiouxFalls_flow.tntp", "Anaheim": "Anaheim_flow.tntp", "Barcelona": "Barcelona_flow.tntp",
    "Chicago-Sketch": "ChicagoSketch_flow.tntp",
}


@dataclass(frozen=True)
class Measurement:
    """One solver run on one network to one target gap."""

    network: str
    solver: str
    baseline: bool
    target_gap: float
    reached_gap: float
    independent_gap: float
    iterations: int
    wall_s: float
    objective: float
    rel_diff_best: float | None

    @property
    def reached(self) -> bool:
        """Whether the independently computed gap met the target (to 1 % of it, rounding)."""
        return self.independent_gap <= self.target_gap * 1.01

    def record(self, time_limit: float | None) -> BenchRecord:
        """This measurement as a bench record."""
        return BenchRecord(
            family="assignment", suite="tntp", instance=self.network, solver=self.solver, seed=None,
            budget_s=time_limit, baseline=self.baseline,
            metrics={"target_gap": self.target_gap, "reached_gap": self.reached_gap, "iterations": self.iterations,
                     "wall_s": self.wall_s, "objective": self.objective, "rel_diff_best": self.rel_diff_best,
                     "independent_gap": self.independent_gap, "reached": self.reached})


def best_known_objective(network: str, problem: AssignmentProblem) -> float | None:
    """Beckmann objective of the network's best-known flow file, or ``None`` without one."""
    name = FLOW_FILES.get(network)
    if name is None:
        return None
    try:
        path = tntp_folder(network) / name
    except DataNotFoundError:
        return None
    if not path.exists():
        return None
    return beckmann_objective(problem.network, read_tntp_link_flows(path, problem.network))


def _rel(value: float, best: float | None) -> float | None:
    return None if best is None else (value - best) / best


def run_ours(problem: AssignmentProblem, network: str, solver: str, target_gap: float, time_limit: float | None,
             best: float | None) -> Measurement:
    """Run one of our registered assignment solvers to ``target_gap``."""
    from solvers.flows.frank_wolfe import AssignmentParams

    info = get_solver(solver, ProblemKind.TRAFFIC_ASSIGNMENT)
    started = time.perf_counter()
    result = info.solve(problem, Budget(time_limit=time_limit), AssignmentParams(target_gap=target_gap))
    wall = time.perf_counter() - started
    reported = result.history[-1][2] if result.history else result.relative_gap
    return Measurement(network, solver, False, target_gap, reported, result.relative_gap, result.iterations, wall,
                       result.beckmann_objective, _rel(result.beckmann_objective, best))


def aequilibrae_available() -> bool:
    """Whether AequilibraE can be imported."""
    try:
        import aequilibrae  # noqa: F401
    except ImportError:
        return False
    return True


def run_aequilibrae(problem: AssignmentProblem, network: str, algorithm: str, target_gap: float,
                    time_limit: float | None, best: float | None) -> Measurement:
    """Run AequilibraE's ``algorithm`` (``bfw``, ``cfw``, ``frank-wolfe``, ``msa``) on the same
    problem; the flows are evaluated by :mod:`planner.assignment` like ours. Only the
    assignment itself (``execute``) is timed; AequilibraE has no time limit, so ``time_limit``
    bounds its iterations only through ``max_iter``."""
    import logging

    import pandas as pd
    from aequilibrae.matrix import AequilibraeMatrix
    from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass

    logging.getLogger("aequilibrae").setLevel(logging.ERROR)
    net = problem.network
    g = net.graph
    fft = np.where(net.free_flow_time > 0, net.free_flow_time, 1e-6)
    power = np.where(net.bpr_power >= 1, net.bpr_power, 1.0)
    links = pd.DataFrame({
        "link_id": np.arange(1, net.n_links + 1), "a_node": net.tail_ids, "b_node": net.head_ids,
        "direction": np.ones(net.n_links, dtype=np.int8), "free_flow_time": fft,
        "capacity": np.where(net.capacity > 0, net.capacity, 1.0), "b": net.bpr_b, "power": power,
        "fixed_cost": np.asarray(net.fixed_cost, dtype=np.float64),
    })
    graph = Graph()
    graph.network = links
    graph.prepare_graph(np.arange(1, net.n_zones + 1, dtype=np.int64))
    graph.set_graph("free_flow_time")
    graph.set_blocked_centroid_flows(net.first_thru_node > 1)
    del g
    matrix = AequilibraeMatrix()
    matrix.create_empty(zones=net.n_zones, matrix_names=["demand"], memory_only=True)
    matrix.index[:] = np.arange(1, net.n_zones + 1)
    matrix.matrices[:, :, 0] = problem.demand.matrix
    matrix.computational_view(["demand"])
    traffic_class = TrafficClass("car", graph, matrix)
    if np.any(net.fixed_cost > 0):
        traffic_class.set_fixed_cost("fixed_cost", 1.0)
    assignment = TrafficAssignment()
    assignment.set_classes([traffic_class])
    assignment.set_vdf("BPR")
    assignment.set_vdf_parameters({"alpha": "b", "beta": "power"})
    assignment.set_capacity_field("capacity")
    assignment.set_time_field("free_flow_time")
    assignment.set_algorithm(algorithm)
    assignment.max_iter = 100_000
    assignment.rgap_target = target_gap
    with _quiet():
        started = time.perf_counter()
        assignment.execute(log_specification=False)
        wall = time.perf_counter() - started
    loads = traffic_class.results.get_load_results()
    column = next(c for c in loads.columns if c.lower().endswith("_ab"))
    by_id = loads[column].reindex(links["link_id"]).to_numpy(dtype=np.float64)
    flows = np.maximum(np.nan_to_num(by_id), 0.0)
    objective = beckmann_objective(net, flows)
    return Measurement(network, f"aequilibrae-{algorithm}", True, target_gap, float(assignment.assignment.rgap),
                       relative_gap(problem, flows), int(assignment.assignment.iter), wall, objective,
                       _rel(objective, best))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence AequilibraE's progress bars (tqdm on stderr; ``TQDM_DISABLE`` where supported)."""
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            yield
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous


def warm_up() -> None:
    """Load the compiled kernels (numba cache) before any clock starts."""
    problem = read_assignment_problem("Braess-Example")
    for solver in ("bfw", "gradient-projection"):
        run_ours(problem, "Braess-Example", solver, 1e-6, None, None)


def run_bench(networks: Sequence[str] = DEFAULT_NETWORKS, gaps: Sequence[float] = (1e-4, 1e-6),
              solvers: Sequence[str] = DEFAULT_SOLVERS, peers: Sequence[str] = DEFAULT_PEERS,
              high_precision: Sequence[tuple[str, float]] = (), time_limit: float | None = 300.0,
              on_measurement: Callable[[Measurement], None] | None = None,
              on_skip: Callable[[str], None] | None = None) -> list[Measurement]:
    """Run every (network, solver, gap) and every peer on the same networks and gaps.

    Parameters
    ----------
    high_precision
        Extra ``(solver, gap)`` runs (e.g. ``("gradient-projection", 1e-10)``) on every network.
    on_measurement, on_skip
        Called with each measurement as it completes / with the reason a peer is skipped.
    """
    warm_up()
    have_peer = aequilibrae_available()
    if peers and not have_peer and on_skip is not None:
        on_skip("AequilibraE is not installed (pip install aequilibrae, or the bench extra): peers skipped")
    out: list[Measurement] = []

    def add(m: Measurement) -> None:
        out.append(m)
        if on_measurement is not None:
            on_measurement(m)

    for network in networks:
        problem = read_assignment_problem(network)
        best = best_known_objective(network, problem)
        for gap in gaps:
            for solver in solvers:
                add(run_ours(problem, network, solver, gap, time_limit, best))
            if have_peer:
                for peer in peers:
                    add(run_aequilibrae(problem, network, peer.removeprefix("aequilibrae-"), gap, time_limit, best))
        for solver, gap in high_precision:
            add(run_ours(problem, network, solver, gap, time_limit, best))
    return out


def speed_ratios(measurements: Sequence[Measurement]) -> list[dict[str, object]]:
    """Per (network, gap): our fastest solver that reached the gap, its time, the peer's time
    and the ratio ours / peer (the target is at most 1/3)."""
    rows: list[dict[str, object]] = []
    keys = sorted({(m.network, m.target_gap) for m in measurements}, key=lambda k: (k[0], -k[1]))
    for network, gap in keys:
        group = [m for m in measurements if m.network == network and m.target_gap == gap]
        ours = [m for m in group if not m.baseline and m.reached]
        peer = [m for m in group if m.baseline]
        if not ours or not peer:
            continue
        fastest = min(ours, key=lambda m: m.wall_s)
        ref = min(peer, key=lambda m: m.wall_s)
        ratio = fastest.wall_s / ref.wall_s if ref.wall_s > 0 else math.inf
        rows.append({"network": network, "gap": gap, "ours": fastest.solver, "ours_s": fastest.wall_s,
                     "peer": ref.solver, "peer_s": ref.wall_s, "peer_reached": ref.reached, "ratio": ratio,
                     "target_met": ratio <= 1 / 3})
    return rows
