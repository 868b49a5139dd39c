"""Load test of the gRPC service (same as ``routeplanner bench service``).

    python benchmarks/load_test.py --json out/service.json
    python benchmarks/load_test.py --queries 2000 --jobs 300 --max-queued 100   # a lighter run

Part 1: ComputeRoute on Porto, in-process (the same handler, no gRPC) and over gRPC with 1 and 50
concurrent clients: p50/p99 latency, throughput, and the server's overhead over the in-process
call. Part 2: a burst of VRP jobs (100-client instances, 1 s limits) against a bounded queue; the
server is killed with SIGKILL during the burst and restarted; every accepted job must be listed
and end DONE or CANCELLED.
"""

from __future__ import annotations

import argparse
import json
import sys

from planner.bench.records import write_records
from server.loadtest import LoadTestSettings, run_load_test


def main() -> None:
    defaults = LoadTestSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--json", default=None, help="write the records here")
    parser.add_argument("--workdir", default=None, help="keep server logs and databases here")
    args = vars(parser.parse_args())
    out, workdir = args.pop("json"), args.pop("workdir")
    records = run_load_test(LoadTestSettings(**args), progress=lambda m: print(m, file=sys.stderr, flush=True),
                            workdir=workdir)
    for r in records:
        print(json.dumps({"instance": r.instance, "solver": r.solver, **r.metrics}, default=str))
    if out:
        write_records(out, records)


if __name__ == "__main__":
    main()
