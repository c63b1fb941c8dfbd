"""Each datamodule, with its defaults, feeds a plain automatic-optimisation LightningModule
through a plain Trainer: standard ``(inputs, labels)`` batches from the standard hooks, and
what Lightning does to any DataLoader it does to theirs (the table below: ``overfit_batches``
repeats the same batches every epoch, ``fast_dev_run`` runs one, DDP on two CPU processes gives
each its own shard and both together every sample)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import PLAIN_TRAINER, REPO, run_command
from test_homework import write_otto, write_reviews, write_titanic
from torch import nn

from datamodules.diabetes import DiabetesDataModule
from datamodules.hello import HelloDataModule
from datamodules.mnist import MNISTDataModule
from datamodules.movie_reviews import MovieReviewsDataModule
from datamodules.names import NamesDataModule
from datamodules.otto import OttoDataModule
from datamodules.titanic import TitanicDataModule
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


def homework(datamodule_class: type, write: Callable[[Path], None], folder: Path):
    """A Kaggle homework's datamodule, with its defaults, on files of the competition's
    layout written in ``folder`` (tests/test_homework.py's)."""
    write(folder)
    return datamodule_class(data_dir=str(folder))


def bag_of_codes(codes: int, classes: int) -> nn.Module:
    return nn.Sequential(nn.EmbeddingBag(codes, 16, padding_idx=0), nn.Linear(16, classes))


class Case(NamedTuple):
    data: Callable[[Path], L.LightningDataModule]  # a folder for files it needs written
    net: Callable[[], nn.Module]
    loss: Callable
    lr: float
    validates: bool


CASES = {
    "mnist": Case(lambda _: MNISTDataModule(),
                  lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), F.cross_entropy, 0.1,
                  True),
    "mnist_torchvision": Case(lambda _: MNISTDataModule(loader="torchvision"),
                              lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
                              F.cross_entropy, 0.1, True),
    "names": Case(lambda _: NamesDataModule(), lambda: bag_of_codes(128, 18), F.cross_entropy,
                  0.5, True),
    "diabetes": Case(lambda _: DiabetesDataModule(),
                     lambda: nn.Sequential(nn.Linear(8, 1), nn.Sigmoid()),
                     F.binary_cross_entropy, 0.5, True),
    "toy": Case(lambda _: ToyDataModule(), lambda: nn.Linear(1, 1), F.mse_loss, 0.01, False),
    "hello": Case(lambda _: HelloDataModule(), Characters, Characters.loss, 0.5, False),
    "titanic": Case(partial(homework, TitanicDataModule, write_titanic),
                    lambda: nn.Sequential(nn.Linear(9, 1), nn.Sigmoid()),
                    F.binary_cross_entropy, 0.5, True),
    "otto": Case(partial(homework, OttoDataModule, write_otto), lambda: nn.Linear(93, 9),
                 F.cross_entropy, 0.1, True),
    "movie_reviews": Case(partial(homework, MovieReviewsDataModule, write_reviews),
                          lambda: bag_of_codes(16384, 5), F.cross_entropy, 0.5, True),
}  # fmt: skip
#: The rows of the table that the default tier runs; CI runs them all (slow).
DEFAULT_TIER = {"mnist", "names", "diabetes"}


def table_rows() -> list:
    """The datamodules as the table's rows, those of ``DEFAULT_TIER`` in the default tier."""
    return [n if n in DEFAULT_TIER else pytest.param(n, marks=pytest.mark.slow) for n in CASES]


def plain_module(name: str) -> PlainModule:
    case = CASES[name]
    torch.manual_seed(0)
    return PlainModule(case.net(), case.loss, case.lr)


def sample_keys(batch) -> list[str]:
    """One key per sample of an ``(inputs, labels)`` batch, the same wherever the sample is
    batched: a row's trailing zeros (the padding of names and phrases) are left out."""
    inputs, labels = batch
    if isinstance(inputs, torch.Tensor):
        inputs = [np.trim_zeros(row.flatten().numpy(), "b").tobytes() for row in inputs]
        labels = [label.numpy().tobytes() for label in labels]
    else:  # hello's strings
        inputs, labels = [text.encode() for text in inputs], [text.encode() for text in labels]
    return [
        hashlib.blake2b(x + b"|" + y, digest_size=8).hexdigest()
        for x, y in zip(inputs, labels, strict=True)
    ]


