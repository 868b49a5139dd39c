"""The service load test: Route latency and throughput at many concurrent clients against the
same handler called in-process, and a burst of VRP jobs with a SIGKILL and a restart in the
middle, accounting for every accepted job.

Servers run as ``routeplanner serve`` subprocesses on this machine; clients are ``grpc.aio``
tasks in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from planner.bench.records import BenchRecord

#: Token the load-test servers require (the auth check is part of what is measured).
TOKEN = "load-test-token"


@dataclass(frozen=True)
class LoadTestSettings:
    """What to run.

    Parameters
    ----------
    network
        City to route on.
    clients
        Concurrent Route clients.
    queries
        Route calls at that concurrency (and as many in-process calls, a tenth sequentially).
    jobs
        VRP jobs submitted in the burst.
    job_clients
        Clients of every VRP instance.
    job_seconds
        Time limit of every VRP job.
    workers
        Worker processes of the job server.
    max_queued
        Queue bound of the job server.
    kill_after_s
        SIGKILL the job server this long after the burst starts (0: never).
    drain_s
        After the restart, how long jobs may run before the rest are cancelled.
    seed
        Seed of the OD pairs and instances.
    threads
        Threads of the Route server.
    """

    network: str = "porto"
    clients: int = 50
    queries: int = 5000
    jobs: int = 1000
    job_clients: int = 100
    job_seconds: float = 1.0
    workers: int = 2
    max_queued: int = 200
    kill_after_s: float = 5.0
    drain_s: float = 30.0
    seed: int = 0
    threads: int = 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server_process(*, networks: str, database: Path, workers: int, max_queued: int, log: Path,
                   port: int | None = None, threads: int = 16) -> Iterator[tuple[subprocess.Popen, int]]:
    """A ``routeplanner serve`` subprocess, SERVING when entered; killed when left."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    port = port or _free_port()
    handle = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "planner.cli", "serve", "--networks", networks, "--port", str(port),
         "--database", str(database), "--workers", str(workers), "--max-queued", str(max_queued),
         "--threads", str(threads), "--log-level", "warning"],
        stdout=handle, stderr=handle, env={**os.environ, "ROUTEPLANNER_TOKEN": TOKEN})
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            end = time.monotonic() + 300
            while True:
                if process.poll() is not None or time.monotonic() > end:
                    raise RuntimeError(f"server did not start; see {log}")
                try:
                    if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                        break
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        yield process, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        handle.close()


def _percentiles(ms: list[float]) -> tuple[float, float]:
    arr = np.asarray(ms)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


class _NoDeadline:
    """The bit of a servicer context the Route handler uses, for in-process calls."""

    def time_remaining(self) -> None:
        return None

    def code(self) -> None:
        return None


