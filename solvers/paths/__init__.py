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

from solvers.paths.ch import solve_shortest_path as solve_shortest_path_ch  # noqa: E402

register(
    "ch",
    [ProblemKind.SHORTEST_PATH],
    solve_shortest_path_ch,
    description="Contraction hierarchies (numba): exact bidirectional upward search with stall-on-demand, "
                "preprocessing cached on disk",
    capabilities=["exact", "parallel-edges", "preprocessing", "matrix"],
)
