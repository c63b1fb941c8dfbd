"""Test-only callbacks for the MNIST tests that a CLI subprocess loads by class path."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch


class ShardIndexRecorder(L.Callback):
    """Saves, per process, the training indices its loader deals it in the first epoch, the
    first mini-batch it trains on and how many training steps it ran, as ``rank<N>.pt`` in
    ``folder``."""

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
        _, labels = batch
        self.images += len(labels)


class WeightsRecorder(L.Callback):
    """Saves, per process, the lesson's weights when training starts and when it ends, as
    ``rank<N>.pt``: {"start": …, "end": …}."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.weights: dict[str, dict[str, torch.Tensor]] = {}

    def record(self, moment: str, pl_module: L.LightningModule) -> None:
        state = pl_module.state_dict()
        self.weights[moment] = {name: value.detach().cpu().clone() for name, value in state.items()}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record("start", pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.record("end", pl_module)
        self.folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.weights, self.folder / f"rank{trainer.global_rank}.pt")
