"""``routeplanner bench paths``: contraction-hierarchy queries and matrices against Dijkstra codes.

One run measures, on the same random OD pairs of one road network:

* ``ch`` — our contraction hierarchy (numba), cost-only queries (``p50_ms``/``p99_ms``) and full
  routes with shortcut unpacking (``route_p50_ms``); preprocessing time, cache load time and the
  time to apply a new cost vector (``reweight_s``);
* ``scipy`` — ``scipy.sparse.csgraph.dijkstra`` single-source per pair (the exactness oracle:
  every CH cost is compared with it, ``mismatches``);
* ``cch`` — customizable CH on a nested dissection order: topology time (``preprocess_s``), time to
  apply a new cost vector (``reweight_s``) and queries on those new costs (checked on a sample);
* ``networkx`` — ``networkx.bidirectional_dijkstra`` on the first ``baseline_pairs`` pairs;
* ``rustworkx`` — ``digraph_dijkstra_shortest_path_lengths`` with a goal, when installed.

Matrices (family ``matrix``): CH buckets for each size, scipy Dijkstra rows for the sizes up to
``scipy_matrix_max``. Timings compare only within one run.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from planner.bench.records import BenchRecord
from planner.graph.road import RoadNetwork

#: Relative tolerance under which two path costs count as identical (float summation order).
COST_RTOL = 1e-9

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _percentiles(samples_s: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(samples_s) * 1e3
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def _mismatches(got: np.ndarray, want: np.ndarray) -> int:
    same = np.isclose(got, want, rtol=COST_RTOL, atol=0.0) | (np.isinf(got) & np.isinf(want))
    return int(np.count_nonzero(~same))


def bench_paths(network: RoadNetwork, *, pairs: int = 1000, baseline_pairs: int = 100, seed: int = 0,
                weight: str = "travel_time", matrix_sizes: Sequence[int] = (100, 1000),
                scipy_matrix_max: int = 100, rebuild: bool = False, suite: str = "osm",
                progress: Progress = _quiet) -> list[BenchRecord]:
    """Measure CH queries, matrices and reweighting against Dijkstra baselines in one run.

    Parameters
    ----------
    network
        The road network.
    pairs
        Random OD pairs for CH and scipy (every pair's CH cost is checked against scipy).
    baseline_pairs
        How many of those pairs the slower peers (networkx, rustworkx) run.
    seed
        Seed of the pairs, matrix points and the reweighting noise.
    weight
        Edge attribute to minimise.
    matrix_sizes
        Square matrix sizes to time (points drawn at random).
    scipy_matrix_max
        Largest size for which the scipy matrix is timed and compared too.
    rebuild
        Contract again instead of reading the hierarchy from the cache (the cache is rewritten).
    suite
        Suite name in the records.
    progress
        Called with a short line before each stage.

    Returns
    -------
    list[BenchRecord]
        Records of family ``paths`` (one per solver) and ``matrix`` (one per solver and size).
    """
    from solvers.paths.ch import ContractionHierarchy, cache_path, load_or_build
    from solvers.paths.dijkstra import DijkstraRouter

    graph = network.graph
    name = network.name
    rng = np.random.default_rng(seed)
    od = rng.integers(0, graph.n_nodes, size=(pairs, 2))
    records: list[BenchRecord] = []

    def record(family: str, solver: str, baseline: bool, metrics: dict[str, object]) -> None:
        records.append(BenchRecord(family, suite, name, solver, seed, None, baseline, metrics))

    progress("contraction hierarchy: preprocessing / cache")
    start = time.perf_counter()
    if rebuild:
        ch = ContractionHierarchy.build(graph, weight)
        ch.save(cache_path(graph, weight))
    else:
        ch = load_or_build(graph, weight)
    start_s = time.perf_counter() - start

    progress(f"scipy single-source Dijkstra on {pairs} pairs")
    router = DijkstraRouter(graph, weight)
    from scipy.sparse import csgraph

    want = np.empty(pairs)
    times: list[float] = []
    for i, (s, t) in enumerate(od):
        t0 = time.perf_counter()
        dist = csgraph.dijkstra(router.matrix, directed=True, indices=int(s))
        times.append(time.perf_counter() - t0)
        want[i] = dist[t]
    p50, p99 = _percentiles(times)
    record("paths", "scipy", True, {"p50_ms": p50, "p99_ms": p99, "preprocess_s": 0.0, "mismatches": 0,
                                    "pairs": pairs})

    progress(f"CH queries on {pairs} pairs")
    for s, t in od[:20]:  # warm the compiled kernels and caches
        ch.distance(int(s), int(t))
    got = np.empty(pairs)
    times = []
    cpu_times = []  # thread CPU time: the query's own cost, without preemption by other processes
    for i, (s, t) in enumerate(od):
        t0 = time.perf_counter()
        c0 = time.thread_time()
        got[i] = ch.distance(int(s), int(t))
        cpu_times.append(time.thread_time() - c0)
        times.append(time.perf_counter() - t0)
    p50, p99 = _percentiles(times)
    cpu_p50, cpu_p99 = _percentiles(cpu_times)
    route_times = []
    for s, t in od:
        if math.isfinite(ch.distance(int(s), int(t))):
            t0 = time.perf_counter()
            ch.shortest_path(int(s), int(t))
            route_times.append(time.perf_counter() - t0)
    route_p50, route_p99 = _percentiles(route_times or [math.nan])

    progress("CH reweighting (new cost vector, same order)")
    noise = np.random.default_rng(seed + 1).uniform(0.8, 1.5, graph.n_edges)
    new_weights = graph.edge_attr(weight) * noise
    t0 = time.perf_counter()
    reweighted = ch.reweighted(new_weights)
    reweight_s = time.perf_counter() - t0
    check = od[: min(pairs, 50)]
    want_rw = DijkstraRouter(graph.with_edge_attrs(_bench_reweighted=new_weights), "_bench_reweighted")
    rw_mismatches = _mismatches(np.array([reweighted.distance(int(s), int(t)) for s, t in check]),
                                np.array([want_rw.one_to_many(int(s), [int(t)])[0] for s, t in check]))
    record("paths", "ch", False, {
        "p50_ms": p50, "p99_ms": p99, "preprocess_s": ch.preprocess_s, "mismatches": _mismatches(got, want),
        "pairs": pairs, "cpu_p50_ms": cpu_p50, "cpu_p99_ms": cpu_p99, "load_avg_1m": os.getloadavg()[0],
        "route_p50_ms": route_p50, "route_p99_ms": route_p99, "start_s": start_s,
        "from_cache": ch.from_cache, "shortcuts": ch.arcs.n_shortcuts, "reweight_s": reweight_s,
        "reweight_mismatches": rw_mismatches, "reweight_checked": int(check.shape[0]),
    })

    progress("customizable CH: nested dissection topology, then customisation with the new costs")
    from solvers.paths.cch import CustomizableHierarchy

    t0 = time.perf_counter()
    cch = CustomizableHierarchy.build(graph, weight)
    topology_s = time.perf_counter() - t0
    cch.customize()  # first customisation (compiles the kernel)
    t0 = time.perf_counter()
    custom = cch.customize(new_weights)
    customize_s = time.perf_counter() - t0
    got_c = np.empty(pairs)
    times = []
    for i, (s, t) in enumerate(od):
        t0 = time.perf_counter()
        got_c[i] = custom.distance(int(s), int(t))
        times.append(time.perf_counter() - t0)
    p50, p99 = _percentiles(times)
    check_c = np.array([want_rw.one_to_many(int(s), [int(t)])[0] for s, t in od[:min(pairs, 100)]])
    record("paths", "cch", False, {
        "p50_ms": p50, "p99_ms": p99, "preprocess_s": topology_s, "mismatches": _mismatches(got_c[:check_c.size],
                                                                                            check_c),
        "pairs": pairs, "checked_pairs": int(check_c.size), "reweight_s": customize_s, "edges": cch.n_edges,
        "metric": "travel_time x U(0.8, 1.5) noise",
    })

    sub = od[:min(baseline_pairs, pairs)]
    progress(f"networkx bidirectional Dijkstra on {sub.shape[0]} pairs")
    import networkx as nx

    t0 = time.perf_counter()
    nxg = graph.to_networkx()
    nx_build = time.perf_counter() - t0
    ids = graph.node_ids
    got_nx = np.empty(sub.shape[0])
    times = []
    for i, (s, t) in enumerate(sub):
        t0 = time.perf_counter()
        try:
            got_nx[i] = nx.bidirectional_dijkstra(nxg, ids[s].item(), ids[t].item(), weight=weight)[0]
        except nx.NetworkXNoPath:
            got_nx[i] = math.inf
        times.append(time.perf_counter() - t0)
    p50, p99 = _percentiles(times)
    record("paths", "networkx", True, {"p50_ms": p50, "p99_ms": p99, "preprocess_s": nx_build,
                                       "mismatches": _mismatches(got_nx, want[:sub.shape[0]]),
                                       "pairs": int(sub.shape[0])})
    del nxg

    try:
        import rustworkx as rx
    except ImportError:
        progress("rustworkx not installed: skipped")
    else:
        progress(f"rustworkx Dijkstra on {sub.shape[0]} pairs")
        t0 = time.perf_counter()
        rxg = rx.PyDiGraph(multigraph=False)
        rxg.add_nodes_from(range(graph.n_nodes))
        m = router.matrix.tocoo()
        rxg.extend_from_weighted_edge_list(list(zip(m.row.tolist(), m.col.tolist(), m.data.tolist(), strict=True)))
        rx_build = time.perf_counter() - t0
        got_rx = np.empty(sub.shape[0])
        times = []
        for i, (s, t) in enumerate(sub):
            t0 = time.perf_counter()
            lengths = rx.digraph_dijkstra_shortest_path_lengths(rxg, int(s), float, goal=int(t))
            times.append(time.perf_counter() - t0)
            got_rx[i] = 0.0 if s == t else dict(lengths).get(int(t), math.inf)
        p50, p99 = _percentiles(times)
        record("paths", "rustworkx", True, {"p50_ms": p50, "p99_ms": p99, "preprocess_s": rx_build,
                                            "mismatches": _mismatches(got_rx, want[:sub.shape[0]]),
                                            "pairs": int(sub.shape[0])})

    ch.distance_matrix(od[:4, 0])  # compile outside the timing
    for size in matrix_sizes:
        points = rng.integers(0, graph.n_nodes, size)
        progress(f"CH matrix {size}x{size}")
        t0 = time.perf_counter()
        table = ch.distance_matrix(points)
        ch_ms = (time.perf_counter() - t0) * 1e3
        rows = points[: min(size, 20)]
        ref = router.distance_matrix(rows, points)
        record("matrix", "ch", False, {"size": size, "wall_ms": ch_ms,
                                       "mismatches_sampled": _mismatches(table[: rows.size], ref),
                                       "rows_checked": int(rows.size)})
        if size <= scipy_matrix_max:
            progress(f"scipy matrix {size}x{size}")
            t0 = time.perf_counter()
            ref_full = router.distance_matrix(points)
            record("matrix", "scipy", True, {"size": size, "wall_ms": (time.perf_counter() - t0) * 1e3,
                                             "mismatches": _mismatches(table, ref_full)})
    return records
