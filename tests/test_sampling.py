"""Sampling planners: exact feasibility, informed sampling, convergence to the visibility-graph
optimum, replanning."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from datasets.generators.worlds import maze_world, one_wall_world, random_boxes_world, single_obstacle_world
from planner.budget import Budget
from planner.errors import ValidationError
from planner.registry import get_solver
from planner.workspace import Box, PlanningProblem, Workspace, check_path, world_from_dict
from solvers.sampling.collision import CompiledWorld
from solvers.sampling.fmtx import ReplanningSession
from solvers.sampling.informed import sample_informed
from solvers.sampling.smoothing import path_cost, simplify_path
from solvers.sampling.visibility import visibility_graph_optimum

PLANNERS = ["rrt*", "informed-rrt*", "fmt*", "fmtx"]
#: iterations in each planner's own unit: tree extensions for RRT*, batches for FMT*
ITERATIONS = {"rrt*": 20000, "informed-rrt*": 20000, "fmt*": 3, "fmtx": 1}


def test_compiled_collision_equals_numpy_reference() -> None:
    problem = random_boxes_world(n_boxes=30, dim=2, seed=3)
    ws = problem.workspace
    rng = np.random.default_rng(0)
    a = np.round(rng.uniform(-5, 105, (5000, 2)))
    b = np.round(rng.uniform(-5, 105, (5000, 2)))
    assert np.array_equal(CompiledWorld.from_workspace(ws).segments_free(a, b), ws.segments_free(a, b))


@pytest.mark.parametrize("planner", PLANNERS)
@pytest.mark.parametrize("world", [one_wall_world, maze_world, lambda: random_boxes_world(40, dim=3, seed=2)])
def test_every_path_is_collision_free_and_connects(planner: str, world) -> None:
    problem = world()
    path = get_solver(planner, "motion-planning").solve(problem, Budget(max_iterations=ITERATIONS[planner], seed=4))
    assert check_path(problem, path) == []
    assert np.allclose(path.waypoints[0], problem.start) and np.allclose(path.waypoints[-1], problem.goal)


def test_planners_are_reproducible_under_a_seed() -> None:
    problem = one_wall_world()
    for planner in PLANNERS:  # fewer RRT* iterations here: reproducibility shows in any prefix
        solve = get_solver(planner).solve
        iterations = min(ITERATIONS[planner], 5000)
        a = solve(problem, Budget(max_iterations=iterations, seed=9))
        b = solve(problem, Budget(max_iterations=iterations, seed=9))
        assert np.array_equal(a.waypoints, b.waypoints), planner


def test_informed_samples_lie_in_the_ellipse_and_fill_it_uniformly() -> None:
    rng = np.random.default_rng(1)
    start, goal, c_best = np.array([10.0, 20.0, 5.0]), np.array([70.0, 50.0, 40.0]), 100.0
    x = sample_informed(20000, start, goal, c_best, rng)
    assert np.all(np.linalg.norm(x - start, axis=1) + np.linalg.norm(x - goal, axis=1) <= c_best + 1e-9)
    # uniform in an ellipsoid: the normalised radius r has P(r <= t) = t^d
    c_min = np.linalg.norm(goal - start)
    axis = (goal - start) / c_min
    centre = (start + goal) / 2
    along = (x - centre) @ axis
    across = np.linalg.norm((x - centre) - np.outer(along, axis), axis=1)
    r = np.sqrt((along / (c_best / 2)) ** 2 + (across / (np.sqrt(c_best**2 - c_min**2) / 2)) ** 2)
    assert stats.kstest(r**3, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("kind", ["box", "polygon"])
def test_costs_converge_to_the_visibility_graph_optimum(kind: str) -> None:
    problem = single_obstacle_world(kind)
    optimum = visibility_graph_optimum(problem).cost
    costs = [get_solver("informed-rrt*").solve(problem, Budget(max_iterations=n, seed=1)).cost
             for n in (300, 3000, 20000)]
    assert all(c >= optimum - 1e-9 for c in costs)
    assert costs[-1] <= costs[0] + 1e-9
    assert costs[-1] / optimum < 1.01
    fmt = get_solver("fmt*").solve(problem, Budget(max_iterations=4, seed=1)).cost
    assert optimum - 1e-9 <= fmt < optimum * 1.01


def test_visibility_graph_optimum_by_hand() -> None:
    problem = one_wall_world()
    # start (10,50) -> corner (45,90) -> corner (55,90) -> goal (90,50)
    assert visibility_graph_optimum(problem).cost == pytest.approx(2 * np.hypot(35, 40) + 10)


def test_replanning_repairs_after_adding_and_removing_obstacles() -> None:
    problem = one_wall_world()
    session = ReplanningSession(problem, n_samples=3000, seed=2)
    before = session.plan()
    mid = before.waypoints[len(before.waypoints) // 2]
    report = session.update_obstacles(added=[Box(mid - 4, mid + 4)])
    changed = PlanningProblem(session.workspace, problem.start, problem.goal)
    assert check_path(changed, report.path) == []
    assert report.path.cost >= before.cost - 1e-9
    assert report.path.cost <= session.full_replan().cost * 1.005
    back = session.update_obstacles(removed=[len(session.workspace.obstacles) - 1])
    assert back.path.cost == pytest.approx(before.cost, rel=1e-9)


def test_replanning_after_removing_all_obstacles_gives_the_straight_line() -> None:
    problem = maze_world()
    session = ReplanningSession(problem, n_samples=2000, seed=0)
    session.plan()
    report = session.update_obstacles(removed=list(range(len(problem.workspace.obstacles))))
    straight = np.linalg.norm(problem.goal - problem.start)
    assert session.workspace.obstacles == ()
    # over finite samples the repaired tree path follows the diagonal as closely as the r-disk
    # graph allows, no worse than a full FMT* replan; shortcutting makes it the straight line
    assert report.path.cost <= session.full_replan().cost + 1e-9
    assert report.path.cost < straight * 1.03
    line = simplify_path(report.path.waypoints, session.world)
    assert len(line) == 2 and path_cost(line) == pytest.approx(straight)


def test_start_or_goal_inside_an_obstacle_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match=r"goal: \[50\.0, 5\.0\] is inside obstacles\[0\]"):
        world_from_dict({"bounds": [[0, 0], [100, 100]], "start": [10, 50], "goal": [50, 5],
                         "obstacles": [{"type": "box", "lo": [45, 0], "hi": [55, 90]}]})
    session = ReplanningSession(one_wall_world(), n_samples=500)
    session.plan()
    with pytest.raises(ValidationError, match=r"added\[0\]: covers the start"):
        session.update_obstacles(added=[Box(np.array([5.0, 45.0]), np.array([15.0, 55.0]))])
    with pytest.raises(ValidationError, match="removed: no obstacle with index 7"):
        session.update_obstacles(removed=[7])


def test_visibility_graph_rejects_circles_and_3d() -> None:
    with pytest.raises(ValidationError, match=r"obstacles\[0\]: Ball is not polygonal"):
        visibility_graph_optimum(single_obstacle_world("circle"))
    ws = Workspace(np.zeros(3), np.ones(3))
    with pytest.raises(ValidationError, match="2D world"):
        visibility_graph_optimum(PlanningProblem(ws, np.full(3, 0.1), np.full(3, 0.9)))
