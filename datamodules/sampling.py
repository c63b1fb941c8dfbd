"""A shuffle that a resumed run repeats exactly."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


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
