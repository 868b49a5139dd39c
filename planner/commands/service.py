"""The gRPC service from the shell: ``routeplanner serve`` and ``routeplanner client …``.

``client`` calls every RPC of the service and prints the response as JSON (proto3 JSON mapping);
an error prints its status code, message and field violations and exits with status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from planner.commands._output import err_console

client_app = typer.Typer(help="Call the routeplanner gRPC service (JSON output).", no_args_is_help=True)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``serve``, the ``client`` group and ``bench service``."""
    app.command("serve")(serve_command)
    app.add_typer(client_app, name="client")
    bench_app.command("service")(bench_service_command)


def serve_command(
    networks: Annotated[str | None, typer.Option(
        help="Comma-separated cities of the data directory to serve (default: every city there).")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 50051; 0: any free port).")] = None,
    database: Annotated[Path | None, typer.Option(
        help="SQLite file of the job store (default ./routeplanner-jobs.sqlite3).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes for long solves (default 2).")] = None,
    max_queued: Annotated[int | None, typer.Option(help="Jobs that may wait before new ones are refused.")] = None,
    threads: Annotated[int | None, typer.Option(help="Threads answering calls (default 16).")] = None,
    weights: Annotated[str | None, typer.Option(
        help="Comma-separated edge weights with a hierarchy: travel_time, length.")] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate chain (TLS).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key (TLS).")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file with a [server] table.")] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error.")] = None,
) -> None:
    """Start the gRPC service (bearer token from ROUTEPLANNER_TOKEN, if set)."""
    from server.app import serve
    from server.config import load_config

    def split(text: str | None) -> tuple[str, ...] | None:
        return None if text is None else tuple(t.strip() for t in text.split(",") if t.strip())

    cfg = load_config(config, host=host, port=port, database=database, workers=workers, max_queued=max_queued,
                      threads=threads, networks=split(networks), weights=split(weights), tls_cert=tls_cert,
                      tls_key=tls_key, log_level=log_level)
    err_console.print(f"routeplanner service on {cfg.address} (networks: "
                      f"{', '.join(cfg.served_networks()) or 'none'}; jobs in {cfg.database})")
    serve(cfg)


# ------------------------------------------------------------------------------------- client
_state: dict[str, Any] = {}



@client_app.callback()
def client_options(
    address: Annotated[str, typer.Option(help="host:port of the server.")] = "127.0.0.1:50051",
    token: Annotated[str | None, typer.Option(help="Bearer token (default: ROUTEPLANNER_TOKEN).",
                                              envvar="ROUTEPLANNER_TOKEN")] = None,
    ca_cert: Annotated[Path | None, typer.Option(help="PEM root certificate: connect with TLS.")] = None,
    timeout: Annotated[float, typer.Option(help="Deadline of every call in seconds.")] = 30.0,
) -> None:
    """Options shared by every client command."""
    _state.update(address=address, token=token, ca_cert=ca_cert, timeout=timeout)


def _call(stub_name: str, method: str, request: Any, *, stream: bool = False) -> None:
    import grpc
    from google.protobuf.json_format import MessageToDict
    from grpc_status import rpc_status

    from server.client import connect

    channel = connect(_state["address"], ca_cert=_state.get("ca_cert"))
    module_name, service = stub_name.split(".")
    from server.stubs import load

    stub = getattr(getattr(load(), module_name), f"{service}Stub")(channel)
    metadata = [("authorization", f"Bearer {_state['token']}")] if _state.get("token") else None
    try:
        call = getattr(stub, method)
        if stream:
            for message in call(request, timeout=_state["timeout"], metadata=metadata):
                sys.stdout.write(json.dumps(MessageToDict(message)) + "\n")
                sys.stdout.flush()
        else:
            response = call(request, timeout=_state["timeout"], metadata=metadata)
            sys.stdout.write(json.dumps(MessageToDict(response), indent=1) + "\n")
    except grpc.RpcError as exc:
        err_console.print(f"[bold red]{exc.code().name}[/]: {exc.details()}", highlight=False)
        status = rpc_status.from_call(exc)
        if status is not None:
            from google.rpc import error_details_pb2

            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    for v in bad.field_violations:
                        err_console.print(f"  {v.field}: {v.description}", highlight=False)
        raise typer.Exit(code=1) from None
    finally:
        channel.close()


