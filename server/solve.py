"""What a worker process runs: one long solve from its serialized request to its serialized result.

Runs in a worker process (see :mod:`server.workers`); it rebuilds the problem from the request
(the server validated it when accepting it), calls the registered solver with a budget whose
cancel flag the server can set, and sends progress snapshots as the solver reports them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from planner.budget import Budget, ProgressEvent
from planner.errors import ValidationError
from planner.registry import ProblemKind, get_solver

#: Kinds of job, as stored in the job store.
VRP, TRAFFIC_ASSIGNMENT, NETWORK_DESIGN = "vrp", "traffic_assignment", "network_design"
DEMAND_ROUTING = "demand_routing"
#: Shortest interval between two progress snapshots sent by one job, in seconds.
PROGRESS_INTERVAL_S = 0.25


def progress_message(pb: Any, event: ProgressEvent) -> Any:
    """A ``Progress`` message of a solver's progress event."""
    message = pb.operations_pb2.Progress(iteration=int(event.iteration))
    message.elapsed.FromNanoseconds(int(event.elapsed_s * 1e9))
    for name in ("objective", "gap", "bound"):
        value = getattr(event, name)
        if value is not None:
            setattr(message, "best_objective" if name == "objective" else name, float(value))
    return message


def throttled(pb: Any, send: Callable[[bytes], None]) -> Callable[[ProgressEvent], None]:
    """A progress callback forwarding at most one snapshot every :data:`PROGRESS_INTERVAL_S`;
    the best objective is kept across skipped events (solvers report improvements)."""
    last = [0.0]

    def on_progress(event: ProgressEvent) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            send(progress_message(pb, event).SerializeToString())

    return on_progress


def run_job(kind: str, request: bytes, send_progress: Callable[[bytes], None], cancel: Any
            ) -> tuple[str, bytes, bytes]:
    """Solve one job.

    Parameters
    ----------
    kind
        :data:`VRP`, :data:`TRAFFIC_ASSIGNMENT`, :data:`NETWORK_DESIGN` or :data:`DEMAND_ROUTING`.
    request
        The serialized create request.
    send_progress
        Called with serialized ``Progress`` messages.
    cancel
        An event (``is_set()``) the solver polls; once set it returns its best so far.

    Returns
    -------
    result_field, result, progress
        The ``Operation.result`` field, the serialized result message and the final progress.
    """
    from server import convert
    from server.stubs import load

    pb = load()
    started = time.monotonic()
    best: list[ProgressEvent] = []

    def remember(event: ProgressEvent) -> None:
        best[:] = [event]

    forward = throttled(pb, send_progress)

    def on_progress(event: ProgressEvent) -> None:
        remember(event)
        forward(event)

    if kind == VRP:
        job = convert.vrp_job_from_proto(pb.optimization_pb2.SolveVrpRequest.FromString(request))
        budget = Budget(time_limit=job.time_limit, seed=job.seed, progress=on_progress, cancel=cancel)
        solution = get_solver(job.solver).solve(job.instance, budget)
        message = convert.vrp_solution_to_proto(pb, job, solution)
        final = ProgressEvent(time.monotonic() - started, message.iterations, message.objective,
                              gap=message.gap_percent / 100.0 if message.HasField("gap_percent") else None)
        return "vrp_solution", message.SerializeToString(), progress_message(pb, final).SerializeToString()
    if kind == TRAFFIC_ASSIGNMENT:
        job = convert.assignment_job_from_proto(pb, pb.optimization_pb2.SolveTrafficAssignmentRequest.FromString(
            request))
        budget = Budget(time_limit=job.time_limit, progress=on_progress, cancel=cancel)
        result = get_solver(job.solver).solve(job.problem, budget)
        message = convert.assignment_result_to_proto(pb, job, result)
        final = ProgressEvent(time.monotonic() - started, message.iterations, message.beckmann_objective,
                              gap=message.relative_gap)
        return "assignment_result", message.SerializeToString(), progress_message(pb, final).SerializeToString()
    if kind == NETWORK_DESIGN:
        import torch

        from solvers.design.ga import GaParams
        from solvers.design.solver import DesignParams

        torch.set_num_threads(1)  # one worker process, one core
        job = convert.design_job_from_proto(pb, pb.optimization_pb2.SolveNetworkDesignRequest.FromString(request))
        budget = Budget(time_limit=job.time_limit, seed=job.seed, progress=on_progress, cancel=cancel)
        solution = get_solver(job.solver).solve(job.problem, budget,
                                                DesignParams(ga=GaParams(generations=job.generations)))
        message = convert.design_result_to_proto(pb, job, solution)
        final = ProgressEvent(time.monotonic() - started, solution.generations, solution.tstt)
        return "network_design_result", message.SerializeToString(), progress_message(pb, final).SerializeToString()
    if kind == DEMAND_ROUTING:
        job = convert.demand_routing_job_from_proto(pb.optimization_pb2.SolveDemandRoutingRequest.FromString(request))
        result = get_solver(job.policy, ProblemKind.DEMAND_ROUTING).solve(job.problem, None)
        message = convert.demand_routing_result_to_proto(pb, job, result)
        final = ProgressEvent(time.monotonic() - started, message.episodes, message.mean_score)
        return "demand_routing_result", message.SerializeToString(), progress_message(pb, final).SerializeToString()
    raise ValidationError("kind", f"unknown job kind {kind!r}")


def warm_up() -> None:
    """Import the stubs and every solver package, so the first job pays no import time."""
    from planner.registry import list_solvers
    from server.stubs import load

    load()
    list_solvers()
