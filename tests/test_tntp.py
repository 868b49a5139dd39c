"""TNTP readers and writer: counts and demand of every network against the data README, the
best-known flow files evaluated to the README's objectives, round trips, quirks and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datasets.location import data_dir
from datasets.tntp import (
    COST_FACTORS,
    cost_factors,
    read_assignment_problem,
    read_tntp_demand,
    read_tntp_flows,
    read_tntp_link_flows,
    read_tntp_network,
    tntp_folder,
    write_tntp_flows,
)
from planner.assignment import (
    AssignmentResult,
    beckmann_objective,
    link_costs,
    relative_gap,
    total_system_travel_time,
)
from planner.errors import DataFormatError, DataNotFoundError, InfeasibleError, ValidationError
from tests.conftest import data_file, requires_data

# From /work/shared/data/tntp/README.md, "Per-network summary":
# name: (nodes, links, zones, first thru node, total demand incl. intrazonal, intrazonal demand)
README_TABLE = {
    "SiouxFalls": (24, 76, 24, 1, 360_600.0, 0.0),
    "Anaheim": (416, 914, 38, 39, 104_694.40, 0.0),
    "Barcelona": (1_020, 2_522, 110, 111, 184_679.561, 0.0),
    "Chicago-Sketch": (933, 2_950, 387, 1, 1_260_907.44, 123_414.0),
    "Eastern-Massachusetts": (74, 258, 74, 1, 65_576.375, 0.0),
    "Berlin-Center": (12_981, 28_376, 865, 866, 168_222.302, 0.0),
    "Braess-Example": (4, 5, 2, 1, 6.0, 0.0),
}

# README: "our Beckmann obj. of flow file" and "our sum x*c (TSTT)" columns.
README_BEST_KNOWN = {
    "SiouxFalls": (4_231_335.287107, 7_480_225.345),
    "Anaheim": (1_286_032.171096, 1_419_913.851),
    "Barcelona": (1_265_654.922032, 1_365_715.684),
    "Chicago-Sketch": (17_313_018.738748, 18_935_450.262),
}

# Berlin-Center README: duplicate links with different parameters.
BERLIN_DUPLICATES = {(1246, 1244), (3644, 3643), (7773, 7870), (7777, 7779), (8468, 8472), (8472, 8468)}


def tntp(name: str) -> Path:
    return data_dir() / "tntp" / name


def file_rows(path: Path) -> list[list[str]]:
    """Data rows of a TNTP net file, parsed independently of the reader."""
    text = path.read_text()
    body = text.split("<END OF METADATA>", 1)[1]
    rows = []
    for line in body.splitlines():
        line = line.strip()
        if line and not line.startswith("~"):
            rows.append(line.replace(";", " ").split())
    return rows


# --------------------------------------------------------------------------------- real data
@pytest.mark.parametrize("name", sorted(README_TABLE))
def test_counts_and_demand_match_readme(name: str) -> None:
    data_file("tntp", name)  # skips when absent (fails under CI)
    nodes, links, zones, first_thru, total, intrazonal = README_TABLE[name]
    problem = read_assignment_problem(name)
    net, demand = problem.network, problem.demand
    assert (net.n_nodes, net.n_links, net.n_zones, net.first_thru_node) == (nodes, links, zones, first_thru)
    assert net.name == name
    assert demand.n_zones == zones
    assert demand.total + demand.intrazonal == pytest.approx(total, abs=1e-3)
    assert demand.intrazonal == pytest.approx(intrazonal, abs=1e-6)
    assert np.all(np.diagonal(demand.matrix) == 0)
    # the network keeps the file's link order: CSR edges mapped back give the file's columns
    rows = file_rows(next(tntp(name).glob("*_net.tntp")))
    g = net.graph
    file_tails = net.to_file_order(g.node_ids[g.tails])
    file_heads = net.to_file_order(g.node_ids[g.indices])
    assert file_tails.tolist() == [int(r[0]) for r in rows]
    assert file_heads.tolist() == [int(r[1]) for r in rows]
    assert net.to_file_order(g.edge_attrs["capacity"]).tolist() == [float(r[2]) for r in rows]
    assert net.to_file_order(g.edge_attrs["free_flow_time"]).tolist() == [float(r[4]) for r in rows]


@pytest.mark.parametrize("name", sorted(README_BEST_KNOWN))
def test_best_known_flows_reproduce_readme_objective(name: str) -> None:
    data_file("tntp", name)
    problem = read_assignment_problem(name)
    flows = read_tntp_link_flows(name, problem.network)
    beckmann, tstt = README_BEST_KNOWN[name]
    assert beckmann_objective(problem.network, flows) == pytest.approx(beckmann, rel=1e-9)
    assert total_system_travel_time(problem.network, flows) == pytest.approx(tstt, rel=1e-9)
    assert abs(relative_gap(problem, flows)) < 1e-8
    # the Cost column of the file is the generalized cost at those flows
    _, _, _, cost = read_tntp_flows(tntp(name))
    np.testing.assert_allclose(problem.network.to_file_order(link_costs(problem.network, flows)), cost,
                               rtol=1e-9, atol=1e-9)


@requires_data("tntp", "Chicago-Sketch")
def test_chicago_cost_factors_from_readme_and_overridable() -> None:
    net = read_tntp_network("Chicago-Sketch")
    assert (net.toll_factor, net.distance_factor) == (0.02, 0.04)
    flows = read_tntp_link_flows("Chicago-Sketch", net)
    # README: time-only TSTT 18,371,027.720
    assert total_system_travel_time(net, flows, generalized=False) == pytest.approx(18_371_027.720, rel=1e-9)
    plain = read_tntp_network("Chicago-Sketch", toll_factor=0.0, distance_factor=0.0)
    assert (plain.toll_factor, plain.distance_factor) == (0.0, 0.0)
    assert total_system_travel_time(plain, flows) == pytest.approx(18_371_027.720, rel=1e-9)
    # quirk: 774 connector links with zero free-flow time
    assert int(np.sum(net.graph.edge_attrs["free_flow_time"] == 0)) == 774
    assert cost_factors("ChicagoSketch") == cost_factors("chicago-sketch") == COST_FACTORS["chicagosketch"]
    assert cost_factors("SiouxFalls") == (0.0, 0.0)


@requires_data("tntp", "Barcelona")
def test_barcelona_constant_cost_links() -> None:
    net = read_tntp_network(tntp("Barcelona") / "Barcelona_net.tntp")
    a = net.graph.edge_attrs
    constant = (a["bpr_power"] == 0) & (a["bpr_b"] == 0)
    assert int(constant.sum()) == 565
    assert net.graph.coords is None  # Barcelona ships no node file
    huge = np.full(net.n_links, 1e6)
    np.testing.assert_array_equal(link_costs(net, huge)[constant], a["free_flow_time"][constant])


@requires_data("tntp", "Berlin-Center")
def test_berlin_duplicate_links_kept_as_parallel_links() -> None:
    net = read_tntp_network("Berlin-Center")
    g = net.graph
    pairs = list(zip(g.node_ids[g.tails].tolist(), g.node_ids[g.indices].tolist(), strict=True))
    seen: dict[tuple[int, int], int] = {}
    for p in pairs:
        seen[p] = seen.get(p, 0) + 1
    assert {p for p, k in seen.items() if k > 1} == BERLIN_DUPLICATES
    assert g.has_parallel_edges()
    assert net.n_links == 28_376  # both links of each pair kept
    assert np.isfinite(g.coords).all()


@requires_data("tntp", "SiouxFalls")
def test_coordinates_and_name_resolution() -> None:
    by_name = read_tntp_network("siouxfalls")  # case-insensitive name in <data dir>/tntp
    by_folder = read_tntp_network(tntp("SiouxFalls"))
    by_file = read_tntp_network(tntp("SiouxFalls") / "SiouxFalls_net.tntp")
    for net in (by_name, by_folder, by_file):
        assert net.name == "SiouxFalls" and net.n_links == 76
        np.testing.assert_allclose(net.graph.coords[0], (-96.77041974, 43.61282792))
        np.testing.assert_allclose(net.graph.coords[23], (-96.74920028, 43.50316422))
    assert tntp_folder("SiouxFalls") == tntp("SiouxFalls")
    with pytest.raises(DataNotFoundError):
        read_tntp_network("NoSuchNetwork")


@requires_data("tntp", "Anaheim")
def test_anaheim_geojson_coordinates() -> None:
    net = read_tntp_network("Anaheim")
    np.testing.assert_allclose(net.graph.coords[0], (-117.880141713707729, 33.871155530597115))
    assert np.isfinite(net.graph.coords).all()


@requires_data("tntp", "SiouxFalls")
def test_flow_file_write_read_round_trip(tmp_path: Path) -> None:
    problem = read_assignment_problem("SiouxFalls")
    flows = read_tntp_link_flows("SiouxFalls", problem.network) * 1.000000123  # not the file's numbers
    result = AssignmentResult.evaluate(problem, flows, solver="test", iterations=0)
    out = write_tntp_flows(tmp_path / "out_flow.tntp", problem, result)
    tails, heads, volume, cost = read_tntp_flows(out)
    file_t, file_h, _, _ = read_tntp_flows(tntp("SiouxFalls") / "SiouxFalls_flow.tntp")
    np.testing.assert_array_equal(tails, file_t)  # file link order
    np.testing.assert_array_equal(heads, file_h)
    np.testing.assert_array_equal(problem.network.from_file_order(volume), result.flows)  # exact floats
    np.testing.assert_array_equal(problem.network.from_file_order(cost), result.costs)
    np.testing.assert_array_equal(read_tntp_link_flows(out, problem.network), result.flows)


@requires_data("tntp", "Anaheim")
def test_flow_file_of_another_network_is_rejected() -> None:
    net = read_tntp_network("Anaheim")
    with pytest.raises(DataFormatError, match="76 links"):
        read_tntp_link_flows(tntp("SiouxFalls") / "SiouxFalls_flow.tntp", net)


# --------------------------------------------------------------------------------- synthetic files
NET_HEADER = """<NUMBER OF ZONES> {zones}
<NUMBER OF NODES> {nodes}
<FIRST THRU NODE> {ftn}
<NUMBER OF LINKS> {links}
<END OF METADATA>

