"""The graph layer: one CSR graph type and the builders that produce it."""

from planner.graph.csr import Graph

__all__ = ["Graph"]
