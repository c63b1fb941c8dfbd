"""Each datamodule, with its defaults, feeds a plain automatic-optimisation LightningModule
through a plain Trainer: standard ``(inputs, labels)`` batches from the standard hooks."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from helpers import PLAIN_TRAINER
from torch import nn

from datamodules.diabetes import DiabetesDataModule
from datamodules.hello import HelloDataModule
from datamodules.mnist import MNISTDataModule
from datamodules.names import NamesDataModule
from datamodules.toy import ToyDataModule


class PlainModule(L.LightningModule):
    """Ten lines a Lightning user writes: a net, a loss, SGD; no knowledge of the lessons."""

    def __init__(self, net: nn.Module, loss: Callable, lr: float) -> None:
        super().__init__()
        self.net, self.loss, self.lr = net, loss, lr
        self.losses: list[float] = []

    def training_step(self, batch, batch_idx):
        inputs, labels = batch
        loss = self.loss(self.net(inputs), labels)
        self.losses.append(loss.item())
        return loss

    def validation_step(self, batch, batch_idx):
        inputs, labels = batch
        self.log("val_loss", self.loss(self.net(inputs), labels))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class Characters(nn.Module):
    """hello → scores per character over "ehlo"; the labels, "ohlol", → their indices."""

    alphabet = "ehlo"

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, words: tuple[str, ...]) -> torch.Tensor:
        indices = torch.tensor([self.alphabet.index(c) for c in words[0]])
        return self.linear(F.one_hot(indices, 4).float())

    @classmethod
    def loss(cls, scores: torch.Tensor, words: tuple[str, ...]) -> torch.Tensor:
        return F.cross_entropy(scores, torch.tensor([cls.alphabet.index(c) for c in words[0]]))


CASES = {
    "mnist": (MNISTDataModule, lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
              F.cross_entropy, 0.1, True),
    "names": (NamesDataModule, lambda: nn.Sequential(nn.EmbeddingBag(128, 16, padding_idx=0),
                                                      nn.Linear(16, 18)),
              F.cross_entropy, 0.5, True),
    "diabetes": (DiabetesDataModule, lambda: nn.Sequential(nn.Linear(8, 1), nn.Sigmoid()),
                 F.binary_cross_entropy, 0.5, True),
    "toy": (ToyDataModule, lambda: nn.Linear(1, 1), F.mse_loss, 0.01, False),
    "hello": (HelloDataModule, Characters, Characters.loss, 0.5, False),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_a_plain_module_trains_and_validates_on_the_datamodules_defaults(name):
    datamodule_class, net, loss, lr, validates = CASES[name]
    torch.manual_seed(0)
    module = PlainModule(net(), loss, lr)
    trainer = L.Trainer(max_epochs=3, limit_train_batches=20, limit_val_batches=2, **PLAIN_TRAINER)
    trainer.fit(module, datamodule_class())
    assert module.losses[-1] < module.losses[0]  # it learns
    assert ("val_loss" in trainer.callback_metrics) == validates
