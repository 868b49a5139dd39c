"""Protobuf messages <-> planner objects.

Every ``*_from_proto`` function validates what the planner models do not know about (resource
names, durations, limits of the service) and turns the models' own :class:`ValidationError` field
paths into the request's paths, so a client reads ``problem.clients[3].demand`` for the fourth
client of its request whatever the model calls it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import FieldViolation, ValidationError
from planner.registry import ProblemKind, get_solver, list_solvers

#: Longest time limit a long-running solve may ask for, in seconds.
MAX_SOLVE_SECONDS = 3600.0
#: Default and longest planning time of PlanPath, in seconds.
DEFAULT_PLAN_SECONDS, MAX_PLAN_SECONDS = 1.0, 60.0
#: Longest accepted ``request_id``.
MAX_REQUEST_ID = 128
#: Most clients an inline VRP may have.
MAX_VRP_CLIENTS = 5000
#: Most cells a distance matrix may have.
MAX_MATRIX_CELLS = 250_000
#: Most hosts a fabric may have.
MAX_FABRIC_HOSTS = 4096
#: Most flows a fabric request may route.
MAX_FABRIC_FLOWS = 200_000
#: Most obstacles of a workspace.
MAX_OBSTACLES = 10_000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def remap(error: ValidationError, rules: Sequence[tuple[str, str | Callable[[re.Match[str]], str]]],
          prefix: str = "") -> ValidationError:
    """``error`` with its field paths rewritten: the first matching ``(pattern, replacement)``
    rule applies (``re.sub`` at the start of the path), then ``prefix`` is prepended."""
    out = []
    for v in error.violations:
        field = v.field
        for pattern, replacement in rules:
            new, n = re.subn(f"^{pattern}", replacement, field, count=1)
            if n:
                field = new
                break
        out.append(FieldViolation(f"{prefix}{field}" if prefix else field, v.reason))
    return ValidationError(out)


def duration_seconds(duration: Any, field: str, *, default: float, maximum: float, present: bool) -> float:
    """Seconds of a ``google.protobuf.Duration`` (``default`` when absent).

    Raises
    ------
    ValidationError
        If it is not positive, not normalised or above ``maximum``.
    """
    if not present:
        return default
    if not (-999_999_999 <= duration.nanos <= 999_999_999) or (duration.seconds * duration.nanos < 0):
        raise ValidationError(field, f"not a valid duration ({duration.seconds} s, {duration.nanos} ns)")
    seconds = duration.seconds + duration.nanos * 1e-9
    if not seconds > 0:
        raise ValidationError(field, f"must be positive ({seconds:g} s)")
    if seconds > maximum:
        raise ValidationError(field, f"at most {maximum:g} s ({seconds:g} s)")
    return seconds


def check_request_id(request_id: str) -> str:
    """The idempotency key, checked: at most :data:`MAX_REQUEST_ID` printable characters."""
    if len(request_id) > MAX_REQUEST_ID:
        raise ValidationError("request_id", f"longer than {MAX_REQUEST_ID} characters ({len(request_id)})")
    if request_id and not request_id.isprintable():
        raise ValidationError("request_id", "must be printable characters")
    return request_id


def check_seed(seed: int) -> int:
    """The seed, which must be non-negative."""
    if seed < 0:
        raise ValidationError("seed", f"must be non-negative ({seed})")
    return int(seed)


def check_solver(name: str, kind: ProblemKind, default: str, field: str = "solver") -> str:
    """A registered solver of ``kind`` (``default`` when ``name`` is empty)."""
    name = name or default
    try:
        get_solver(name, kind)
    except LookupError:
        options = ", ".join(s.name for s in list_solvers(kind)) or "none"
        raise ValidationError(field, f"unknown solver {name!r} for {kind.value} (available: {options})") from None
    return name


def check_data_name(name: str, field: str) -> str:
    """A data-set name or generator spec; never a path, so a client cannot make the server read
    arbitrary files."""
    if not name:
        raise ValidationError(field, "missing")
    if name.startswith("gen:"):
        if "/" in name or len(name) > 200:
            raise ValidationError(field, f"not a generator spec ({name!r})")
        return name
    if not _NAME.match(name) or ".." in name:
        raise ValidationError(field, f"not a data-set name ({name!r}); paths are not accepted")
    return name


def finite(value: float, field: str, out: list[FieldViolation], *, minimum: float | None = None,
           positive: bool = False) -> None:
    """Append a violation when ``value`` is not finite or below the limit."""
    if not math.isfinite(value):
        out.append(FieldViolation(field, f"not finite ({value})"))
    elif positive and not value > 0:
        out.append(FieldViolation(field, f"must be positive ({value:g})"))
    elif minimum is not None and value < minimum:
        out.append(FieldViolation(field, f"must be at least {minimum:g} ({value:g})"))


# ---------------------------------------------------------------------------------------- VRP
def _client_rule(m: re.Match[str]) -> str:
    return f"clients[{int(m.group(1)) - 1}]"


_VRP_RULES: tuple[tuple[str, Any], ...] = (
    (r"clients\[(\d+)\]", _client_rule),
    (r"capacity", "vehicles[0].capacity"),
    (r"num_vehicles", "vehicles"),
)


def vrp_instance_from_proto(problem: Any) -> Any:
    """A :class:`~planner.vrp.VrpInstance` of an inline ``VrpProblem`` (field paths under ``problem.``).

    Raises
    ------
    ValidationError
        Naming every violated field of the request.
    """
    from planner.vrp import VrpInstance

    v: list[FieldViolation] = []
    n = len(problem.clients)
    if n == 0:
        v.append(FieldViolation("problem.clients", "at least one client is needed"))
    elif n > MAX_VRP_CLIENTS:
        v.append(FieldViolation("problem.clients", f"at most {MAX_VRP_CLIENTS} clients ({n})"))
    if not problem.vehicles:
        v.append(FieldViolation("problem.vehicles", "at least one vehicle is needed"))
    capacity = problem.vehicles[0].capacity if problem.vehicles else math.nan
    for i, vehicle in enumerate(problem.vehicles):
        finite(vehicle.capacity, f"problem.vehicles[{i}].capacity", v, positive=True)
        if i and vehicle.capacity != capacity and math.isfinite(vehicle.capacity) and vehicle.capacity > 0:
            v.append(FieldViolation(f"problem.vehicles[{i}].capacity",
                                    f"{vehicle.capacity:g} differs from vehicles[0].capacity {capacity:g} "
                                    "(fleets must be homogeneous)"))
    finite(problem.depot.x, "problem.depot.x", v)
    finite(problem.depot.y, "problem.depot.y", v)
    for i, c in enumerate(problem.clients[:MAX_VRP_CLIENTS]):
        finite(c.x, f"problem.clients[{i}].x", v)
        finite(c.y, f"problem.clients[{i}].y", v)
        finite(c.service_time, f"problem.clients[{i}].service_time", v, minimum=0.0)
    finite(problem.max_route_duration, "problem.max_route_duration", v, minimum=0.0)
    if v:
        raise ValidationError(v)
    coords = np.array([[problem.depot.x, problem.depot.y]] + [[c.x, c.y] for c in problem.clients])
    demands = np.array([0.0] + [c.demand for c in problem.clients])
    has_tw = problem.depot.HasField("time_window") or any(c.HasField("time_window") for c in problem.clients)
    time_windows = None
    if has_tw:
        rows = [problem.depot, *problem.clients]
        time_windows = np.array([[r.time_window.earliest, r.time_window.latest] if r.HasField("time_window")
                                 else [0.0, math.inf] for r in rows])
    service = np.array([0.0] + [c.service_time for c in problem.clients])
    try:
        return VrpInstance(
            name=problem.name or f"request-n{n}", demands=demands, capacity=capacity, coords=coords,
            time_windows=time_windows, service_times=service if service.any() else None,
            num_vehicles=None if problem.unlimited_fleet else len(problem.vehicles),
            max_route_duration=problem.max_route_duration or None,
        )
    except ValidationError as exc:
        raise remap(exc, _VRP_RULES, "problem.") from None


@dataclass(frozen=True)
class VrpJob:
    """A validated ``SolveVrpRequest``: the problem, its name and best-known value, and the budget."""

    instance: Any
    name: str
    best_known: float | None
    solver: str
    time_limit: float
    seed: int


def vrp_job_from_proto(request: Any) -> VrpJob:
    """Validate a ``SolveVrpRequest`` and build its problem.

    Raises
    ------
    ValidationError, NotFoundError, DataFormatError
        For a bad request or an instance that does not exist or cannot be read.
    """
    from datasets.detect import load_problem

    check_request_id(request.request_id)
    solver = check_solver(request.solver, ProblemKind.CVRP, "ga")
    time_limit = duration_seconds(request.time_limit, "time_limit", default=10.0, maximum=MAX_SOLVE_SECONDS,
                                  present=request.HasField("time_limit"))
    seed = check_seed(request.seed)
    source = request.WhichOneof("source")
    if source == "problem":
        instance = vrp_instance_from_proto(request.problem)
        if instance.has_time_windows:
            solver = check_solver(solver, ProblemKind.VRPTW, "ga")
        return VrpJob(instance, instance.name, None, solver, time_limit, seed)
    if source == "instance":
        loaded = load_problem(check_data_name(request.instance, "instance"))
        if loaded.kind not in (ProblemKind.CVRP, ProblemKind.VRPTW):
            raise ValidationError("instance", f"{request.instance!r} is a {loaded.kind.value} problem, not a VRP")
        solver = check_solver(solver, loaded.kind, "ga")
        return VrpJob(loaded.problem, loaded.name, loaded.best_known, solver, time_limit, seed)
    raise ValidationError("source", "give a problem or an instance")


def vrp_solution_to_proto(pb: Any, job: VrpJob, solution: Any) -> Any:
    """A ``VrpSolution`` message, with the objective and feasibility recomputed independently."""
    from planner.vrp import check_feasibility, route_cost

    report = check_feasibility(job.instance, solution)
    demands = job.instance.demands
    routes = [pb.vrp_pb2.VrpRoute(visits=[int(c) for c in r], distance=route_cost(job.instance, r),
                                  load=float(np.sum(demands[r])))
              for r in solution.routes if r.size]
    message = pb.vrp_pb2.VrpSolution(
        objective=report.objective, routes=routes, feasible=report.feasible,
        violations=[str(x) for x in report.violations], solver=solution.solver or job.solver,
        iterations=int(solution.iterations or 0))
    if job.best_known:
        message.best_known = float(job.best_known)
        message.gap_percent = 100.0 * (report.objective - job.best_known) / job.best_known
    return message


# -------------------------------------------------------------------------- traffic assignment
@dataclass(frozen=True)
class AssignmentJob:
    """A validated ``SolveTrafficAssignmentRequest``."""

    problem: Any
    name: str
    solver: str
    time_limit: float


def assignment_job_from_proto(pb: Any, request: Any) -> AssignmentJob:
    """Validate a ``SolveTrafficAssignmentRequest`` and load its network and demand."""
    from dataclasses import replace

    from datasets.detect import load_problem

    check_request_id(request.request_id)
    solver = check_solver(request.solver, ProblemKind.TRAFFIC_ASSIGNMENT, "bfw")
    time_limit = duration_seconds(request.time_limit, "time_limit", default=60.0, maximum=MAX_SOLVE_SECONDS,
                                  present=request.HasField("time_limit"))
    enum = pb.assignment_pb2.AssignmentObjective
    objectives = {enum.ASSIGNMENT_OBJECTIVE_UNSPECIFIED: "ue", enum.ASSIGNMENT_OBJECTIVE_USER_EQUILIBRIUM: "ue",
                  enum.ASSIGNMENT_OBJECTIVE_SYSTEM_OPTIMUM: "so"}
    if request.objective not in objectives:
        raise ValidationError("objective", f"unknown value {request.objective}")
    loaded = load_problem(check_data_name(request.network, "network"))
    if loaded.kind != ProblemKind.TRAFFIC_ASSIGNMENT:
        raise ValidationError("network", f"{request.network!r} is a {loaded.kind.value} problem, not a TNTP network")
    problem = loaded.problem
    if objectives[request.objective] != problem.objective:
        problem = replace(problem, objective=objectives[request.objective])
    return AssignmentJob(problem, loaded.name, solver, time_limit)


def assignment_result_to_proto(pb: Any, job: AssignmentJob, result: Any) -> Any:
    """A ``TrafficAssignmentResult`` with the gap and objectives recomputed from the flows."""
    from planner.assignment import beckmann_objective, relative_gap, total_system_travel_time

    flows = np.asarray(result.flows, dtype=np.float64)
    return pb.assignment_pb2.TrafficAssignmentResult(
        network=job.name, relative_gap=relative_gap(job.problem, flows),
        beckmann_objective=beckmann_objective(job.problem.network, flows),
        total_system_travel_time=total_system_travel_time(job.problem.network, flows),
        iterations=int(getattr(result, "iterations", 0) or 0), link_flows=flows.tolist(), solver=job.solver)


# ------------------------------------------------------------------------------- network design
#: Default time limit of a network-design GA, in seconds.
DEFAULT_DESIGN_SECONDS = 600.0
#: Most GA generations a network design may ask for.
MAX_DESIGN_GENERATIONS = 10_000


@dataclass(frozen=True)
class DesignJob:
    """A validated ``SolveNetworkDesignRequest``."""

    problem: Any
    name: str
    solver: str
    time_limit: float
    seed: int
    generations: int


def design_job_from_proto(pb: Any, request: Any) -> DesignJob:
    """Validate a ``SolveNetworkDesignRequest`` and build its design problem."""
    from datasets.detect import load_problem
    from solvers.design.problem import NetworkDesignProblem

    check_request_id(request.request_id)
    seed = check_seed(request.seed)
    time_limit = duration_seconds(request.time_limit, "time_limit", default=DEFAULT_DESIGN_SECONDS,
                                  maximum=MAX_SOLVE_SECONDS, present=request.HasField("time_limit"))
    enum = pb.assignment_pb2.NetworkDesignMethod
    solvers = {enum.NETWORK_DESIGN_METHOD_UNSPECIFIED: "design-ga-surrogate",
               enum.NETWORK_DESIGN_METHOD_SURROGATE: "design-ga-surrogate",
               enum.NETWORK_DESIGN_METHOD_EXACT: "design-ga-exact"}
    if request.method not in solvers:
        raise ValidationError("method", f"unknown value {request.method}")
    generations = request.generations or 200
    if not 1 <= generations <= MAX_DESIGN_GENERATIONS:
        raise ValidationError("generations", f"must be in 1..{MAX_DESIGN_GENERATIONS} ({request.generations})")
    loaded = load_problem(check_data_name(request.network, "network"))
    if loaded.kind != ProblemKind.TRAFFIC_ASSIGNMENT:
        raise ValidationError("network", f"{request.network!r} is a {loaded.kind.value} problem, not a TNTP network")
    problem = NetworkDesignProblem.from_assignment(
        loaded.problem, budget=request.budget if request.HasField("budget") else None,
        budget_share=request.budget_share if request.HasField("budget_share") else 0.1,
        reversal=not request.disable_lane_reversal, name=loaded.name)
    return DesignJob(problem, loaded.name, solvers[request.method], time_limit, seed, generations)


def design_result_to_proto(pb: Any, job: DesignJob, solution: Any) -> Any:
    """A ``NetworkDesignResult``: the design, and flows and capacities in net-file row order."""
    net = job.problem.assignment.network
    result = pb.assignment_pb2.NetworkDesignResult(
        network=job.name, solver=job.solver, budget=job.problem.budget, cost=solution.design.cost,
        added_lanes=list(solution.design.added_lanes),
        reversals=[pb.assignment_pb2.LaneReversal(from_link=a, to_link=b) for a, b in solution.design.reversals],
        base_total_system_travel_time=solution.base_tstt, total_system_travel_time=solution.tstt,
        improvement_percent=solution.improvement_pct, relative_gap=solution.evaluation.relative_gap,
        link_capacities=net.to_file_order(np.asarray(solution.evaluation.capacities)).tolist(),
        link_flows=net.to_file_order(np.asarray(solution.evaluation.flows)).tolist(),
        generations=solution.generations, exact_solves=solution.exact_solves)
    if solution.predicted_tstt is not None:
        result.predicted_total_system_travel_time = solution.predicted_tstt
    return result


# ---------------------------------------------------------------------------------- road routing
def network_id(name: str, field: str = "network") -> str:
    """``porto`` of ``networks/porto``."""
    if not name:
        raise ValidationError(field, "missing: expected networks/{network}")
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != "networks" or not _NAME.match(parts[1]):
        raise ValidationError(field, f"expected networks/{{network}}, got {name!r}")
    return parts[1]


def lat_lng(message: Any, field: str, out: list[FieldViolation], present: bool = True) -> tuple[float, float]:
    """``(lat, lng)`` of a ``LatLng``; violations for a missing or out-of-range point."""
    if not present:
        out.append(FieldViolation(field, "missing"))
        return math.nan, math.nan
    lat, lng = message.latitude, message.longitude
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        out.append(FieldViolation(f"{field}.latitude", f"must be in [-90, 90] ({lat})"))
    if not (math.isfinite(lng) and -180.0 <= lng <= 180.0):
        out.append(FieldViolation(f"{field}.longitude", f"must be in [-180, 180] ({lng})"))
    return lat, lng


def route_weight(pb: Any, objective: int) -> str:
    """Edge attribute of a ``RouteObjective``."""
    enum = pb.routing_pb2.RouteObjective
    weights = {enum.ROUTE_OBJECTIVE_UNSPECIFIED: "travel_time", enum.ROUTE_OBJECTIVE_TRAVEL_TIME: "travel_time",
               enum.ROUTE_OBJECTIVE_LENGTH: "length"}
    if objective not in weights:
        raise ValidationError("objective", f"unknown value {objective}")
    return weights[objective]


# --------------------------------------------------------------------------------------- fabric
_FABRIC_RULES: tuple[tuple[str, Any], ...] = (
    (r"flows\[(\d+)\]\.size$", lambda m: f"flows[{m.group(1)}].size_gbps"),
    (r"flows\[(\d+)\]\.source$", lambda m: f"flows[{m.group(1)}].source_host"),
    (r"flows\[(\d+)\]\.destination$", lambda m: f"flows[{m.group(1)}].destination_host"),
    (r"(spines|leaves|hosts_per_leaf|host_link_gbps|uplink_gbps)", lambda m: f"fabric.{m.group(1)}"),
)


def fabric_problem_from_proto(pb: Any, request: Any) -> tuple[Any, Any, str]:
    """``(fabric, FlowRoutingProblem, method)`` of a ``SplitFabricFlowsRequest``."""
    from datasets.generators.fabric import all_to_all, permutation, ring_allreduce
    from planner.flows import FlowRoutingProblem, Workload
    from planner.graph.fabric import leaf_spine

    v: list[FieldViolation] = []
    if not request.HasField("fabric"):
        raise ValidationError("fabric", "missing")
    f = request.fabric
    for name in ("spines", "leaves", "hosts_per_leaf"):
        value = getattr(f, name)
        if value < 1:
            v.append(FieldViolation(f"fabric.{name}", f"must be at least 1 ({value})"))
    for name in ("host_link_gbps", "uplink_gbps"):
        finite(getattr(f, name), f"fabric.{name}", v, minimum=0.0)
    if not v and f.leaves * f.hosts_per_leaf > MAX_FABRIC_HOSTS:
        v.append(FieldViolation("fabric.hosts_per_leaf",
                                f"{f.leaves * f.hosts_per_leaf} hosts exceed the limit of {MAX_FABRIC_HOSTS}"))
    if v:
        raise ValidationError(v)
    try:
        fabric = leaf_spine(f.spines, f.leaves, f.hosts_per_leaf, host_link_gbps=f.host_link_gbps or 100.0,
                            uplink_gbps=f.uplink_gbps or None)
    except ValidationError as exc:
        raise remap(exc, _FABRIC_RULES) from None
    method = check_solver(request.method, ProblemKind.FABRIC_ROUTING, "minimal-split", "method")
    seed = check_seed(request.seed)
    pattern = pb.fabric_pb2.WorkloadPattern
    n_hosts = fabric.n_hosts
    try:
        if request.pattern == pattern.WORKLOAD_PATTERN_UNSPECIFIED:
            if not request.flows:
                raise ValidationError("flows", "give flows or a pattern")
            if len(request.flows) > MAX_FABRIC_FLOWS:
                raise ValidationError("flows", f"at most {MAX_FABRIC_FLOWS} flows ({len(request.flows)})")
            for i, flow in enumerate(request.flows):
                for key in ("source_host", "destination_host"):
                    h = getattr(flow, key)
                    if not 0 <= h < n_hosts:
                        v.append(FieldViolation(f"flows[{i}].{key}", f"host {h} outside 0..{n_hosts - 1}"))
            if v:
                raise ValidationError(v)
            src = fabric.hosts[[fl.source_host for fl in request.flows]]
            dst = fabric.hosts[[fl.destination_host for fl in request.flows]]
            workload = Workload(src, dst, np.array([fl.size_gbps for fl in request.flows]), "request")
        else:
            size = request.pattern_size_gbps
            if not (math.isfinite(size) and size > 0):
                raise ValidationError("pattern_size_gbps", f"must be positive and finite ({size})")
            if request.flows:
                raise ValidationError("flows", "give flows or a pattern, not both")
            generators = {pattern.WORKLOAD_PATTERN_PERMUTATION: lambda: permutation(fabric, size, seed=seed),
                          pattern.WORKLOAD_PATTERN_RING_ALLREDUCE: lambda: ring_allreduce(fabric, size, seed=seed),
                          pattern.WORKLOAD_PATTERN_ALL_TO_ALL: lambda: all_to_all(fabric, size, seed=seed)}
            if request.pattern not in generators:
                raise ValidationError("pattern", f"unknown value {request.pattern}")
            if request.pattern == pattern.WORKLOAD_PATTERN_ALL_TO_ALL and n_hosts * (n_hosts - 1) > MAX_FABRIC_FLOWS:
                raise ValidationError("pattern", f"all-to-all over {n_hosts} hosts exceeds {MAX_FABRIC_FLOWS} flows")
            workload = generators[request.pattern]()
        problem = FlowRoutingProblem(fabric.graph, workload)
    except ValidationError as exc:
        raise remap(exc, _FABRIC_RULES) from None
    return fabric, problem, method


def fabric_result_to_proto(pb: Any, fabric: Any, problem: Any, assignment: Any, method: str) -> Any:
    """A ``SplitFabricFlowsResponse`` of a flow assignment: the spine of every path."""
    from planner.graph.fabric import ROLE_SPINE

    graph = fabric.graph
    heads = graph.indices
    is_spine = fabric.roles == ROLE_SPINE
    names = [str(x) for x in graph.node_ids]
    splits = []
    n_flows = problem.workload.sources.size
    for i in range(min(n_flows, 10_000)):
        spines, fractions = [], []
        for p in range(assignment.flow_ptr[i], assignment.flow_ptr[i + 1]):
            nodes = heads[assignment.path_edges[assignment.path_ptr[p]:assignment.path_ptr[p + 1]]]
            spine = nodes[is_spine[nodes]]
            spines.append(names[int(spine[0])] if spine.size else "")
            fractions.append(float(assignment.fractions[p]))
        splits.append(pb.fabric_pb2.FlowSplit(flow_index=i, pieces=int(assignment.pieces_per_flow[i]),
                                              spines=spines, fractions=fractions))
    pieces = assignment.pieces_per_flow
    return pb.fabric_pb2.SplitFabricFlowsResponse(
        max_congestion=float(assignment.max_congestion), pieces_max=int(pieces.max()) if pieces.size else 0,
        splits=splits, flow_count=n_flows, method=method)


# ------------------------------------------------------------------------------------- planning
_WORKSPACE_RULES: tuple[tuple[str, Any], ...] = (
    (r"bounds\.lower", "workspace.low"),
    (r"bounds\.upper", "workspace.high"),
    (r"bounds", "workspace"),
    (r"obstacles", "workspace.obstacles"),
)


def _point(message: Any) -> np.ndarray:
    return np.asarray(list(message.coordinates), dtype=np.float64)


def planning_problem_from_proto(request: Any) -> Any:
    """A :class:`~planner.workspace.PlanningProblem` of a ``PlanPathRequest``."""
    from planner.workspace import Ball, Box, PlanningProblem, Polygon, Workspace

    if not request.HasField("workspace"):
        raise ValidationError("workspace", "missing")
    ws = request.workspace
    if len(ws.obstacles) > MAX_OBSTACLES:
        raise ValidationError("workspace.obstacles", f"at most {MAX_OBSTACLES} obstacles ({len(ws.obstacles)})")
    obstacles = []
    for i, o in enumerate(ws.obstacles):
        kind = o.WhichOneof("shape")
        try:
            if kind == "box":
                obstacles.append(Box(_point(o.box.low), _point(o.box.high)))
            elif kind == "ball":
                obstacles.append(Ball(_point(o.ball.center), o.ball.radius))
            elif kind == "polygon":
                obstacles.append(Polygon(np.array([list(p.coordinates) for p in o.polygon.vertices], dtype=float)
                                         if o.polygon.vertices else np.zeros((0, 2))))
            else:
                raise ValidationError("shape", "missing: give a box, ball or polygon")
        except ValidationError as exc:
            rules = ((r"lo\b", "low"), (r"hi\b", "high"), (r"lower", "low"), (r"upper", "high"))
            raise remap(exc, rules, f"workspace.obstacles[{i}].{kind + '.' if kind else ''}") from None
        except (ValueError, TypeError) as exc:  # ragged polygon vertices
            raise ValidationError(f"workspace.obstacles[{i}].{kind}", f"malformed ({exc})") from None
    try:
        workspace = Workspace(_point(ws.low), _point(ws.high), tuple(obstacles))
        return PlanningProblem(workspace, _point(request.start), _point(request.goal))
    except ValidationError as exc:
        raise remap(exc, _WORKSPACE_RULES) from None


def planned_path_to_proto(pb: Any, path: Any, elapsed_s: float) -> Any:
    """A ``PlanPathResponse`` of a :class:`~planner.workspace.PlannedPath`."""
    response = pb.planning_pb2.PlanPathResponse(
        waypoints=[pb.common_pb2.Point(coordinates=[float(x) for x in w]) for w in path.waypoints],
        cost=float(path.cost) if len(path.waypoints) else math.inf, planner=path.planner)
    response.elapsed.FromNanoseconds(int(elapsed_s * 1e9))
    return response


# ------------------------------------------------------------------------------- demand routing
#: Default time limit of a demand-routing operation, in seconds.
DEFAULT_DEMAND_ROUTING_SECONDS = 600.0
#: Most episodes one demand-routing operation may play.
MAX_DEMAND_ROUTING_EPISODES = 100_000
#: Most candidate paths per demand.
MAX_DEMAND_ROUTING_K = 16


@dataclass(frozen=True)
class DemandRoutingJob:
    """A validated ``SolveDemandRoutingRequest``."""

    problem: Any
    policy: str
    time_limit: float
    nodes: int
    links: int


def demand_routing_job_from_proto(request: Any) -> DemandRoutingJob:
    """Validate a ``SolveDemandRoutingRequest`` and read its topology."""
    from datasets.graphml import read_topology
    from planner.demand_routing import DemandRoutingProblem

    check_request_id(request.request_id)
    seed = check_seed(request.seed)
    time_limit = duration_seconds(request.time_limit, "time_limit", default=DEFAULT_DEMAND_ROUTING_SECONDS,
                                  maximum=MAX_SOLVE_SECONDS, present=request.HasField("time_limit"))
    policy = check_solver(request.policy, ProblemKind.DEMAND_ROUTING, "routing-agent", "policy")
    episodes = request.episodes or 200
    if not 1 <= episodes <= MAX_DEMAND_ROUTING_EPISODES:
        raise ValidationError("episodes", f"must be in 1..{MAX_DEMAND_ROUTING_EPISODES} ({request.episodes})")
    k = request.k or 4
    if not 1 <= k <= MAX_DEMAND_ROUTING_K:
        raise ValidationError("k", f"must be in 1..{MAX_DEMAND_ROUTING_K} ({request.k})")
    capacity = request.capacity if request.HasField("capacity") else 200.0
    name = check_data_name(request.topology, "topology")
    if name.startswith("gen:"):
        raise ValidationError("topology", f"not a topology name ({name!r})")
    topology = read_topology(name)
    problem = DemandRoutingProblem(topology.graph, name=name, capacity=capacity, k=k, episodes=episodes, seed=seed)
    return DemandRoutingJob(problem, policy, time_limit, topology.n_nodes, topology.n_links)


def demand_routing_result_to_proto(pb: Any, job: DemandRoutingJob, result: Any) -> Any:
    """A ``DemandRoutingResult`` with the per-episode scores."""
    return pb.demand_routing_pb2.DemandRoutingResult(
        topology=job.problem.name, policy=result.solver, nodes=job.nodes, links=job.links,
        episodes=int(result.score.size), mean_score=result.mean_score, score_stderr=result.score_stderr,
        mean_demands_routed=result.mean_routed, episode_scores=[float(x) for x in result.score],
        episode_demands_routed=[int(r) for r in result.routed],
        wall_seconds=result.wall_s)
