"""Sampling-based motion planners; importing the package registers them."""

from planner.budget import Budget
from planner.registry import ProblemKind, register
from planner.workspace import PlannedPath, PlanningProblem
from solvers.sampling.fmt_star import FmtParams, plan_fmt_star
from solvers.sampling.fmtx import ReplanningSession
from solvers.sampling.rrt_star import RrtStarParams, plan_rrt_star


def solve_rrt_star(problem: PlanningProblem, budget: Budget) -> PlannedPath:
    """Plain RRT* (uniform sampling throughout)."""
    return plan_rrt_star(problem, budget, RrtStarParams(informed=False))


def solve_informed_rrt_star(problem: PlanningProblem, budget: Budget) -> PlannedPath:
    """Informed RRT*: direct informed sampling once a solution exists."""
    return plan_rrt_star(problem, budget, RrtStarParams(informed=True))


def solve_fmt_star(problem: PlanningProblem, budget: Budget) -> PlannedPath:
    """FMT*, anytime by doubling informed batches, with exact shortcutting."""
    return plan_fmt_star(problem, budget, FmtParams())


def solve_fmtx(problem: PlanningProblem, budget: Budget) -> PlannedPath:
    """FMT^x's initial plan (one FMT* tree over every sample, ready for repairs)."""
    session = ReplanningSession(problem, seed=budget.seed)
    path = session.plan()
    return PlannedPath(path.waypoints, planner="fmtx", runtime_s=path.runtime_s, tree=session.tree_edges())


register("rrt*", [ProblemKind.MOTION_PLANNING], solve_rrt_star,
         description="RRT* with rewiring (baseline)", capabilities={"anytime", "2d", "3d"})
register("informed-rrt*", [ProblemKind.MOTION_PLANNING], solve_informed_rrt_star,
         description="Informed RRT*: prolate-hyperspheroid sampling after the first solution",
         capabilities={"anytime", "2d", "3d"})
register("fmt*", [ProblemKind.MOTION_PLANNING], solve_fmt_star,
         description="FMT* in doubling informed batches, exact shortcutting", capabilities={"anytime", "2d", "3d"})
register("fmtx", [ProblemKind.MOTION_PLANNING], solve_fmtx,
         description="FMT^x: FMT* tree with repair after obstacle changes (see ReplanningSession)",
         capabilities={"replanning", "2d", "3d"})
