"""The machinery every lesson shares, so that each lesson file holds only its maths.

The course counts *epochs* of full-batch training in the hundreds or thousands. Paying a
Lightning training step (hooks, logging, progress bar) for each of them costs far more than
the maths on toy data, so a ``CourseLesson`` runs ``steps_per_batch`` course epochs inside
one training step, with manual optimisation: ``trainer.global_step`` counts every course
epoch, and one Lightning epoch is a block of course epochs.

A lesson implements ``course_step(batch) -> loss``: one course epoch on ``batch``, update
included, written as the course writes it - ``optimizer.zero_grad()``,
``self.manual_backward(loss)``, ``optimizer.step()`` with ``optimizer = self.optimizers()``,
or by hand (lessons 2-4). ``self.course_epoch`` is the course epoch being run and
``self.printing`` says whether to print its lines (every ``print_every`` course epochs, and
the last). The per-course-epoch losses are kept for the lesson's figures and travel in
checkpoints, so a resumed run draws the whole curve.

Each update goes through Lightning (``manual_backward`` and its optimizer wrapper) only when
that adds something: loss scaling in float16, gradient averaging under DDP, or a callback or
lesson that overrides a backward or optimizer-step hook. Otherwise ``self.optimizers()`` and
``self.manual_backward`` go straight to torch - ``loss.backward()``, ``optimizer.step()`` -
because the three hook rounds of each update would cost more than a toy step's maths;
``global_step`` counts it all the same. ``DirectUpdates`` holds that choice; the classifier
lessons (``lessons/classifier.py``) use it too.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.model_helpers import is_overridden
from lightning.pytorch.utilities.types import LRSchedulerConfig

from lessons.hyperparameters import safe_hyperparameters


class Lesson(L.LightningModule):
    """What every lesson is: a LightningModule whose printed lines are never lost, and which
    refuses another lesson's data in one line."""

    #: The data module this lesson learns from (its class path), and the config pairing them.
    data_class: str = ""
    config: str = ""

    def check_data(self, datamodule: L.LightningDataModule | None) -> None:
        """Another lesson's data would fail deep inside a step, with a traceback; refuse it
        before anything runs, naming what fits."""
        if datamodule is None or not self.data_class:
            return
        module, name = self.data_class.rsplit(".", 1)
        if isinstance(datamodule, getattr(importlib.import_module(module), name)):
            return
        got = f"{type(datamodule).__module__}.{type(datamodule).__qualname__}"
        raise ValueError(
            f"{type(self).__name__} learns from {self.data_class}, but the data given is "
            f"{got}; run it with its own config: --config {self.config}"
        )

    def print(self, *args: Any, **kwargs: Any) -> None:
        """The course's ``print``, on process 0 only, as Lightning's ``self.print``, but
        shown whenever it is called (``print_above_the_bar``)."""
        if self.trainer.is_global_zero:
            print_above_the_bar(self.trainer, *args, **kwargs)


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


