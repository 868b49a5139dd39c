"""Network design (issue 11 part 2): design problem, exact fitness, GA, GNN surrogate, CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from planner.assignment import AssignmentProblem, Demand, TrafficNetwork, relative_gap
from planner.budget import Budget
from planner.errors import DataFormatError, ValidationError
from planner.graph.csr import Graph
from planner.registry import ProblemKind, get_solver
from solvers.design.evaluation import ExactFitness, evaluate_design
from solvers.design.ga import GaParams, random_genome, repair, run_ga
from solvers.design.problem import NetworkDesignProblem
from solvers.design.surrogate import (
    NetworkContext,
    Surrogate,
    SurrogateConfig,
    build_model,
    default_checkpoint,
    load_surrogate,
    network_fingerprint,
    save_surrogate,
)
from solvers.design.training import TrainingParams, train_surrogate
from tests.conftest import requires_data

SIOUX = requires_data("tntp", "SiouxFalls")


@pytest.fixture(scope="module")
def sioux() -> NetworkDesignProblem:
    from datasets.tntp import read_assignment_problem

    return NetworkDesignProblem.from_assignment(read_assignment_problem("SiouxFalls"), budget_share=0.1)


def _diamond(reversal_links: list[int] | None = None) -> NetworkDesignProblem:
    """Four nodes, two routes 1-3-2 and 1-4-2 and a rung 3<->4, every link two-way; demand 1->2
    heavy, 2->1 light. Capacities of 1 or 2 lanes (1800 per lane)."""
    ends = [(1, 3), (3, 1), (3, 2), (2, 3), (1, 4), (4, 1), (4, 2), (2, 4), (3, 4), (4, 3)]
    tails = np.array([a for a, _ in ends]) - 1
    heads = np.array([b for _, b in ends]) - 1
    m = len(ends)
    attrs = {
        "capacity": np.array([3600, 3600, 1800, 3600, 1800, 3600, 3600, 1800, 1800, 1800], dtype=float),
        "length": np.array([4, 4, 6, 6, 5, 5, 3, 3, 2, 2], dtype=float),
        "free_flow_time": np.array([4, 4, 6, 6, 5, 5, 3, 3, 2, 2], dtype=float),
        "bpr_b": np.full(m, 0.15), "bpr_power": np.full(m, 4.0), "toll": np.zeros(m),
        "link_type": np.ones(m, dtype=np.int64),
    }
    graph, order = Graph.from_edges_with_order(4, tails, heads, attrs, node_ids=np.arange(1, 5, dtype=np.int64))
    net = TrafficNetwork(graph=graph, n_zones=4, first_thru_node=1, link_order=order, name="diamond")
    demand = Demand.from_entries(4, [1, 2], [2, 1], [5000.0, 1200.0])
    return NetworkDesignProblem.from_assignment(
        AssignmentProblem(net, demand), budget=10.0, add_links=[0, 2, 4, 6, 8],
        reversal_links=[0, 4] if reversal_links is None else reversal_links)


# ---------------------------------------------------------------------------------------------
# problem and bad inputs


def test_lanes_derived_from_capacity_and_reversal_pairs_are_opposite() -> None:
    p = _diamond()
    assert p.lanes.tolist() == [2, 2, 1, 2, 1, 2, 2, 1, 1, 1]
    net = p.assignment.network
    tails = net.to_file_order(net.tail_ids)
    heads = net.to_file_order(net.head_ids)
    for i, j in p.reversal_pairs:
        assert (tails[i], heads[i]) == (heads[j], tails[j])
    # a pair whose two links have one lane each cannot be reversed: not offered by default
    default = NetworkDesignProblem.from_assignment(p.assignment, budget=1.0)
    offered = {tuple(sorted(pair)) for pair in default.reversal_pairs.tolist()}
    assert (8, 9) not in offered and {(0, 1), (2, 3), (4, 5), (6, 7)} <= offered


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"budget": -1.0}, "budget"),
    ({"budget": float("nan")}, "budget"),
    ({"add_links": [0, 999]}, "add_links[1]"),
    ({"add_links": [-1]}, "add_links[0]"),
    ({"reversal_links": [8]}, "reversal_links[0]"),  # 3->4 and 4->3 have one lane each
    ({"lane_capacity": 0.0}, "lane_capacity"),
    ({"budget_share": 2.0, "budget": None}, "budget_share"),
])
def test_bad_design_inputs_name_the_field(kwargs: dict, field: str) -> None:
    p = _diamond()
    args = {"budget": 10.0, **kwargs}
    with pytest.raises(ValidationError) as info:
        NetworkDesignProblem.from_assignment(p.assignment, **args)
    assert info.value.field == field


def test_reversal_of_a_one_way_link_is_rejected() -> None:
    p = _diamond()
    net = p.assignment.network
    # drop link 2->4 (file row 7): 4->2 becomes one-way
    keep = np.array([r for r in range(net.n_links) if r != 7])
    g = net.graph
    file_t = net.to_file_order(g.tails)[keep]
    file_h = net.to_file_order(g.indices)[keep]
    attrs = {k: net.to_file_order(v)[keep] for k, v in g.edge_attrs.items()}
    graph, order = Graph.from_edges_with_order(4, file_t, file_h, attrs, node_ids=np.arange(1, 5, dtype=np.int64))
    one_way = AssignmentProblem(TrafficNetwork(graph=graph, n_zones=4, first_thru_node=1, link_order=order),
                                p.assignment.demand)
    with pytest.raises(ValidationError) as info:
        NetworkDesignProblem.from_assignment(one_way, budget=5.0, reversal_links=[0, 6])  # row 6 is 4->2
    assert info.value.field == "reversal_links[1]"
    assert "one-way" in info.value.reason
    pairs = np.array([[6, 0]])  # not opposite links
    with pytest.raises(ValidationError) as info:
        NetworkDesignProblem(one_way, p.lanes[keep], [0], [1.0], 5.0, pairs)
    assert info.value.field == "reversal_pairs[0]"


def test_genome_checks_name_the_gene() -> None:
    p = _diamond()
    g = p.empty_genome()
    g[:5] = 1  # cost 4 + 6 + 5 + 3 + 2 = 20 > 10
    with pytest.raises(ValidationError, match="exceeds the budget"):
        p.check_genome(g)
    bad = p.empty_genome()
    bad[0] = 2
    with pytest.raises(ValidationError) as info:
        p.check_genome(bad)
    assert info.value.field == "genome[0]"
    with pytest.raises(ValidationError) as info:
        p.check_genome(np.zeros(3, dtype=np.int8))
    assert info.value.field == "genome"


# ---------------------------------------------------------------------------------------------
# GA feasibility


class _Recorder:
    """A cheap deterministic fitness that keeps every genome it is asked about."""

    def __init__(self, problem: NetworkDesignProblem, seed: int):
        self.weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=problem.n_genes)
        self.seen: list[np.ndarray] = []

    def __call__(self, genomes: np.ndarray) -> np.ndarray:
        self.seen.extend(g.copy() for g in genomes)
        return -((genomes != 0) @ self.weights)  # rewards spending: pushes against the budget


@SIOUX
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_ga_member_exceeds_the_budget_or_strips_a_direction(sioux: NetworkDesignProblem, seed: int) -> None:
    fitness = _Recorder(sioux, seed)
    run = run_ga(sioux, fitness, Budget(seed=seed), GaParams(generations=30, mutation_genes=6))
    assert len(fitness.seen) == run.evaluations > 30 * 30
    spent = max(sioux.cost(g) for g in fitness.seen)
    assert spent <= sioux.budget * (1 + 1e-12)
    assert spent > 0.8 * sioux.budget  # the search really pushed against the budget
    for g in fitness.seen:
        sioux.check_genome(g)
        assert sioux.lanes_of(g).min() >= 1
    assert any((g[sioux.n_additions:] != 0).any() for g in fitness.seen)


def test_repair_and_random_designs_are_feasible() -> None:
    p = _diamond()
    rng = np.random.default_rng(5)
    for _ in range(200):
        raw = np.concatenate([rng.integers(0, 2, p.n_additions), rng.integers(0, 3, p.n_reversals)]).astype(np.int8)
        for g in (repair(p, raw, rng), random_genome(p, rng, float(rng.uniform()), 0.5)):
            p.check_genome(g)
            lanes = p.lanes_of(g)
            assert lanes.min() >= 1
            # a reversal moves one lane: lanes added by reversal sum to zero
            assert lanes.sum() - p.lanes.sum() == int(g[:p.n_additions].sum())
            assert np.array_equal(p.lanes_of_many(g[None])[0], lanes)


def test_ga_is_deterministic_under_a_seed(sioux: NetworkDesignProblem) -> None:
    runs = [run_ga(sioux, _Recorder(sioux, 3), Budget(seed=9), GaParams(generations=10)) for _ in range(2)]
    assert np.array_equal(runs[0].best, runs[1].best)
    assert [(g, b, mu) for g, _, b, mu in runs[0].history] == [(g, b, mu) for g, _, b, mu in runs[1].history]


# ---------------------------------------------------------------------------------------------
# exact fitness


@SIOUX
def test_exact_fitness_matches_an_independent_recomputation(sioux: NetworkDesignProblem) -> None:
    g = random_genome(sioux, np.random.default_rng(1), 1.0, 0.2)
    assert (g[sioux.n_additions:] != 0).any()
    ev = evaluate_design(sioux, g)
    net = sioux.assignment.network
    # capacities: base capacity per lane times the lanes of the design, written out here
    lanes = sioux.lanes.copy()
    design = sioux.describe(g)
    for row in design.added_lanes:
        lanes[row] += 1
    for donor, receiver in design.reversals:
        lanes[donor] -= 1
        lanes[receiver] += 1
    cap_file = net.to_file_order(np.asarray(net.capacity)) / sioux.lanes * lanes
    cap = net.from_file_order(cap_file)
    assert np.allclose(ev.capacities, cap)
    x = ev.flows
    t = net.free_flow_time * (1 + net.bpr_b * (x / cap) ** net.bpr_power)
    assert ev.tstt == pytest.approx(float(np.sum(x * t)), rel=1e-12)
    assert ExactFitness(sioux)(g[None])[0] == pytest.approx(ev.tstt, rel=1e-12)
    # the flows are a user equilibrium of the designed network (gap measured independently)
    import dataclasses

    designed = AssignmentProblem(dataclasses.replace(net, graph=net.graph.with_edge_attrs(capacity=cap)),
                                 sioux.assignment.demand)
    assert 0 <= relative_gap(designed, x) <= sioux.target_gap
    base = evaluate_design(sioux, sioux.empty_genome())
    assert base.tstt == pytest.approx(7_480_225.345, rel=2e-3)  # README TSTT of the best-known flows


def test_ga_finds_the_brute_force_optimum_on_a_tiny_network() -> None:
    p = _diamond()
    fitness = ExactFitness(p)
    options = p.reversal_options()
    best_value, best_genome = np.inf, None
    rev_choices = [np.flatnonzero(row).tolist() for row in options]
    for adds in itertools.product([0, 1], repeat=p.n_additions):
        if p.cost(np.array(adds)) > p.budget:
            continue
        for revs in itertools.product(*rev_choices):
            g = np.array(adds + revs, dtype=np.int8)
            value = fitness(g[None])[0]
            if value < best_value:
                best_value, best_genome = value, g
    assert best_genome is not None
    base = fitness(p.empty_genome()[None])[0]
    assert best_value < 0.95 * base  # design matters here
    solver = get_solver("design-ga-exact", ProblemKind.NETWORK_DESIGN)
    from solvers.design.solver import DesignParams

    sol = solver.solve(p, Budget(seed=4), DesignParams(ga=GaParams(population_size=10, generations=40)))
    assert sol.tstt == pytest.approx(best_value, rel=1e-9)
    assert sol.design.cost <= p.budget
    assert sol.base_tstt == pytest.approx(base)


# ---------------------------------------------------------------------------------------------
# surrogate


@SIOUX
def test_surrogate_shapes_and_determinism(sioux: NetworkDesignProblem) -> None:
    base = evaluate_design(sioux, sioux.empty_genome())
    ctx = NetworkContext(network_fingerprint(sioux), sioux.lanes.copy(), base.flows, base.tstt, "SiouxFalls")
    genomes = np.array([random_genome(sioux, np.random.default_rng(k)) for k in range(5)])
    outs = []
    for _ in range(2):
        s = Surrogate(sioux, build_model(sioux, SurrogateConfig(hidden=16, layers=2), seed=7), ctx)
        tstt, flows = s.predict(genomes)
        assert tstt.shape == (5,) and flows.shape == (5, sioux.n_links)
        assert np.all(np.isfinite(tstt)) and np.all(flows >= 0)
        outs.append((tstt, flows))
    assert np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1])
    other = Surrogate(sioux, build_model(sioux, SurrogateConfig(hidden=16, layers=2), seed=8), ctx).predict(genomes)
    assert not np.array_equal(other[0], outs[0][0])


@SIOUX
def test_training_is_deterministic_and_round_trips(sioux: NetworkDesignProblem, tmp_path) -> None:
    params = TrainingParams(samples=16, epochs=2, refine_rounds=0, batch_size=8,
                            config=SurrogateConfig(hidden=16, layers=2), seed=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, err_a = train_surrogate(sioux, params)
        b, err_b = train_surrogate(sioux, params)
    finally:
        torch.set_num_threads(threads)
    genomes = np.array([random_genome(sioux, np.random.default_rng(k)) for k in range(4)])
    assert np.array_equal(a(genomes), b(genomes))
    assert err_a == err_b and err_a.designs == 2
    path = save_surrogate(tmp_path / "s.pt", a)
    loaded = load_surrogate(sioux, path)
    assert np.array_equal(loaded(genomes), a(genomes))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataFormatError):
        load_surrogate(sioux, tmp_path / "bad.pt")


@pytest.mark.parametrize("network", [
    pytest.param("SiouxFalls", marks=SIOUX),
    pytest.param("Eastern-Massachusetts", marks=requires_data("tntp", "Eastern-Massachusetts")),
])
def test_shipped_checkpoint_loads_and_predicts_close_to_exact(network: str) -> None:
    from datasets.tntp import read_assignment_problem

    problem = NetworkDesignProblem.from_assignment(read_assignment_problem(network), budget_share=0.1)
    path = default_checkpoint(network)
    assert path.stat().st_size < 10 * 2**20
    s = load_surrogate(problem)
    err = s.meta["heldout_error"]
    assert err["designs"] > 0 and err["tstt_mape_pct"] < 5
    genomes = np.array([random_genome(problem, np.random.default_rng(100 + k)) for k in range(3)])
    exact = np.array([evaluate_design(problem, g).tstt for g in genomes])
    assert np.all(np.abs(s(genomes) - exact) / exact < 0.05)
    tstt, flows = s.predict(genomes)
    assert np.array_equal(tstt, s(genomes))
    assert flows.shape == (3, problem.n_links) and np.all(flows >= 0)
    # a checkpoint of one network does not serve another
    with pytest.raises(ValidationError) as info:
        load_surrogate(_diamond(), path)
    assert info.value.field == "surrogate"


@SIOUX
def test_surrogate_solver_returns_an_exactly_evaluated_feasible_design(sioux: NetworkDesignProblem) -> None:
    from solvers.design.solver import DesignParams

    solver = get_solver("design-ga-surrogate", ProblemKind.NETWORK_DESIGN)
    sol = solver.solve(sioux, Budget(seed=1), DesignParams(ga=GaParams(generations=5), reevaluate=3))
    sioux.check_genome(sol.genome)
    assert sol.tstt == pytest.approx(evaluate_design(sioux, sol.genome).tstt, rel=1e-12)
    assert sol.exact_solves == 3 and sol.tstt < sol.base_tstt


@SIOUX
@pytest.mark.slow  # a subprocess start imports every solver family (~8 s here)
def test_design_cli_prints_design_and_tstt() -> None:
    from planner.cli import app

    result = CliRunner().invoke(app, ["design", "SiouxFalls", "--method", "surrogate", "--generations", "3",
                                      "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["tstt_after"] < out["tstt_before"] and out["cost"] <= out["budget"]
    import subprocess
    import sys

    bad = subprocess.run([sys.executable, "-m", "planner.cli", "design", "SiouxFalls", "--budget", "-3"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "budget: negative (-3.0)" in bad.stderr and "Traceback" not in bad.stderr
