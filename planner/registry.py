"""The solver registry: solvers register under a stable name; the CLI, server and benchmarks
find them here.

``planner`` never imports a solver module by name. Solver packages are listed as entry points
in the group ``routeplanner.solvers`` (see ``pyproject.toml``); the first look-up imports them,
and importing a solver module calls :func:`register`. A third-party package can add solvers the
same way.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Any

from planner.budget import Budget
from planner.errors import NotFoundError, ValidationError

ENTRY_POINT_GROUP = "routeplanner.solvers"


class ProblemKind(StrEnum):
    """The problem a solver solves."""

    SHORTEST_PATH = "shortest-path"
    CVRP = "cvrp"
    VRPTW = "vrptw"
    TRAFFIC_ASSIGNMENT = "traffic-assignment"
    FABRIC_ROUTING = "fabric-routing"
    TRAFFIC_ENGINEERING = "traffic-engineering"
    MOTION_PLANNING = "motion-planning"
    NETWORK_DESIGN = "network-design"
    DEMAND_ROUTING = "demand-routing"


SolveFunction = Callable[[Any, Budget], Any]


@dataclass(frozen=True)
class SolverInfo:
    """A registered solver.

    Parameters
    ----------
    name
        Stable name used by the CLI, the server and the benchmarks (``savings``, ``dijkstra``).
    kinds
        Problem kinds it solves.
    solve
        ``solve(problem, budget) -> solution``.
    description
        One line for ``routeplanner solvers``.
    capabilities
        Free-form flags, e.g. ``asymmetric``, ``time-windows``, ``anytime``, ``exact``.
    baseline
        True for a peer we compare against (OR-Tools, PyVRP, networkx), false for our own.
    """

    name: str
    kinds: frozenset[ProblemKind]
    solve: SolveFunction
    description: str = ""
    capabilities: frozenset[str] = frozenset()
    baseline: bool = False


_lock = threading.Lock()
_solvers: dict[str, SolverInfo] = {}
_loaded = False
_loading = False
_load_lock = threading.RLock()
_load_errors: dict[str, str] = {}


def register(
    name: str,
    kinds: Iterable[ProblemKind | str],
    solve: SolveFunction,
    *,
    description: str = "",
    capabilities: Iterable[str] = (),
    baseline: bool = False,
) -> SolverInfo:
    """Register a solver; returns its :class:`SolverInfo`.

    Raises
    ------
    ValidationError
        If another solver already has that name.
    """
    info = SolverInfo(
        name=name,
        kinds=frozenset(ProblemKind(k) for k in kinds),
        solve=solve,
        description=description,
        capabilities=frozenset(capabilities),
        baseline=baseline,
    )
    with _lock:
        existing = _solvers.get(name)
        if existing is not None and existing.solve is not solve:
            raise ValidationError("name", f"solver {name!r} is already registered")
        _solvers[name] = info
    return info


def _load_entry_points() -> None:
    """Import every solver package once. Other threads wait until the imports are done (a
    half-loaded registry would look empty to them); a re-entrant call from inside an import
    returns at once."""
    global _loaded, _loading
    if _loaded:
        return
    with _load_lock:
        if _loaded or _loading:
            return
        _loading = True
        try:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                # one broken solver package must not take the others down; its error is
                # reported by any look-up that fails
                try:
                    importlib.import_module(ep.value.split(":")[0])
                except Exception as exc:
                    _load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
            _loaded = True
        finally:
            _loading = False


def get_solver(name: str, kind: ProblemKind | str | None = None) -> SolverInfo:
    """The solver registered as ``name``.

    Raises
    ------
    NotFoundError
        If no solver has that name, or it does not solve ``kind``; the message lists the
        solvers that would do.
    """
    _load_entry_points()
    wanted = None if kind is None else ProblemKind(kind)
    info = _solvers.get(name)
    if info is None or (wanted is not None and wanted not in info.kinds):
        options = ", ".join(s.name for s in list_solvers(wanted)) or "none"
        what = f" for {wanted.value}" if wanted is not None else ""
        broken = "".join(f"; solver package {k!r} failed to load ({v})" for k, v in _load_errors.items())
        raise NotFoundError("solver", f"no solver {name!r}{what} (available: {options}){broken}")
    return info


def load_errors() -> dict[str, str]:
    """Solver packages whose import failed, with the error."""
    _load_entry_points()
    return dict(_load_errors)


def list_solvers(kind: ProblemKind | str | None = None) -> list[SolverInfo]:
    """Registered solvers, sorted by name, optionally only those solving ``kind``."""
    _load_entry_points()
    wanted = None if kind is None else ProblemKind(kind)
    return sorted(
        (s for s in _solvers.values() if wanted is None or wanted in s.kinds),
        key=lambda s: s.name,
    )
