"""Road routing commands: ``routeplanner route``, ``routeplanner matrix`` and ``routeplanner bench paths``."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from planner.commands._output import console, err_console, print_rows, print_summary
from planner.errors import DataFormatError, ValidationError


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``route``, ``matrix`` and ``bench paths``."""
    app.command("route")(route_command)
    app.command("matrix")(matrix_command)
    bench_app.command("paths")(bench_paths_command)


NetworkArg = Annotated[str, typer.Argument(help="City of the data directory (monaco, heidelberg, porto) or an "
                                                "OSM XML file.")]
SimplifyOpt = Annotated[bool, typer.Option("--simplify/--no-simplify",
                                           help="Merge degree-2 chains (default: the full, unsimplified network).")]
WeightOpt = Annotated[str, typer.Option(help="Edge attribute to minimise: travel_time or length.")]


def parse_lat_lon(text: str, field: str) -> tuple[float, float]:
    """``"41.15,-8.61"`` as ``(lat, lon)``.

    Raises
    ------
    ValidationError
        If the text is not two numbers separated by a comma, or out of range.
    """
    parts = text.split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise ValidationError(field, f"expected LAT,LON, got {text!r}") from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValidationError(field, f"latitude/longitude out of range ({lat}, {lon})")
    return lat, lon


