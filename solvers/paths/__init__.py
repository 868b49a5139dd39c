"""Solver family package; importing it registers its solvers."""