class DirectUpdates(Lesson):
    """Manual optimisation whose updates go straight to torch where Lightning's adds nothing
    (``needs_lightning_updates``): ``self.optimizers()`` and ``self.manual_backward`` are
    then torch's ``optimizer.step()`` and ``loss.backward()``, each step still counted in
    ``global_step``. Learning-rate schedulers, which Lightning steps only under automatic
    optimisation, are stepped here: ``step_schedulers("step")`` after each update and
    ``"epoch"`` ones at the end of each training epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.update_through_lightning = True  # decided when training starts
        self.direct_optimizer: DirectOptimizer | None = None
        self.schedules: dict[str, list[LRSchedulerConfig]] = {}  # by interval, from then too

    def on_train_start(self) -> None:
        self.update_through_lightning = needs_lightning_updates(self.trainer, self)
        optimizer = super().optimizers()
        direct = not self.update_through_lightning and isinstance(optimizer, LightningOptimizer)
        self.direct_optimizer = DirectOptimizer(optimizer) if direct else None
        self.schedules = {  # looked up once: an update asks for its schedules every time
            interval: [c for c in self.trainer.lr_scheduler_configs if c.interval == interval]
            for interval in ("step", "epoch")
        }

    def optimizers(self, use_pl_optimizer: bool = True) -> Any:
        """Lightning's optimizer wrapper, or a direct one where its hooks add nothing."""
        if use_pl_optimizer and self.direct_optimizer is not None:
            return self.direct_optimizer
        return super().optimizers(use_pl_optimizer)

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """``loss.backward()``, through Lightning where it scales the loss or runs hooks."""
        if self.update_through_lightning:
            super().manual_backward(loss, *args, **kwargs)
        else:
            loss.backward(*args, **kwargs)

    def step_schedulers(self, interval: str) -> None:
        """Step the schedulers configured for ``interval`` ("step" or "epoch"), every
        ``frequency`` of them, as Lightning does under automatic optimisation; a
        ``ReduceLROnPlateau`` gets its ``monitor`` metric."""
        configs = self.schedules.get(interval)
        if not configs:
            return
        done = self.global_step if interval == "step" else self.current_epoch + 1
        for config in configs:
            if done % config.frequency:
                continue
            metric = None
            if config.reduce_on_plateau:
                metric = self.trainer.callback_metrics.get(config.monitor)
                if metric is None:
                    continue  # no validation this epoch: nothing to judge a plateau by
            self.lr_scheduler_step(config.scheduler, metric)

    def on_train_epoch_end(self) -> None:
        self.step_schedulers("epoch")

    def updates_left(self) -> int | None:
        """The updates ``--trainer.max_steps`` leaves (None: no limit), where a block stops."""
        max_steps = self.trainer.max_steps
        return None if max_steps < 0 else max(max_steps - self.global_step, 0)

    def planned_updates(self) -> int:
        """The optimizer steps this fit will take, for a schedule that spans it. Lightning's
        ``estimated_stepping_batches`` counts training steps; a step may hold a block of
        mini-batches (the training loader's ``batches_per_step``), each one update."""
        trainer = self.trainer
        steps = trainer.estimated_stepping_batches  # loads the training data if need be
        loader = trainer.train_dataloader
        per_step = getattr(loader, "batches_per_step", 1)
        if per_step == 1:
            return int(steps)
        if trainer.max_steps != -1 and trainer.max_epochs in (None, -1):
            return trainer.max_steps
        per_epoch = min(trainer.num_training_batches * per_step, loader.mini_batches)
        updates = per_epoch * trainer.max_epochs
        return min(updates, trainer.max_steps) if trainer.max_steps != -1 else updates


