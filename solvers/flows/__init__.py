"""Solver family package; importing it registers its solvers."""
import solvers.flows.all_or_nothing  # registers "aon"
import solvers.flows.ecmp  # noqa: F401  (registers "ecmp")