~\tinit_node\tterm_node\tcapacity\tlength\tfree_flow_time\tb\tpower\tspeed\ttoll\tlink_type\t;
"""


def write_net(folder: Path, rows: list[str], *, zones: int = 2, nodes: int = 3, ftn: int = 1,
              links: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Toy_net.tntp"
    header = NET_HEADER.format(zones=zones, nodes=nodes, ftn=ftn, links=len(rows) if links is None else links)
    path.write_text(header + "".join(f"\t{r}\t;\n" for r in rows))
    return path


def write_trips(folder: Path, body: str, *, zones: int = 2, total: float | None = None) -> Path:
    path = folder / "Toy_trips.tntp"
    meta = f"<NUMBER OF ZONES> {zones}\n"
    if total is not None:
        meta += f"<TOTAL OD FLOW> {total}\n"
    path.write_text(meta + "<END OF METADATA>\n\n" + body)
    return path


TOY_LINKS = [
    "1\t3\t100\t1\t2\t0.15\t4\t0\t0\t1",
    "3 2 100 1 2 0.15 4 0 0 1",  # spaces instead of tabs
    "2\t1\t100\t1\t5\t0.15\t4\t0\t0\t1",
]


def test_toy_network_reads_with_mixed_separators_and_comments(tmp_path: Path) -> None:
    write_net(tmp_path, TOY_LINKS)
    write_trips(tmp_path, "~ a comment\nOrigin 1\n 1 : 7.0; 2 : 10.0;\nOrigin\t2\n1 :\t4.5 ;\n", total=21.5)
    problem = read_assignment_problem(tmp_path)
    d = problem.demand
    assert d.matrix.tolist() == [[0.0, 10.0], [4.5, 0.0]]
    assert d.intrazonal == 7.0 and d.intrazonal_pairs == 1
    assert problem.network.graph.coords is None
    assert problem.network.name == tmp_path.name


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError):
        read_tntp_network(tmp_path / "absent" / "X_net.tntp")
    with pytest.raises(DataNotFoundError):
        read_tntp_network(tmp_path)  # folder without a net file
    net_path = write_net(tmp_path, TOY_LINKS)
    with pytest.raises(DataNotFoundError):
        read_assignment_problem(net_path)  # no trips file
    with pytest.raises(DataNotFoundError):
        read_tntp_flows(tmp_path / "none_flow.tntp")


@pytest.mark.parametrize(
    ("rows", "kwargs", "line", "message"),
    [
        (["1 3 100 1 2 0.15 4 0 0", *TOY_LINKS[1:]], {}, 8, "expected 10 columns"),
        ([*TOY_LINKS[:1], "3 2 lots 1 2 0.15 4 0 0 1", *TOY_LINKS[2:]], {}, 9, "capacity is not a number"),
        ([*TOY_LINKS[:2], "2 9 100 1 5 0.15 4 0 0 1"], {}, 10, "term_node 9 is not a node"),
        (TOY_LINKS, {"links": 4}, None, "3 link rows"),
    ],
)
def test_malformed_net_file_names_the_line(tmp_path: Path, rows: list[str], kwargs: dict, line: int | None,
                                           message: str) -> None:
    path = write_net(tmp_path, rows, **kwargs)
    with pytest.raises(DataFormatError, match=message) as info:
        read_tntp_network(path)
    assert info.value.line == line
    assert info.value.path == path


def test_malformed_metadata(tmp_path: Path) -> None:
    path = tmp_path / "Bad_net.tntp"
    path.write_text("<NUMBER OF ZONES> 2\n<NUMBER OF NODES> three\n<END OF METADATA>\n")
    with pytest.raises(DataFormatError, match="NUMBER OF NODES") as info:
        read_tntp_network(path)
    assert info.value.line == 2
    path.write_text("<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n")
    with pytest.raises(DataFormatError, match="END OF METADATA"):
        read_tntp_network(path)


@pytest.mark.parametrize(
    ("body", "total", "line", "message"),
    [
        ("Origin 1\n 2 : 1.0; 3 : 2.0;\n", None, 5, "unknown zone 3"),
        (" 2 : 1.0;\n", None, 4, "before the first `Origin`"),
        ("Origin 1\n 2 : 1.0;\n 2 : 2.0;\n", None, 6, "second entry for 1->2"),
        ("Origin 1\n 2 : 1.0; oops\n", None, 5, "expected `Origin o`"),
        ("Origin 1\n 2 : one;\n", None, 5, "not a number"),
        ("Origin 1\n 2 : 1.0;\n", 5.0, 2, "TOTAL OD FLOW"),
    ],
)
def test_malformed_trips_file_names_the_line(tmp_path: Path, body: str, total: float | None, line: int,
                                             message: str) -> None:
    net = read_tntp_network(write_net(tmp_path, TOY_LINKS))
    path = write_trips(tmp_path, body, total=total)
    with pytest.raises(DataFormatError, match=message) as info:
        read_tntp_demand(path, net)
    assert info.value.line == line


def test_trips_with_other_zone_count_rejected(tmp_path: Path) -> None:
    net = read_tntp_network(write_net(tmp_path, TOY_LINKS))
    with pytest.raises(DataFormatError, match="NUMBER OF ZONES"):
        read_tntp_demand(write_trips(tmp_path, "Origin 1\n 2 : 1.0;\n", zones=3), net)


def test_negative_demand_in_file(tmp_path: Path) -> None:
    net = read_tntp_network(write_net(tmp_path, TOY_LINKS))
    with pytest.raises(ValidationError) as info:
        read_tntp_demand(write_trips(tmp_path, "Origin 2\n 1 : -1.0;\n"), net)
    assert info.value.field == "demand[2->1]"
    assert info.value.reason == "negative (-1.0)"


def test_zero_capacity_on_congestible_link(tmp_path: Path) -> None:
    rows = [TOY_LINKS[0], "3 2 0 1 2 0.15 4 0 0 1", TOY_LINKS[2]]
    write_net(tmp_path, rows)
    write_trips(tmp_path, "Origin 1\n 2 : 1.0;\n")
    with pytest.raises(ValidationError) as info:
        read_assignment_problem(tmp_path)
    assert info.value.field == "links[1].capacity"  # 0-based file row
    # zero capacity is fine where b = 0 (constant cost)
    write_net(tmp_path, [TOY_LINKS[0], "3 2 0 1 2 0 0 0 0 1", TOY_LINKS[2]])
    assert read_assignment_problem(tmp_path).network.n_links == 3


def test_od_pair_without_path(tmp_path: Path) -> None:
    write_net(tmp_path, TOY_LINKS[:2])  # 1 -> 3 -> 2, nothing back to 1
    write_trips(tmp_path, "Origin 2\n 1 : 3.0;\n")
    with pytest.raises(InfeasibleError) as info:
        read_assignment_problem(tmp_path)
    assert info.value.field == "demand[2->1]"


def test_first_thru_node_read_from_file(tmp_path: Path) -> None:
    # zones 1, 2, 3; the only route 1 -> 2 passes through zone 3
    rows = ["1 3 100 1 2 0.15 4 0 0 1", "3 2 100 1 2 0.15 4 0 0 1"]
    write_net(tmp_path / "passable", rows, zones=3, ftn=1)
    write_trips(tmp_path / "passable", "Origin 1\n 2 : 1.0;\n", zones=3)
    assert read_assignment_problem(tmp_path / "passable").network.first_thru_node == 1
    write_net(tmp_path / "blocked", rows, zones=3, ftn=4)
    write_trips(tmp_path / "blocked", "Origin 1\n 2 : 1.0;\n", zones=3)
    with pytest.raises(InfeasibleError) as info:
        read_assignment_problem(tmp_path / "blocked")
    assert info.value.field == "demand[1->2]"


def test_malformed_flow_file(tmp_path: Path) -> None:
    path = tmp_path / "x_flow.tntp"
    path.write_text("From To Volume Cost\n1 2 3.0 4.0\n1 3 lots 4.0\n")
    with pytest.raises(DataFormatError) as info:
        read_tntp_flows(path)
    assert info.value.line == 3
    path.write_text("From To Volume Cost\n1 2 3.0\n")
    with pytest.raises(DataFormatError, match="4 columns"):
        read_tntp_flows(path)
