"""``routeplanner bench paths``: contraction-hierarchy queries and matrices against Dijkstra codes.

One run measures, on the same random OD pairs of one road network:

* ``ch`` — our contraction hierarchy (numba), cost-only queries (``p50_ms``/``p99_ms``) and full
  routes with shortcut unpacking (``route_p50_ms``); preprocessing time, cache load time and the
  time to apply a new cost vector (``reweight_s``);
* ``scipy`` — ``scipy.sparse.csgraph.dijkstra`` single-source per pair (the exactness oracle:
  every CH cost is compared with it, ``mismatches``);
* ``cch`` — customizable CH on a nested dissection order: topology time (``preprocess_s``), time to
  apply a new cost vector into fresh arrays (``reweight_s``) and in place into an earlier
  customisation (``reweight_inplace_s``, median of 5; CPU times beside), and queries on those new
  costs (checked on a sample, the in-place result too);
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
    c0 = time.thread_time()
    custom = cch.customize(new_weights)
    customize_s = time.perf_counter() - t0
    customize_cpu_s = time.thread_time() - c0
    # in place (the frequent-update path): median of 5 cost vectors, the last one the benchmark's
    scratch = cch.customize()
    inplace, inplace_cpu = [], []
    for r in range(5):
        w_r = new_weights if r == 4 else graph.edge_attr(weight) * np.random.default_rng(seed + 2 + r).uniform(
            0.8, 1.5, graph.n_edges)
        t0 = time.perf_counter()
        c0 = time.thread_time()
        cch.customize(w_r, into=scratch)
        inplace_cpu.append(time.thread_time() - c0)
        inplace.append(time.perf_counter() - t0)
    got_c = np.empty(pairs)
    times = []
    for i, (s, t) in enumerate(od):
        t0 = time.perf_counter()
        got_c[i] = custom.distance(int(s), int(t))
        times.append(time.perf_counter() - t0)
    p50, p99 = _percentiles(times)
    check_c = np.array([want_rw.one_to_many(int(s), [int(t)])[0] for s, t in od[:min(pairs, 100)]])
    got_inplace = np.array([scratch.distance(int(s), int(t)) for s, t in od[:check_c.size]])
    record("paths", "cch", False, {
        "p50_ms": p50, "p99_ms": p99, "preprocess_s": topology_s, "mismatches": _mismatches(got_c[:check_c.size],
                                                                                            check_c),
        "pairs": pairs, "checked_pairs": int(check_c.size), "reweight_s": customize_s,
        "reweight_cpu_s": customize_cpu_s, "reweight_inplace_s": float(np.median(inplace)),
        "reweight_inplace_cpu_s": float(np.median(inplace_cpu)),
        "reweight_inplace_mismatches": _mismatches(got_inplace, check_c), "edges": cch.n_edges,
        "triangles": cch.n_triangles, "load_avg_1m": os.getloadavg()[0], "metric": "travel_time x U(0.8, 1.5) noise",
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


def _jaccard(costs: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Cost-weighted Jaccard similarity of two routes' edge sets."""
    ua, ub = np.unique(a), np.unique(b)
    inter = np.intersect1d(ua, ub, assume_unique=True)
    union = np.union1d(ua, ub)
    total = float(costs[union].sum())
    return float(costs[inter].sum()) / total if total > 0 else 1.0


