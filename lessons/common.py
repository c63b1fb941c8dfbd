"""What the lessons share, as plain functions: ``CourseLesson`` (lessons 2-8, 12,
``lessons/base.py``) and ``ClassifierLesson`` (lessons 9-13, ``lessons/classifier.py``) each
call them from their own hooks, so that a lesson is never more than two classes away from
``LightningModule``; and ``layer_stack``, the net of lessons 7 (other sizes), 9 and Otto.

The checks protect a user's own script as much as the CLI's: another lesson's data, a Trainer
flag the lesson cannot honour are refused in one line, before anything runs (an unsafe
checkpoint: ``lessons/checkpoint_names.py``).
"""

from __future__ import annotations

import importlib
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BatchSizeFinder, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from torch import nn


def inputs_of(batch: Any) -> tuple[Any, Any]:
    """``(inputs, labels)`` of a batch that is ``(inputs, labels)``, ``[inputs]`` (a
    TensorDataset of inputs alone) or ``inputs``; labels None when there are none.

    >>> inputs_of([torch.ones(2)])
    (tensor([1., 1.]), None)
    """
    if isinstance(batch, list | tuple):
        return batch[0], batch[1] if len(batch) > 1 else None
    return batch, None


def print_above_the_bar(trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
    """``print(*args)`` that a running progress bar neither hides nor tears.

    Lightning's progress bar prints a line only while one of its bars is running and drops
    it before training starts or after it ends - the course's opening and closing lines.
    tqdm's own ``write`` lifts any bar still drawn out of the way, writes the line and draws
    the bar again; with no bar drawn, it is a plain print.
    """
    bar = trainer.progress_bar_callback
    if isinstance(bar, TQDMProgressBar) and bar.is_enabled:
        line = kwargs.get("sep", " ").join(map(str, args))
        Tqdm.write(line, file=kwargs.get("file"), end=kwargs.get("end", "\n"))
    elif bar is not None and bar.is_enabled:  # another kind of bar prints its own way
        bar.print(*args, **kwargs)
    else:
        print(*args, **kwargs)


def with_found_lr(optimizer: torch.optim.Optimizer, lr: float | None) -> torch.optim.Optimizer:
    """``optimizer`` at the learning rate the finder chose (``lr``), if it chose one."""
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    return optimizer


def check_data(lesson: L.LightningModule, datamodule: L.LightningDataModule | None) -> None:
    """Another lesson's data would fail deep inside a step, with a traceback; refuse it
    before anything runs, naming the lesson's ``data_class`` and its ``config``."""
    data_class = getattr(lesson, "data_class", "")
    if datamodule is None or not data_class:
        return
    module, name = data_class.rsplit(".", 1)
    if isinstance(datamodule, getattr(importlib.import_module(module), name)):
        return
    got = f"{type(datamodule).__module__}.{type(datamodule).__qualname__}"
    raise ValueError(
        f"{type(lesson).__name__} learns from {data_class}, but the data given is "
        f"{got}; run it with its own config: --config {lesson.config}"
    )


def check_batch_size_finder(lesson: L.LightningModule, trainer: L.Trainer) -> None:
    """The batch-size finder needs a batch size to scale: lesson 7 trains on the whole
    data at once (``batch_size: null``), where Lightning's finder stops on an assertion."""
    finder = any(isinstance(callback, BatchSizeFinder) for callback in trainer.callbacks)
    data = trainer.datamodule
    if finder and data is not None and getattr(data.hparams, "batch_size", 0) is None:
        raise ValueError(
            f"{type(lesson).__name__} trains on the whole data at once (batch_size: null), so "
            "the batch-size finder has no batch size to scale; drop it, or give one: "
            "--data.init_args.batch_size 32"
        )


def layer_stack(
    sizes: list[int], activation: type[nn.Module], last: type[nn.Module] | None = None
) -> nn.Sequential:
    """``Linear`` layers of these widths with ``activation`` between them, and ``last`` after
    the last one (None: nothing, the raw scores that ``CrossEntropyLoss`` takes).

    >>> layer_stack([4, 3, 2], nn.ReLU, last=nn.Sigmoid)
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): ReLU()
      (2): Linear(in_features=3, out_features=2, bias=True)
      (3): Sigmoid()
    )
    """
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    layers[-1:] = [last()] if last is not None else []
    return nn.Sequential(*layers)
