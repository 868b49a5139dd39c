"""Policy checkpoints: architecture, weights, optimiser and training state in one ``.pt`` file.

A checkpoint is a ``torch.save`` dictionary read back with ``weights_only=True`` (no pickled
code): ``kind`` (:data:`CHECKPOINT_KIND`), ``format`` (:data:`CHECKPOINT_FORMAT`), ``config``
(:class:`~solvers.vrp.policy.model.PolicyConfig` as plain values), ``model`` (state dict),
``optimizer`` (state dict or ``None``), ``step`` (training steps done) and ``meta`` (training
configuration, random-generator states, history, validation figures; plain values). Files are
written atomically (temporary file, then rename), so an interrupted save leaves the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from planner.checkpoints import load_weights, read_torch, save_torch
from planner.errors import DataFormatError, PlannerError
from solvers.vrp.policy.model import PolicyConfig, PolicyModel

CHECKPOINT_KIND = "routeplanner-vrp-policy"
CHECKPOINT_FORMAT = 1
#: The checkpoint shipped with the package, used when none is named.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "cvrp-policy.pt"


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes
    ----------
    model
        The policy, in evaluation mode.
    step
        Training steps done.
    optimizer_state
        The optimiser's state dict, or ``None``.
    meta
        Training configuration, generator states, history and figures.
    path
        Where it was read from.
    """

    model: PolicyModel
    step: int
    optimizer_state: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def save_checkpoint(path: str | Path, model: PolicyModel, *, step: int,
                    optimizer: torch.optim.Optimizer | None = None, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and the optimiser and training state) to ``path`` atomically."""
    payload = {
        "kind": CHECKPOINT_KIND,
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "step": int(step),
        "meta": dict(meta or {}),
    }
    return save_torch(path, payload)


def load_checkpoint(path: str | Path | None = None, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (default: :data:`DEFAULT_CHECKPOINT`).

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    DataFormatError
        If it is not a policy checkpoint (unreadable, another kind or format), or its weights do
        not match its architecture.
    """
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    payload = read_torch(path, CHECKPOINT_KIND, what="VRP policy", format=CHECKPOINT_FORMAT, device=device,
                         hint="Train one with `routeplanner train vrp-policy` or name an existing .pt file.")
    try:
        config = PolicyConfig(**payload["config"])
    except (TypeError, KeyError, PlannerError) as exc:
        raise DataFormatError(path, f"bad architecture in checkpoint ({exc})") from exc
    model = PolicyModel(config).to(device)
    load_weights(model, payload.get("model"), path)
    model.eval()
    return Checkpoint(model=model, step=int(payload.get("step", 0)), optimizer_state=payload.get("optimizer"),
                      meta=dict(payload.get("meta") or {}), path=path)