class CourseLesson(DirectUpdates):
    #: The maths of this lesson is hand-written arithmetic in full precision (lessons 3-4):
    #: mixed precision is switched off inside its steps.
    float32_only: bool = False
    #: A lesson that updates its weights by hand (lessons 2-4) has no optimizer to count its
    #: steps, so each course epoch is counted here; and, as under DDP gradients are averaged
    #: through the optimizer, it has nothing to average: it refuses several processes.
    updates_by_hand: bool = False

    def __init__(self, steps_per_batch: int = 1, print_every: int = 0) -> None:
        """``print_every``: course epochs between the printed progress lines (1: every one,
        as the course; 0: none)."""
        super().__init__()
        if steps_per_batch < 1:
            raise ValueError(f"steps_per_batch must be at least 1, got {steps_per_batch}")
        if print_every < 0:
            raise ValueError(f"print_every must be 0 (no lines) or more, got {print_every}")
        self.steps_per_batch = steps_per_batch
        self.print_every = print_every
        self.loss_history: list[float] = []  # the training loss of every course epoch
        self.val_loss_history: list[tuple[int, float]] = []  # (course epoch, validation loss)
        self.course_epoch = 0  # the course epoch being run
        self.printing = False  # whether this course epoch prints its lines
        self.last_course_epoch = math.inf  # the last course epoch of this fit, always printed

    def course_step(self, batch: Any) -> torch.Tensor:
        """One course epoch on ``batch``, update included; returns the loss before the update."""
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        if self.trainer.world_size > 1 and self.updates_by_hand:
            raise ValueError(
                f"{type(self).__name__} updates its weights by hand, so several processes "
                "would train separate copies; run it on one device (--trainer.devices 1)"
            )

    def compute_loss(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``self.criterion`` in float32 whatever the precision: a loss summed over samples
        loses digits in 16 bits, and autocast on GPU refuses BCELoss outright."""
        if not torch.is_autocast_enabled(self.device.type):  # the common case: no context to pay
            return self.criterion(y_pred, y)
        with self.full_precision():
            return self.criterion(y_pred.float(), y.float())

    def on_train_start(self) -> None:
        super().on_train_start()
        epochs, batches = self.trainer.max_epochs, self.trainer.num_training_batches
        if epochs is not None and epochs >= 0:
            self.last_course_epoch = epochs * batches * self.steps_per_batch - 1

    def optimize(self, loss: torch.Tensor) -> None:
        """The course's update: zero_grad → backward → step."""
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()

    def training_step(self, batch: Any, batch_idx: int) -> None:
        losses = []
        with self.full_precision() if self.float32_only else contextlib.nullcontext():
            for step in range(self.steps_per_batch):
                self.course_epoch = len(self.loss_history) + step
                self.printing = self.print_every > 0 and (
                    self.course_epoch % self.print_every == 0
                    or self.course_epoch == self.last_course_epoch
                )
                losses.append(self.course_step(batch).detach())
        if self.updates_by_hand:  # count each course epoch as Lightning counts optimizer steps:
            # global_step drives checkpoints and resuming
            progress = self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
            progress.increment_by(self.steps_per_batch)
        losses = torch.stack(losses).float()
        if not torch.isfinite(losses).all():
            self.stop_diverged(losses)
        self.loss_history.extend(losses.tolist())
        self.log("train_loss", losses[-1], prog_bar=True)
        self.log("course_epoch", float(len(self.loss_history)))

    def stop_diverged(self, losses: torch.Tensor) -> None:
        first_bad = int((~torch.isfinite(losses)).nonzero()[0])
        course_epoch = len(self.loss_history) + first_bad
        loss = losses[first_bad].item()
        raise FloatingPointError(
            f"the loss became {loss} at course epoch {course_epoch} (the run diverged); "
            "lower the learning rate"
        )

    def full_precision(self) -> torch.autocast:
        """A block computed in float32 whatever the Trainer's precision (mixed precision off)."""
        return torch.autocast(self.device.type, enabled=False)

    def on_validation_epoch_end(self) -> None:
        val_loss = self.trainer.callback_metrics.get("val_loss")
        if val_loss is not None and not self.trainer.sanity_checking:
            self.val_loss_history.append((len(self.loss_history), float(val_loss)))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # An optimizer class given in Python is kept as a config, which weights_only=True reads.
        checkpoint["hyper_parameters"] = safe_hyperparameters(
            type(self), checkpoint.get("hyper_parameters")
        )
        checkpoint["loss_history"] = self.loss_history
        checkpoint["val_loss_history"] = self.val_loss_history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.loss_history = list(checkpoint.get("loss_history", []))
        self.val_loss_history = [tuple(p) for p in checkpoint.get("val_loss_history", [])]


class DirectOptimizer:
    """``zero_grad`` and ``step`` of the torch optimizer, with ``step`` counted in
    ``global_step`` as Lightning's wrapper counts it, minus the wrapper's hook rounds."""

    def __init__(self, wrapper: LightningOptimizer) -> None:
        self.wrapper = wrapper
        self.optimizer = wrapper.optimizer

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def __getattr__(self, name: str) -> Any:  # param_groups, state…, as Lightning's wrapper
        return getattr(self.optimizer, name)

    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> Any:
        self.wrapper._on_before_step()  # Lightning's step counting: global_step
        result = self.optimizer.step(closure)
        self.wrapper._on_after_step()
        return result


def needs_lightning_updates(trainer: L.Trainer, lesson: L.LightningModule) -> bool:
    """Whether an update must go through Lightning: it adds loss scaling (float16), gradient
    averaging (several devices), or calls a hook that a callback or the lesson overrides."""
    plugin = trainer.precision_plugin
    plain_precision = type(plugin) is Precision or (
        type(plugin) is MixedPrecision and plugin.scaler is None
    )
    hooks = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")
    hooked = any(
        is_overridden(hook, callback, parent=Callback)
        for callback in trainer.callbacks
        for hook in hooks
    ) or any(is_overridden(hook, lesson, parent=DirectUpdates) for hook in (*hooks, "backward"))
    return not (isinstance(trainer.strategy, SingleDeviceStrategy) and plain_precision) or hooked
