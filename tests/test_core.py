"""Errors, budgets and the solver registry."""

from __future__ import annotations

import threading
import time

import pytest

from planner.budget import Budget, ProgressEvent
from planner.errors import FieldViolation, NotFoundError, ValidationError
from planner.registry import ProblemKind, get_solver, list_solvers, register


def test_validation_error_names_field_and_reason() -> None:
    err = ValidationError("clients[17].demand", "negative (-3)")
    assert str(err) == "clients[17].demand: negative (-3)"
    assert err.field == "clients[17].demand"
    many = ValidationError([FieldViolation("a", "x"), FieldViolation("b[2]", "y")])
    assert str(many) == "a: x; b[2]: y"
    assert isinstance(many, ValueError)


def test_budget_validates_and_stops() -> None:
    with pytest.raises(ValidationError, match="time_limit"):
        Budget(time_limit=-1)
    with pytest.raises(ValidationError, match="max_iterations"):
        Budget(max_iterations=0)
    events: list[ProgressEvent] = []
    budget = Budget(time_limit=0.05, max_iterations=10, progress=events.append)
    clock = budget.start()
    assert not clock.should_stop(3)
    assert clock.should_stop(10)
    clock.report(3, objective=1.0)
    assert events[0].iteration == 3 and events[0].objective == 1.0
    time.sleep(0.06)
    assert clock.should_stop(0) and clock.remaining() < 0


def test_cancel_flag_stops_from_another_thread() -> None:
    budget = Budget()
    clock = budget.start()
    threading.Timer(0.01, budget.cancel.set).start()
    deadline = time.perf_counter() + 2
    while not clock.should_stop() and time.perf_counter() < deadline:
        time.sleep(0.001)
    assert budget.cancel.is_set()


def test_registry_finds_every_family_baseline() -> None:
    names = {s.name for s in list_solvers()}
    assert {"savings", "dijkstra", "aon", "ecmp"} <= names
    assert get_solver("savings", ProblemKind.CVRP).name == "savings"
    assert all(ProblemKind.CVRP in s.kinds for s in list_solvers("cvrp"))


def test_registry_errors_list_alternatives() -> None:
    with pytest.raises(NotFoundError, match=r"no solver 'nope' for cvrp \(available: .*savings"):
        get_solver("nope", "cvrp")
    with pytest.raises(NotFoundError, match="no solver 'dijkstra' for cvrp"):
        get_solver("dijkstra", "cvrp")


def test_registering_a_different_solver_under_a_taken_name_fails() -> None:
    def solve(problem, budget):  # pragma: no cover - never called
        return problem

    list_solvers()  # load entry points first
    with pytest.raises(ValidationError, match="already registered"):
        register("savings", ["cvrp"], solve)