class SampleRecorder(L.Callback):
    """The sample keys of each training and validation batch, epoch by epoch (not those of the
    sanity check): ``train[epoch][batch]``, ``val[epoch][batch]``."""

    def __init__(self) -> None:
        self.train: list[list[list[str]]] = []
        self.val: list[list[list[str]]] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.train.append([])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.train[-1].append(sample_keys(batch))

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.val.append([])

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dl_idx=0) -> None:
        if not trainer.sanity_checking:
            self.val[-1].append(sample_keys(batch))


def record(name: str, folder: Path, **trainer_flags) -> tuple[L.Trainer, SampleRecorder]:
    """Fit the plain module on the datamodule ``name`` with ``trainer_flags``, recording."""
    recorder = SampleRecorder()
    trainer = L.Trainer(callbacks=[recorder], **{**PLAIN_TRAINER, **trainer_flags})
    trainer.fit(plain_module(name), CASES[name].data(folder))
    return trainer, recorder


@pytest.mark.parametrize("name", CASES)
def test_a_plain_module_trains_and_validates_on_the_datamodules_defaults(name, tmp_path):
    module = plain_module(name)
    trainer = L.Trainer(max_epochs=3, limit_train_batches=20, limit_val_batches=2, **PLAIN_TRAINER)
    trainer.fit(module, CASES[name].data(tmp_path))
    assert module.losses[-1] < module.losses[0]  # it learns
    assert ("val_loss" in trainer.callback_metrics) == CASES[name].validates


# --- the table: every datamodule × {overfit_batches, fast_dev_run, DDP on 2 CPU processes} ---


@pytest.mark.parametrize("name", table_rows())
def test_overfit_batches_repeats_the_same_batches_every_epoch(name, tmp_path):
    """Lightning turns shuffling off for ``overfit_batches``: the same 2 batches (the same
    samples, in the same order) every epoch, of training and of validation."""
    _, recorder = record(name, tmp_path, max_epochs=3, overfit_batches=2)
    assert len(recorder.train) == 3
    assert 1 <= len(recorder.train[0]) <= 2
    assert recorder.train[1] == recorder.train[0] and recorder.train[2] == recorder.train[0]
    if CASES[name].validates:
        assert len(recorder.val) == 3 and 1 <= len(recorder.val[0]) <= 2
        assert recorder.val[1] == recorder.val[0] and recorder.val[2] == recorder.val[0]


@pytest.mark.parametrize("name", table_rows())
def test_fast_dev_run_runs_one_batch_of_each_loop(name, tmp_path):
    trainer, recorder = record(name, tmp_path, fast_dev_run=True)
    assert trainer.global_step == 1
    assert [len(epoch) for epoch in recorder.train] == [1]
    assert [len(epoch) for epoch in recorder.val] == ([1] if CASES[name].validates else [])


def one_process_keys(name: str, folder: Path) -> dict[str, list[str]]:
    """The sample keys of one process's training and validation epoch, outside a Trainer."""
    data = CASES[name].data(folder)
    data.prepare_data()
    data.setup("fit")
    loaders = {"train": data.train_dataloader()}
    if CASES[name].validates:
        loaders["val"] = data.val_dataloader()
    return {part: [k for batch in loaders[part] for k in sample_keys(batch)] for part in loaders}


#: DDP's column: the torchvision way deals the same EpochShardSampler as the fast way
#: (tests/test_mnist.py), at a minute more of per-image work on a busy machine.
DDP_ROWS = [name for name in CASES if name != "mnist_torchvision"]


@pytest.fixture(scope="module")
def ddp_epochs(tmp_path_factory) -> Path:
    """One launch of tests/plain_ddp.py, an epoch on each datamodule of ``DDP_ROWS``."""
    folder = tmp_path_factory.mktemp("ddp")
    script = REPO / "tests" / "plain_ddp.py"
    result = run_command(sys.executable, str(script), str(folder), *DDP_ROWS, cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", DDP_ROWS)
def test_ddp_on_two_cpu_processes_gives_each_its_shard_and_both_every_sample(ddp_epochs, name):
    """One epoch under ``Trainer(strategy="ddp", devices=2)`` in a user's script
    (tests/plain_ddp.py): equal shards, which together hold every sample of the epoch once
    (one more at most: DistributedSampler repeats the first to make the shards equal)."""
    folder = ddp_epochs / name
    records = [json.loads((folder / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [record["world_size"] for record in records] == [2, 2]
    for part, every_sample in one_process_keys(name, folder).items():
        shards = [[key for batch in record[part][0] for key in batch] for record in records]
        assert len(shards[0]) == len(shards[1])  # no rank waits for the other
        together = Counter(shards[0]) + Counter(shards[1])
        assert together >= Counter(every_sample)  # every sample
        assert together.total() - len(every_sample) <= 1  # once, but the padding
