"""The run's logger: ``metrics.csv`` and TensorBoard event files in one run folder.

``RunLogger`` is Lightning's ``CSVLogger`` (so ``trainer.log_dir`` and the checkpoint folder
are where they always were: ``<save_dir>/<name>/version_<n>``) that also writes every metric
and the hyperparameters through a ``TensorBoardLogger`` into that same folder, so that
``tensorboard --logdir runs`` shows every run. ``FiguresAtFitEnd`` adds the lesson's figures.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from lessons.lightning_private import resuming_experiment


class RunLogger(CSVLogger):
    def __init__(
        self,
        save_dir: str | Path = "runs",
        name: str = "lesson",
        version: int | str | None = None,
        tensorboard: bool = True,
        flush_logs_every_n_steps: int = 100,
    ) -> None:
        super().__init__(
            save_dir, name=name, version=version, flush_logs_every_n_steps=flush_logs_every_n_steps
        )
        self.write_tensorboard = tensorboard
        self._tensorboard: TensorBoardLogger | None = None

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        return resuming_experiment(self)  # appends to the metrics.csv of a resumed run

    @property
    def tensorboard(self) -> TensorBoardLogger | None:
        """The TensorBoard logger writing into this run's folder (None when switched off)."""
        if self.write_tensorboard and self._tensorboard is None:
            self._tensorboard = TensorBoardLogger(
                self.save_dir, name=self.name, version=self.version, default_hp_metric=False
            )
        return self._tensorboard

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        if self.tensorboard:
            self.tensorboard.log_metrics(metrics, step)

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace) -> None:
        super().log_hyperparams(params)
        if self.tensorboard:
            self.tensorboard.log_hyperparams(params)

    @rank_zero_only
    def save(self) -> None:
        super().save()
        if self._tensorboard:
            self._tensorboard.save()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        if self._tensorboard:
            self._tensorboard.finalize(status)


def add_figures_to_tensorboard(logger: Any, figures: list[Path], step: int) -> None:
    """Each PNG as a TensorBoard image (tag: its file name without ``.png``)."""
    tensorboard = getattr(logger, "tensorboard", None)
    if isinstance(logger, TensorBoardLogger):
        tensorboard = logger
    if tensorboard is None or not figures:
        return
    import matplotlib.image

    for path in figures:
        image = matplotlib.image.imread(path)  # height × width × RGB(A), floats in [0, 1]
        if image.ndim == 2:
            image = image[..., None].repeat(3, axis=2)
        tensorboard.experiment.add_image(path.stem, image[..., :3], step, dataformats="HWC")
    tensorboard.experiment.flush()
