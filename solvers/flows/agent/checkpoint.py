"""Saving and loading the routing agent's Q-network.

The shipped checkpoint (``checkpoints/routing-agent.pt``) holds the network sizes, the
environment it was trained for, the weights and a summary of the training run; nothing else
(no optimiser, no replay), so it stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.checkpoints import load_weights, read_torch, save_torch
from planner.errors import DataFormatError
from solvers.flows.agent import DEFAULT_CHECKPOINT
from solvers.flows.agent.environment import EnvConfig
from solvers.flows.agent.gnn import GnnConfig, LinkQNetwork

_KIND = "routeplanner.routing-agent"


@dataclass(frozen=True, eq=False)
class AgentCheckpoint:
    """A loaded agent.

    Parameters
    ----------
    model
        The Q-network, in eval mode.
    env
        The environment parameters it was trained with.
    info
        Training summary (steps, wall time, topology, validation scores).
    """

    model: LinkQNetwork
    env: EnvConfig
    info: dict[str, Any] = field(default_factory=dict)


def save_agent(path: str | Path, model: LinkQNetwork, env: EnvConfig, info: dict[str, Any]) -> Path:
    """Write the model (weights + sizes + environment + ``info``); returns the path."""
    payload = {
        "kind": _KIND,
        "gnn": model.config.to_dict(),
        "env": {"capacity": env.capacity, "demand_sizes": list(env.demand_sizes), "k": env.k},
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "info": info,
    }
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
    try:
        model = LinkQNetwork(GnnConfig(**payload["gnn"]))
        env = payload["env"]
        env_config = EnvConfig(capacity=float(env["capacity"]),
                               demand_sizes=tuple(float(d) for d in env["demand_sizes"]), k=int(env["k"]))
    except (KeyError, TypeError, RuntimeError) as exc:
        raise DataFormatError(path, f"incomplete routing-agent checkpoint ({type(exc).__name__}: {exc})") from None
    load_weights(model, payload.get("state_dict"), path)
    model.eval()
    return AgentCheckpoint(model=model, env=env_config, info=dict(payload.get("info", {})))
