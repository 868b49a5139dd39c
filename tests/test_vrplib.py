"""Readers and writers of VRP files, cross-checked against the ``vrplib`` package, the ``.sol``
files' ``Cost`` lines and ``bks.csv`` (which also checks the distance conventions)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import vrplib

from datasets.location import data_dir
from datasets.vrplib import best_known, read_instance, read_solomon, read_solution, read_vrplib, write_solution
from planner.errors import CapacityError, DataFormatError, DataNotFoundError, ValidationError
from planner.vrp import VrpSolution, check_feasibility, solution_cost
from tests.conftest import data_file, requires_data

X_SAMPLE = ["X-n101-k25", "X-n106-k14", "X-n110-k13", "X-n153-k22", "X-n200-k36", "X-n256-k16", "X-n303-k21",
            "X-n401-k29", "X-n502-k39", "X-n573-k30", "X-n801-k40", "X-n1001-k43"]
TW_SAMPLE = [("Solomon", "C101"), ("Solomon", "R101"), ("Solomon", "RC101"), ("Solomon", "C201"),
             ("Solomon", "R211"), ("Solomon", "RC208"), ("GH200", "C1_2_1"), ("GH200", "R2_2_5"),
             ("GH400", "R1_4_1"), ("GH400", "C2_4_3"), ("GH400", "RC1_4_10"), ("GH400", "RC2_4_1")]
SAMPLE = [("cvrp", "X", name) for name in X_SAMPLE] + [("vrptw", folder, name) for folder, name in TW_SAMPLE]


def _ids(sample: list[tuple[str, str, str]]) -> list[str]:
    return [name for _, _, name in sample]


# --- real instances against vrplib ----------------------------------------------------------

@pytest.mark.parametrize(("kind", "folder", "name"), SAMPLE, ids=_ids(SAMPLE))
def test_instance_matches_vrplib_package(kind: str, folder: str, name: str) -> None:
    path = data_file("vrp", kind, folder, f"{name}.vrp")
    ours = read_instance(path)
    ref = vrplib.read_instance(path)
    depot = int(ref["depot"][0])
    assert depot == 0
    assert ours.name == ref["name"] == name
    assert ours.n_clients + 1 == ref["dimension"]
    assert ours.capacity == ref["capacity"]
    np.testing.assert_array_equal(ours.demands, ref["demand"])
    np.testing.assert_array_equal(ours.coords, ref["node_coord"])
    exact = np.sqrt(((ref["node_coord"][:, None, :] - ref["node_coord"][None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_allclose(ref["edge_weight"], exact, atol=1e-9)
    if kind == "cvrp":
        assert ours.rounding == "nint" and not ours.has_time_windows and ours.num_vehicles is None
        np.testing.assert_array_equal(ours.distances, np.floor(exact + 0.5))
    else:
        assert ours.rounding == "dimacs" and ours.has_time_windows
        assert ours.num_vehicles == ref["vehicles"]
        np.testing.assert_array_equal(ours.time_windows, ref["time_window"])
        assert np.all(ours.service_times[1:] == ref["service_time"]) and ours.service_times[0] == 0
        np.testing.assert_allclose(ours.distances, np.floor(10 * exact + 1e-9) / 10, atol=1e-9)
        assert ours.durations is ours.distances


@pytest.mark.parametrize(("kind", "folder", "name"), SAMPLE, ids=_ids(SAMPLE))
def test_bks_solution_cost_matches_cost_line_and_bks_csv(kind: str, folder: str, name: str) -> None:
    path = data_file("vrp", kind, folder, f"{name}.vrp")
    instance = read_instance(path)
    sol_path = path.with_suffix(".sol")
    solution = read_solution(sol_path)
    ref = vrplib.read_solution(sol_path)
    assert [r.tolist() for r in solution.routes] == [list(r) for r in ref["routes"]]
    assert solution.objective == ref["cost"]
    report = check_feasibility(instance, solution)
    assert report.feasible, report
    assert report.objective == solution.objective == best_known(name)


@pytest.mark.slow
@requires_data("vrp", "bks.csv")
def test_every_shipped_solution_is_feasible_at_its_cost() -> None:
    """All X, Solomon and GH best-known solutions: feasible, cost = Cost line = bks.csv."""
    root = data_dir() / "vrp"
    files = sorted((root / "cvrp" / "X").glob("*.vrp")) + sorted((root / "vrptw").glob("*/*.vrp"))
    assert len(files) == 100 + 56 + 60 + 60
    for path in files:
        instance = read_instance(path)
        solution = read_solution(path.with_suffix(".sol"))
        report = check_feasibility(instance, solution)
        assert report.feasible, f"{path.name}: {report}"
        assert report.objective == best_known(instance.name), path.name


@requires_data("vrp", "cvrp", "XXL", "Leuven1.vrp")
def test_xxl_within_the_dense_limit_reads_and_beyond_refuses() -> None:
    root = data_dir() / "vrp" / "cvrp" / "XXL"
    leuven = read_vrplib(root / "Leuven1.vrp")
    assert leuven.n_clients == 3000
    report = check_feasibility(leuven, read_solution(root / "Leuven1.sol"))
    assert report.feasible and report.objective == best_known("Leuven1")
    with pytest.raises(CapacityError, match="30000 clients exceed the dense-matrix limit"):
        read_vrplib(root / "Flanders2.vrp")


# --- formats written here -------------------------------------------------------------------

def _write_solomon(path, instance) -> None:
    lines = [instance.name, "", "VEHICLE", "NUMBER     CAPACITY",
             f"  {instance.num_vehicles}         {instance.capacity}", "", "CUSTOMER",
             "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME", ""]
    for i in range(instance.n_clients + 1):
        x, y = instance.coords[i]
        e, lt = instance.time_windows[i]
        lines.append(f"{i:5d} {x:8.0f} {y:8.0f} {instance.demands[i]:8d} {e:8.0f} {lt:8.0f} "
                     f"{instance.service_times[i]:8.0f}")
    path.write_text("\n".join(lines) + "\n")


@requires_data("vrp", "vrptw", "Solomon", "R101.vrp")
def test_solomon_text_format_reads_like_the_vrplib_file(tmp_path) -> None:
    original = read_vrplib(data_dir() / "vrp" / "vrptw" / "Solomon" / "R101.vrp")
    path = tmp_path / "r101.txt"
    _write_solomon(path, original)
    ours = read_solomon(path)
    ref = vrplib.read_instance(path, instance_format="solomon")
    assert ours.name == original.name == "R101"
    assert ours.num_vehicles == ref["vehicles"] == 25 and ours.capacity == ref["capacity"] == 200
    np.testing.assert_array_equal(ours.coords, ref["node_coord"])
    np.testing.assert_array_equal(ours.demands, ref["demand"])
    np.testing.assert_array_equal(ours.time_windows, ref["time_window"])
    np.testing.assert_array_equal(ours.service_times, ref["service_time"])
    np.testing.assert_array_equal(ours.distances, original.distances)
    assert read_instance(path).name == "R101"
    sol = read_solution(data_dir() / "vrp" / "vrptw" / "Solomon" / "R101.sol")
    assert check_feasibility(ours, sol).objective == pytest.approx(1637.7)


def _explicit_file(path, fmt: str, weights: list[float], dim: int) -> None:
    per_line = dim if fmt == "FULL_MATRIX" else 7
    rows = [" ".join(f"{w:g}" for w in weights[k:k + per_line]) for k in range(0, len(weights), per_line)]
    demand = "\n".join(f"{i + 1} {0 if i == 0 else 1}" for i in range(dim))
    path.write_text(f"NAME : explicit\nTYPE : CVRP\nDIMENSION : {dim}\nCAPACITY : 3\n"
                    f"EDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : {fmt}\nEDGE_WEIGHT_SECTION\n"
                    + "\n".join(rows) + f"\nDEMAND_SECTION\n{demand}\nDEPOT_SECTION\n1\n-1\nEOF\n")


@pytest.mark.parametrize("fmt", ["FULL_MATRIX", "LOWER_ROW", "UPPER_ROW", "LOWER_DIAG_ROW", "UPPER_DIAG_ROW",
                                 "LOWER_COL", "UPPER_DIAG_COL"])
def test_explicit_matrix_formats(tmp_path, fmt: str) -> None:
    dim = 6
    rng = np.random.default_rng(3)
    full = rng.integers(1, 50, size=(dim, dim)).astype(float)
    full = full + full.T
    np.fill_diagonal(full, 0)
    diag = "DIAG" in fmt
    if fmt == "FULL_MATRIX":
        weights = full.reshape(-1).tolist()
    else:
        lower = fmt.startswith("LOWER") != fmt.endswith("_COL")
        k = 0 if diag else 1
        r, c = np.tril_indices(dim, -k) if lower else np.triu_indices(dim, k)
        weights = full[r, c].tolist()
    path = tmp_path / f"{fmt}.vrp"
    _explicit_file(path, fmt, weights, dim)
    ours = read_instance(path)
    np.testing.assert_array_equal(ours.distances, full)
    if fmt in ("FULL_MATRIX", "LOWER_ROW"):  # the formats the vrplib package reads
        np.testing.assert_array_equal(ours.distances, vrplib.read_instance(path)["edge_weight"])
    assert ours.rounding == "none" and ours.coords is None


def test_depot_not_first_becomes_node_zero(tmp_path) -> None:
    path = tmp_path / "d.vrp"
    path.write_text("NAME : d\nDIMENSION : 3\nCAPACITY : 10\nEDGE_WEIGHT_TYPE : EUC_2D\n"
                    "NODE_COORD_SECTION\n1 3 4\n2 0 0\n3 6 8\nDEMAND_SECTION\n1 2\n2 0\n3 5\n"
                    "DEPOT_SECTION\n2\n-1\nEOF\n")
    inst = read_vrplib(path)
    assert inst.client_ids.tolist() == [2, 1, 3]
    assert inst.demands.tolist() == [0, 2, 5]
    assert inst.distances[0].tolist() == [0, 5, 10]


def test_optional_fields_vehicles_distance_service_time(tmp_path) -> None:
    path = tmp_path / "o.vrp"
    path.write_text("NAME : o\nDIMENSION : 3\nCAPACITY : 10\nVEHICLES : 2\nDISTANCE : 40\nSERVICE_TIME : 5\n"
                    "EDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 3 4\n3 6 8\n"
                    "DEMAND_SECTION\n1 0\n2 1\n3 1\nDEPOT_SECTION\n1\n-1\nEOF\n")
    inst = read_vrplib(path)
    assert inst.num_vehicles == 2 and inst.max_route_duration == 40
    assert inst.service_times.tolist() == [0, 5, 5]


def test_solution_round_trip(tmp_path) -> None:
    solution = VrpSolution((np.array([3, 1]), np.array([], dtype=int), np.array([2, 5, 4])), 1234.5)
    path = tmp_path / "s.sol"
    write_solution(path, solution)
    assert path.read_text() == "Route #1: 3 1\nRoute #2: 2 5 4\nCost 1234.5\n"
    back = read_solution(path)
    assert [r.tolist() for r in back.routes] == [[3, 1], [2, 5, 4]] and back.objective == 1234.5
    ref = vrplib.read_solution(path)
    assert ref["cost"] == 1234.5 and [list(r) for r in ref["routes"]] == [[3, 1], [2, 5, 4]]


def test_best_known_values() -> None:
    if not (data_dir() / "vrp" / "bks.csv").is_file():
        assert best_known("X-n101-k25") is None
        return
    # the anchors of the data README
    assert best_known("X-n101-k25") == 27591
    assert best_known("X-n1001-k43") == 72355
    assert best_known("C101") == pytest.approx(827.3)
    assert best_known("R1_4_1") == pytest.approx(10305.8)
    assert best_known("no-such-instance") is None
    assert best_known("X-n101-k25", path="/nonexistent/bks.csv") is None


# --- errors ---------------------------------------------------------------------------------

def test_missing_file() -> None:
    with pytest.raises(DataNotFoundError, match="no such file"):
        read_instance("/nonexistent/X-n1-k1.vrp")
    with pytest.raises(DataNotFoundError):
        read_solution("/nonexistent/x.sol")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<NUMBER OF ZONES> 24\n<NUMBER OF NODES> 24\n<END OF METADATA>\n", "TNTP traffic file"),
        ("hello world\nthis is not an instance\n", "not a VRPLIB"),
        ("", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary content"),
    ],
)
def test_wrong_format_is_a_data_format_error(tmp_path, content: str | bytes, message: str) -> None:
    path = tmp_path / "x.vrp"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(DataFormatError, match=message):
        read_instance(path)


def test_folder_is_not_an_instance(tmp_path) -> None:
    with pytest.raises(DataFormatError, match="a folder"):
        read_instance(tmp_path)


_GOOD = ("NAME : t\nDIMENSION : 3\nCAPACITY : 10\nEDGE_WEIGHT_TYPE : EUC_2D\n"
         "NODE_COORD_SECTION\n1 0 0\n2 3 4\n3 6 8\nDEMAND_SECTION\n1 0\n2 4\n3 5\nDEPOT_SECTION\n1\n-1\nEOF\n")


@pytest.mark.parametrize(
    ("old", "new", "error", "message"),
    [
        ("2 4\n", "2 four\n", DataFormatError, r"x\.vrp:11: DEMAND_SECTION: not a number"),
        ("3 5\n", "", DataFormatError, r"x\.vrp:9: DEMAND_SECTION: 1 node\(s\) missing, first 3"),
        ("3 6 8\n", "7 6 8\n", DataFormatError, r"x\.vrp:8: NODE_COORD_SECTION: node 7 outside 1\.\.3"),
        ("CAPACITY : 10\n", "", DataFormatError, "CAPACITY: missing"),
        ("CAPACITY : 10\n", "CAPACITY : ten\n", DataFormatError, r"x\.vrp:3: CAPACITY: not a number"),
        ("EUC_2D", "GEO", DataFormatError, "EDGE_WEIGHT_TYPE: unsupported 'GEO'"),
        ("1\n-1\n", "1\n2\n-1\n", DataFormatError, "DEPOT_SECTION: 2 depots"),
        ("2 4\n", "2 -3\n", ValidationError, r"clients\[1\]\.demand: negative \(-3\)"),
        ("3 5\n", "3 50\n", ValidationError, r"clients\[2\]\.demand: 50 exceeds vehicle capacity 10"),
        ("2 3 4\n", "2 nan 4\n", ValidationError, r"clients\[1\]\.coords: not finite"),
    ],
)
def test_bad_vrplib_content(tmp_path, old: str, new: str, error: type, message: str) -> None:
    assert old in _GOOD
    path = tmp_path / "x.vrp"
    path.write_text(_GOOD.replace(old, new, 1))
    with pytest.raises(error, match=message):
        read_instance(path)


def test_unreachable_time_window_in_a_file(tmp_path) -> None:
    path = tmp_path / "tw.vrp"
    path.write_text(_GOOD.replace("DEPOT_SECTION", "TIME_WINDOW_SECTION\n1 0 100\n2 0 3\n3 0 100\nDEPOT_SECTION"))
    with pytest.raises(ValidationError, match=r"clients\[1\]\.time_window: unreachable: earliest arrival 5"):
        read_instance(path)


def test_bad_solomon_and_solution_files(tmp_path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("R0\n\nVEHICLE\nNUMBER CAPACITY\n 2 x\n\nCUSTOMER\nheader\n0 0 0 0 0 100 0\n")
    with pytest.raises(DataFormatError, match=r"s\.txt:5: VEHICLE: expected 'NUMBER CAPACITY'"):
        read_instance(path)
    path.write_text("R0\n\nVEHICLE\nNUMBER CAPACITY\n 2 10\n\nCUSTOMER\nheader\n0 0 0 0 0 100 0\n1 3 4 1 0\n")
    with pytest.raises(DataFormatError, match=r"s\.txt:10: CUSTOMER: expected 7 columns"):
        read_instance(path)
    sol = tmp_path / "x.sol"
    sol.write_text("Route #1: 1 2 x\nCost 3\n")
    with pytest.raises(DataFormatError, match=r"x\.sol:1: Route: not a client number"):
        read_solution(sol)
    sol.write_text("Route #1: 1 2\n")
    with pytest.raises(DataFormatError, match="Cost: missing"):
        read_solution(sol)


def test_generated_cost_convention_is_independent_of_reader() -> None:
    """The nint convention on a 3-4-5 triangle, by hand."""
    path_free = VrpSolution((np.array([1, 2]),), 0.0)
    from planner.vrp import VrpInstance

    inst = VrpInstance("t", np.r_[0, 1, 1], 5, coords=np.array([[0, 0], [3, 4], [3, 5.6]]), rounding="nint")
    # 5 + floor(1.6 + .5) + floor(sqrt(9 + 31.36) + .5) = 5 + 2 + 6
    assert solution_cost(inst, path_free.routes) == 5 + 2 + math.floor(math.hypot(3, 5.6) + 0.5)
