"""The service survives SIGKILL: a server process is killed while a job runs and others wait;
the restarted server lists every accepted operation, keeps finished results, re-runs the
interrupted job once, and marks it failed with a reason when it is interrupted again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests._service_helpers import TOKEN, channel

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``routeplanner serve`` in a subprocess (no networks, two workers)."""

    def __init__(self, database: Path, log: Path) -> None:
        self.port = _free_port()
        env = {**os.environ, "ROUTEPLANNER_TOKEN": TOKEN}
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "planner.cli", "serve", "--networks", "", "--port", str(self.port),
             "--database", str(database), "--workers", "2", "--log-level", "info"],
            stdout=self.log, stderr=self.log, env=env)
        health = health_pb2_grpc.HealthStub(channel(self.port, None))
        end = time.monotonic() + 120
        while time.monotonic() < end:
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                        health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            assert self.process.poll() is None, log.read_text()
            time.sleep(0.2)
        raise AssertionError("server never became SERVING:\n" + log.read_text())

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(30) == 0  # graceful shutdown exits cleanly
        self.log.close()


@pytest.fixture(scope="module")
def pb():
    from server.stubs import load

    return load()


def _stubs(pb, port):
    ch = channel(port)
    return (pb.optimization_pb2_grpc.OptimizationServiceStub(ch), pb.operations_pb2_grpc.OperationsServiceStub(ch))


def _get(ops, pb, name):
    return ops.GetOperation(pb.operations_pb2.GetOperationRequest(name=name), timeout=5).operation


def _until(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached")


@pytest.fixture
def servers():
    started: list[ServerProcess] = []
    yield started
    for server in started:  # a failing test leaves no server behind
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)


def test_sigkill_and_restart_loses_nothing(tmp_path, pb, servers):
    database, log = tmp_path / "jobs.sqlite3", tmp_path / "server.log"
    S = pb.operations_pb2
    server = ServerProcess(database, log)
    servers.append(server)
    opt, ops = _stubs(pb, server.port)
    finished = opt.SolveVrp(pb.optimization_pb2.SolveVrpRequest(instance="gen:cvrp:n=12,seed=1", solver="savings"),
                            timeout=10).operation.name
    done = _until(lambda: (op := _get(ops, pb, finished)).done and op)
    long = opt.SolveVrp(pb.optimization_pb2.SolveVrpRequest(
        instance="gen:cvrp:n=60,seed=2", solver="ga", time_limit=Duration(seconds=300)), timeout=10).operation.name
    _until(lambda: _get(ops, pb, long).state == S.OPERATION_STATE_RUNNING)
    waiting = [opt.SolveVrp(pb.optimization_pb2.SolveVrpRequest(
        instance=f"gen:cvrp:n=20,seed={i}", solver="savings", request_id=f"wait-{i}"), timeout=10).operation.name
        for i in range(3)]
    server.kill()

    server = ServerProcess(database, log)
    servers.append(server)
    opt, ops = _stubs(pb, server.port)
    listed = {op.name: op for op in ops.ListOperations(S.ListOperationsRequest(page_size=100), timeout=10).operations}
    assert set(listed) == {finished, long, *waiting}
    kept = listed[finished]
    assert kept.state == S.OPERATION_STATE_DONE and kept.vrp_solution == done.vrp_solution
    for name in waiting:  # queued before the kill: run now
        assert _until(lambda name=name: _get(ops, pb, name).state == S.OPERATION_STATE_DONE)
    again = opt.SolveVrp(pb.optimization_pb2.SolveVrpRequest(
        instance="gen:cvrp:n=20,seed=0", solver="savings", request_id="wait-0"), timeout=10).operation
    assert again.name == waiting[0]  # idempotency survives the restart
    rerun = _until(lambda: (op := _get(ops, pb, long)).state == S.OPERATION_STATE_RUNNING and op)
    assert rerun.attempts == 2
    server.kill()  # interrupted a second time: no more attempts

    server = ServerProcess(database, log)
    servers.append(server)
    opt, ops = _stubs(pb, server.port)
    failed = _get(ops, pb, long)
    assert failed.state == S.OPERATION_STATE_FAILED and failed.done
    assert failed.error.code == grpc.StatusCode.ABORTED.value[0] and "stopped while the job was running" in \
        failed.error.message
    assert _get(ops, pb, finished).vrp_solution == done.vrp_solution
    server.terminate()
