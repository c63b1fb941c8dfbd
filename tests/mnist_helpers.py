"""Test-only callbacks for the MNIST tests that a CLI subprocess loads by class path."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch


class ShardIndexRecorder(L.Callback):
    """Saves, per process, the training indices its loader deals it in the first epoch, the
    first batch it trains on and how many batches it ran, as ``rank<N>.pt`` in ``folder``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.record: dict[str, object] = {"batches": 0}

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record["indices"] = trainer.train_dataloader.sampler.indices()
        self.record["world_size"] = trainer.world_size

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if batch_idx == 0:
            self.record["first_images"], self.record["first_labels"] = batch
        self.record["batches"] += 1

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            torch.save(self.record, self.folder / f"rank{trainer.global_rank}.pt")


class ImageCounter(L.Callback):
    """Counts the images the run trains on."""

    def __init__(self) -> None:
        self.images = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.images += len(batch[1])