def _lat_lng(text: str, field: str) -> Any:
    from planner.commands.routing import parse_lat_lon
    from server.stubs import load

    lat, lon = parse_lat_lon(text, field)
    return load().common_pb2.LatLng(latitude=lat, longitude=lon)


def _duration(seconds: float | None) -> Any:
    if seconds is None:
        return None
    from google.protobuf.duration_pb2 import Duration

    d = Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def _pb() -> Any:
    from server.stubs import load

    return load()


@client_app.command("health")
def client_health(service: Annotated[str, typer.Option(help="Service name ('' for the server).")] = "") -> None:
    """grpc.health.v1 Check."""
    from grpc_health.v1 import health_pb2

    _call_health(health_pb2.HealthCheckRequest(service=service))


def _call_health(request: Any) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from server.client import connect

    channel = connect(_state["address"], ca_cert=_state.get("ca_cert"))
    try:
        response = health_pb2_grpc.HealthStub(channel).Check(request, timeout=_state["timeout"])
        sys.stdout.write(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status) + "\n")
    except grpc.RpcError as exc:
        err_console.print(f"[bold red]{exc.code().name}[/]: {exc.details()}", highlight=False)
        raise typer.Exit(code=1) from None
    finally:
        channel.close()


@client_app.command("networks")
def client_networks() -> None:
    """ListNetworks."""
    _call("routing_pb2_grpc.RoutingService", "ListNetworks", _pb().routing_pb2.ListNetworksRequest())


@client_app.command("route")
def client_route(
    network: Annotated[str, typer.Argument(help="Network name (porto or networks/porto).")],
    origin: Annotated[str, typer.Option("--from", help="LAT,LON.")],
    destination: Annotated[str, typer.Option("--to", help="LAT,LON.")],
    length: Annotated[bool, typer.Option(help="Shortest instead of fastest.")] = False,
    geometry: Annotated[bool, typer.Option(help="Include the route's coordinates.")] = False,
    alternatives: Annotated[int, typer.Option(help="Alternative routes wanted (0 to 3).")] = 0,
) -> None:
    """ComputeRoute."""
    pb = _pb()
    objective = (pb.routing_pb2.ROUTE_OBJECTIVE_LENGTH if length else pb.routing_pb2.ROUTE_OBJECTIVE_TRAVEL_TIME)
    _call("routing_pb2_grpc.RoutingService", "ComputeRoute", pb.routing_pb2.ComputeRouteRequest(
        network=_network_name(network), origin=_lat_lng(origin, "from"), destination=_lat_lng(destination, "to"),
        objective=objective, include_geometry=geometry, max_alternatives=alternatives))


def _network_name(text: str) -> str:
    return text if text.startswith("networks/") else f"networks/{text}"


@client_app.command("matrix")
def client_matrix(
    network: Annotated[str, typer.Argument(help="Network name.")],
    points: Annotated[Path, typer.Argument(help="CSV of points: lat,lon (header optional).")],
    length: Annotated[bool, typer.Option(help="Distances instead of travel times.")] = False,
) -> None:
    """ComputeMatrix between every pair of the points of a CSV file."""
    from planner.commands.routing import read_points_csv

    pb = _pb()
    pts = read_points_csv(points)
    objective = (pb.routing_pb2.ROUTE_OBJECTIVE_LENGTH if length else pb.routing_pb2.ROUTE_OBJECTIVE_TRAVEL_TIME)
    _call("routing_pb2_grpc.RoutingService", "ComputeMatrix", pb.routing_pb2.ComputeMatrixRequest(
        network=_network_name(network), objective=objective,
        origins=[pb.common_pb2.LatLng(latitude=float(a), longitude=float(b)) for a, b in pts]))