def bench_alternatives(network: RoadNetwork, *, pairs: int = 1000, baseline_pairs: int = 200, seed: int = 0,
                       weight: str = "travel_time", k: int = 3, suite: str = "osm",
                       progress: Progress = _quiet) -> list[BenchRecord]:
    """Alternative routes (family ``alternatives``): our corridor boosting against a plain penalty
    loop and the via-node method, on the same random OD pairs.

    Every returned alternative is re-checked with the same :class:`~solvers.paths.alternatives.
    RouteCriteria` (stretch <= 1.25, sharing with the routes before it <= 0.75 by the routes'
    cost, T-local optimality with T = 25 % by the window test), whatever the method claims.
    ``success_k_pct``: queries with at least ``k`` valid routes (the optimum counts);
    ``valid_pct``: alternatives passing all three criteria; ``mean_jaccard``: cost-weighted
    Jaccard similarity over pairs of valid routes of a query.
    """
    from planner.errors import InfeasibleError
    from solvers.paths.alternatives import AlternativeParameters, AlternativeRouter
    from solvers.paths.ch import load_or_build

    graph = network.graph
    ch = load_or_build(graph, weight)
    rng = np.random.default_rng(seed + 17)
    od = rng.integers(0, graph.n_nodes, size=(2 * pairs, 2))
    od = od[od[:, 0] != od[:, 1]][:pairs]
    params = AlternativeParameters(k=k)
    methods = [
        ("boosting", False, AlternativeRouter(ch, params), "alternatives", pairs),
        ("penalty-loop", True, AlternativeRouter(ch, AlternativeParameters.plain(k=k)), "alternatives",
         baseline_pairs),
        ("via-node", True, AlternativeRouter(ch, params), "via_node", baseline_pairs),
    ]
    records: list[BenchRecord] = []
    for name, baseline, router, method, n_pairs in methods:
        progress(f"alternatives: {name} on {min(n_pairs, od.shape[0])} pairs")
        run = getattr(router, method)
        for s, t in od[:3]:  # compile outside the timing
            run(int(s), int(t))
        criteria = router.criteria
        times, cpu_times, counts, n_alt, n_valid = [], [], [], 0, 0
        stretches, sharings, jaccards, iterations = [], [], [], []
        for s, t in od[:n_pairs]:
            t0 = time.perf_counter()
            c0 = time.thread_time()
            try:
                res = run(int(s), int(t))
            except InfeasibleError:  # unreachable pair: no routes
                times.append(time.perf_counter() - t0)
                cpu_times.append(time.thread_time() - c0)
                counts.append(0)
                continue
            cpu_times.append(time.thread_time() - c0)
            times.append(time.perf_counter() - t0)
            iterations.append(res.iterations)
            d_from, d_to = router.distances_from(int(s)), router.distances_to(int(t))
            valid_routes = [res.routes[0]]
            for route in res.routes[1:]:
                n_alt += 1
                st = criteria.cost(route.edges) / res.optimum
                sh = criteria.sharing(route.edges, [r.edges for r in valid_routes])
                lo = criteria.locally_optimal(route.nodes, route.edges, params.local_optimality, d_from, d_to)
                if st <= params.max_stretch * (1 + 1e-9) and sh <= params.max_sharing and lo:
                    n_valid += 1
                    valid_routes.append(route)
                    stretches.append(st)
                    sharings.append(sh)
            counts.append(len(valid_routes))
            for i in range(len(valid_routes)):
                for j in range(i + 1, len(valid_routes)):
                    jaccards.append(_jaccard(criteria.costs, valid_routes[i].edges, valid_routes[j].edges))
        counts_arr = np.asarray(counts)
        p50, p99 = _percentiles(times)
        records.append(BenchRecord("alternatives", suite, network.name, name, seed, None, baseline, {
            "success_2_pct": 100.0 * float(np.mean(counts_arr >= 2)),
            "success_3_pct": 100.0 * float(np.mean(counts_arr >= min(3, k))),
            "valid_pct": 100.0 * n_valid / n_alt if n_alt else math.nan,
            "p50_ms": p50, "p90_ms": float(np.percentile(np.asarray(times) * 1e3, 90)), "p99_ms": p99,
            "cpu_p50_ms": _percentiles(cpu_times)[0],
            "mean_stretch": float(np.mean(stretches)) if stretches else math.nan,
            "mean_sharing": float(np.mean(sharings)) if sharings else math.nan,
            "mean_jaccard": float(np.mean(jaccards)) if jaccards else math.nan,
            "alternatives_returned": n_alt, "mean_iterations": float(np.mean(iterations)) if iterations else 0.0,
            "pairs": int(counts_arr.size), "k": k, "load_avg_1m": os.getloadavg()[0],
        }))
    return records
