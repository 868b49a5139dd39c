"""The gRPC servicers: each method validates, calls the planner API (or the job manager) and
translates the answer. Errors are turned into statuses by :func:`server.errors.guard`."""

from __future__ import annotations

import math
import time
from typing import Any

import grpc
import numpy as np
from google.rpc import status_pb2

from planner.errors import CapacityError, FieldViolation, ValidationError
from planner.registry import ProblemKind, get_solver
from server import convert
from server.errors import ServiceError, guard
from server.jobs import JobRecord, JobState
from server.networks import NetworkCatalog
from server.solve import DEMAND_ROUTING, NETWORK_DESIGN, TRAFFIC_ASSIGNMENT, VRP
from server.workers import JobManager

#: Longest WaitOperation wait, in seconds.
MAX_WAIT_S = 60.0
#: Most alternative routes a ComputeRoute call may ask for.
MAX_ALTERNATIVES = 3
#: Time a real-time call keeps for itself out of the caller's deadline, in seconds.
DEADLINE_MARGIN_S = 0.05


def remaining_s(context: grpc.ServicerContext) -> float:
    """Seconds left before the caller's deadline (``inf`` without one)."""
    left = context.time_remaining()
    return math.inf if left is None else float(left)


def require_time(context: grpc.ServicerContext, needed_s: float = DEADLINE_MARGIN_S) -> float:
    """Seconds left; ``DEADLINE_EXCEEDED`` at once when fewer than ``needed_s`` remain."""
    left = remaining_s(context)
    if left < needed_s:
        raise ServiceError(grpc.StatusCode.DEADLINE_EXCEEDED, f"{max(left, 0) * 1e3:.0f} ms left of the deadline: "
                                                              "not enough to answer")
    return left