@client_app.command("fabric")
def client_fabric(
    spines: Annotated[int, typer.Option(help="Spine switches.")] = 4,
    leaves: Annotated[int, typer.Option(help="Leaf switches.")] = 8,
    hosts_per_leaf: Annotated[int, typer.Option(help="Hosts per leaf.")] = 4,
    pattern: Annotated[str, typer.Option(help="permutation, ring-allreduce or all-to-all.")] = "permutation",
    size: Annotated[float, typer.Option(help="Flow size, Gb/s.")] = 100.0,
    method: Annotated[str, typer.Option(help="minimal-split, ecmp-x, spray, single-path, lp.")] = "minimal-split",
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
) -> None:
    """SplitFabricFlows on a leaf-spine fabric with a generated workload."""
    pb = _pb()
    patterns = {"permutation": pb.fabric_pb2.WORKLOAD_PATTERN_PERMUTATION,
                "ring-allreduce": pb.fabric_pb2.WORKLOAD_PATTERN_RING_ALLREDUCE,
                "all-to-all": pb.fabric_pb2.WORKLOAD_PATTERN_ALL_TO_ALL}
    if pattern not in patterns:
        from planner.errors import ValidationError

        raise ValidationError("pattern", f"unknown pattern {pattern!r} ({', '.join(patterns)})")
    _call("fabric_pb2_grpc.FabricService", "SplitFabricFlows", pb.fabric_pb2.SplitFabricFlowsRequest(
        fabric=pb.fabric_pb2.LeafSpine(spines=spines, leaves=leaves, hosts_per_leaf=hosts_per_leaf),
        pattern=patterns[pattern], pattern_size_gbps=size, method=method, seed=seed))


@client_app.command("plan")
def client_plan(
    world: Annotated[Path, typer.Argument(help="JSON world file (bounds, start, goal, obstacles).")],
    planner: Annotated[str, typer.Option(help="fmt*, informed-rrt*, rrt*, fmtx.")] = "fmt*",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
) -> None:
    """PlanPath in the workspace of a JSON world file."""
    from planner.workspace import read_world

    pb = _pb()
    problem = read_world(world)
    ws = problem.workspace
    point = pb.common_pb2.Point
    obstacles = []
    for o in ws.obstacles:
        kind = type(o).__name__
        if kind == "Box":
            obstacles.append(pb.planning_pb2.Obstacle(box=pb.planning_pb2.BoxObstacle(
                low=point(coordinates=o.lo.tolist()), high=point(coordinates=o.hi.tolist()))))
        elif kind == "Ball":
            obstacles.append(pb.planning_pb2.Obstacle(ball=pb.planning_pb2.BallObstacle(
                center=point(coordinates=o.center.tolist()), radius=float(o.radius))))
        else:
            obstacles.append(pb.planning_pb2.Obstacle(polygon=pb.planning_pb2.PolygonObstacle(
                vertices=[point(coordinates=v.tolist()) for v in o.vertices])))
    _call("planning_pb2_grpc.PathPlanningService", "PlanPath", pb.planning_pb2.PlanPathRequest(
        workspace=pb.planning_pb2.Workspace(low=point(coordinates=ws.lower.tolist()),
                                            high=point(coordinates=ws.upper.tolist()), obstacles=obstacles),
        start=point(coordinates=problem.start.tolist()), goal=point(coordinates=problem.goal.tolist()),
        planner=planner, time_limit=_duration(time_limit), seed=seed))


@client_app.command("solve-vrp")
def client_solve_vrp(
    instance: Annotated[str, typer.Argument(help="Instance name of the data directory or gen:cvrp:n=100,seed=1.")],
    solver: Annotated[str, typer.Option(help="ga, savings, ortools.")] = "ga",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds.")] = 10.0,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    request_id: Annotated[str, typer.Option(help="Idempotency key.")] = "",
) -> None:
    """SolveVrp: start a VRP solve; prints the operation (follow it with `client watch`)."""
    pb = _pb()
    _call("optimization_pb2_grpc.OptimizationService", "SolveVrp", pb.optimization_pb2.SolveVrpRequest(
        instance=instance, solver=solver, time_limit=_duration(time_limit), seed=seed, request_id=request_id))


