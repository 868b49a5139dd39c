"""Saving and loading the routing agent's Q-network.

A checkpoint holds the network sizes, the environment it was trained for, the weights and a
summary of the training run; nothing else (no optimiser, no replay), so it stays small. An
ensemble checkpoint (the shipped ``checkpoints/routing-agent.pt``) holds several members, each
with its sizes and weights, and the environment once; :func:`load_agent` reads both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.checkpoints import load_weights, read_torch, save_torch
from planner.errors import DataFormatError
from solvers.flows.agent import DEFAULT_CHECKPOINT
from solvers.flows.agent.environment import EnvConfig
from solvers.flows.agent.gnn import GnnConfig, LinkQNetwork, QEnsemble, QModel

_KIND = "routeplanner.routing-agent"


@dataclass(frozen=True, eq=False)
class AgentCheckpoint:
    """A loaded agent.

    Parameters
    ----------
    model
        The Q-network (or the ensemble of Q-networks), in eval mode.
    env
        The environment parameters it was trained with.
    info
        Training summary (steps, wall time, topology, validation scores).
    """

    model: QModel
    env: EnvConfig
    info: dict[str, Any] = field(default_factory=dict)


def _weights(model: LinkQNetwork) -> dict[str, Any]:
    return {"gnn": model.config.to_dict(),
            "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()}}


def save_agent(path: str | Path, model: QModel, env: EnvConfig, info: dict[str, Any]) -> Path:
    """Write the model (weights + sizes + environment + ``info``; every member's weights and
    sizes for an ensemble); returns the path."""
    payload: dict[str, Any] = {
        "kind": _KIND,
        "env": {"capacity": env.capacity, "demand_sizes": list(env.demand_sizes), "k": env.k},
        "info": info,
    }
    if isinstance(model, QEnsemble):
        payload["members"] = [_weights(member) for member in model.members]
    else:
        payload.update(_weights(model))
    return save_torch(path, payload)


def load_agent(path: str | Path | None = None) -> AgentCheckpoint:
    """Load an agent checkpoint (default: the shipped one).

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    DataFormatError
        If it is not a routing-agent checkpoint.
    """
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    payload = read_torch(path, _KIND, what="routing-agent",
                         hint="No routing-agent checkpoint; train one with `routeplanner train routing-agent`.")
    members = payload.get("members")
    if members is not None and not (isinstance(members, list) and members):
        raise DataFormatError(path, "an ensemble checkpoint needs a non-empty list of members")
    try:
        parts = members if members is not None else [payload]
        networks = [LinkQNetwork(GnnConfig(**part["gnn"])) for part in parts]
        env = payload["env"]
        env_config = EnvConfig(capacity=float(env["capacity"]),
                               demand_sizes=tuple(float(d) for d in env["demand_sizes"]), k=int(env["k"]))
    except (KeyError, TypeError, RuntimeError) as exc:
        raise DataFormatError(path, f"incomplete routing-agent checkpoint ({type(exc).__name__}: {exc})") from None
    for network, part in zip(networks, parts, strict=True):
        load_weights(network, part.get("state_dict"), path)
    model: QModel = QEnsemble(networks) if members is not None else networks[0]
    model.eval()
    return AgentCheckpoint(model=model, env=env_config, info=dict(payload.get("info", {})))


def combine_agents(paths: list[str | Path], out: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write the ensemble of the agents at ``paths`` (single or ensemble checkpoints, flattened)
    to ``out``; returns ``out``.

    Raises
    ------
    ValidationError
        With fewer than two members, or members trained for different environments.
    """
    from planner.errors import ValidationError

    loaded = [load_agent(p) for p in paths]
    networks = [m for c in loaded for m in (c.model.members if isinstance(c.model, QEnsemble) else [c.model])]
    if len(networks) < 2:
        raise ValidationError("members", f"an ensemble needs at least two Q-networks ({len(networks)} given)")
    envs = {c.env for c in loaded}
    if len(envs) != 1:
        raise ValidationError("members", "the members were trained for different environments "
                                         f"({sorted(map(str, envs))})")
    summary = {"members": [{"path": Path(p).name, **c.info} for p, c in zip(paths, loaded, strict=True)],
               **(info or {})}
    return save_agent(out, QEnsemble(networks), envs.pop(), summary)
