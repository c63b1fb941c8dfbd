"""Lesson 12's data: the one sequence pair "hello" → "ohlol", as strings.

The lesson owns the vocabulary (the course's ``idx2char``) and turns the strings into
character indices itself, so the same data feeds one-hot input (RNNCell, RNN) and an
Embedding alike. Training is one batch of one pair, as the course's ``batch_size = 1``;
predict asks for the prediction on ``source``.

>>> data = HelloDataModule()
>>> next(iter(data.train_dataloader()))
[('hello',), ('ohlol',)]
"""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader


class HelloDataModule(L.LightningDataModule):
    def __init__(self, source: str = "hello", target: str = "ohlol") -> None:
        """``target[i]`` is what the net must answer after reading ``source[: i + 1]``."""
        super().__init__()
        if not source or len(source) != len(target):
            raise ValueError(
                f"source and target need the same, non-zero length (one output character per "
                f"input character); got {source!r} and {target!r}"
            )
        self.save_hyperparameters()  # the settings are read from self.hparams, nowhere else

    def train_dataloader(self) -> DataLoader:
        return DataLoader([(self.hparams.source, self.hparams.target)], batch_size=1)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader([self.hparams.source], batch_size=1)
