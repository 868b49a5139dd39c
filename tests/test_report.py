"""Reports: tables (best per row, means) against values computed here, figures per family, the
Markdown summary, input errors, and the HTML page rendered in headless Chromium."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from planner.batch import BatchTask, make_tasks, run_batch, solve_task
from planner.batch.inputs import BatchInput
from planner.bench.records import BenchRecord, write_records
from planner.errors import DataFormatError, DataNotFoundError
from planner.report import build_report, load_inputs
from planner.report import figures as report_figures
from planner.report.tables import instance_table
from tests.conftest import ON_CI, requires_data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]

# objective per (instance, solver, budget): ga improves with time, ortools fails once
VRP = {
    ("I1", "ga", 1.0): 110.0, ("I1", "ga", 5.0): 104.0, ("I1", "ortools", 1.0): 120.0, ("I1", "ortools", 5.0): 101.0,
    ("I2", "ga", 1.0): 205.0, ("I2", "ga", 5.0): 201.0, ("I2", "ortools", 1.0): 230.0, ("I2", "ortools", 5.0): None,
}
BKS = {"I1": 100.0, "I2": 200.0}


def _vrp_records() -> list[BenchRecord]:
    out = []
    for (inst, solver, budget), obj in VRP.items():
        metrics = {"objective": obj, "gap_pct": None if obj is None else 100 * (obj - BKS[inst]) / BKS[inst],
                   "wall_s": budget, "feasible": obj is not None}
        if obj is None:
            metrics["error"] = "InfeasibleError: no solution"
        out.append(BenchRecord("vrp", "toy", inst, solver, 1, budget, solver == "ortools", metrics))
    return out


def _other_records() -> list[BenchRecord]:
    rec = []
    for solver, p50, p99 in (("ch", 0.02, 0.09), ("scipy", 2.0, 5.0)):
        rec.append(BenchRecord("paths", "osm", "monaco", solver, 0, None, solver == "scipy",
                               {"p50_ms": p50, "p99_ms": p99, "preprocess_s": 1.0, "mismatches": 0,
                                "latencies_ms": [p50 * f for f in (0.5, 0.8, 1.0, 1.2, 4.0)]}))
    for solver, walls in (("bfw", (0.05, 0.2)), ("gradient-projection", (0.02, 0.04))):
        for gap, wall in zip((1e-4, 1e-6), walls, strict=True):
            rec.append(BenchRecord("assignment", "tntp", "SiouxFalls", solver, None, 30.0, False,
                                   {"target_gap": gap, "reached_gap": gap * 0.9, "iterations": 10, "wall_s": wall,
                                    "objective": 42.0, "rel_diff_best": 1e-6}))
    for solver, cong in (("ecmp", 1.8), ("mwu", 1.1)):
        rec.append(BenchRecord("fabric", "leaf-spine", "ls-4x8", solver, 0, None, False,
                               {"max_congestion": cong, "lp_optimum": 1.0, "pieces_max": 4, "wall_s": 0.1}))
    for planner, ratio in (("rrt*", 1.3), ("fmt*", 1.1)):
        for budget in (0.1, 0.5):
            rec.append(BenchRecord("planners", "maze", "maze", planner, 0, budget, False,
                                   {"cost": 10 * ratio / budget ** 0.1, "cost_ratio": ratio / budget ** 0.1,
                                    "wall_s": budget, "collision_free": True}))
    rec.append(BenchRecord("widgets", "w", "w1", "spinner", 0, None, False, {"spin_rate": 3.5, "colour": "red"}))
    return rec


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("records")
    vrp = write_records(folder / "vrp.json", _vrp_records())
    other = write_records(folder / "other.json", _other_records())
    batch = folder / "batch"
    run_batch(make_tasks([BatchInput(f"gen:cvrp:n=25,seed={k}", "gen") for k in (1, 2)], "ga",
                         max_iterations=40, seed=1), batch, executor=_Inline())
    return [vrp, other, batch]


class _Inline:
    def run(self, tasks):
        for task in tasks:
            yield task, solve_task(task)


@pytest.fixture(scope="module")
def report(inputs, tmp_path_factory):
    return build_report(inputs, tmp_path_factory.mktemp("report"), title="test report")


def test_instance_table_marks_the_best_and_means_complete_rows():
    records = [r.to_json() for r in _vrp_records()]
    table = instance_table("vrp", "toy", records)
    assert table.columns == ("instance", "condition", "ga", "ortools")
    rows = {(r[0].text, r[1].text): r for r in table.rows[: len(table.rows) - table.summary_rows]}
    for (inst, cond), row in rows.items():
        budget = float(cond.split()[0])
        gaps = {s: (VRP[(inst, s, budget)] - BKS[inst]) / BKS[inst] * 100 for s in ("ga", "ortools")
                if VRP[(inst, s, budget)] is not None}
        best = min(gaps, key=gaps.get)
        cells = dict(zip(("ga", "ortools"), row[2:], strict=True))
        assert [s for s, c in cells.items() if c.best] == ([best] if len(gaps) == 2 else [])
        assert cells["ga"].value == pytest.approx(gaps["ga"])
    assert rows[("I2", "5 s")][3].text == "failed"
    mean_row = table.rows[-2]
    complete = [(k[0], k[2]) for k in VRP if VRP[(k[0], "ortools", k[2])] is not None and k[1] == "ortools"]
    want = {s: statistics.fmean(100 * (VRP[(i, s, b)] - BKS[i]) / BKS[i] for i, b in complete)
            for s in ("ga", "ortools")}
    assert mean_row[2].value == pytest.approx(want["ga"]) and mean_row[3].value == pytest.approx(want["ortools"])
    assert mean_row[2].best is (want["ga"] < want["ortools"])
    wins = table.rows[-1]
    assert [c.text for c in wins[2:]] == ["2", "1"]


def test_performance_profile_is_dolan_more():
    records = [r.to_json() for r in _vrp_records()]
    fig = report_figures.performance_profile(records)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    # ga: ratios 110/110, 104/101, 205/205, 201/201 (ortools failed) -> 3 of 4 at tau = 1
    ga = lines["ga"].get_ydata()
    assert ga[0] == pytest.approx(0.75) and ga[-1] == pytest.approx(1.0)
    ortools = lines["ortools"].get_ydata()
    assert ortools[0] == pytest.approx(0.25) and ortools[-1] == pytest.approx(0.75)


def test_report_files_and_markdown(report, inputs):
    names = {p.name for p in report.figures}
    for expected in ("vrp-gap-vs-time.png", "vrp-performance-profile.png", "paths-latency-cdf.png",
                     "assignment-convergence.png", "fabric-congestion.png", "planners-cost.png"):
        assert expected in names
    assert any(n.startswith("routes-gen-cvrp") for n in names)
    for path in report.figures:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.records == len(_vrp_records()) + len(_other_records()) + 2
    md = report.markdown.read_text()
    for heading in ("## Vehicle routing", "## Road routing: point-to-point queries", "## Traffic assignment",
                    "## Fabric routing", "## Motion planners", "## Family 'widgets'", "### toy: gap to best-known"):
        assert heading in md
    for link in md.split("](")[1:]:
        target = link.split(")")[0]
        if target.endswith(".png"):
            assert (report.markdown.parent / target).is_file()
    assert "| I1 | 1 s | **10** | 20 |" in md
    assert "| w1 | spinner | 0 | – | 3.5 | red |" in md  # unknown family: listed generically


def test_bad_inputs(tmp_path):
    with pytest.raises(DataNotFoundError):
        load_inputs([tmp_path / "absent.json"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"family": "vrp", "suite": "s"}]))
    with pytest.raises(DataFormatError, match="lacks"):
        load_inputs([bad])
    bad.write_text("{not json")
    with pytest.raises(DataFormatError):
        load_inputs([bad])
    one = tmp_path / "one.json"
    one.write_text(json.dumps(solve_task(BatchTask("gen:cvrp:n=12,seed=3", "gen", "savings"))))
    loaded = load_inputs([one])
    assert len(loaded.records) == 1 and len(loaded.route_maps) == 1


@requires_data("vrp", "vrptw", "Solomon", "C101.vrp")
def test_reads_what_bench_vrp_writes(tmp_path):
    from planner.bench.vrp import bench_vrp

    _, records = bench_vrp("solomon", ["savings"], [0.5], 1)
    path = write_records(tmp_path / "bench.json", records)
    files = build_report([path], tmp_path / "out")
    md = files.markdown.read_text()
    assert "### solomon: gap to best-known (%) per instance" in md
    for r in records:
        assert f"| {r.instance} |" in md


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.best = 0
        self.images: list[str] = []
        self.sections: list[str] = []
        self.body_attrs: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append(a.get("data-title", ""))
        elif tag == "td" and "best" in (a.get("class") or ""):
            self.best += 1
        elif tag == "img":
            self.images.append(a.get("src", ""))
        elif tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "body":
            self.body_attrs = {k: v or "" for k, v in a.items()}


def _chromium_dom(page: Path, tmp_path: Path) -> str:
    if CHROMIUM is None:
        if ON_CI:
            pytest.fail("chromium is not installed (.ci/run installs the Debian package)")
        pytest.skip("chromium is not installed")
    run = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_html_in_headless_chromium(report, tmp_path):
    html = report.html.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html  # self-contained
    # a copy of the page that records, once loaded, the decoded size of every image
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", "<script>window.addEventListener('load', () => {"
                                  "document.body.dataset.widths = Array.from(document.images)"
                                  ".map(i => i.naturalWidth).join(',');});</script></body>"))
    dom = _Dom()
    dom.feed(_chromium_dom(probe, tmp_path))
    assert {"vrp", "paths", "assignment", "fabric", "planners", "widgets", "routes"} <= set(dom.sections)
    assert any(t.startswith("toy: gap to best-known") for t in dom.tables)
    assert any(t.startswith("tntp:") for t in dom.tables) and any(t.startswith("widgets") for t in dom.tables)
    assert len(dom.tables) >= 10 and dom.best >= 5
    assert len(dom.images) == len(report.figures)
    assert all(src.startswith("data:image/png;base64,") for src in dom.images)
    widths = [int(w) for w in dom.body_attrs.get("data-widths", "").split(",") if w]
    assert len(widths) == len(report.figures) and min(widths) > 100  # every PNG decoded by the browser