# ------------------------------------------------------------------------------------ routing
class RoutingServicer:
    """``RoutingService``: routes and matrices on the loaded road networks."""

    def __init__(self, pb: Any, catalog: NetworkCatalog) -> None:
        self.pb = pb
        self.catalog = catalog

    @guard
    def ListNetworks(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        pb = self.pb.routing_pb2
        networks = []
        for net in self.catalog.loaded():
            coords = net.road.graph.coords  # (lon, lat)
            low, high = coords.min(axis=0), coords.max(axis=0)
            networks.append(pb.Network(
                name=f"networks/{net.name}", node_count=net.road.n_nodes, edge_count=net.road.n_edges,
                low=self.pb.common_pb2.LatLng(latitude=float(low[1]), longitude=float(low[0])),
                high=self.pb.common_pb2.LatLng(latitude=float(high[1]), longitude=float(high[0]))))
        return pb.ListNetworksResponse(networks=networks)

    @guard
    def ComputeRoute(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        require_time(context)
        name = convert.network_id(request.network)
        v: list[FieldViolation] = []
        origin = convert.lat_lng(request.origin, "origin", v, request.HasField("origin"))
        destination = convert.lat_lng(request.destination, "destination", v, request.HasField("destination"))
        weight = convert.route_weight(self.pb, request.objective)
        if v:
            raise ValidationError(v)
        network = self.catalog.get(name)
        ch = network.hierarchy(weight)
        src, d_src = network.snap(np.array([origin]), "origin", True)
        dst, d_dst = network.snap(np.array([destination]), "destination", True)
        if not 0 <= request.max_alternatives <= MAX_ALTERNATIVES:
            raise ValidationError("max_alternatives", f"must be in 0..{MAX_ALTERNATIVES} ({request.max_alternatives})")
        if request.max_alternatives:
            found = self._alternatives(ch, int(src[0]), int(dst[0]), request.max_alternatives + 1)
            routes, stretch, sharing = list(found.routes), list(found.stretch), list(found.sharing)
        else:
            routes, stretch, sharing = [ch.shortest_path(int(src[0]), int(dst[0]))], [1.0], [0.0]
        messages = [self._road_route(network, r, s, h, request.include_geometry)
                    for r, s, h in zip(routes, stretch, sharing, strict=True)]
        return self.pb.routing_pb2.ComputeRouteResponse(route=messages[0], alternatives=messages[1:],
                                                        origin_snap_meters=float(d_src[0]),
                                                        destination_snap_meters=float(d_dst[0]))

    @staticmethod
    def _alternatives(ch: Any, source: int, target: int, k: int) -> Any:
        try:
            from solvers.paths.alternatives import AlternativeParameters, alternative_routes
        except ImportError:
            raise ServiceError(grpc.StatusCode.FAILED_PRECONDITION,
                               "alternative routes are not available in this installation") from None
        return alternative_routes(ch, source, target, AlternativeParameters(k=k))

    def _road_route(self, network: Any, route: Any, stretch: float, sharing: float, geometry: bool) -> Any:
        road_route = self.pb.routing_pb2.RoadRoute(
            distance_meters=float(route.length_m), segment_count=route.n_edges,
            osm_node_ids=[int(x) for x in route.node_ids(network.road)], stretch=float(stretch),
            sharing=float(sharing))
        road_route.duration.FromNanoseconds(round(route.travel_time_s * 1e9))
        if geometry:
            lat_lng = self.pb.common_pb2.LatLng
            road_route.path.extend(lat_lng(latitude=float(lat), longitude=float(lon))
                                   for lon, lat in route.coordinates(network.road))
        return road_route

    @guard
    def ComputeMatrix(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        require_time(context)
        name = convert.network_id(request.network)
        weight = convert.route_weight(self.pb, request.objective)
        if not request.origins:
            raise ValidationError("origins", "at least one origin is needed")
        n_rows = len(request.origins)
        n_cols = len(request.destinations) or n_rows
        if n_rows * n_cols > convert.MAX_MATRIX_CELLS:
            raise CapacityError(f"a {n_rows}x{n_cols} matrix exceeds the limit of {convert.MAX_MATRIX_CELLS} cells")
        v: list[FieldViolation] = []
        rows = [convert.lat_lng(p, f"origins[{i}]", v) for i, p in enumerate(request.origins)]
        cols = [convert.lat_lng(p, f"destinations[{i}]", v) for i, p in enumerate(request.destinations)]
        if v:
            raise ValidationError(v)
        network = self.catalog.get(name)
        ch = network.hierarchy(weight)
        src, _ = network.snap(np.array(rows), "origins", False)
        dst = network.snap(np.array(cols), "destinations", False)[0] if cols else None
        table = ch.distance_matrix(src, dst)
        return self.pb.routing_pb2.ComputeMatrixResponse(row_count=table.shape[0], column_count=table.shape[1],
                                                         values=table.ravel().tolist())


# ------------------------------------------------------------------------------------- fabric
class FabricServicer:
    """``FabricService``: flow splitting on leaf-spine fabrics."""

    def __init__(self, pb: Any) -> None:
        self.pb = pb

    @guard
    def SplitFabricFlows(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        from planner.budget import Budget

        left = require_time(context)
        fabric, problem, method = convert.fabric_problem_from_proto(self.pb, request)
        budget = Budget(time_limit=None if math.isinf(left) else max(left - DEADLINE_MARGIN_S, 1e-3),
                        seed=convert.check_seed(request.seed))
        assignment = get_solver(method, ProblemKind.FABRIC_ROUTING).solve(problem, budget)
        require_time(context, 0.0)
        return convert.fabric_result_to_proto(self.pb, fabric, problem, assignment, method)


# ----------------------------------------------------------------------------------- planning
class PathPlanningServicer:
    """``PathPlanningService``: sampling-based planning, bounded by the deadline."""

    def __init__(self, pb: Any) -> None:
        self.pb = pb

    @guard
    def PlanPath(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        from planner.budget import Budget

        left = require_time(context)
        limit = convert.duration_seconds(request.time_limit, "time_limit", default=convert.DEFAULT_PLAN_SECONDS,
                                         maximum=convert.MAX_PLAN_SECONDS, present=request.HasField("time_limit"))
        planner = convert.check_solver(request.planner, ProblemKind.MOTION_PLANNING, "fmt*", "planner")
        seed = convert.check_seed(request.seed)
        problem = convert.planning_problem_from_proto(request)
        limit = min(limit, left - 2 * DEADLINE_MARGIN_S)
        if limit <= 0:
            raise ServiceError(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline leaves no time to plan")
        start = time.perf_counter()
        path = get_solver(planner, ProblemKind.MOTION_PLANNING).solve(problem, Budget(time_limit=limit, seed=seed))
        return convert.planned_path_to_proto(self.pb, path, time.perf_counter() - start)


# --------------------------------------------------------------------------------- operations
def operation_id(name: str) -> str:
    """``{id}`` of ``operations/{id}``."""
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != "operations" or not parts[1] or not parts[1].isalnum():
        raise ValidationError("name", f"expected operations/{{operation_id}}, got {name!r}")
    return parts[1]


def operation_to_proto(pb: Any, record: JobRecord) -> Any:
    """The ``Operation`` message of a stored job."""
    ops = pb.operations_pb2
    kinds = {VRP: ops.OPERATION_KIND_VRP, TRAFFIC_ASSIGNMENT: ops.OPERATION_KIND_TRAFFIC_ASSIGNMENT,
             NETWORK_DESIGN: ops.OPERATION_KIND_NETWORK_DESIGN, DEMAND_ROUTING: ops.OPERATION_KIND_DEMAND_ROUTING}
    message = ops.Operation(name=f"operations/{record.id}", kind=kinds.get(record.kind, 0),
                            state=ops.OperationState.Value(f"OPERATION_STATE_{record.state.value}"),
                            done=record.state.done, request_id=record.request_id, attempts=record.attempts)
    message.create_time.FromNanoseconds(int(record.create_time * 1e9))
    message.update_time.FromNanoseconds(int(record.update_time * 1e9))
    if record.progress is not None:
        message.progress.ParseFromString(record.progress)
    if record.result is not None and record.result_field:
        getattr(message, record.result_field).ParseFromString(record.result)
    if record.error is not None:
        message.error.CopyFrom(status_pb2.Status.FromString(record.error))
    return message


class OptimizationServicer:
    """``OptimizationService``: validates a solve request and queues it as an operation."""

    def __init__(self, pb: Any, jobs: JobManager) -> None:
        self.pb = pb
        self.jobs = jobs

    @guard
    def SolveVrp(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        convert.vrp_job_from_proto(request)  # validate now: bad input never becomes an operation
        record, _ = self.jobs.submit(VRP, request.SerializeToString(), request.request_id)
        return self.pb.optimization_pb2.SolveVrpResponse(operation=operation_to_proto(self.pb, record))

    @guard
    def SolveTrafficAssignment(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        convert.assignment_job_from_proto(self.pb, request)
        record, _ = self.jobs.submit(TRAFFIC_ASSIGNMENT, request.SerializeToString(), request.request_id)
        return self.pb.optimization_pb2.SolveTrafficAssignmentResponse(operation=operation_to_proto(self.pb, record))

    @guard
    def SolveNetworkDesign(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        convert.design_job_from_proto(self.pb, request)
        record, _ = self.jobs.submit(NETWORK_DESIGN, request.SerializeToString(), request.request_id)
        return self.pb.optimization_pb2.SolveNetworkDesignResponse(operation=operation_to_proto(self.pb, record))

    @guard
    def SolveDemandRouting(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        convert.demand_routing_job_from_proto(request)
        record, _ = self.jobs.submit(DEMAND_ROUTING, request.SerializeToString(), request.request_id)
        return self.pb.optimization_pb2.SolveDemandRoutingResponse(operation=operation_to_proto(self.pb, record))


class OperationsServicer:
    """``OperationsService``: get, list, cancel, wait for and watch operations."""

    def __init__(self, pb: Any, jobs: JobManager) -> None:
        self.pb = pb
        self.jobs = jobs

    def _operation(self, record: JobRecord) -> Any:
        return operation_to_proto(self.pb, record)

    @guard
    def GetOperation(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        record = self.jobs.get(operation_id(request.name))
        return self.pb.operations_pb2.GetOperationResponse(operation=self._operation(record))

    @guard
    def ListOperations(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        ops = self.pb.operations_pb2
        if request.page_size < 0 or request.page_size > 1000:
            raise ValidationError("page_size", f"must be in 0..1000 ({request.page_size})")
        size = request.page_size or 100
        before = None
        if request.page_token:
            try:
                before = int(request.page_token)
            except ValueError:
                raise ValidationError("page_token", f"not a token of this server ({request.page_token!r})") from None
        state = None
        if request.state:
            name = ops.OperationState.Name(request.state) if request.state in ops.OperationState.values() else None
            if name is None:
                raise ValidationError("state", f"unknown value {request.state}")
            state = JobState(name.removeprefix("OPERATION_STATE_"))
        records = self.jobs.store.list(size + 1, before, state)
        page, more = records[:size], len(records) > size
        return ops.ListOperationsResponse(operations=[self._operation(r) for r in page],
                                          next_page_token=str(page[-1].seq) if more else "")

    @guard
    def CancelOperation(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        record = self.jobs.cancel(operation_id(request.name))
        return self.pb.operations_pb2.CancelOperationResponse(operation=self._operation(record))

    @guard
    def WaitOperation(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        job_id = operation_id(request.name)
        timeout = convert.duration_seconds(request.timeout, "timeout", default=MAX_WAIT_S, maximum=MAX_WAIT_S,
                                           present=request.HasField("timeout"))
        timeout = min(timeout, max(remaining_s(context) - DEADLINE_MARGIN_S, 0.0))
        record, _ = self.jobs.wait(job_id, timeout)
        return self.pb.operations_pb2.WaitOperationResponse(operation=self._operation(record))

    @guard
    def WatchOperation(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        job_id = operation_id(request.name)
        record, version = self.jobs.wait(job_id, 0.0)
        response = self.pb.operations_pb2.WatchOperationResponse
        yield response(operation=self._operation(record))
        while not record.state.done and context.is_active():
            record, new_version = self.jobs.wait(job_id, 1.0, since=version)
            if new_version != version or record.state.done:
                version = new_version
                yield response(operation=self._operation(record))
