"""``routeplanner fabric`` / ``te`` / ``bench fabric`` / ``bench te`` on small cases, checked
against the Python API (the LP optimum) and the bench record schema."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from datasets.generators.fabric import gravity_demands, ring_allreduce
from planner.bench.records import REQUIRED_METRICS, read_records
from planner.cli import app
from planner.errors import InfeasibleError, ValidationError
from planner.flows import FlowRoutingProblem
from planner.graph.fabric import leaf_spine
from solvers.flows.lp import min_congestion_lp
from tests.conftest import requires_data

runner = CliRunner()
ZOO = ("topologies", "zoo_graphml")


def test_fabric_command_minimal_split_equals_lp() -> None:
    result = runner.invoke(app, ["fabric", "--spines", "4", "--leaves", "4", "--hosts-per-leaf", "6",
                                 "--workload", "ring", "--placement", "random", "--seed", "3", "--lp", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    fabric = leaf_spine(4, 4, 6)
    lp = min_congestion_lp(FlowRoutingProblem(fabric.graph, ring_allreduce(fabric, 100.0, placement="random", seed=3)))
    assert summary["lp_optimum"] == pytest.approx(lp.optimum, abs=1e-9)
    assert summary["max_congestion"] == pytest.approx(lp.optimum, abs=1e-9)
    assert summary["pieces_max"] <= summary["theorem1_pieces_max"]


def test_fabric_command_ecmp_and_bad_policy() -> None:
    result = runner.invoke(app, ["fabric", "--spines", "4", "--leaves", "4", "--hosts-per-leaf", "4",
                                 "--policy", "ecmp", "--ecmp-seeds", "5", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["max_congestion_p99"] >= summary["max_congestion_mean"] >= 1.0
    bad = runner.invoke(app, ["fabric", "--policy", "hash-everything"])
    assert isinstance(bad.exception, ValidationError) and "policy" in str(bad.exception)


@requires_data(*ZOO, "Abilene.graphml")
def test_te_command_mwu_certificate_and_failure() -> None:
    from datasets.graphml import read_topology

    result = runner.invoke(app, ["te", "Abilene", "--demand", "gravity", "--policy", "mwu", "--epsilon", "0.01",
                                 "--fail-link", "0-1", "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    topo = read_topology("Abilene")
    lp = min_congestion_lp(FlowRoutingProblem(topo.graph, gravity_demands(topo, 100.0, seed=1))).optimum
    assert s["dual_bound"] <= lp * (1 + 1e-9) <= s["max_utilisation"] * (1 + 1e-9)
    assert s["max_utilisation"] <= 1.01 * s["dual_bound"] * (1 + 1e-12)
    assert s["after_max_utilisation"] >= s["after_dual_bound"] > 0
    bad = runner.invoke(app, ["te", "Abilene", "--fail-link", "0"])
    assert isinstance(bad.exception, ValidationError) and "fail_link[0]" in str(bad.exception)


@requires_data(*ZOO, "Abilene.graphml")
def test_te_command_failure_cutting_a_node_off_names_the_demand() -> None:
    from datasets.graphml import read_topology

    topo = read_topology("Abilene")
    g = topo.graph
    deg = g.out_degree()
    v = int(next(i for i in range(g.n_nodes) if deg[i] == 2))  # cut both links of a degree-2 node
    links = [f"{g.node_ids[v]}-{g.node_ids[w]}" for w in g.indices[g.indptr[v]:g.indptr[v + 1]]]
    result = runner.invoke(app, ["te", "Abilene", "--fail-link", links[0], "--fail-link", links[1]])
    assert isinstance(result.exception, InfeasibleError)
    assert "flows[" in str(result.exception) and "disconnected" in str(result.exception)


def test_bench_fabric_records(tmp_path) -> None:
    out = tmp_path / "fabric.json"
    result = runner.invoke(app, ["bench", "fabric", "--fabrics", "4x4x6", "--workloads", "ring,permutation",
                                 "--placements", "1", "--ecmp-seeds", "3", "--json", str(out)])
    assert result.exit_code == 0, result.output
    records = read_records(out)
    assert {r["solver"] for r in records} == {"lp", "minimal-split", "spray", "single-path", "ecmp", "ecmp-8"}
    assert len(records) == 2 * 6
    for r in records:
        assert r["family"] == "fabric" and set(REQUIRED_METRICS["fabric"]) <= set(r["metrics"])
        if r["solver"] in ("minimal-split", "spray"):
            assert r["metrics"]["max_congestion"] == pytest.approx(r["metrics"]["lp_optimum"], abs=1e-9)
        assert r["metrics"]["max_congestion"] >= r["metrics"]["lp_optimum"] - 1e-9
    assert "2 of 2 cases" in result.output


@requires_data(*ZOO, "Abilene.graphml")
def test_bench_te_records(tmp_path) -> None:
    out = tmp_path / "te.json"
    result = runner.invoke(app, ["bench", "te", "--networks", "Abilene,Aarnet", "--json", str(out)])
    assert result.exit_code == 0, result.output
    records = read_records(out)
    assert len(records) == 4 and {r["solver"] for r in records} == {"mwu", "lp"}
    for r in records:
        assert r["family"] == "te" and set(REQUIRED_METRICS["te"]) <= set(r["metrics"])
        m = r["metrics"]
        assert m["dual_bound"] <= m["lp_optimum"] * (1 + 1e-9) <= m["max_utilisation"] * (1 + 1e-9)
