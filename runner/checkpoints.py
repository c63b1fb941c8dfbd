"""Checkpoints that survive a kill, and that are read safely.

- ``AtomicCheckpointIO`` writes each checkpoint under a temporary name, flushes it to disk and
  renames it: a run killed at any moment leaves the old complete file or the new one.
- ``LastCheckpoint`` keeps ``last.ckpt`` current and, on Ctrl-C or SIGTERM, saves the state
  reached and prints the command that resumes from it.
- ``read_checkpoint`` loads with ``weights_only=True``: tensors, numbers, strings and
  containers come back, and a pickle that would build any other object (and so could run
  code) is refused; ``check_lesson`` also refuses hyperparameters that name a module to
  import beyond the lessons'. Errors are one line that names the file and the fix.
"""

from __future__ import annotations

import os
import pickle
import shlex
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lessons.checkpoint_names import ForeignNameError, check_names


def is_remote(path: str | Path) -> bool:
    """A URL that fsspec opens (``s3://``, ``https://``, ``memory://`` …), not a local file.

    >>> is_remote("s3://bucket/last.ckpt"), is_remote("runs/x/last.ckpt"), is_remote("C:/x")
    (True, False, False)
    """
    return "://" in str(path) and not str(path).startswith("file://")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's default checkpoint IO, made atomic on local disks; a remote path goes
    through fsspec as Lightning's own IO sends it."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        if is_remote(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part")
        with open(partial, "wb") as stream:
            torch.save(checkpoint, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)  # atomic: readers see the old file or the new, never half


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt``, rewritten after every epoch: what ``fit --ckpt_path last`` resumes from.

    A callback of its own because ModelCheckpoint(save_last=True) refreshes last.ckpt only in
    an epoch where it also saves a top-k checkpoint (Lightning 2.6), which a monitored metric
    that stops improving never does. Any other failure (a NaN loss, say) leaves last.ckpt as
    it was: the last good state.
    """

    def __init__(self) -> None:
        super().__init__(
            filename="last",
            monitor=None,
            save_top_k=1,
            enable_version_counter=False,
            save_on_train_epoch_end=True,  # every epoch, whether or not it validates
        )

    @property
    def state_key(self) -> str:
        return "LastCheckpoint"  # apart from the config's best-by-metric ModelCheckpoint

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, FloatingPointError):  # a lesson's "the run diverged" error
            exception.args = (f"{exception}; the last good checkpoint is {self.last_good()}",)
            return
        if not isinstance(exception, KeyboardInterrupt | SIGTERMException) or not self.dirpath:
            return
        path = Path(self.dirpath) / "last.ckpt"
        trainer.save_checkpoint(path)
        rank_zero_info(
            f"Interrupted at step {trainer.global_step}; saved {path}. Resume with:\n"
            f"  {resume_command(path)}"
        )

    def last_good(self) -> str:
        """last.ckpt as it was before the failure, or "none yet" before the first save."""
        return self.best_model_path or "none yet"


def resume_command(checkpoint: Path) -> str:
    """This process's command line, with ``--ckpt_path`` pointing at ``checkpoint``."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg.startswith("--ckpt_path="):
            skip = False
            continue
        if arg == "--ckpt_path":
            skip = True
            continue
        args.append(arg)
    return shlex.join(["python", sys.argv[0], *args, "--ckpt_path", str(checkpoint)])


#: Lightning's names for checkpoints it finds itself; nothing to read ahead of it.
SPECIAL_PATHS = {"last", "best", "hpc", "registry"}


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, unsafe or of another lesson."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` (a file, or a URL that fsspec opens), read safely."""
    path = str(path) if is_remote(path) else Path(path)
    filesystem = get_filesystem(str(path))
    try:
        found = filesystem.isfile(str(path))
    except Exception as error:  # a remote store that cannot be reached or refuses us
        raise CheckpointError(f"cannot read checkpoint {path} ({error})") from None
    if not found:
        raise CheckpointError(
            f"checkpoint {path} not found; give the path of a .ckpt file, "
            "e.g. runs/<lesson>/version_<n>/checkpoints/last.ckpt"
        )
    try:
        with filesystem.open(str(path), "rb") as stream:
            checkpoint = torch.load(stream, map_location="cpu", weights_only=True)
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
    """Refuse a checkpoint saved by another lesson than the config's ``model.class_path``, or
    whose hyperparameters name code to import beyond the lessons' (LightningCLI hands them to
    jsonargparse next, which imports every ``class_path``: ``lessons/checkpoint_names.py``)."""
    if str(path) in SPECIAL_PATHS:
        return
    hyperparameters = read_checkpoint(path).get("hyper_parameters", {})
    try:
        check_names(hyperparameters, path, own=expected_class_path)
    except ForeignNameError as error:
        raise CheckpointError(str(error)) from None
    saved_by = hyperparameters.get("_class_path")
    if expected_class_path and saved_by and saved_by != expected_class_path:
        raise CheckpointError(
            f"{path} was saved by {saved_by}, but the config runs {expected_class_path}; "
            "give a checkpoint of this lesson, or the config of that one"
        )


def run_checkpoint(save_dir: str | Path, name: str, which: str) -> tuple[Path, int]:
    """``last``: the newest run's ``last.ckpt`` under ``save_dir/name``; ``best``: the best
    checkpoint by the monitored metric of the newest run that kept one. Returns the file and
    its run's version number, or raises a one-line CheckpointError when there is none."""
    runs = Path(save_dir) / name
    versions = sorted(
        (int(folder.name.removeprefix("version_")), folder)
        for folder in runs.glob("version_*")
        if folder.name.removeprefix("version_").isdigit()
    )
    for version, folder in reversed(versions):
        found = (folder / "checkpoints" / "last.ckpt") if which == "last" else best_of(folder)
        if found and found.is_file():
            return found, version
    kept = "a last.ckpt" if which == "last" else "a best checkpoint (checkpoint.monitor)"
    raise CheckpointError(
        f"--ckpt_path {which}: no run under {runs} has {kept}; train one first with "
        f"`fit` (or give the path of a .ckpt file)"
    )


def best_of(run: Path) -> Path | None:
    """The best-by-metric checkpoint of one run folder: the file the run's ModelCheckpoint
    named best in its last.ckpt, or else its only checkpoint other than last.ckpt."""
    folder = run / "checkpoints"
    others = sorted(p for p in folder.glob("*.ckpt") if p.name != "last.ckpt")
    last = folder / "last.ckpt"
    if len(others) > 1 and last.is_file():
        states = read_checkpoint(last).get("callbacks", {})
        for key, state in states.items():
            named = Path(str(state.get("best_model_path") or "")).name
            if key.startswith("ModelCheckpoint") and (folder / named).is_file() and named:
                return folder / named
    return others[-1] if others else None
