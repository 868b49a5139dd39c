"""What-if analysis: fail a link or a node, re-route, and report what changed."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from planner.budget import Budget
from planner.flows import FlowAssignment, FlowRoutingProblem
from planner.graph.fabric import fail_links, fail_node


@dataclass(frozen=True, eq=False)
class WhatIfResult:
    """Routing before and after a failure.

    Parameters
    ----------
    before, after
        The assignments on the intact and on the failed network.
    moved_flows
        Indices of the flows whose paths or splits changed.
    failed
        What was failed, in words.
    """

    before: FlowAssignment
    after: FlowAssignment
    moved_flows: np.ndarray
    failed: str

    @property
    def congestion_before(self) -> float:
        """Maximum congestion on the intact network."""
        return self.before.max_congestion

    @property
    def congestion_after(self) -> float:
        """Maximum congestion after the failure."""
        return self.after.max_congestion


def what_if(problem: FlowRoutingProblem, solve: Callable[[FlowRoutingProblem, Budget], FlowAssignment],
            *, links: Sequence[tuple[Hashable, Hashable]] = (), node: Hashable | None = None,
            budget: Budget | None = None) -> WhatIfResult:
    """Route, fail ``links`` (pairs of node ids, both directions) and/or ``node``, route again.

    Edge indices change when links are removed, so paths are compared as node sequences.

    Raises
    ------
    ValidationError
        A link or node that does not exist.
    InfeasibleError
        ``flows[i]: a -> b disconnected`` when the failure cuts a flow off.
    """
    budget = budget or Budget()
    before = solve(problem, budget)
    graph = problem.graph
    notes = []
    if links:
        graph = fail_links(graph, list(links))
        notes.append("links " + ", ".join(f"{a}-{b}" for a, b in links))
    if node is not None:
        graph = fail_node(graph, node)
        notes.append(f"node {node}")
    failed_problem = FlowRoutingProblem(graph, problem.workload)
    after = solve(failed_problem, budget)

    def nodes(g, a: FlowAssignment, i: int) -> set[tuple[tuple[int, ...], float]]:
        out = set()
        for p, f in a.splits(i):
            seq = (*tuple(int(v) for v in g.tails[p]), int(g.indices[p[-1]])) if p.size else ()
            out.add((seq, round(f, 9)))
        return out

    moved = [i for i in range(problem.workload.n_flows)
             if nodes(problem.graph, before, i) != nodes(graph, after, i)]
    return WhatIfResult(before, after, np.asarray(moved, dtype=np.int64), "; ".join(notes))
