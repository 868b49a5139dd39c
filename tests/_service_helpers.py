"""Shared helpers of the service tests: a token-carrying channel, status details, and a server
for the long-running operations with its stubs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

TOKEN = "test-token-3f9a"


class _AddToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                grpc.StreamStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self.token = token

    def _details(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), ("authorization", f"Bearer {self.token}")]
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else _Details(details, metadata)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: Any, metadata: Any) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


def channel(port: int, token: str | None = TOKEN) -> grpc.Channel:
    """A channel to ``127.0.0.1:port`` sending ``token`` with every call."""
    plain = grpc.insecure_channel(f"127.0.0.1:{port}")
    return plain if token is None else grpc.intercept_channel(plain, _AddToken(token))


def violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    """``(field, description)`` of the ``google.rpc.BadRequest`` detail of a failed call."""
    status = rpc_status.from_call(error)
    out = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out += [(v.field, v.description) for v in bad.field_violations]
    return out


@dataclass(frozen=True)
class OperationStubs:
    """Client stubs of the services that start and follow operations."""

    optimization: Any
    operations: Any


@contextmanager
def operations_service(folder: Path, pb: Any) -> Iterator[OperationStubs]:
    """A started server (no road networks, one worker, jobs in ``folder``) and stubs to it."""
    from server.app import RoutePlannerServer
    from server.config import ServerConfig

    srv = RoutePlannerServer(ServerConfig(port=0, networks=(), database=folder / "jobs.sqlite3", workers=1,
                                          max_queued=3, token=TOKEN, log_level="warning"))
    srv.start()
    ch = None
    try:
        if not srv.wait_serving(180):
            raise RuntimeError("the server did not become SERVING within 180 s")
        ch = channel(srv.port)
        yield OperationStubs(pb.optimization_pb2_grpc.OptimizationServiceStub(ch),
                             pb.operations_pb2_grpc.OperationsServiceStub(ch))
    finally:
        if ch is not None:
            ch.close()
        srv.stop(1.0)


def wait_done(stubs: Any, pb: Any, name: str, timeout: float = 120.0) -> Any:
    """The operation ``name`` once done, asked through ``stubs.operations`` (``WaitOperation``
    in 10 s rounds); fails after ``timeout``."""
    from google.protobuf.duration_pb2 import Duration

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        op = stubs.operations.WaitOperation(pb.operations_pb2.WaitOperationRequest(
            name=name, timeout=Duration(seconds=10)), timeout=15).operation
        if op.done:
            return op
    raise AssertionError(f"{name} not done after {timeout} s")
