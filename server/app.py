"""The server: networks, job manager, servicers, health, reflection, interceptors, shutdown."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server.config import ServerConfig
from server.interceptors import BearerTokenInterceptor, LoggingInterceptor
from server.jobs import JobStore
from server.networks import NetworkCatalog
from server.servicers import (
    FabricServicer,
    OperationsServicer,
    OptimizationServicer,
    PathPlanningServicer,
    RoutingServicer,
)
from server.solve import DEMAND_ROUTING, NETWORK_DESIGN, TRAFFIC_ASSIGNMENT, VRP
from server.stubs import Stubs, load
from server.workers import JobManager

log = logging.getLogger("routeplanner.server")


def _time_limit_of(pb: Stubs) -> Any:
    def time_limit(kind: str, request: bytes) -> float:
        messages = {VRP: (pb.optimization_pb2.SolveVrpRequest, 10.0),
                    TRAFFIC_ASSIGNMENT: (pb.optimization_pb2.SolveTrafficAssignmentRequest, 60.0),
                    NETWORK_DESIGN: (pb.optimization_pb2.SolveNetworkDesignRequest, 600.0),
                    DEMAND_ROUTING: (pb.optimization_pb2.SolveDemandRoutingRequest, 600.0)}
        message_type, default = messages[kind]
        message = message_type.FromString(request)
        if not message.HasField("time_limit"):
            return default
        return message.time_limit.seconds + message.time_limit.nanos * 1e-9

    return time_limit


class RoutePlannerServer:
    """A configured server; :meth:`start` it, :meth:`stop` it.

    Health answers ``NOT_SERVING`` until every configured network is loaded and every worker
    process is ready, then ``SERVING``; on shutdown it goes back to ``NOT_SERVING`` first.

    Parameters
    ----------
    config
        The settings.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.pb = load()
        # import every solver package now: the registry's first look-up is not safe to race
        # from many request threads (they could see an empty registry while it loads)
        from planner.registry import list_solvers

        list_solvers()
        self.port: int | None = None
        self.health = health.HealthServicer(experimental_non_blocking=True)
        self.store = JobStore(config.database)
        self.jobs = JobManager(self.store, config.workers, config.max_queued, max_attempts=config.max_attempts,
                               time_limit_of=_time_limit_of(self.pb))
        self.catalog = NetworkCatalog(config.served_networks(), config.weights, on_ready=self._update_health)
        interceptors: list[grpc.ServerInterceptor] = [LoggingInterceptor()]
        if config.token:
            interceptors.insert(0, BearerTokenInterceptor(config.token))
        options = [("grpc.max_receive_message_length", config.max_message_bytes),
                   ("grpc.max_send_message_length", config.max_message_bytes),
                   ("grpc.so_reuseport", 0)]
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.threads,
                                                             thread_name_prefix="grpc"),
                                  interceptors=interceptors, options=options,
                                  maximum_concurrent_rpcs=max(1024, config.threads * 8))
        pb = self.pb
        pb.routing_pb2_grpc.add_RoutingServiceServicer_to_server(RoutingServicer(pb, self.catalog), self.server)
        pb.fabric_pb2_grpc.add_FabricServiceServicer_to_server(FabricServicer(pb), self.server)
        pb.planning_pb2_grpc.add_PathPlanningServiceServicer_to_server(PathPlanningServicer(pb), self.server)
        pb.optimization_pb2_grpc.add_OptimizationServiceServicer_to_server(OptimizationServicer(pb, self.jobs),
                                                                           self.server)
        pb.operations_pb2_grpc.add_OperationsServiceServicer_to_server(OperationsServicer(pb, self.jobs), self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [*pb.service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            self.server)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self._stopped = threading.Event()

    def _set_health(self, status: int) -> None:
        for name in ("", *self.pb.service_names):
            self.health.set(name, status)

    def _update_health(self) -> None:
        if self.catalog.ready and self.jobs.wait_ready(0.0) and not self._stopped.is_set():
            self._set_health(health_pb2.HealthCheckResponse.SERVING)
            log.info("serving", extra={"fields": {"port": self.port,
                                                  "networks": [n.name for n in self.catalog.loaded()]}})

    def start(self) -> int:
        """Bind, start the workers and the network loading; returns the bound port."""
        cfg = self.config
        if cfg.tls_cert is not None and cfg.tls_key is not None:
            credentials = grpc.ssl_server_credentials([(cfg.tls_key.read_bytes(), cfg.tls_cert.read_bytes())])
            self.port = self.server.add_secure_port(cfg.address, credentials)
        else:
            self.port = self.server.add_insecure_port(cfg.address)
        if not self.port:
            from planner.errors import CapacityError

            raise CapacityError(f"cannot listen on {cfg.address}")
        failed = self.jobs.start()
        self.server.start()
        self.catalog.start()
        threading.Thread(target=self._when_workers_ready, name="workers-ready", daemon=True).start()
        log.info("started", extra={"fields": {"address": cfg.address, "port": self.port, "tls": cfg.tls_cert
                                              is not None, "auth": bool(cfg.token), "workers": cfg.workers,
                                              "database": str(cfg.database), "failed_on_recovery": len(failed)}})
        return self.port

    def _when_workers_ready(self) -> None:
        self.jobs.wait_ready(300.0)
        self._update_health()

    def wait_serving(self, timeout: float = 120.0) -> bool:
        """Block until health says ``SERVING``."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.catalog.ready and self.jobs.wait_ready(0.0):
                self._update_health()
                return True
            time.sleep(0.05)
        return False

    def stop(self, grace_s: float | None = None) -> None:
        """Graceful shutdown: health NOT_SERVING, refuse new calls, let in-flight calls finish
        within the grace period, stop the workers (running jobs are re-queued for the next
        start), close the store."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        done = self.server.stop(grace)
        self.jobs.stop()
        done.wait(grace + 1.0)
        self.store.close()
        log.info("stopped")

    def wait_for_termination(self) -> None:
        """Serve until SIGINT or SIGTERM, then stop gracefully."""
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        self.stop()


def serve(config: ServerConfig) -> None:
    """Start a server with ``config`` and serve until interrupted."""
    from server.logs import configure

    configure(config.log_level)
    server = RoutePlannerServer(config)
    server.start()
    server.wait_for_termination()
