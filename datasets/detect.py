"""Load any supported instance from a path or a generator spec, detecting its format.

``load_problem`` is what ``routeplanner solve`` and the batch runner call:

- a CVRPLIB/VRPLIB ``.vrp`` file -> CVRP (or VRPTW when it has time windows);
- a Solomon / Gehring-Homberger file (VRPLIB with time windows, or the classic text) -> VRPTW;
- a TNTP folder or ``*_net.tntp`` file -> user-equilibrium traffic assignment;
- a generator spec ``gen:cvrp:n=100,seed=1,distribution=clustered`` or ``gen:vrptw:n=200``
  -> a synthetic instance (no data needed);
- a road spec ``road:heidelberg:n=100,seed=1[,tw=0]`` -> a VRPTW (CVRP) instance on a real road
  network (:mod:`datasets.generators.road_vrp`);
- a bare name found in the data directory (``X-n101-k25``, ``C101``, ``SiouxFalls``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets.location import CATALOGUE, data_dir
from planner.errors import DataFormatError, DataNotFoundError, ValidationError
from planner.registry import ProblemKind

#: The instance ``routeplanner solve`` solves when given none: runs with no data at all.
DEFAULT_INSTANCE = "gen:cvrp:n=100,seed=1"


@dataclass(frozen=True)
class LoadedProblem:
    """A problem read from somewhere, with what the CLI needs to report on it.

    Parameters
    ----------
    kind
        The problem kind, which selects the solvers that apply.
    problem
        The validated problem object (``VrpInstance``, ``AssignmentProblem``, ...).
    name
        Instance name.
    source
        Where it came from (path or spec).
    best_known
        Best-known objective value, where one is published.
    """

    kind: ProblemKind
    problem: Any
    name: str
    source: str
    best_known: float | None = None


def _parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    parts = spec.split(":", 2)
    family = parts[1] if len(parts) > 1 else ""
    options: dict[str, str] = {}
    if len(parts) > 2 and parts[2]:
        for item in parts[2].split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ValidationError("instance", f"generator option {item!r} is not key=value")
            options[key.strip()] = value.strip()
    return family, options


def _generated(spec: str) -> LoadedProblem:
    from datasets.generators.vrp import generate_cvrp, generate_vrptw

    family, options = _parse_spec(spec)
    generators = {"cvrp": (generate_cvrp, ProblemKind.CVRP), "vrptw": (generate_vrptw, ProblemKind.VRPTW)}
    if family not in generators:
        raise ValidationError("instance", f"unknown generator {family!r} in {spec!r} (known: {', '.join(generators)})")
    generate, kind = generators[family]
    try:
        n = int(options.pop("n", "100"))
        seed = int(options.pop("seed", "0"))
    except ValueError as exc:
        raise ValidationError("instance", f"generator option in {spec!r}: {exc}") from None
    kwargs: dict[str, Any] = dict(options)
    if "capacity" in kwargs:
        kwargs["capacity"] = int(kwargs["capacity"])
    try:
        instance = generate(n, seed=seed, **kwargs)
    except TypeError as exc:
        raise ValidationError("instance", f"generator option in {spec!r}: {exc}") from None
    return LoadedProblem(kind, instance, instance.name, spec)


def _find_by_name(name: str) -> Path | None:
    for dataset in CATALOGUE:
        folder = dataset.path()
        if not folder.is_dir():
            continue
        for candidate in (folder / name, folder / f"{name}.vrp", folder / f"{name}.txt"):
            if candidate.exists():
                return candidate
    tntp = data_dir() / "tntp" / name
    return tntp if tntp.is_dir() else None


def _looks_like_tntp(path: Path) -> bool:
    if path.is_dir():
        return any(path.glob("*_net.tntp"))
    return path.name.endswith("_net.tntp")


def load_problem(source: str | Path) -> LoadedProblem:
    """Read the problem at ``source`` (path, data-set name or ``gen:`` spec).

    Raises
    ------
    DataNotFoundError
        If nothing exists at ``source``.
    DataFormatError
        If the file's format is not one routeplanner reads.
    """
    text = str(source)
    if text.startswith("gen:"):
        return _generated(text)
    if text.startswith("road:"):
        from datasets.generators.road_vrp import road_instance

        instance = road_instance(text)
        kind = ProblemKind.VRPTW if instance.has_time_windows else ProblemKind.CVRP
        return LoadedProblem(kind, instance, instance.name, text)
    path = Path(text).expanduser()
    if not path.exists():
        found = _find_by_name(text) if "/" not in text else None
        if found is None:
            raise DataNotFoundError(path, "Give a file, a TNTP folder, an instance name from "
                                          "`routeplanner datasets list`, or a spec like gen:cvrp:n=100.")
        path = found
    if _looks_like_tntp(path):
        from datasets.tntp import read_assignment_problem

        problem = read_assignment_problem(path)
        return LoadedProblem(ProblemKind.TRAFFIC_ASSIGNMENT, problem, problem.network.name, str(path))
    if path.is_dir():
        raise DataFormatError(path, "a folder, but not a TNTP network folder (no *_net.tntp)")
    from datasets.vrplib import best_known, read_instance

    instance = read_instance(path)
    kind = ProblemKind.VRPTW if instance.has_time_windows else ProblemKind.CVRP
    return LoadedProblem(kind, instance, instance.name, str(path), best_known(instance.name))
