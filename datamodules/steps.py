"""Blocks of mini-batches: what one Lightning training step of a classifier lesson takes.

A classifier lesson runs the course's update on each mini-batch of a block in turn (one
optimizer step per mini-batch, in order), so that Lightning's work around a training step -
hooks, logging, the progress bar - is paid once per block instead of once per update.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sized
from typing import Any

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device


class Block(list):
    """The mini-batches of one training step. Lightning moves a batch to the training device
    by walking it element by element, which on a small net costs a tenth of the step; a block
    moves itself (``to``), and not at all when its loader says it is there (``device``)."""

    def __init__(self, batches: Iterable[Any] = (), device: torch.device | None = None) -> None:
        super().__init__(batches)
        self.device = device

    def to(self, device: torch.device, **kwargs: Any) -> Block:
        if device == self.device:
            return self
        return Block((moved(batch, device) for batch in self), device)


def moved(data: Any, device: torch.device) -> Any:
    """``data`` (tensors, in tuples, lists and dicts) on ``device``; anything else moved by
    Lightning's ``move_data_to_device``."""
    if isinstance(data, torch.Tensor):
        return data.to(device, non_blocking=device.type == "cuda")
    if type(data) in (tuple, list):
        return type(data)(moved(item, device) for item in data)
    if type(data) is dict:
        return {key: moved(value, device) for key, value in data.items()}
    return move_data_to_device(data, device)


class Blocks:
    """The batches of ``loader``, handed out ``batches_per_step`` at a time, as ``Block``
    lists; the last block of an epoch may be shorter.

    Lightning takes it in place of a DataLoader: ``sampler`` (whose ``set_epoch`` it calls
    each epoch), ``batch_sampler`` and ``dataset`` are the wrapped loader's, and ``len()``
    counts blocks, its training steps; ``mini_batches`` counts the updates.

    >>> [len(block) for block in Blocks(range(7), batches_per_step=3)]
    [3, 3, 1]
    """

    def __init__(self, loader: Iterable[Any], batches_per_step: int) -> None:
        if batches_per_step < 1:
            raise ValueError(f"batches_per_step must be at least 1, got {batches_per_step}")
        self.loader = loader
        self.batches_per_step = batches_per_step

    @property
    def sampler(self) -> Any:
        return getattr(self.loader, "sampler", None)

    @property
    def batch_sampler(self) -> Any:
        return getattr(self.loader, "batch_sampler", None)

    @property
    def dataset(self) -> Any:
        return getattr(self.loader, "dataset", None)

    @property
    def mini_batches(self) -> int:
        """The mini-batches of an epoch: one update each."""
        assert isinstance(self.loader, Sized)
        return len(self.loader)

    def __len__(self) -> int:
        return math.ceil(self.mini_batches / self.batches_per_step)

    def __iter__(self) -> Iterator[Block]:
        batches = iter(self.loader)
        device = getattr(self.loader, "device", None)  # where a loader's batches already are
        while block := Block(itertools.islice(batches, self.batches_per_step), device):
            yield block
