"""Solver family package; importing it registers its solvers."""
import solvers.flows.all_or_nothing  # registers "aon"
import solvers.flows.ecmp  # registers "ecmp"
import solvers.flows.frank_wolfe  # registers "msa", "fw", "cfw", "bfw"
import solvers.flows.gradient_projection  # noqa: F401  (registers "gradient-projection")
