"""Shortest-path solvers; importing this package registers them."""

from planner.registry import ProblemKind, register
from solvers.paths.dijkstra import solve_shortest_path

register(
    "dijkstra",
    [ProblemKind.SHORTEST_PATH],
    solve_shortest_path,
    description="Plain Dijkstra on the CSR graph (scipy.sparse.csgraph); exact, no preprocessing",
    capabilities=["exact", "parallel-edges"],
)