def _route_requests(pb: Any, road: Any, n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    coords = road.graph.coords  # (lon, lat)
    pairs = rng.integers(0, road.n_nodes, size=(n, 2))
    ll = pb.common_pb2.LatLng
    return [pb.routing_pb2.ComputeRouteRequest(
        network=f"networks/{road.name}",
        origin=ll(latitude=float(coords[a, 1]), longitude=float(coords[a, 0])),
        destination=ll(latitude=float(coords[b, 1]), longitude=float(coords[b, 0])))
        for a, b in pairs]


async def _drive(port: int, requests: list[Any], concurrency: int, method: str, stub_factory: Callable[[Any], Any],
                 ) -> tuple[list[float], float, dict[str, int]]:
    """Send ``requests`` with ``concurrency`` tasks over one aio channel; latencies in ms."""
    latencies: list[float] = []
    codes: dict[str, int] = {}
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = getattr(stub_factory(ch), method)
        queue: asyncio.Queue = asyncio.Queue()
        for r in requests:
            queue.put_nowait(r)

        async def worker() -> None:
            while True:
                try:
                    request = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                try:
                    await call(request, timeout=30, metadata=metadata)
                    code = "OK"
                except grpc.aio.AioRpcError as exc:
                    code = exc.code().name
                latencies.append((time.perf_counter() - start) * 1e3)
                codes[code] = codes.get(code, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return latencies, wall, codes


def bench_route(settings: LoadTestSettings, workdir: Path, progress: Callable[[str], None]) -> list[BenchRecord]:
    """Route on ``settings.network``: in-process handler and bare CH query, then over gRPC with
    one client and with ``settings.clients`` clients."""
    from server.networks import load_network
    from server.servicers import RoutingServicer
    from server.stubs import load

    pb = load()
    progress(f"loading {settings.network} in-process…")
    network = load_network(settings.network, ("travel_time",))
    requests = _route_requests(pb, network.road, settings.queries, settings.seed)

    class _Catalog:
        def get(self, name: str) -> Any:
            return network

    servicer = RoutingServicer(pb, _Catalog())
    context = _NoDeadline()
    n_seq = max(200, settings.queries // 10)
    for r in requests[:50]:
        servicer.ComputeRoute(r, context)
    handler_ms, query_ms = [], []
    ch = network.hierarchy("travel_time")
    nodes = [(network.index.nearest_node(r.origin.latitude, r.origin.longitude),
              network.index.nearest_node(r.destination.latitude, r.destination.longitude)) for r in requests[:n_seq]]
    progress("timing in-process calls…")
    for r, (s, t) in zip(requests[:n_seq], nodes, strict=True):
        start = time.perf_counter()
        servicer.ComputeRoute(r, context)
        handler_ms.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        ch.shortest_path(s, t)
        query_ms.append((time.perf_counter() - start) * 1e3)

    progress(f"timing in-process calls from {settings.clients} threads…")
    threaded_ms, threaded_wall = _threaded(servicer, context, requests[:settings.queries], settings.clients)

    records = []
    suite = f"route-{settings.network}"
    h50, h99 = _percentiles(handler_ms)
    q50, q99 = _percentiles(query_ms)
    common = {"lost_jobs": 0}
    records.append(BenchRecord("service", suite, settings.network, "in-process-handler", settings.seed, None, True,
                               {"p50_ms": h50, "p99_ms": h99, "rps": 1e3 / np.mean(handler_ms), "calls": n_seq,
                                "concurrency": 1, **common}))
    records.append(BenchRecord("service", suite, settings.network, "in-process-ch-query", settings.seed, None, True,
                               {"p50_ms": q50, "p99_ms": q99, "rps": 1e3 / np.mean(query_ms), "calls": n_seq,
                                "concurrency": 1, **common}))
    t50, t99 = _percentiles(threaded_ms)
    records.append(BenchRecord("service", suite, settings.network, f"in-process-handler-{settings.clients}-threads",
                               settings.seed, None, True,
                               {"p50_ms": t50, "p99_ms": t99, "rps": len(threaded_ms) / threaded_wall,
                                "calls": len(threaded_ms), "concurrency": settings.clients, **common}))
    progress(f"starting a server on {settings.network}…")
    with server_process(networks=settings.network, database=workdir / "route-jobs.sqlite3", workers=1,
                        max_queued=10, log=workdir / "route-server.log", threads=settings.threads) as (_, port):
        factory = pb.routing_pb2_grpc.RoutingServiceStub
        asyncio.run(_drive(port, requests[:200], 4, "ComputeRoute", factory))  # warm-up
        for concurrency, calls in ((1, n_seq), (settings.clients, settings.queries)):
            progress(f"Route over gRPC with {concurrency} clients…")
            lat, wall, codes = asyncio.run(_drive(port, requests[:calls], concurrency, "ComputeRoute", factory))
            p50, p99 = _percentiles(lat)
            same = (h50, n_seq / sum(handler_ms) * 1e3) if concurrency == 1 else (t50, len(threaded_ms) / threaded_wall)
            records.append(BenchRecord("service", suite, settings.network, f"grpc-{concurrency}-clients",
                                       settings.seed, None, False,
                                       {"p50_ms": p50, "p99_ms": p99, "rps": len(lat) / wall, "calls": len(lat),
                                        "concurrency": concurrency, "errors": len(lat) - codes.get("OK", 0),
                                        "overhead_p50_ms_vs_handler": p50 - h50,
                                        "overhead_p50_ms_vs_in_process_same_concurrency": p50 - same[0],
                                        "overhead_ms_per_call_at_throughput": 1e3 * wall / len(lat) - 1e3 / same[1],
                                        "overhead_p50_ms_vs_ch_query": p50 - q50, **common}))
    return records


def _threaded(servicer: Any, context: Any, requests: list[Any], threads: int) -> tuple[list[float], float]:
    """The handler called in-process by ``threads`` closed-loop callers (as many as the gRPC
    clients): latencies in ms and the wall time."""
    import threading

    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [requests[i::threads] for i in range(threads)]

    def caller(chunk: list[Any]) -> None:
        mine = []
        for r in chunk:
            start = time.perf_counter()
            servicer.ComputeRoute(r, context)
            mine.append((time.perf_counter() - start) * 1e3)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=caller, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return latencies, time.perf_counter() - start


def bench_jobs(settings: LoadTestSettings, workdir: Path, progress: Callable[[str], None]) -> list[BenchRecord]:
    """A burst of ``settings.jobs`` VRP jobs; SIGKILL during it; restart; every accepted job
    must be listed and end DONE or CANCELLED (jobs still waiting after ``drain_s`` are cancelled)."""
    from google.protobuf.duration_pb2 import Duration

    from server.stubs import load

    pb = load()
    database = workdir / "burst-jobs.sqlite3"
    log = workdir / "burst-server.log"
    limit = Duration()
    limit.FromNanoseconds(int(settings.job_seconds * 1e9))
    requests = [pb.optimization_pb2.SolveVrpRequest(
        instance=f"gen:cvrp:n={settings.job_clients},seed={i}", solver="ga", time_limit=limit, seed=i,
        request_id=f"burst-{settings.seed}-{i}") for i in range(settings.jobs)]
    accepted: dict[str, str] = {}  # request_id -> operation name
    refused: dict[str, int] = {}
    submit_ms: list[float] = []
    killed_at = None
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    with server_process(networks="", database=database, workers=settings.workers, max_queued=settings.max_queued,
                        log=log) as (process, port):
        progress(f"submitting {settings.jobs} VRP jobs…")
        burst_start = time.perf_counter()

        async def burst() -> None:
            nonlocal killed_at
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = pb.optimization_pb2_grpc.OptimizationServiceStub(ch)
                pending = list(requests)

                async def one(request: Any) -> None:
                    start = time.perf_counter()
                    try:
                        response = await stub.SolveVrp(request, timeout=30, metadata=metadata)
                        accepted[request.request_id] = response.operation.name
                    except grpc.aio.AioRpcError as exc:
                        refused[exc.code().name] = refused.get(exc.code().name, 0) + 1
                    submit_ms.append((time.perf_counter() - start) * 1e3)

                # 1000 submissions as fast as 20 concurrent callers manage
                sem = asyncio.Semaphore(20)

                async def guarded(request: Any) -> None:
                    async with sem:
                        await one(request)

                await asyncio.gather(*(guarded(r) for r in pending))

        asyncio.run(burst())
        submit_wall = time.perf_counter() - burst_start
        if settings.kill_after_s > 0:
            progress("waiting to kill the server…")
            time.sleep(max(0.0, settings.kill_after_s - submit_wall))
            killed_at = time.perf_counter() - burst_start
            process.send_signal(signal.SIGKILL)
            process.wait()
    progress("restarting the job server…")
    restart_start = time.perf_counter()
    with server_process(networks="", database=database, workers=settings.workers, max_queued=settings.max_queued,
                        log=log) as (process, port):
        restart_s = time.perf_counter() - restart_start
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            ops = pb.operations_pb2_grpc.OperationsServiceStub(ch)
            S = pb.operations_pb2

            def listed() -> dict[str, Any]:
                out, token = {}, ""
                while True:
                    page = ops.ListOperations(S.ListOperationsRequest(page_size=1000, page_token=token), timeout=30,
                                              metadata=metadata)
                    out.update({op.name: op for op in page.operations})
                    token = page.next_page_token
                    if not token:
                        return out

            after_restart = listed()
            progress(f"draining for {settings.drain_s:.0f} s…")
            end = time.monotonic() + settings.drain_s
            while time.monotonic() < end:
                if all(op.done for op in listed().values()):
                    break
                time.sleep(1.0)
            for name, op in listed().items():
                if not op.done:
                    ops.CancelOperation(S.CancelOperationRequest(name=name), timeout=30, metadata=metadata)
            end = time.monotonic() + 30
            final = listed()
            while time.monotonic() < end and not all(op.done for op in final.values()):
                time.sleep(0.5)
                final = listed()
    names = set(accepted.values())
    lost = len(names - set(after_restart))
    states: dict[str, int] = {}
    for name in names:
        op = final.get(name)
        state = "LOST" if op is None else S.OperationState.Name(op.state).removeprefix("OPERATION_STATE_")
        states[state] = states.get(state, 0) + 1
    reran = sum(1 for name in names if name in final and final[name].attempts > 1)
    p50, p99 = _percentiles(submit_ms)
    metrics = {"p50_ms": p50, "p99_ms": p99, "rps": len(submit_ms) / submit_wall, "lost_jobs": lost,
               "submitted": settings.jobs, "accepted": len(names), "refused": sum(refused.values()),
               "refused_codes": refused, "final_states": states, "rerun_after_kill": reran,
               "killed_at_s": killed_at, "restart_s": restart_s, "max_queued": settings.max_queued,
               "workers": settings.workers, "not_done": sum(1 for n in names if n in final and not final[n].done)}
    return [BenchRecord("service", "vrp-burst", f"gen-cvrp-n{settings.job_clients}", "grpc-jobs", settings.seed,
                        settings.job_seconds, False, metrics)]


def run_load_test(settings: LoadTestSettings, progress: Callable[[str], None] = lambda _: None,
                  workdir: Path | None = None) -> list[BenchRecord]:
    """Both parts; returns the ``service`` records."""
    with tempfile.TemporaryDirectory(prefix="routeplanner-load-") as tmp:
        folder = Path(workdir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        records = []
        if settings.queries > 0:
            records += bench_route(settings, folder, progress)
        if settings.jobs > 0:
            records += bench_jobs(settings, folder, progress)
        return records
