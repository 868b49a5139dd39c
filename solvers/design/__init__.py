"""Bi-level network design: which links get an extra lane, which lanes are reversed."""
import solvers.design.solver  # noqa: F401  (registers "design-ga-exact", "design-ga-surrogate")
