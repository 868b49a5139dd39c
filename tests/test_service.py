"""Integration tests of the gRPC service: a real server on a loopback port, every RPC through
the generated stubs, answers checked against independent computations (scipy Dijkstra, loads
recomputed from the returned splits, distances recomputed from coordinates)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf.duration_pb2 import Duration
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests._service_helpers import TOKEN, channel, violations, wait_done
from tests.conftest import requires_data

pytestmark = requires_data("osm", "monaco.drive.osm.bz2")

MONACO_A = (43.7384, 7.4246)
MONACO_B = (43.7280, 7.4160)
MONACO_C = (43.7450, 7.4300)


@pytest.fixture(scope="module")
def pb():
    from server.stubs import load

    return load()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from server.app import RoutePlannerServer
    from server.config import ServerConfig

    folder = tmp_path_factory.mktemp("service")
    srv = RoutePlannerServer(ServerConfig(port=0, networks=("monaco",), weights=("travel_time", "length"),
                                          database=folder / "jobs.sqlite3", workers=2, max_queued=3,
                                          token=TOKEN, max_message_bytes=1024 * 1024, log_level="warning"))
    port = srv.start()
    first = health_pb2_grpc.HealthStub(channel(port, None)).Check(health_pb2.HealthCheckRequest(), timeout=5).status
    assert srv.wait_serving(180)
    srv.first_health = first
    yield srv
    srv.stop(1.0)


@pytest.fixture(scope="module")
def stubs(server, pb):
    ch = channel(server.port)

    class Stubs:
        routing = pb.routing_pb2_grpc.RoutingServiceStub(ch)
        fabric = pb.fabric_pb2_grpc.FabricServiceStub(ch)
        planning = pb.planning_pb2_grpc.PathPlanningServiceStub(ch)
        optimization = pb.optimization_pb2_grpc.OptimizationServiceStub(ch)
        operations = pb.operations_pb2_grpc.OperationsServiceStub(ch)

    yield Stubs
    ch.close()


@pytest.fixture(scope="module")
def monaco():
    from datasets.osm import read_osm
    from planner.graph.spatial import SpatialIndex

    road = read_osm("monaco", simplify=False)
    return road, SpatialIndex(road)


def ll(pb, point):
    return pb.common_pb2.LatLng(latitude=point[0], longitude=point[1])


def seconds(d) -> float:
    return d.seconds + d.nanos * 1e-9


# ------------------------------------------------------------------------------ health, reflection
def test_health_not_serving_until_networks_load_then_serving(server):
    assert server.first_health == health_pb2.HealthCheckResponse.NOT_SERVING
    health = health_pb2_grpc.HealthStub(channel(server.port, None))  # health needs no token
    for service in ("", "routeplanner.v1.RoutingService", "routeplanner.v1.OperationsService"):
        status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_every_service(server, pb):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(channel(server.port))
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                          timeout=5)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert set(pb.service_names) <= names
    assert "grpc.health.v1.Health" in names


# ------------------------------------------------------------------------------------- routing
def test_list_networks(stubs, pb, monaco):
    road, _ = monaco
    networks = stubs.routing.ListNetworks(pb.routing_pb2.ListNetworksRequest(), timeout=5).networks
    assert [n.name for n in networks] == ["networks/monaco"]
    assert networks[0].node_count == road.n_nodes and networks[0].edge_count == road.n_edges
    assert networks[0].low.latitude < MONACO_A[0] < networks[0].high.latitude


@pytest.mark.parametrize(("objective", "weight"), [(1, "travel_time"), (2, "length")])
def test_route_matches_dijkstra(stubs, pb, monaco, objective, weight):
    from solvers.paths.dijkstra import DijkstraRouter

    road, index = monaco
    response = stubs.routing.ComputeRoute(pb.routing_pb2.ComputeRouteRequest(
        network="networks/monaco", origin=ll(pb, MONACO_A), destination=ll(pb, MONACO_B), objective=objective,
        include_geometry=True), timeout=10)
    s, t = index.nearest_node(*MONACO_A), index.nearest_node(*MONACO_B)
    reference = DijkstraRouter(road.graph, weight).shortest_path(s, t)
    route = response.route
    got = seconds(route.duration) if weight == "travel_time" else route.distance_meters
    assert got == pytest.approx(reference.cost, rel=1e-9, abs=1e-6)
    ids = road.graph.node_ids
    assert route.osm_node_ids[0] == ids[s] and route.osm_node_ids[-1] == ids[t]
    assert route.segment_count == len(route.osm_node_ids) - 1
    assert len(route.path) >= len(route.osm_node_ids)
    assert response.origin_snap_meters < 100


def test_route_alternatives(stubs, pb, monaco):
    pytest.importorskip("solvers.paths.alternatives")
    road, _ = monaco
    response = stubs.routing.ComputeRoute(pb.routing_pb2.ComputeRouteRequest(
        network="networks/monaco", origin=ll(pb, (43.75305, 7.40724)), destination=ll(pb, (43.73285, 7.41358)),
        max_alternatives=2), timeout=10)
    best = response.route
    assert best.stretch == 1.0 and 1 <= len(response.alternatives) <= 2
    ids = road.graph.node_ids
    index = {int(x): i for i, x in enumerate(ids)}
    tt = road.graph.edge_attrs["travel_time"]
    indptr, heads = road.graph.indptr, road.graph.indices
    for alt in response.alternatives:
        assert list(alt.osm_node_ids) != list(best.osm_node_ids)
        assert alt.osm_node_ids[0] == best.osm_node_ids[0] and alt.osm_node_ids[-1] == best.osm_node_ids[-1]
        # the duration is the sum of the cheapest edges between consecutive nodes of the route
        total = 0.0
        for u, v in zip(alt.osm_node_ids[:-1], alt.osm_node_ids[1:], strict=True):
            a, b = index[u], index[v]
            edges = np.arange(indptr[a], indptr[a + 1])
            total += float(np.min(tt[edges[heads[edges] == b]]))
        assert seconds(alt.duration) == pytest.approx(total, rel=1e-6)
        assert alt.stretch == pytest.approx(seconds(alt.duration) / seconds(best.duration), rel=1e-6)
        assert 1.0 <= alt.stretch <= 1.25 + 1e-9 and 0.0 <= alt.sharing <= 0.75 + 1e-9


def test_matrix_matches_dijkstra(stubs, pb, monaco):
    from solvers.paths.dijkstra import DijkstraRouter

    road, index = monaco
    points = [MONACO_A, MONACO_B, MONACO_C]
    response = stubs.routing.ComputeMatrix(pb.routing_pb2.ComputeMatrixRequest(
        network="networks/monaco", origins=[ll(pb, p) for p in points]), timeout=10)
    nodes = np.array([index.nearest_node(*p) for p in points])
    reference = DijkstraRouter(road.graph, "travel_time").distance_matrix(nodes)
    got = np.array(response.values).reshape(response.row_count, response.column_count)
    np.testing.assert_allclose(got, reference, rtol=1e-9)


# -------------------------------------------------------------------------------------- fabric
def test_fabric_split_loads_recomputed_from_the_splits(stubs, pb):
    spines, leaves, hpl = 2, 3, 2
    flows = [(0, 2, 60.0), (1, 3, 60.0), (0, 4, 30.0), (5, 1, 90.0), (2, 5, 40.0)]
    response = stubs.fabric.SplitFabricFlows(pb.fabric_pb2.SplitFabricFlowsRequest(
        fabric=pb.fabric_pb2.LeafSpine(spines=spines, leaves=leaves, hosts_per_leaf=hpl, host_link_gbps=100,
                                       uplink_gbps=50),
        flows=[pb.fabric_pb2.HostFlow(source_host=s, destination_host=d, size_gbps=z) for s, d, z in flows],
        method="lp"), timeout=30)
    assert response.flow_count == len(flows) and len(response.splits) == len(flows)
    up, down = {}, {}
    host_out, host_in = np.zeros(leaves * hpl), np.zeros(leaves * hpl)
    for (s, d, z), split in zip(flows, response.splits, strict=True):
        assert sum(split.fractions) == pytest.approx(1.0)
        host_out[s] += z
        host_in[d] += z
        for spine, fraction in zip(split.spines, split.fractions, strict=True):
            up[(s // hpl, spine)] = up.get((s // hpl, spine), 0.0) + z * fraction
            down[(spine, d // hpl)] = down.get((spine, d // hpl), 0.0) + z * fraction
    congestion = max(max(up.values()) / 50, max(down.values()) / 50, host_out.max() / 100, host_in.max() / 100)
    assert response.max_congestion == pytest.approx(congestion, rel=1e-6)
    # the LP is optimal: leaf 0 sends 150 Gb/s over two 50 Gb/s uplinks, so 1.5 is a lower bound
    assert response.max_congestion == pytest.approx(1.5, rel=1e-6)


def test_fabric_generated_pattern(stubs, pb):
    response = stubs.fabric.SplitFabricFlows(pb.fabric_pb2.SplitFabricFlowsRequest(
        fabric=pb.fabric_pb2.LeafSpine(spines=4, leaves=4, hosts_per_leaf=4),
        pattern=pb.fabric_pb2.WORKLOAD_PATTERN_PERMUTATION, pattern_size_gbps=100.0, seed=3), timeout=30)
    assert response.flow_count == 16 and response.method == "minimal-split"
    assert response.max_congestion >= 1.0 - 1e-9  # every host link carries its full 100 Gb/s flow


# ------------------------------------------------------------------------------------- planning
def _world(pb, time_limit_s: float):
    point = pb.common_pb2.Point
    return pb.planning_pb2.PlanPathRequest(
        workspace=pb.planning_pb2.Workspace(
            low=point(coordinates=[0, 0]), high=point(coordinates=[10, 10]),
            obstacles=[pb.planning_pb2.Obstacle(box=pb.planning_pb2.BoxObstacle(
                low=point(coordinates=[4, 0]), high=point(coordinates=[6, 8])))]),
        start=point(coordinates=[1, 1]), goal=point(coordinates=[9, 1]), planner="fmt*",
        time_limit=Duration(nanos=int(time_limit_s * 1e9)) if time_limit_s < 1 else Duration(seconds=int(time_limit_s)),
        seed=1)


def test_plan_path_is_collision_free(stubs, pb):
    from planner.workspace import Box, PlannedPath, PlanningProblem, Workspace, check_path

    response = stubs.planning.PlanPath(_world(pb, 0.5), timeout=10)
    waypoints = np.array([list(p.coordinates) for p in response.waypoints])
    problem = PlanningProblem(Workspace(np.zeros(2), np.full(2, 10.0), (Box(np.array([4.0, 0]), np.array([6.0, 8])),)),
                              np.array([1.0, 1]), np.array([9.0, 1]))
    assert check_path(problem, PlannedPath(waypoints)) == []
    # around the wall: at least up to y=8 and back down
    assert response.cost >= 2 * math.hypot(4, 7) - 1e-9
    assert response.cost == pytest.approx(np.sum(np.linalg.norm(np.diff(waypoints, axis=0), axis=1)))


def test_plan_path_honours_the_deadline(stubs, pb):
    start = time.perf_counter()
    response = stubs.planning.PlanPath(_world(pb, 30.0), timeout=1.0)  # deadline well under the time limit
    assert time.perf_counter() - start < 1.0
    assert seconds(response.elapsed) < 1.0


def test_deadline_exceeded(stubs, pb):
    with pytest.raises(grpc.RpcError) as info:
        stubs.planning.PlanPath(_world(pb, 30.0), timeout=0.001)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


# ------------------------------------------------------------------------------------ operations
def _wait_running(stubs, pb, name, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        op = stubs.operations.GetOperation(pb.operations_pb2.GetOperationRequest(name=name), timeout=5).operation
        if op.state == pb.operations_pb2.OPERATION_STATE_RUNNING and op.progress.HasField("best_objective"):
            return op
        time.sleep(0.05)
    raise AssertionError(f"{name} never ran")


def test_vrp_watch_until_done_and_result_checked(stubs, pb):
    from datasets.detect import load_problem

    spec = "gen:cvrp:n=30,seed=4"
    op = stubs.optimization.SolveVrp(pb.optimization_pb2.SolveVrpRequest(
        instance=spec, solver="ga", time_limit=Duration(seconds=1), seed=2), timeout=10).operation
    assert op.name.startswith("operations/") and not op.done
    snapshots = [m.operation for m in stubs.operations.WatchOperation(
        pb.operations_pb2.WatchOperationRequest(name=op.name), timeout=60)]
    final = snapshots[-1]
    assert final.state == pb.operations_pb2.OPERATION_STATE_DONE and final.done
    assert all(not s.done for s in snapshots[:-1])
    elapsed = [seconds(s.progress.elapsed) for s in snapshots if s.HasField("progress")]
    assert elapsed == sorted(elapsed)
    solution = final.vrp_solution
    instance = load_problem(spec).problem
    coords = instance.coords
    total, visited = 0.0, []
    for route in solution.routes:
        path = [0, *route.visits, 0]
        legs = np.linalg.norm(np.diff(coords[path], axis=0), axis=1)
        total += float(np.sum(np.rint(legs) if instance.rounding == "nint" else legs))
        assert sum(instance.demands[v] for v in route.visits) <= instance.capacity
        visited += list(route.visits)
    assert sorted(visited) == list(range(1, instance.n_clients + 1))
    assert solution.objective == pytest.approx(total, rel=1e-9)
    assert solution.feasible and final.progress.best_objective == pytest.approx(solution.objective)


def test_inline_vrp_problem_with_savings(stubs, pb):
    v = pb.vrp_pb2
    clients = [v.Client(x=x, y=y, demand=d) for x, y, d in [(0, 10, 4), (10, 0, 4), (0, -10, 4), (-10, 0, 4)]]
    problem = v.VrpProblem(name="square", depot=v.Depot(x=0, y=0), clients=clients,
                           vehicles=[v.Vehicle(capacity=8), v.Vehicle(capacity=8)])
    op = stubs.optimization.SolveVrp(pb.optimization_pb2.SolveVrpRequest(problem=problem, solver="savings"),
                                     timeout=10).operation
    final = wait_done(stubs, pb, op.name)
    sol = final.vrp_solution
    # brute force: two vehicles of capacity 8 serve two neighbouring clients each: 2 * (10 + 10*sqrt(2) + 10)
    assert sol.objective == pytest.approx(2 * (20 + 10 * math.sqrt(2)))
    assert len(sol.routes) == 2 and sorted(c for r in sol.routes for c in r.visits) == [1, 2, 3, 4]


def test_request_id_makes_create_idempotent(stubs, pb):
    request = pb.optimization_pb2.SolveVrpRequest(request_id="idem-1", instance="gen:cvrp:n=10,seed=1",
                                                  solver="savings")
    first = stubs.optimization.SolveVrp(request, timeout=10).operation
    second = stubs.optimization.SolveVrp(request, timeout=10).operation
    assert first.name == second.name and second.request_id == "idem-1"
    wait_done(stubs, pb, first.name)
    listed = stubs.operations.ListOperations(pb.operations_pb2.ListOperationsRequest(page_size=1000),
                                             timeout=10).operations
    assert sum(op.request_id == "idem-1" for op in listed) == 1


def test_list_operations_pages_and_filters(stubs, pb):
    names = [stubs.optimization.SolveVrp(pb.optimization_pb2.SolveVrpRequest(
        instance=f"gen:cvrp:n=8,seed={i}", solver="savings"), timeout=10).operation.name for i in range(3)]
    for name in names:
        wait_done(stubs, pb, name)
    seen, token = [], ""
    while True:
        page = stubs.operations.ListOperations(pb.operations_pb2.ListOperationsRequest(
            page_size=2, page_token=token, state=pb.operations_pb2.OPERATION_STATE_DONE), timeout=10)
        assert len(page.operations) <= 2
        seen += [op.name for op in page.operations]
        assert all(op.state == pb.operations_pb2.OPERATION_STATE_DONE for op in page.operations)
        token = page.next_page_token
        if not token:
            break
    assert set(names) <= set(seen) and len(seen) == len(set(seen))
    assert seen.index(names[2]) < seen.index(names[0])  # newest first


def test_cancel_running_returns_best_so_far_within_a_second(stubs, pb):
    op = stubs.optimization.SolveVrp(pb.optimization_pb2.SolveVrpRequest(
        instance="gen:cvrp:n=120,seed=7", solver="ga", time_limit=Duration(seconds=120)), timeout=10).operation
    _wait_running(stubs, pb, op.name)
    start = time.monotonic()
    stubs.operations.CancelOperation(pb.operations_pb2.CancelOperationRequest(name=op.name), timeout=5)
    final = wait_done(stubs, pb, op.name)
    stopped_s = time.monotonic() - start
    assert final.state == pb.operations_pb2.OPERATION_STATE_CANCELLED
    assert final.HasField("vrp_solution") and final.vrp_solution.feasible
    assert stopped_s < 1.5, f"cancel took {stopped_s:.2f} s"


def test_queue_bound_and_cancel_queued(stubs, pb, server):
    long = [stubs.optimization.SolveVrp(pb.optimization_pb2.SolveVrpRequest(
        instance="gen:cvrp:n=60,seed=1", solver="ga", time_limit=Duration(seconds=120)), timeout=10).operation.name
        for _ in range(2)]
    for name in long:
        _wait_running(stubs, pb, name)
    queued = [stubs.optimization.SolveVrp(pb.optimization_pb2.SolveVrpRequest(
        instance="gen:cvrp:n=60,seed=2", solver="ga", time_limit=Duration(seconds=120)), timeout=10).operation.name
        for _ in range(server.config.max_queued)]
    with pytest.raises(grpc.RpcError) as info:
        stubs.optimization.SolveVrp(pb.optimization_pb2.SolveVrpRequest(instance="gen:cvrp:n=5,seed=2"), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    for name in queued:
        op = stubs.operations.CancelOperation(pb.operations_pb2.CancelOperationRequest(name=name),
                                              timeout=5).operation
        assert op.state == pb.operations_pb2.OPERATION_STATE_CANCELLED and not op.HasField("vrp_solution")
    for name in long:
        stubs.operations.CancelOperation(pb.operations_pb2.CancelOperationRequest(name=name), timeout=5)
        assert wait_done(stubs, pb, name).state == pb.operations_pb2.OPERATION_STATE_CANCELLED


def test_wait_operation_returns_at_its_timeout(stubs, pb):
    op = stubs.optimization.SolveVrp(pb.optimization_pb2.SolveVrpRequest(
        instance="gen:cvrp:n=60,seed=3", solver="ga", time_limit=Duration(seconds=120)), timeout=10).operation
    start = time.monotonic()
    waited = stubs.operations.WaitOperation(pb.operations_pb2.WaitOperationRequest(
        name=op.name, timeout=Duration(nanos=300_000_000)), timeout=10).operation
    assert not waited.done and 0.25 < time.monotonic() - start < 5
    # the caller's deadline caps the wait too: the call answers before it instead of failing
    waited = stubs.operations.WaitOperation(pb.operations_pb2.WaitOperationRequest(name=op.name), timeout=0.5)
    assert not waited.operation.done
    stubs.operations.CancelOperation(pb.operations_pb2.CancelOperationRequest(name=op.name), timeout=5)
    wait_done(stubs, pb, op.name)


# ------------------------------------------------------------------------------------ auth, sizes
def test_auth_rejects_missing_and_wrong_tokens(server, pb):
    for token in (None, "wrong"):
        stub = pb.routing_pb2_grpc.RoutingServiceStub(channel(server.port, token))
        with pytest.raises(grpc.RpcError) as info:
            stub.ListNetworks(pb.routing_pb2.ListNetworksRequest(), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_message_size_limit(stubs, pb):
    huge = pb.routing_pb2.ComputeMatrixRequest(network="networks/monaco",
                                               origins=[ll(pb, MONACO_A)] * 60_000)  # about 1.4 MB > 1 MiB
    with pytest.raises(grpc.RpcError) as info:
        stubs.routing.ComputeMatrix(huge, timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# ---------------------------------------------------------------------------- malformed requests
def _malformed(pb):
    """``(id, service, method, request, code, field)`` of requests the server must refuse."""
    r, f, p, o, v, ops = pb.routing_pb2, pb.fabric_pb2, pb.planning_pb2, pb.optimization_pb2, pb.vrp_pb2, \
        pb.operations_pb2
    point = pb.common_pb2.Point
    a, b = ll(pb, MONACO_A), ll(pb, MONACO_B)
    IA, NF, RE = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.RESOURCE_EXHAUSTED

    def vrp(**changes):
        fields = dict(depot=v.Depot(x=0, y=0), clients=[v.Client(x=1, y=1, demand=1), v.Client(x=2, y=2, demand=2)],
                      vehicles=[v.Vehicle(capacity=10)])
        fields.update(changes)
        return o.SolveVrpRequest(problem=v.VrpProblem(**fields), solver="savings")

    def world(**changes):
        fields = dict(workspace=p.Workspace(low=point(coordinates=[0, 0]), high=point(coordinates=[10, 10])),
                      start=point(coordinates=[1, 1]), goal=point(coordinates=[9, 9]))
        fields.update(changes)
        return p.PlanPathRequest(**fields)

    leaf_spine = f.LeafSpine(spines=2, leaves=2, hosts_per_leaf=2)
    return [
        ("route-no-network", "routing", "ComputeRoute", r.ComputeRouteRequest(origin=a, destination=b), IA, "network"),
        ("route-bad-name", "routing", "ComputeRoute",
         r.ComputeRouteRequest(network="porto", origin=a, destination=b), IA, "network"),
        ("route-unknown-network", "routing", "ComputeRoute",
         r.ComputeRouteRequest(network="networks/atlantis", origin=a, destination=b), NF, None),
        ("route-lat-range", "routing", "ComputeRoute", r.ComputeRouteRequest(
            network="networks/monaco", origin=pb.common_pb2.LatLng(latitude=91, longitude=7.4), destination=b),
         IA, "origin.latitude"),
        ("route-missing-destination", "routing", "ComputeRoute",
         r.ComputeRouteRequest(network="networks/monaco", origin=a), IA, "destination"),
        ("route-far-away", "routing", "ComputeRoute", r.ComputeRouteRequest(
            network="networks/monaco", origin=a, destination=pb.common_pb2.LatLng(latitude=48.85, longitude=2.35)),
         IA, "destination"),
        ("route-bad-objective", "routing", "ComputeRoute",
         r.ComputeRouteRequest(network="networks/monaco", origin=a, destination=b, objective=9), IA, "objective"),
        ("route-too-many-alternatives", "routing", "ComputeRoute", r.ComputeRouteRequest(
            network="networks/monaco", origin=a, destination=b, max_alternatives=9), IA, "max_alternatives"),
        ("matrix-empty", "routing", "ComputeMatrix", r.ComputeMatrixRequest(network="networks/monaco"), IA, "origins"),
        ("matrix-bad-point", "routing", "ComputeMatrix", r.ComputeMatrixRequest(
            network="networks/monaco", origins=[a, pb.common_pb2.LatLng(latitude=0, longitude=200)]),
         IA, "origins[1].longitude"),
        ("matrix-too-large", "routing", "ComputeMatrix",
         r.ComputeMatrixRequest(network="networks/monaco", origins=[a] * 600), RE, None),
        ("vrp-no-source", "optimization", "SolveVrp", o.SolveVrpRequest(solver="savings"), IA, "source"),
        ("vrp-negative-demand", "optimization", "SolveVrp",
         vrp(clients=[v.Client(x=1, y=1, demand=1), v.Client(x=2, y=2, demand=-3)]), IA, "problem.clients[1].demand"),
        ("vrp-demand-over-capacity", "optimization", "SolveVrp",
         vrp(clients=[v.Client(x=1, y=1, demand=11)]), IA, "problem.clients[0].demand"),
        ("vrp-vehicle-capacity", "optimization", "SolveVrp",
         vrp(vehicles=[v.Vehicle(capacity=10)] * 3 + [v.Vehicle(capacity=-1)]), IA, "problem.vehicles[3].capacity"),
        ("vrp-mixed-fleet", "optimization", "SolveVrp",
         vrp(vehicles=[v.Vehicle(capacity=10), v.Vehicle(capacity=12)]), IA, "problem.vehicles[1].capacity"),
        ("vrp-no-vehicles", "optimization", "SolveVrp", vrp(vehicles=[]), IA, "problem.vehicles"),
        ("vrp-no-clients", "optimization", "SolveVrp", vrp(clients=[]), IA, "problem.clients"),
        ("vrp-nan-coordinate", "optimization", "SolveVrp",
         vrp(clients=[v.Client(x=math.nan, y=1, demand=1)]), IA, "problem.clients[0].x"),
        ("vrp-crossed-window", "optimization", "SolveVrp", vrp(clients=[v.Client(
            x=1, y=1, demand=1, time_window=v.TimeWindow(earliest=10, latest=5))]), IA,
         "problem.clients[0].time_window"),
        ("vrp-unknown-solver", "optimization", "SolveVrp",
         o.SolveVrpRequest(instance="gen:cvrp:n=5", solver="magic"), IA, "solver"),
        ("vrp-negative-time-limit", "optimization", "SolveVrp", o.SolveVrpRequest(
            instance="gen:cvrp:n=5", time_limit=Duration(seconds=-1)), IA, "time_limit"),
        ("vrp-time-limit-too-long", "optimization", "SolveVrp", o.SolveVrpRequest(
            instance="gen:cvrp:n=5", time_limit=Duration(seconds=7200)), IA, "time_limit"),
        ("vrp-path-instance", "optimization", "SolveVrp",
         o.SolveVrpRequest(instance="../../etc/passwd"), IA, "instance"),
        ("vrp-unknown-instance", "optimization", "SolveVrp", o.SolveVrpRequest(instance="X-n999999-k1"), NF, None),
        ("vrp-negative-seed", "optimization", "SolveVrp",
         o.SolveVrpRequest(instance="gen:cvrp:n=5", seed=-4), IA, "seed"),
        ("vrp-long-request-id", "optimization", "SolveVrp",
         o.SolveVrpRequest(instance="gen:cvrp:n=5", request_id="x" * 200), IA, "request_id"),
        ("fabric-missing", "fabric", "SplitFabricFlows", f.SplitFabricFlowsRequest(), IA, "fabric"),
        ("fabric-zero-spines", "fabric", "SplitFabricFlows", f.SplitFabricFlowsRequest(
            fabric=f.LeafSpine(spines=0, leaves=2, hosts_per_leaf=2)), IA, "fabric.spines"),
        ("fabric-host-out-of-range", "fabric", "SplitFabricFlows", f.SplitFabricFlowsRequest(
            fabric=leaf_spine, flows=[f.HostFlow(source_host=0, destination_host=1, size_gbps=1),
                                      f.HostFlow(source_host=0, destination_host=9, size_gbps=1)]),
         IA, "flows[1].destination_host"),
        ("fabric-negative-size", "fabric", "SplitFabricFlows", f.SplitFabricFlowsRequest(
            fabric=leaf_spine, flows=[f.HostFlow(source_host=0, destination_host=1, size_gbps=-5)]),
         IA, "flows[0].size_gbps"),
        ("fabric-unknown-method", "fabric", "SplitFabricFlows", f.SplitFabricFlowsRequest(
            fabric=leaf_spine, pattern=f.WORKLOAD_PATTERN_PERMUTATION, pattern_size_gbps=1, method="magic"),
         IA, "method"),
        ("plan-start-in-obstacle", "planning", "PlanPath", world(workspace=p.Workspace(
            low=point(coordinates=[0, 0]), high=point(coordinates=[10, 10]),
            obstacles=[p.Obstacle(box=p.BoxObstacle(low=point(coordinates=[0, 0]), high=point(coordinates=[2, 2])))])),
         IA, "start"),
        ("plan-inverted-bounds", "planning", "PlanPath", world(workspace=p.Workspace(
            low=point(coordinates=[10, 10]), high=point(coordinates=[0, 0]))), IA, "workspace.high"),
        ("plan-bad-ball", "planning", "PlanPath", world(workspace=p.Workspace(
            low=point(coordinates=[0, 0]), high=point(coordinates=[10, 10]),
            obstacles=[p.Obstacle(), p.Obstacle(ball=p.BallObstacle(center=point(coordinates=[5, 5]), radius=-1))])),
         IA, "workspace.obstacles[0].shape"),
        ("get-bad-name", "operations", "GetOperation", ops.GetOperationRequest(name="jobs/12"), IA, "name"),
        ("get-unknown", "operations", "GetOperation", ops.GetOperationRequest(name="operations/abc123"), NF, None),
        ("cancel-unknown", "operations", "CancelOperation",
         ops.CancelOperationRequest(name="operations/abc123"), NF, None),
        ("list-page-size", "operations", "ListOperations", ops.ListOperationsRequest(page_size=5000), IA,
         "page_size"),
        ("list-page-token", "operations", "ListOperations", ops.ListOperationsRequest(page_token="zz"), IA,
         "page_token"),
        ("assignment-path", "optimization", "SolveTrafficAssignment",
         o.SolveTrafficAssignmentRequest(network="/etc"), IA, "network"),
    ]


def _case_ids() -> list[str]:
    from server.stubs import load

    return [case[0] for case in _malformed(load())]


def test_malformed_table_has_enough_cases(pb):
    assert len(_malformed(pb)) >= 20


@pytest.mark.parametrize("case", _case_ids())
def test_malformed_request(stubs, pb, case):
    name, service, method, request, code, field = next(c for c in _malformed(pb) if c[0] == case)
    with pytest.raises(grpc.RpcError) as info:
        getattr(getattr(stubs, service), method)(request, timeout=10)
    error = info.value
    assert error.code() == code, f"{name}: {error.code()} {error.details()}"
    if field is not None:
        fields = [f for f, _ in violations(error)]
        assert field in fields, f"{name}: violations {violations(error)}"


# --------------------------------------------------------------------------------------- the CLI
def test_client_cli_calls_the_server(server, tmp_path: Path):
    from typer.testing import CliRunner

    from planner.cli import app

    runner = CliRunner()
    base = ["client", "--address", f"127.0.0.1:{server.port}", "--token", TOKEN]
    result = runner.invoke(app, [*base, "networks"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["networks"][0]["name"] == "networks/monaco"
    result = runner.invoke(app, [*base, "route", "monaco", "--from", "43.7384,7.4246", "--to", "43.7280,7.4160"])
    assert result.exit_code == 0 and float(json.loads(result.stdout)["route"]["distanceMeters"]) > 0
    result = runner.invoke(app, [*base, "solve-vrp", "gen:cvrp:n=10,seed=1", "--solver", "savings"])
    name = json.loads(result.stdout)["operation"]["name"]
    result = runner.invoke(app, [*base, "wait", name])
    assert json.loads(result.stdout)["operation"]["state"] == "OPERATION_STATE_DONE"
    result = runner.invoke(app, [*base, "get", "operations/nothing"])
    assert result.exit_code == 1 and "NOT_FOUND" in result.output
    result = runner.invoke(app, ["client", "--address", f"127.0.0.1:{server.port}", "networks"])
    assert result.exit_code == 1 and "UNAUTHENTICATED" in result.output


# ----------------------------------------------------------------------------- traffic assignment
@requires_data("tntp", "SiouxFalls", "SiouxFalls_net.tntp")
def test_traffic_assignment_operation(stubs, pb):
    from datasets.detect import load_problem
    from planner.assignment import beckmann_objective, relative_gap

    op = stubs.optimization.SolveTrafficAssignment(pb.optimization_pb2.SolveTrafficAssignmentRequest(
        network="SiouxFalls", solver="bfw", time_limit=Duration(seconds=2)), timeout=10).operation
    final = wait_done(stubs, pb, op.name)
    assert final.state == pb.operations_pb2.OPERATION_STATE_DONE, final.error.message
    result = final.assignment_result
    problem = load_problem("SiouxFalls").problem
    flows = np.array(result.link_flows)
    assert flows.size == problem.network.graph.n_edges
    assert result.relative_gap == pytest.approx(relative_gap(problem, flows), rel=1e-9)
    assert result.beckmann_objective == pytest.approx(beckmann_objective(problem.network, flows), rel=1e-12)
    assert result.relative_gap < 1e-3


# ------------------------------------------------------------------------------------------ TLS
def test_tls_with_a_self_signed_certificate(tmp_path, pb):
    import subprocess

    from server.app import RoutePlannerServer
    from server.client import connect
    from server.config import ServerConfig

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                           str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext",
                           "subjectAltName=DNS:localhost"], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate: {made.stderr.decode()[:200]}")
    srv = RoutePlannerServer(ServerConfig(port=0, networks=(), database=tmp_path / "jobs.sqlite3", workers=1,
                                          tls_cert=cert, tls_key=key, token=TOKEN, log_level="warning"))
    port = srv.start()
    try:
        secure = connect(f"localhost:{port}", ca_cert=cert, token=TOKEN)
        networks = pb.routing_pb2_grpc.RoutingServiceStub(secure).ListNetworks(
            pb.routing_pb2.ListNetworksRequest(), timeout=10)
        assert list(networks.networks) == []  # answered over TLS, token accepted
        plain = grpc.insecure_channel(f"localhost:{port}")
        with pytest.raises(grpc.RpcError) as info:
            pb.routing_pb2_grpc.RoutingServiceStub(plain).ListNetworks(pb.routing_pb2.ListNetworksRequest(),
                                                                       timeout=2)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE  # no plaintext on a TLS port
    finally:
        srv.stop(0.5)
