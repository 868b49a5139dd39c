"""Solver family package; importing it registers its solvers."""
import solvers.flows.agent.solver  # registers "routing-agent", "sap", "lb", "least-max-util"
import solvers.flows.all_or_nothing  # registers "aon"
import solvers.flows.ecmp  # registers "ecmp"
import solvers.flows.frank_wolfe  # registers "msa", "fw", "cfw", "bfw"
import solvers.flows.gradient_projection  # registers "gradient-projection"
import solvers.flows.lp  # registers "lp", "lp-pdlp"
import solvers.flows.mwu  # registers "mwu"
import solvers.flows.splitting  # noqa: F401  (registers "spray", "ecmp-x", "single-path", "minimal-split")
