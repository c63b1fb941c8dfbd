"""What the datamodules of rows share: diabetes, Titanic, Otto, movie reviews and names.

Each reads its files into rows, holds some out for validation, and serves them through
``TableDataModule``'s loaders: the same settings checked the same way, the training rows in a
``SeededShuffle`` so that a resumed run sees the order of one that never stopped, and the label
a baseline always answers (``majority_class``).

>>> labels = torch.tensor([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
>>> train, val = stratified_split(labels, {"val_fraction": 0.5}, seed=0)
>>> sorted(labels[val].tolist()), len(train)
([0, 1, 1, 1, 1], 5)
>>> kept, held_out = random_split(10, 0.2, seed=0, what="names")
>>> len(kept), len(held_out), sorted(kept + held_out) == list(range(10))
(8, 2, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Sampler, Subset


class SeededShuffle(Sampler[int]):
    """A new order every epoch, drawn from ``seed + epoch`` alone.

    The Trainer calls ``set_epoch`` at the start of each epoch, so a run resumed from a
    checkpoint sees the same order as one that never stopped (a DataLoader's ``shuffle=True``
    draws from the global random state, which a checkpoint does not hold).

    >>> sampler = SeededShuffle(5, seed=0)
    >>> first = list(sampler)
    >>> sampler.set_epoch(1)
    >>> sorted(sampler) == list(range(5)) and list(sampler) != first
    True
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self) -> int:
        return self.size


def check_settings(
    batch_size: int | None, num_workers: int, full_batch: bool = False, **fractions: float
) -> None:
    """The one-line errors for the settings every table datamodule takes; ``full_batch``: a
    ``batch_size`` of None (null) serves a split whole."""
    for name, fraction in fractions.items():
        if not 0 <= fraction < 1:
            raise ValueError(f"{name} must be in [0, 1) (0 holds out none), got {fraction}")
    if sum(fractions.values()) >= 1:
        raise ValueError(
            f"{' + '.join(fractions)} = {sum(fractions.values())} leaves no rows to train on; "
            "keep their sum below 1"
        )
    if batch_size is not None and batch_size < 1:
        null = " (or null for full batch)" if full_batch else ""
        raise ValueError(f"batch_size must be at least 1{null}, got {batch_size}")
    if num_workers < 0:
        raise ValueError(f"num_workers must be 0 or more, got {num_workers}")


def stratified_split(
    labels: torch.Tensor, fractions: dict[str, float], seed: int, what: str = "rows"
) -> list[list[int]]:
    """Indices for (train, *held-out parts): each class shuffled with ``seed`` and cut by
    ``fractions``, so every part keeps the file's class balance. A fraction above 0 that
    holds out no row is refused."""
    generator = torch.Generator().manual_seed(seed)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)].tolist()
        start = 0
        for part, fraction in enumerate(fractions.values(), start=1):
            size = round(fraction * len(members))
            parts[part] += members[start : start + size]
            start += size
        parts[0] += members[start:]
    for (name, fraction), part in zip(fractions.items(), parts[1:], strict=True):
        if fraction > 0 and not part:
            raise ValueError(
                f"{name} {fraction} of {len(labels)} {what} is an empty split; raise it or "
                "set it to 0"
            )
    return [sorted(part) for part in parts]


def random_split(count: int, fraction: float, seed: int, what: str) -> tuple[list[int], list[int]]:
    """(kept, held out): the indices ``0 … count - 1`` in an order drawn with ``seed``, the
    first ``fraction`` of them held out, for data whose rows are not held out by class."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    held_out = round(count * fraction)
    if fraction > 0 and not 0 < held_out < count:
        raise ValueError(
            f"val_fraction {fraction} holds out {held_out} of {count} {what}; choose one that "
            "leaves some on each side, such as 0.1"
        )
    return order[held_out:], order[:held_out]


class TableDataModule(L.LightningDataModule):
    """Rows in ``self.splits`` ("train", "val", "test", "predict"), each a sequence of
    (inputs, label) rows served by ``loader``; the settings ``batch_size`` (None: the whole
    split at once), ``seed`` and ``num_workers`` are read from ``self.hparams``.

    A subclass checks its settings with ``check_settings``, saves them with
    ``save_hyperparameters``, fills ``self.splits`` in ``setup`` and, for rows that need it,
    gives ``collate(split)``; ``no_test_labels`` says why there is no test set to score
    (Kaggle's test files have no labels)."""

    no_test_labels = ""

    def __init__(self) -> None:
        super().__init__()
        self.splits: dict[str, Sequence] = {}

    def collate(self, split: str) -> Callable[[list], Any] | None:
        """The ``collate_fn`` of ``split``'s loader (None: PyTorch's default)."""
        return None

    def loader(self, split: str, shuffle: bool = False) -> DataLoader:
        rows = self.splits[split]
        return DataLoader(
            rows,
            batch_size=self.hparams.batch_size or len(rows),
            sampler=SeededShuffle(len(rows), self.hparams.seed) if shuffle else None,
            collate_fn=self.collate(split),
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled mini-batches, or the whole split in the file's order (``batch_size`` None)."""
        return self.loader("train", shuffle=self.hparams.batch_size is not None)

    def val_dataloader(self) -> DataLoader | list:
        """The held-out rows, if any."""
        return self.loader("val") if self.splits.get("val") else []

    def test_dataloader(self) -> DataLoader | list:
        if self.no_test_labels:
            raise ValueError(self.no_test_labels)
        return self.loader("test") if self.splits.get("test") else []

    def predict_dataloader(self) -> DataLoader:
        return self.loader("predict")

    @property
    def majority_class(self) -> int:
        """The label most frequent in the training split (the larger on a tie): the baseline
        always answers it. Rows that are a ``Subset`` of a dataset with labels ``y`` (diabetes,
        Titanic) are counted from those at once: the lesson asks at every validation step."""
        rows = self.splits["train"]
        if isinstance(rows, Subset):
            labels = rows.dataset.y[rows.indices]
        else:
            labels = [label for _, label in rows]
        counts = torch.as_tensor(labels).flatten().long().bincount()
        return int((counts == counts.max()).nonzero().max())
