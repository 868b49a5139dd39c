"""Policy checkpoints: architecture, weights, optimiser and training state in one ``.pt`` file.

A checkpoint is a ``torch.save`` dictionary read back with ``weights_only=True`` (no pickled
code): ``kind`` (:data:`CHECKPOINT_KIND`), ``format`` (:data:`CHECKPOINT_FORMAT`), ``config``
(:class:`~solvers.vrp.policy.model.PolicyConfig` as plain values), ``model`` (state dict),
``optimizer`` (state dict or ``None``), ``step`` (training steps done) and ``meta`` (training
configuration, random-generator states, history, validation figures; plain values). Files are
written atomically (temporary file, then rename), so an interrupted save leaves the previous one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from planner.errors import DataFormatError, DataNotFoundError, PlannerError
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "kind": CHECKPOINT_KIND,
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "step": int(step),
        "meta": dict(meta or {}),
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a checkpoint is meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


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
    if not path.is_file():
        raise DataNotFoundError(path, "Train one with `routeplanner train vrp-policy` or name an existing .pt file.")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise DataFormatError(path, f"not a readable torch checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("kind") != CHECKPOINT_KIND:
        raise DataFormatError(path, f"not a VRP policy checkpoint (kind {_kind(payload)!r}, "
                                    f"expected {CHECKPOINT_KIND!r})")
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise DataFormatError(path, f"checkpoint format {payload.get('format')!r}, this version reads "
                                    f"{CHECKPOINT_FORMAT}")
    try:
        config = PolicyConfig(**payload["config"])
    except (TypeError, KeyError, PlannerError) as exc:
        raise DataFormatError(path, f"bad architecture in checkpoint ({exc})") from exc
    model = PolicyModel(config).to(device)
    try:
        model.load_state_dict(payload["model"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()
        raise DataFormatError(path, "weights do not match the architecture "
                                    f"({first[0] if first else type(exc).__name__})") from exc
    model.eval()
    return Checkpoint(model=model, step=int(payload.get("step", 0)), optimizer_state=payload.get("optimizer"),
                      meta=dict(payload.get("meta") or {}), path=path)


def _kind(payload: Any) -> Any:
    return payload.get("kind") if isinstance(payload, dict) else type(payload).__name__
