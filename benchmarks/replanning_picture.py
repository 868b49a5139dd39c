"""Draw one FMT^x replanning event: the path before, the obstacle added across it, the repaired
path, and the repaired tree. Usage: python benchmarks/replanning_picture.py OUT.png"""

from __future__ import annotations

import sys

import numpy as np

from datasets.generators.worlds import maze_world
from planner.draw import draw_world
from planner.workspace import Box
from solvers.sampling.fmtx import ReplanningSession


def main(out: str) -> None:
    problem = maze_world()
    session = ReplanningSession(problem, n_samples=10_000, seed=0)
    before = session.plan()
    # load the compiled repair kernels with a throw-away event, so the timing below is the repair
    session.update_obstacles(added=[Box(np.array([90.0, 2.0]), np.array([92.0, 4.0]))])
    session.update_obstacles(removed=[len(session.workspace.obstacles) - 1])
    before = session.path()
    w = before.waypoints
    centre = 0.5 * (w[len(w) // 2] + w[len(w) // 2 + 1])
    box = Box(centre - np.array([4.0, 4.0]), centre + np.array([4.0, 4.0]))
    report = session.update_obstacles(added=[box])
    full = session.full_replan(reuse_neighbours=False)
    draw_world(out, session.workspace,
               [(before, "#999999", "before"), (report.path, "#1f77b4", "repaired (FMT^x)")],
               tree=session.tree_edges(), highlight=[box],
               title=f"obstacle added: repair {1e3 * report.repair_s:.1f} ms, {report.affected} nodes re-evaluated;"
                     f" full FMT* replan cost {full.cost:.2f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "replanning.png")
