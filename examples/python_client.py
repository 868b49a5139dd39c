"""A logistics app talking to the routeplanner service: a route, a matrix, a VRP solve followed
to the end, with deadlines, retries on UNAVAILABLE and readable errors.

Start a server first::

    routeplanner serve --networks monaco

then run ``python examples/python_client.py --address 127.0.0.1:50051``.
"""

from __future__ import annotations

import argparse
import time

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from server.client import connect
from server.stubs import load

pb = load()


def describe(error: grpc.RpcError) -> str:
    """Status code, message and the field violations of a failed call."""
    lines = [f"{error.code().name}: {error.details()}"]
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            lines += [f"  {v.field}: {v.description}" for v in bad.field_violations]
    return "\n".join(lines)


def with_retries(call, request, *, attempts: int = 5, timeout: float = 2.0, metadata=None):
    """Call with a deadline, retrying UNAVAILABLE (server starting, networks loading) with backoff."""
    for attempt in range(attempts):
        try:
            return call(request, timeout=timeout, metadata=metadata)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == attempts - 1:
                raise
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--token", default=None, help="bearer token, if the server wants one")
    parser.add_argument("--network", default="monaco")
    args = parser.parse_args()
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else None

    channel = connect(args.address)
    routing = pb.routing_pb2_grpc.RoutingServiceStub(channel)
    optimization = pb.optimization_pb2_grpc.OptimizationServiceStub(channel)
    operations = pb.operations_pb2_grpc.OperationsServiceStub(channel)
    LatLng = pb.common_pb2.LatLng

    networks = with_retries(routing.ListNetworks, pb.routing_pb2.ListNetworksRequest(), metadata=metadata)
    print("networks:", [n.name for n in networks.networks])
    net = next(n for n in networks.networks if n.name == f"networks/{args.network}")
    lo, hi = net.low, net.high
    a = LatLng(latitude=lo.latitude + 0.3 * (hi.latitude - lo.latitude),
               longitude=lo.longitude + 0.3 * (hi.longitude - lo.longitude))
    b = LatLng(latitude=lo.latitude + 0.7 * (hi.latitude - lo.latitude),
               longitude=lo.longitude + 0.7 * (hi.longitude - lo.longitude))

    # 1. a route, answered within 500 ms or not at all
    try:
        route = with_retries(routing.ComputeRoute, pb.routing_pb2.ComputeRouteRequest(
            network=net.name, origin=a, destination=b), timeout=0.5, metadata=metadata).route
        print(f"route: {route.distance_meters:.0f} m, {route.duration.ToTimedelta()}")
    except grpc.RpcError as error:
        print("route failed:", describe(error))

    # 2. a matrix between three depots
    matrix = routing.ComputeMatrix(pb.routing_pb2.ComputeMatrixRequest(network=net.name, origins=[a, b, a]),
                                   timeout=2.0, metadata=metadata)
    print("matrix (s):", [round(v) for v in matrix.values])

    # 3. a vehicle-routing problem, idempotent (safe to resend after a network error)
    request = pb.optimization_pb2.SolveVrpRequest(
        request_id="example-depot-42-2026-11-23", instance="gen:cvrp:n=100,seed=42", solver="ga",
        time_limit=Duration(seconds=3))
    operation = optimization.SolveVrp(request, timeout=5.0, metadata=metadata).operation
    print("operation:", operation.name)
    for update in operations.WatchOperation(pb.operations_pb2.WatchOperationRequest(name=operation.name),
                                            timeout=60.0, metadata=metadata):
        op = update.operation
        best = op.progress.best_objective if op.progress.HasField("best_objective") else None
        print(f"  {pb.operations_pb2.OperationState.Name(op.state)} best={best}")
    final = operations.GetOperation(pb.operations_pb2.GetOperationRequest(name=operation.name),
                                    timeout=5.0, metadata=metadata).operation
    if final.HasField("vrp_solution"):
        sol = final.vrp_solution
        print(f"solution: {len(sol.routes)} routes, distance {sol.objective:.1f}, feasible {sol.feasible}")
    else:
        print("failed:", final.error.message)

    # 4. what a bad request looks like
    try:
        optimization.SolveVrp(pb.optimization_pb2.SolveVrpRequest(problem=pb.vrp_pb2.VrpProblem(
            clients=[pb.vrp_pb2.Client(x=1, y=1, demand=-3)], vehicles=[pb.vrp_pb2.Vehicle(capacity=10)])),
            timeout=5.0, metadata=metadata)
    except grpc.RpcError as error:
        print("bad request, as expected:\n" + describe(error))


if __name__ == "__main__":
    main()