def read_points_csv(path: Path) -> np.ndarray:
    """``(n, 2)`` (lat, lon) points of a CSV file: columns ``lat``/``lon`` (any case; also
    ``latitude``/``longitude``) under a header, or the first two columns without one.

    Raises
    ------
    DataFormatError
        If the file cannot be read or a row is not two numbers.
    """
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except OSError as exc:
        raise DataFormatError(path, f"cannot read ({exc})") from exc
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise DataFormatError(path, "no points")
    cols, start = (0, 1), 0
    header = [c.strip().lower() for c in rows[0]]
    if not _is_number(header[0]):
        names = {name: i for i, name in enumerate(header)}
        lat = names.get("lat", names.get("latitude"))
        lon = names.get("lon", names.get("lng", names.get("longitude")))
        if lat is None or lon is None:
            raise DataFormatError(path, f"header needs lat and lon columns (has {', '.join(header)})", 1)
        cols, start = (lat, lon), 1
    points = []
    for line, row in enumerate(rows[start:], start=start + 1):
        try:
            points.append((float(row[cols[0]]), float(row[cols[1]])))
        except (ValueError, IndexError):
            raise DataFormatError(path, f"expected two numbers (lat, lon), got {row!r}", line) from None
    return np.asarray(points, dtype=np.float64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _network(network: str, simplify: bool) -> Any:
    from datasets.osm import read_osm

    return read_osm(network, simplify=simplify)


CostOpt = Annotated[str | None, typer.Option(help="Link cost model: time, length or mix (time plus 0.1 s per "
                                                "metre); default: the --weight attribute.")]
AvoidOpt = Annotated[list[str] | None, typer.Option(help="Avoid a road class (motorway, trunk, primary, any OSM "
                                                        "highway class) or toll; repeatable.")]


def routing_hierarchy(road: Any, weight: str, cost: str | None, avoid: list[str] | None) -> Any:
    """The hierarchy a request routes on: the cached CH of ``weight`` for a plain request, else
    the cached customizable CH customised with the request's :class:`LinkCostModel` costs.

    Raises
    ------
    ValidationError
        For an unknown cost name or road class.
    """
    from solvers.paths.ch import load_or_build

    if cost is None and not avoid:
        return load_or_build(road.graph, weight)
    from solvers.paths.cch import CustomizableHierarchy
    from solvers.paths.link_costs import LinkCostModel

    default = "length" if weight == "length" else "time"
    model = LinkCostModel.from_request(cost or default, avoid or ())
    costs = model.costs(road)
    return CustomizableHierarchy.load_or_build(road.graph, weight).customize(costs)


def route_command(
    network: NetworkArg,
    origin: Annotated[str, typer.Option("--from", help="Origin as LAT,LON.")],
    destination: Annotated[str, typer.Option("--to", help="Destination as LAT,LON.")],
    alternatives: Annotated[int, typer.Option(help="Routes wanted, the optimum included (alternatives by "
                                                   "penalised search with stretch/sharing/local-optimality "
                                                   "filters).")] = 1,
    weight: WeightOpt = "travel_time",
    cost: CostOpt = None,
    avoid: AvoidOpt = None,
    simplify: SimplifyOpt = False,
    geojson: Annotated[Path | None, typer.Option(help="Write the route (a Feature) or the routes (a "
                                                      "FeatureCollection) as GeoJSON here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fastest (or shortest, or personalised) route between two points, snapped onto the nearest
    roads, optionally with alternatives."""
    import time

    from planner.graph.spatial import SpatialIndex
    from solvers.paths.snapped import point_route, snap_point

    if alternatives < 1:
        raise ValidationError("alternatives", f"must be at least 1 ({alternatives})")
    src_ll, dst_ll = parse_lat_lon(origin, "from"), parse_lat_lon(destination, "to")
    road = _network(network, simplify)
    with console.status("snapping and preparing the hierarchy…"):
        index = SpatialIndex(road)
        a, b = snap_point(index, src_ll, "from"), snap_point(index, dst_ll, "to")
        hierarchy = routing_hierarchy(road, weight, cost, avoid)
        hierarchy.distance(0, 0)  # load the compiled kernels outside the timing
    start = time.perf_counter()
    best = point_route(road, hierarchy, a, b)
    query_ms = (time.perf_counter() - start) * 1e3
    routes = [best]
    alt_ms = 0.0
    if alternatives > 1 and not best.direct:
        from solvers.paths.alternatives import AlternativeParameters, AlternativeRouter

        router = AlternativeRouter(hierarchy, AlternativeParameters(k=alternatives))
        start = time.perf_counter()
        found = router.alternatives(best.route.source, best.route.target)
        alt_ms = (time.perf_counter() - start) * 1e3
        routes += [point_route(road, hierarchy, a, b, r) for r in found.routes[1:]]
    summary: dict[str, Any] = {
        "network": road.name, "from_edge": best.first_edge, "from_fraction": round(best.first_fraction, 4),
        "from_snap_m": round(a.distance_m, 1), "to_edge": best.last_edge,
        "to_fraction": round(best.last_fraction, 4), "to_snap_m": round(b.distance_m, 1),
        "weight": cost or weight, "avoid": ",".join(avoid or []) or "-", "cost": best.cost,
        "length_m": best.route.length_m, "travel_time_s": best.route.travel_time_s, "edges": best.route.n_edges,
        "query_ms": query_ms,
    }
    if alternatives > 1:
        summary["routes"] = len(routes)
        summary["alternatives_ms"] = alt_ms
        summary["route_costs"] = ", ".join(f"{r.cost:.1f}" for r in routes)
    if geojson is not None:
        features = [r.to_geojson(road, {"rank": i}) for i, r in enumerate(routes)]
        doc = features[0] if alternatives == 1 else {"type": "FeatureCollection", "features": features}
        geojson.write_text(json.dumps(doc))
        summary["geojson"] = str(geojson)
    print_summary("Route", summary, as_json)


def matrix_command(
    network: NetworkArg,
    points: Annotated[Path, typer.Argument(help="CSV of points: lat,lon columns (header optional).")],
    weight: WeightOpt = "travel_time",
    cost: CostOpt = None,
    avoid: AvoidOpt = None,
    simplify: SimplifyOpt = False,
    out: Annotated[Path | None, typer.Option(help="Write the matrix as CSV here (default: standard output).")] = None,
) -> None:
    """Travel-time (or distance, or personalised cost) matrix between every pair of points (each
    snapped to its nearest node), by CH buckets."""
    import time

    from planner.graph.spatial import SpatialIndex

    pts = read_points_csv(points)
    road = _network(network, simplify)
    nodes, _ = SpatialIndex(road).nearest_nodes(pts)
    ch = routing_hierarchy(road, weight, cost, avoid)
    ch.distance_matrix(nodes[:1])  # load the compiled kernels outside the timing
    start = time.perf_counter()
    table = ch.distance_matrix(nodes)
    wall_ms = (time.perf_counter() - start) * 1e3
    handle = out.open("w", newline="") if out is not None else sys.stdout
    try:
        writer = csv.writer(handle)
        for row in table:
            writer.writerow(["inf" if not np.isfinite(v) else f"{v:.3f}" for v in row])
    finally:
        if out is not None:
            handle.close()
    err_console.print(f"{table.shape[0]}x{table.shape[1]} {weight} matrix in {wall_ms:.1f} ms")


def bench_paths_command(
    network: NetworkArg,
    pairs: Annotated[int, typer.Option(help="Random OD pairs (CH and scipy; every CH cost checked).")] = 1000,
    baseline_pairs: Annotated[int, typer.Option(help="Pairs for networkx and rustworkx (slow).")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    weight: WeightOpt = "travel_time",
    simplify: SimplifyOpt = False,
    matrix_sizes: Annotated[str, typer.Option(help="Comma-separated square matrix sizes.")] = "100,1000",
    rebuild: Annotated[bool, typer.Option(help="Contract again instead of using the cache.")] = False,
    alt_pairs: Annotated[int, typer.Option(help="OD pairs for our alternative routes (0: skip alternatives).")] = 1000,
    alt_baseline_pairs: Annotated[int, typer.Option(help="OD pairs for the penalty-loop and via-node "
                                                         "baselines.")] = 200,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the records here.")] = None,
) -> None:
    """Contraction-hierarchy queries and matrices against scipy, networkx and rustworkx."""
    from planner.bench.paths import bench_alternatives, bench_paths
    from planner.bench.records import write_records

    if pairs < 1 or baseline_pairs < 0:
        raise ValidationError("pairs", "need at least one pair")
    try:
        sizes = [int(s) for s in matrix_sizes.split(",") if s.strip()]
    except ValueError:
        raise ValidationError("matrix_sizes", f"expected integers, got {matrix_sizes!r}") from None
    road = _network(network, simplify)
    with console.status("benchmarking…") as status:
        records = bench_paths(road, pairs=pairs, baseline_pairs=baseline_pairs, seed=seed, weight=weight,
                              matrix_sizes=sizes, rebuild=rebuild, progress=status.update)
        if alt_pairs > 0:
            records += bench_alternatives(road, pairs=alt_pairs, baseline_pairs=min(alt_baseline_pairs, alt_pairs),
                                          seed=seed, weight=weight, progress=status.update)
    keys = ("p50_ms", "p99_ms", "preprocess_s", "mismatches", "pairs")
    rows = []
    ch_p50 = next(r.metrics["p50_ms"] for r in records if r.family == "paths" and r.solver == "ch")
    for r in records:
        if r.family == "paths":
            rows.append({"solver": r.solver, **{k: r.metrics[k] for k in keys},
                         "p50 / ch": r.metrics["p50_ms"] / ch_p50})
    print_rows(f"Point-to-point queries on {road.name} ({road.n_nodes:,} nodes)", rows)
    ch_rec = next(r for r in records if r.family == "paths" and r.solver == "ch")
    print_rows("CH details", [{k: ch_rec.metrics[k] for k in (
        "cpu_p50_ms", "cpu_p99_ms", "load_avg_1m", "route_p50_ms", "route_p99_ms", "start_s", "from_cache",
        "shortcuts", "reweight_s", "reweight_mismatches")}])
    cch_rec = next((r for r in records if r.family == "paths" and r.solver == "cch"), None)
    if cch_rec is not None:
        print_rows("Reweighting", [
            {"method": "ch re-contraction (same order)", "reweight_s": ch_rec.metrics["reweight_s"],
             "mismatches": ch_rec.metrics["reweight_mismatches"]},
            {"method": "cch customisation", "reweight_s": cch_rec.metrics["reweight_s"],
             "mismatches": cch_rec.metrics["mismatches"]},
        ])
    print_rows("Matrices", [{"solver": r.solver, "size": r.metrics["size"], "wall_ms": r.metrics["wall_ms"],
                             "mismatches": r.metrics.get("mismatches", r.metrics.get("mismatches_sampled"))}
                            for r in records if r.family == "matrix"])
    alt_keys = ("success_2_pct", "success_3_pct", "valid_pct", "p50_ms", "cpu_p50_ms", "p90_ms", "mean_stretch",
                "mean_sharing", "mean_jaccard", "mean_iterations", "pairs")
    alt_rows = [{"method": r.solver, "baseline": r.baseline, **{k: r.metrics[k] for k in alt_keys}}
                for r in records if r.family == "alternatives"]
    if alt_rows:
        print_rows(f"Alternatives (k=3, stretch <= 1.25, sharing <= 0.75, T = 25 %) on {road.name}", alt_rows)
    if json_out is not None:
        write_records(json_out, records)
        console.print(f"wrote {len(records)} records to {json_out}")
