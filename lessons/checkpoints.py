"""Reading a checkpoint before a run uses it: one-line errors, and never code from the file.

Checkpoints are loaded with ``weights_only=True``: tensors, numbers, strings and containers
come back, and a pickle that would build any other object (and so could run code) is refused.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

#: Lightning's names for checkpoints it finds itself; nothing to read ahead of it.
SPECIAL_PATHS = {"last", "best", "hpc", "registry"}


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, unsafe or of another lesson."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} not found; give the path of a .ckpt file, "
            "e.g. runs/<lesson>/version_<n>/checkpoints/last.ckpt"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            raise CheckpointError(
                f"{path} holds Python objects that could run code when loaded, so it was "
                "refused; load only checkpoints saved by these lessons"
            ) from None
        raise CheckpointError(f"{path} is not a readable checkpoint ({error})") from None
    except Exception as error:  # an untrusted file can fail in many ways; name the first
        reason = f"{type(error).__name__}: {str(error).split('. ')[0].splitlines()[0]}"
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated, or another kind of file: "
            f"{reason}); use last.ckpt or another complete checkpoint"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (it has no state_dict)")
    return checkpoint


def check_lesson(path: str | Path, expected_class_path: str | None) -> None:
    """Refuse a checkpoint saved by another lesson than the config's ``model.class_path``."""
    if str(path) in SPECIAL_PATHS:
        return
    saved_by = read_checkpoint(path).get("hyper_parameters", {}).get("_class_path")
    if expected_class_path and saved_by and saved_by != expected_class_path:
        raise CheckpointError(
            f"{path} was saved by {saved_by}, but the config runs {expected_class_path}; "
            "give a checkpoint of this lesson, or the config of that one"
        )