@client_app.command("solve-assignment")
def client_solve_assignment(
    network: Annotated[str, typer.Argument(help="TNTP network of the data directory, e.g. SiouxFalls.")],
    solver: Annotated[str, typer.Option(help="bfw, cfw, fw, msa, gradient-projection.")] = "bfw",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds.")] = 60.0,
    system_optimum: Annotated[bool, typer.Option(help="System optimum instead of user equilibrium.")] = False,
    request_id: Annotated[str, typer.Option(help="Idempotency key.")] = "",
) -> None:
    """SolveTrafficAssignment: start an assignment; prints the operation."""
    pb = _pb()
    objective = (pb.assignment_pb2.ASSIGNMENT_OBJECTIVE_SYSTEM_OPTIMUM if system_optimum
                 else pb.assignment_pb2.ASSIGNMENT_OBJECTIVE_USER_EQUILIBRIUM)
    _call("optimization_pb2_grpc.OptimizationService", "SolveTrafficAssignment",
          pb.optimization_pb2.SolveTrafficAssignmentRequest(network=network, solver=solver, objective=objective,
                                                            time_limit=_duration(time_limit), request_id=request_id))


@client_app.command("design")
def client_design(
    network: Annotated[str, typer.Argument(help="TNTP network of the data directory, e.g. SiouxFalls.")],
    budget: Annotated[float | None, typer.Option(help="Budget in cost units (default: --budget-share).")] = None,
    budget_share: Annotated[float, typer.Option(help="Budget as a share of a lane on every link.")] = 0.1,
    method: Annotated[str, typer.Option(help="exact or surrogate.")] = "surrogate",
    reversal: Annotated[bool, typer.Option(help="Allow lane reversal.")] = True,
    generations: Annotated[int, typer.Option(help="GA generation limit.")] = 200,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds.")] = 600.0,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    request_id: Annotated[str, typer.Option(help="Idempotency key.")] = "",
) -> None:
    """SolveNetworkDesign: start a network design; prints the operation (follow it with `client watch`)."""
    pb = _pb()
    methods = {"exact": pb.assignment_pb2.NETWORK_DESIGN_METHOD_EXACT,
               "surrogate": pb.assignment_pb2.NETWORK_DESIGN_METHOD_SURROGATE}
    if method not in methods:
        from planner.errors import ValidationError

        raise ValidationError("method", f"unknown {method!r} (known: exact, surrogate)")
    request = pb.optimization_pb2.SolveNetworkDesignRequest(
        network=network, budget_share=budget_share, method=methods[method], disable_lane_reversal=not reversal,
        generations=generations, time_limit=_duration(time_limit), seed=seed, request_id=request_id)
    if budget is not None:
        request.budget = budget
    _call("optimization_pb2_grpc.OptimizationService", "SolveNetworkDesign", request)


@client_app.command("route-demands")
def client_route_demands(
    topology: Annotated[str, typer.Argument(help="Topology of the data directory: nsfnet, geant2, gbn or a Zoo name.")],
    policy: Annotated[str, typer.Option(help="routing-agent, sap, lb or least-max-util.")] = "routing-agent",
    episodes: Annotated[int, typer.Option(help="Episodes to play.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the demand sequences.")] = 1,
    capacity: Annotated[float, typer.Option(help="Capacity of every link.")] = 200.0,
    k: Annotated[int, typer.Option(help="Candidate paths per demand.")] = 4,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds.")] = 600.0,
    request_id: Annotated[str, typer.Option(help="Idempotency key.")] = "",
) -> None:
    """SolveDemandRouting: play demand-routing episodes with a policy; prints the operation."""
    pb = _pb()
    _call("optimization_pb2_grpc.OptimizationService", "SolveDemandRouting",
          pb.optimization_pb2.SolveDemandRoutingRequest(
              topology=topology, policy=policy, episodes=episodes, seed=seed, capacity=capacity, k=k,
              time_limit=_duration(time_limit), request_id=request_id))


