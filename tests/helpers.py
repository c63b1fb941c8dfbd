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
