"""CLI command modules. Each module defines ``register(app, bench_app)`` adding its commands to
the ``routeplanner`` app and its ``bench`` group; :mod:`planner.cli` registers every module of
this package, so a solver family adds commands without touching the CLI's core."""

from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Import every command module of this package and let it register its commands."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue  # shared helpers, not commands
        importlib.import_module(f"{__name__}.{module.name}").register(app, bench_app)