def _op_name(text: str) -> str:
    return text if text.startswith("operations/") else f"operations/{text}"


def _operation_command(method: str, build: Callable[[Any, str], Any], stream: bool = False) -> Callable[..., None]:
    def command(name: Annotated[str, typer.Argument(help="operations/{id} or the id.")]) -> None:
        _call("operations_pb2_grpc.OperationsService", method, build(_pb().operations_pb2, _op_name(name)),
              stream=stream)

    command.__doc__ = f"{method}."
    return command


client_app.command("get")(_operation_command("GetOperation", lambda m, n: m.GetOperationRequest(name=n)))
client_app.command("cancel")(_operation_command("CancelOperation", lambda m, n: m.CancelOperationRequest(name=n)))
client_app.command("watch")(_operation_command("WatchOperation", lambda m, n: m.WatchOperationRequest(name=n),
                                               stream=True))


@client_app.command("wait")
def client_wait(
    name: Annotated[str, typer.Argument(help="operations/{id} or the id.")],
    timeout: Annotated[float, typer.Option(help="Longest wait in seconds (at most 60).")] = 60.0,
) -> None:
    """WaitOperation."""
    pb = _pb()
    _call("operations_pb2_grpc.OperationsService", "WaitOperation",
          pb.operations_pb2.WaitOperationRequest(name=_op_name(name), timeout=_duration(timeout)))


@client_app.command("list")
def client_list(
    page_size: Annotated[int, typer.Option(help="Operations per page.")] = 20,
    page_token: Annotated[str, typer.Option(help="Token of the next page.")] = "",
    state: Annotated[str | None, typer.Option(help="queued, running, done, failed, cancelled.")] = None,
) -> None:
    """ListOperations, newest first."""
    pb = _pb()
    value = 0
    if state is not None:
        value = pb.operations_pb2.OperationState.Value(f"OPERATION_STATE_{state.upper()}")
    _call("operations_pb2_grpc.OperationsService", "ListOperations", pb.operations_pb2.ListOperationsRequest(
        page_size=page_size, page_token=page_token, state=value))


# -------------------------------------------------------------------------------------- bench
def bench_service_command(
    network: Annotated[str, typer.Option(help="City to route on.")] = "porto",
    clients: Annotated[int, typer.Option(help="Concurrent Route clients.")] = 50,
    queries: Annotated[int, typer.Option(help="Route calls in total.")] = 5000,
    jobs: Annotated[int, typer.Option(help="VRP jobs submitted in the burst.")] = 1000,
    job_clients: Annotated[int, typer.Option(help="Clients per VRP instance.")] = 100,
    job_seconds: Annotated[float, typer.Option(help="Time limit of every VRP job.")] = 1.0,
    workers: Annotated[int, typer.Option(help="Server worker processes.")] = 2,
    max_queued: Annotated[int, typer.Option(help="Server queue bound.")] = 200,
    kill_after: Annotated[float, typer.Option(help="SIGKILL the server this many seconds into the burst "
                                                   "(0: no kill).")] = 5.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the records here.")] = None,
) -> None:
    """Load test: Route latency at N clients against the in-process query, a burst of VRP jobs
    with a SIGKILL and restart; every accepted job must be accounted for."""
    from planner.bench.records import write_records
    from planner.commands._output import console, print_rows
    from server.loadtest import LoadTestSettings, run_load_test

    settings = LoadTestSettings(network=network, clients=clients, queries=queries, jobs=jobs,
                                job_clients=job_clients, job_seconds=job_seconds, workers=workers,
                                max_queued=max_queued, kill_after_s=kill_after)
    with console.status("load testing the service…") as status:
        records = run_load_test(settings, progress=status.update)
    print_rows("bench service", [{"instance": r.instance, "solver": r.solver, **r.metrics} for r in records])
    if json_out is not None:
        write_records(json_out, records)
        console.print(f"wrote {len(records)} records to {json_out}")
