"""Callbacks the CLI adds to every run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter


class PredictionWriter(BasePredictionWriter):
    """Writes what ``predict_step`` returns - a dict of column → tensor - as one CSV.

    A 2-D column (class probabilities) becomes one CSV column per class: ``p_0``, ``p_1`` ….
    The file goes to ``output``, by default ``predictions.csv`` in the run folder, and an
    existing file is never replaced unless ``overwrite`` is set.
    """

    def __init__(self, output: str | None = None, overwrite: bool = False) -> None:
        super().__init__(write_interval="epoch")
        self.output = output
        self.overwrite = overwrite

    def target(self, trainer: L.Trainer) -> Path:
        return (
            Path(self.output) if self.output else Path(trainer.log_dir or ".") / "predictions.csv"
        )

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        path = self.target(trainer)
        if path.exists() and not self.overwrite:
            raise FileExistsError(
                f"{path} exists; choose another --predictions.output or pass "
                f"--predictions.overwrite true to replace it"
            )

    def write_on_epoch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        batches = [batch for batch in predictions if batch]
        if not batches or not trainer.is_global_zero:
            return
        columns: dict[str, list[float]] = {}
        for name in batches[0]:
            values = torch.cat([batch[name].detach().float().cpu() for batch in batches])
            if values.dim() > 1 and values.shape[1] > 1:
                columns.update(
                    {f"{name}_{i}": values[:, i].tolist() for i in range(values.shape[1])}
                )
            else:
                columns[name] = values.flatten().tolist()
        path = self.target(trainer)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = zip(*columns.values(), strict=True)
        text = (
            ",".join(columns)
            + "\n"
            + "".join(",".join(f"{value:.6g}" for value in row) + "\n" for row in rows)
        )
        path.write_text(text)
        shown = text if len(text) < 2000 else text[:2000] + "…\n"
        print(f"{shown}predictions written to {path}")
