"""The learned VRP policy alone on 500-client instances: decode time of a batch of 8 solutions on
one CPU thread, feasibility, and the best-of-8 cost against Clarke-Wright savings, same run.

Usage: ``python benchmarks/policy_decode.py [--suite gen-500] [--batch 8] [--repeats 5] [--json FILE]``

Every instance of the suite (``routeplanner bench vrp`` suites) is decoded ``repeats`` times after
one untimed warm-up decode; the median wall time is reported beside the savings heuristic's (the
baseline, timed the same way). Records: family ``vrp``, solvers ``policy-batch8`` and ``savings``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from datasets.detect import load_problem
from planner.bench.records import BenchRecord, write_records
from planner.bench.vrp import suite_instances
from planner.vrp import VrpSolution, check_feasibility, solution_cost
from solvers.vrp.policy.inference import cached_checkpoint, decode
from solvers.vrp.savings import solve_savings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="gen-500")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args()

    checkpoint = cached_checkpoint(None)
    records, rows = [], []
    for name, path in suite_instances(args.suite):
        instance = load_problem(path).problem
        decode(instance, checkpoint, args.batch, chunk=args.batch)  # warm-up: encoder caches, kernels
        times, decoded = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            decoded = decode(instance, checkpoint, args.batch, chunk=args.batch, threads=1)
            times.append(time.perf_counter() - start)
        savings_times, savings = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            savings = solve_savings(instance)
            savings_times.append(time.perf_counter() - start)
        reports = [check_feasibility(instance, VrpSolution(tuple(np.asarray(r, dtype=np.int64) for r in sol),
                                                           solution_cost(instance, sol)))
                   for sol in decoded.routes]  # best first
        report, all_feasible = reports[0], all(r.feasible for r in reports)
        savings_cost = check_feasibility(instance, savings).objective
        gap = 100.0 * (report.objective - savings_cost) / savings_cost
        row = {"instance": instance.name, "n": instance.n_clients, "decode_ms_median": 1e3 * statistics.median(times),
               "savings_ms_median": 1e3 * statistics.median(savings_times), "solutions": len(decoded.routes),
               "all_feasible": all_feasible, "best_of_batch": report.objective, "savings": savings_cost,
               "gap_to_savings_pct": gap}
        rows.append(row)
        print(f"{instance.name:34s} decode {row['decode_ms_median']:6.1f} ms  "
              f"savings {row['savings_ms_median']:6.1f} ms"
              f"  feasible {all_feasible}  best-of-{args.batch} {report.objective:9.0f}  savings {savings_cost:9.0f}"
              f"  gap {gap:+6.2f} %", flush=True)
        records.append(BenchRecord(family="vrp", suite=args.suite, instance=name, solver=f"policy-batch{args.batch}",
                                   seed=0, budget_s=None, baseline=False,
                                   metrics={"objective": report.objective, "gap_pct": gap, "gap_reference": "savings",
                                            "wall_s": statistics.median(times), "feasible": all_feasible,
                                            "n": instance.n_clients}))
        records.append(BenchRecord(family="vrp", suite=args.suite, instance=name, solver="savings", seed=0,
                                   budget_s=None, baseline=True,
                                   metrics={"objective": savings_cost, "gap_pct": 0.0, "gap_reference": "savings",
                                            "wall_s": statistics.median(savings_times), "feasible": True,
                                            "n": instance.n_clients}))
    decode_ms = [r["decode_ms_median"] for r in rows]
    print(f"decode of {args.batch} on one thread: median {statistics.median(decode_ms):.1f} ms, "
          f"max {max(decode_ms):.1f} ms over {len(rows)} instances; every solution feasible: "
          f"{all(r['all_feasible'] for r in rows)}; mean gap of the best of {args.batch} to savings "
          f"{statistics.fmean(r['gap_to_savings_pct'] for r in rows):+.2f} %")
    if args.json_out:
        write_records(args.json_out, records)
        print(f"wrote {len(records)} records to {args.json_out}")


if __name__ == "__main__":
    main()
