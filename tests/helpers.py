"""Test-only pieces that a CLI subprocess can load by class path."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch


class ShardRecorder(L.Callback):
    """Saves the training inputs each process sees in its first epoch, as ``rank<N>.pt``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.seen: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 0:
            self.seen.append(batch[0].detach().cpu().flatten(1))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            torch.save(torch.cat(self.seen), self.folder / f"rank{trainer.global_rank}.pt")


class BackwardCounter(L.Callback):
    """Counts the backward passes Lightning reports: a callback that needs every update."""

    def __init__(self) -> None:
        self.calls = 0

    def on_after_backward(self, trainer, pl_module) -> None:
        self.calls += 1


class LearningRateJump(L.Callback):
    """Multiplies every learning rate by ``factor`` when epoch ``epoch`` (from 0) starts."""

    def __init__(self, epoch: int, factor: float) -> None:
        self.epoch, self.factor = epoch, factor

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            for group in trainer.optimizers[0].param_groups:
                group["lr"] *= self.factor
