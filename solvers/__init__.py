"""Algorithms. Each family registers its solvers with :mod:`planner.registry` on import."""
