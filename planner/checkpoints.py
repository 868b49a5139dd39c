"""Files of learned models: ``torch.save`` dictionaries written atomically and read back with
``weights_only=True`` (no pickled code), with errors that say what is wrong with a file.

Every checkpoint carries a ``kind`` string naming what it holds (a VRP policy, a design
surrogate, a routing agent) and optionally a ``format`` number; the readers of each model check
both, then build the model from the stored configuration and load its weights with
:func:`load_weights`. torch is imported on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from planner.errors import DataFormatError, DataNotFoundError


def save_torch(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file, then rename), readable by all;
    an interrupted save leaves the previous file. Returns the path."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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


def read_torch(path: str | Path, kind: str, *, what: str, hint: str, format: int | None = None,
               device: Any = "cpu") -> dict[str, Any]:
    """The dictionary of a checkpoint of ``kind``.

    Parameters
    ----------
    path
        The file.
    kind
        The ``kind`` it must carry.
    what
        What it holds, for messages ("VRP policy").
    hint
        How to get one, for the missing-file error.
    format
        The ``format`` it must carry, or ``None`` not to check it.
    device
        ``map_location`` of the tensors.

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    DataFormatError
        If it is not a readable torch file, or of another kind or format.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(path, hint)
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise DataFormatError(path, f"not a readable torch checkpoint ({type(exc).__name__}: {exc})") from exc
    found = payload.get("kind") if isinstance(payload, dict) else type(payload).__name__
    if found != kind:
        raise DataFormatError(path, f"not a {what} checkpoint (kind {found!r}, expected {kind!r})")
    if format is not None and payload.get("format") != format:
        raise DataFormatError(path, f"checkpoint format {payload.get('format')!r}, this version reads {format}")
    return payload


def load_weights(model: Any, state: Any, path: str | Path) -> None:
    """``model.load_state_dict(state)``, with a mismatch reported as a :class:`DataFormatError`
    on ``path``."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()
        raise DataFormatError(Path(path), "weights do not match the architecture "
                                          f"({first[0] if first else type(exc).__name__})") from exc
