"""OMPL's planners as baselines, through OMPL's own Python bindings (optional ``bench`` extra).

OMPL checks motions at a discrete resolution, so its paths may cut obstacle corners; every path
it returns is re-checked with our exact segment test and reported as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from planner.budget import Budget
from planner.errors import InfeasibleError, NotFoundError
from planner.workspace import Ball, Box, PlannedPath, PlanningProblem, Workspace

OMPL_PLANNERS = {"ompl-informed-rrt*": "InformedRRTstar", "ompl-bit*": "BITstar", "ompl-fmt*": "FMT",
                 "ompl-rrt*": "RRTstar"}


def ompl_available() -> bool:
    """Whether OMPL's Python bindings can be imported."""
    try:
        import ompl.geometric  # noqa: F401
    except ImportError:
        return False
    return True


def _point_checker(ws: Workspace) -> Callable[[float, ...], bool]:
    """A scalar validity check as fast as plain Python allows (OMPL calls it per state)."""
    from solvers.sampling.collision import CompiledWorld

    boxes = [(tuple(o.lo), tuple(o.hi)) for o in ws.obstacles if isinstance(o, Box)]
    balls = [(tuple(o.center), o.radius**2) for o in ws.obstacles if isinstance(o, Ball)]
    others = len(boxes) + len(balls) < len(ws.obstacles)
    compiled = CompiledWorld.from_workspace(ws) if others else None
    lower, upper = tuple(ws.lower), tuple(ws.upper)

    def free(*x: float) -> bool:
        for v, lo, hi in zip(x, lower, upper, strict=True):
            if v < lo or v > hi:
                return False
        for lo, hi in boxes:
            if all(a <= v <= b for v, a, b in zip(x, lo, hi, strict=True)):
                return False
        for c, r2 in balls:
            if sum((v - cv) ** 2 for v, cv in zip(x, c, strict=True)) <= r2:
                return False
        return compiled is None or bool(compiled.points_free(np.array([x]))[0])

    return free


def plan_ompl(problem: PlanningProblem, budget: Budget, planner: str) -> PlannedPath:
    """Run one of OMPL's planners for ``budget.time_limit`` seconds (path-length objective).

    Raises
    ------
    NotFoundError
        If OMPL is not installed or the planner name is unknown.
    InfeasibleError
        If OMPL found no exact solution in time.
    """
    if planner not in OMPL_PLANNERS:
        raise NotFoundError("planner", f"unknown OMPL planner {planner!r} (known: {', '.join(OMPL_PLANNERS)})")
    try:
        from ompl import base as ob
        from ompl import geometric as og
        from ompl import util as ou
    except ImportError:
        raise NotFoundError("planner", "OMPL is not installed: pip install 'routeplanner[bench]'") from None
    ou.setLogLevel(ou.LOG_NONE)
    ou.RNG.setSeed(budget.seed + 1)  # OMPL rejects seed 0
    ws = problem.workspace
    dim = ws.dim
    space = ob.RealVectorStateSpace(dim)
    bounds = ob.RealVectorBounds(dim)
    for k in range(dim):
        bounds.setLow(k, float(ws.lower[k]))
        bounds.setHigh(k, float(ws.upper[k]))
    space.setBounds(bounds)
    si = ob.SpaceInformation(space)
    free = _point_checker(ws)
    si.setStateValidityChecker(lambda s: free(*(s[k] for k in range(dim))))
    si.setup()
    start, goal = space.allocState(), space.allocState()
    for k in range(dim):
        start[k], goal[k] = float(problem.start[k]), float(problem.goal[k])
    pdef = ob.ProblemDefinition(si)
    pdef.setStartAndGoalStates(start, goal)
    pdef.setOptimizationObjective(ob.PathLengthOptimizationObjective(si))
    algorithm = getattr(og, OMPL_PLANNERS[planner])(si)
    algorithm.setProblemDefinition(pdef)
    algorithm.setup()
    started = time.perf_counter()
    status = algorithm.solve(float(budget.time_limit or 1.0))
    elapsed = time.perf_counter() - started
    if not pdef.hasExactSolution():
        raise InfeasibleError("goal", f"{planner} found no exact solution ({status})")
    states = pdef.getSolutionPath().getStates()
    waypoints = np.array([[s[k] for k in range(dim)] for s in states])
    return PlannedPath(waypoints, planner=planner, runtime_s=elapsed)
