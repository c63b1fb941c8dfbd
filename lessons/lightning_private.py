"""Every use of Lightning's private API in this project, in this one module, each with why.

Lightning offers no public way to do these three things; each is tested at the lowest and
the newest Lightning that pyproject.toml allows (``tests/test_lightning_private.py``, also in
``.ci/lowest``), and README.md lists them ("Lightning's private API"):

- ``LightningOptimizer._on_before_step`` / ``_on_after_step``: count an update in
  ``global_step`` without the wrapper's hook rounds, which cost more than a toy lesson's
  maths (``lessons/base.py``, ``DirectOptimizer``);
- ``trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress``: count the updates
  of lessons 2-4, which update their weights by hand, with no optimizer to count them;
- ``ExperimentWriter._check_log_dir_exists`` and ``CSVLogger._fs`` / ``_experiment``: a run
  resumed into its own folder appends to its metrics.csv, where Lightning's writer deletes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


def counted_step(wrapper: LightningOptimizer, step: Callable[[], Any]) -> Any:
    """``step()`` (the torch optimizer's), counted in ``global_step`` as the wrapper counts."""
    wrapper._on_before_step()
    result = step()
    wrapper._on_after_step()
    return result


def count_updates_by_hand(trainer: L.Trainer, updates: int) -> None:
    """Add ``updates`` to ``global_step`` for a lesson that updates without an optimizer."""
    trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress.increment_by(updates)


class ResumingWriter(ExperimentWriter):
    """Lightning's metrics.csv writer, except that a run resumed into its own folder
    (``--ckpt_path last``) appends to its metrics.csv instead of deleting it."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as stream:
                header = stream.readline().strip()
            self.metrics_keys = header.split(",") if header else []


def resuming_experiment(logger: CSVLogger) -> ExperimentWriter:
    """The body of ``CSVLogger.experiment`` with a ``ResumingWriter``."""
    if logger._experiment is None:
        logger._fs.makedirs(logger.root_dir, exist_ok=True)
        logger._experiment = ResumingWriter(log_dir=logger.log_dir)
    return logger._experiment
