"""The base of the lessons that train the course's way (lessons 2-8 and 12): ``CourseLesson``.

The course counts *epochs* of full-batch training in the hundreds or thousands. Paying a
Lightning training step (hooks, logging, progress bar) for each of them costs far more than
the maths on toy data, so a ``CourseLesson`` runs the course's loop body, ``course_step``,
``course_steps_per_batch`` times on each batch Lightning hands it, with manual optimisation: on
data that is one batch (lessons 3-7, 12) each course step is a course epoch and one Lightning
epoch a block of them; on mini-batches (lesson 8) it is 1, a course step an iteration.
``trainer.global_step`` counts course steps.

A lesson implements ``course_step(batch) -> loss``: one pass of the course's loop body over
``batch``, its updates included, written as the course writes it - ``optimizer.zero_grad()``,
``self.manual_backward(loss)``, ``optimizer.step()`` with ``optimizer = self.optimizers()``,
or by hand (lessons 2-4). ``self.course_epoch`` is the course epoch being run and
``self.printing`` says whether to print its lines. ``print_every`` means the same in every
lesson: every N-th of the lines the course prints, and the last (1: all of them, as the
course; 0: none) - the course prints one an epoch, and in lessons 2 and 8 one a grid point
and one an iteration. The per-course-epoch losses are kept for the lesson's figures and travel in
checkpoints, so a resumed run draws the whole curve.

Each update goes through Lightning (``manual_backward`` and its optimizer wrapper) only when
that adds something: loss scaling in float16, gradient averaging under DDP, or a callback or
lesson that overrides a backward or optimizer-step hook (``needs_lightning_updates``).
Otherwise ``self.optimizers()`` and ``self.manual_backward`` go straight to torch -
``loss.backward()``, ``optimizer.step()`` - still counted in ``global_step``: this is the
project's one way around Lightning's optimizer wrapper, because the three hook rounds of each
update cost more than a toy step's maths (numbers: the benchmarks page, docs/en/benchmarks.md).
The classifier lessons (``lessons/classifier.py``) train the ordinary way, under automatic
optimisation.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable
from typing import Any, TypeVar

import lightning as L
import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import LearningRateFinder
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.model_helpers import is_overridden

from lessons.checkpoint_names import check_checkpoint, safe_hyperparameters
from lessons.common import (
    check_batch_size_finder,
    check_data,
    print_above_the_bar,
    with_found_lr,
)
from lessons.lightning_private import count_updates_by_hand, counted_step

LessonType = TypeVar("LessonType", bound="CourseLesson")


class CourseLesson(L.LightningModule):
    """A lesson run in course epochs: ``course_step`` is the body of the course's loop."""

    #: The data module this lesson learns from (its class path), and the config pairing them.
    data_class: str = ""
    config: str = ""
    #: The learning rate that Lightning's learning-rate finder chose (``LearningRateFinder``,
    #: or ``Tuner.lr_find`` with ``update_attr=True``, set it): the optimizer then takes it in
    #: place of the config's. None: the config's.
    lr: float | None = None

    #: The maths of this lesson is hand-written arithmetic in full precision (lessons 3-4):
    #: mixed precision is switched off inside its steps.
    no_mixed_precision: bool = False
    #: A lesson that updates its weights by hand (lessons 2-4) has no optimizer to count its
    #: steps, so each course epoch is counted here; and, as under DDP gradients are averaged
    #: through the optimizer, it has nothing to average: it refuses several processes.
    updates_by_hand: bool = False

    def __init__(
        self,
        course_steps_per_batch: int = 1,
        print_every: int = 0,
        gradient_clip_val: float | None = None,
    ) -> None:
        """``course_steps_per_batch``: course steps on each batch (course epochs, on data that
        is one batch). ``print_every``: every N-th of the course's lines (1: all; 0: none).
        ``gradient_clip_val``: the largest gradient norm an update takes (None: no clipping),
        what ``Trainer(gradient_clip_val=...)`` does for a lesson whose updates Lightning runs."""
        super().__init__()
        if course_steps_per_batch < 1:
            raise ValueError(
                f"course_steps_per_batch must be at least 1, got {course_steps_per_batch}"
            )
        if print_every < 0:
            raise ValueError(f"print_every must be 0 (no lines) or more, got {print_every}")
        if gradient_clip_val is not None and gradient_clip_val <= 0:
            raise ValueError(f"gradient_clip_val must be positive, got {gradient_clip_val}")
        self.automatic_optimization = False
        self.update_through_lightning = True  # decided when training starts
        self.direct_optimizer: DirectOptimizer | None = None
        self.course_steps_per_batch = course_steps_per_batch
        #: The largest gradient norm an update takes (None: no clipping): what
        #: ``Trainer(gradient_clip_val=...)`` does under automatic optimisation.
        self.gradient_clip_val = gradient_clip_val
        self.print_every = print_every
        self.loss_history: list[float] = []  # the training loss of every course epoch
        self.val_loss_history: list[tuple[int, float]] = []  # (course epoch, validation loss)
        self.course_epoch = 0  # the course epoch being run
        self.printing = False  # whether this course epoch prints its lines
        self.last_course_epoch = math.inf  # the last course epoch of this fit, always printed

    def course_step(self, batch: Any) -> torch.Tensor:
        """One course epoch on ``batch``, update included; returns the loss before the update."""
        raise NotImplementedError

    # --- what every lesson checks: its data, the Trainer's flags, a checkpoint's names ---

    def setup(self, stage: str) -> None:
        """Refuse, before anything runs, what would fail deep inside a step: another lesson's
        data, a Trainer flag the lesson cannot honour - in a user's own script as from the CLI."""
        self.check_data(self.trainer.datamodule)
        if stage == "fit":
            self.check_trainer(self.trainer)
        if self.trainer.world_size > 1 and self.updates_by_hand:
            raise ValueError(
                f"{type(self).__name__} updates its weights by hand, so several processes "
                "would train separate copies; run it on one device (--trainer.devices 1)"
            )

    def check_data(self, datamodule: L.LightningDataModule | None) -> None:
        check_data(self, datamodule)

    def check_trainer(self, trainer: L.Trainer) -> None:
        """Lightning refuses gradient clipping and accumulation for a lesson that runs its
        own updates (manual optimisation); say in one line what does the same here. The
        learning-rate finder needs one course step a training step."""
        check_batch_size_finder(self, trainer)
        name = type(self).__name__
        finder = any(isinstance(c, LearningRateFinder) for c in trainer.callbacks)
        if finder and self.course_steps_per_batch > 1:
            raise ValueError(
                f"the learning-rate finder tries one learning rate per training step, and "
                f"{name} runs {self.course_steps_per_batch} course steps in each; "
                "run it with one per step: --model.init_args.course_steps_per_batch 1"
            )
        if trainer.gradient_clip_val is not None:
            takes_it = "gradient_clip_val" in inspect.signature(type(self).__init__).parameters
            instead = (
                f"use --model.init_args.gradient_clip_val {trainer.gradient_clip_val}"
                if takes_it
                else "this lesson takes no clipping (lessons 7-8 do: gradient_clip_val)"
            )
            raise ValueError(
                f"{name} runs its own updates ({self.course_steps_per_batch} course steps a "
                "training step), which the Trainer cannot clip; drop "
                f"--trainer.gradient_clip_val: {instead}"
            )
        if trainer.accumulate_grad_batches != 1:
            raise ValueError(
                f"{name} runs its own updates, which the Trainer cannot accumulate; on SGD, "
                f"accumulating {trainer.accumulate_grad_batches} batches is one batch "
                f"{trainer.accumulate_grad_batches} times the size: drop "
                "--trainer.accumulate_grad_batches and raise --data.init_args.batch_size"
            )

    @classmethod
    def load_from_checkpoint(cls: type[LessonType], *args: Any, **kwargs: Any) -> LessonType:
        """Lightning's, once the file's names are checked (``check_checkpoint``)."""
        check_checkpoint(cls, *args, **kwargs)
        return super().load_from_checkpoint(*args, **kwargs)

    def print(self, *args: Any, **kwargs: Any) -> None:
        """The course's ``print``, on process 0 only, as Lightning's ``self.print``, but
        shown whenever it is called (``print_above_the_bar``)."""
        if self.trainer.is_global_zero:
            print_above_the_bar(self.trainer, *args, **kwargs)

    def with_found_lr(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        return with_found_lr(optimizer, self.lr)

    # --- the course's loop: course_steps_per_batch course steps a training step ---

    def compute_loss(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``self.criterion`` in float32 whatever the precision: a loss summed over samples
        loses digits in 16 bits, and autocast on GPU refuses BCELoss outright."""
        if not torch.is_autocast_enabled(self.device.type):  # the common case: no context to pay
            return self.criterion(y_pred, y)
        with self.full_precision():
            return self.criterion(y_pred.float(), y.float())

    def on_train_start(self) -> None:
        self.update_through_lightning = needs_lightning_updates(self.trainer, self)
        optimizer = super().optimizers()
        direct = not self.update_through_lightning and isinstance(optimizer, LightningOptimizer)
        self.direct_optimizer = DirectOptimizer(optimizer, self) if direct else None
        epochs, batches = self.trainer.max_epochs, self.trainer.num_training_batches
        if epochs is not None and epochs >= 0:
            self.last_course_epoch = epochs * batches * self.course_steps_per_batch - 1

    def optimizers(self, use_pl_optimizer: bool = True) -> Any:
        """Lightning's optimizer wrapper, or a direct one where its hooks add nothing."""
        if use_pl_optimizer and self.direct_optimizer is not None:
            return self.direct_optimizer
        return super().optimizers(use_pl_optimizer)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip the gradients to ``gradient_clip_val`` before each update: Lightning calls
        this hook before an update it runs, the direct optimizer before each of its own."""
        if self.gradient_clip_val is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val)

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """``loss.backward()``, through Lightning where it scales the loss or runs hooks."""
        if self.update_through_lightning:
            super().manual_backward(loss, *args, **kwargs)
        else:
            loss.backward(*args, **kwargs)

    def step_schedulers(self, interval: str) -> None:
        """Step the schedulers configured for ``interval`` ("step" or "epoch"), every
        ``frequency`` of them, as Lightning does under automatic optimisation; a
        ``ReduceLROnPlateau`` gets its ``monitor`` metric. The Trainer's list is read each
        time: a callback may swap it during the fit (``StochasticWeightAveraging``'s SWALR,
        the learning-rate finder's)."""
        configs = self.trainer.lr_scheduler_configs
        done = self.global_step if interval == "step" else self.current_epoch + 1
        for config in configs:
            if config.interval != interval or done % config.frequency:
                continue
            metric = None
            if config.reduce_on_plateau:
                metric = self.trainer.callback_metrics.get(config.monitor)
                if metric is None:
                    continue  # no validation this epoch: nothing to judge a plateau by
            self.lr_scheduler_step(config.scheduler, metric)

    def optimize(self, loss: torch.Tensor) -> None:
        """The course's update: zero_grad → backward → step."""
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """``course_steps_per_batch`` course steps on ``batch``; returns the last one's loss."""
        losses = []
        scheduled = bool(self.trainer.lr_scheduler_configs)  # swapped only between steps
        with self.full_precision() if self.no_mixed_precision else contextlib.nullcontext():
            for step in range(self.course_steps_per_batch):
                self.course_epoch = len(self.loss_history) + step
                self.printing = self.print_every > 0 and (
                    self.course_epoch % self.print_every == 0
                    or self.course_epoch == self.last_course_epoch
                )
                losses.append(self.course_step(batch).detach())
                if scheduled:
                    self.step_schedulers("step")  # a schedule by update moves on
        if self.updates_by_hand:  # count each course epoch as Lightning counts optimizer steps:
            # global_step drives checkpoints and resuming
            count_updates_by_hand(self.trainer, self.course_steps_per_batch)
        losses = torch.stack(losses).float()
        if not torch.isfinite(losses).all():
            self.stop_diverged(losses)
        self.loss_history.extend(losses.tolist())
        self.log("train_loss", losses[-1], prog_bar=True)
        self.log_step()
        return losses[-1]

    def log_step(self) -> None:
        """The loggers' step: the updates (course epochs) so far, as the figures count them,
        not Lightning's training steps (a ``step`` metric is the loggers' x-axis)."""
        self.log("step", float(self.global_step))

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

    def on_train_epoch_end(self) -> None:
        self.step_schedulers("epoch")
        self.log_step()  # the epoch's metrics filed at its last update

    def on_validation_epoch_end(self) -> None:
        if self.trainer.state.fn == TrainerFn.FITTING:
            self.log_step()
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
    ``global_step`` as Lightning's wrapper counts it, minus the wrapper's hook rounds.

    The project's one way around ``LightningOptimizer``, for the course-epoch lessons only:
    their full-batch steps on a few rows are so small that Lightning's hook rounds around each
    update would cost more than the maths: lesson 7 at 10 000 course epochs trains in 1.08×
    the course script's time this way, 1.17× through Lightning's wrapper (``bench/run.py
    --quick``, docs/en/benchmarks.md). The classifiers train under automatic optimisation."""

    def __init__(self, wrapper: LightningOptimizer, lesson: CourseLesson) -> None:
        self.wrapper = wrapper
        self.optimizer = wrapper.optimizer
        self.lesson = lesson

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def __getattr__(self, name: str) -> Any:  # param_groups, state…, as Lightning's wrapper
        return getattr(self.optimizer, name)

    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> Any:
        if self.lesson.gradient_clip_val is not None:  # clipping, as Lightning's path does
            self.lesson.on_before_optimizer_step(self.optimizer)
        return counted_step(self.wrapper, lambda: self.optimizer.step(closure))


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
    ) or any(is_overridden(hook, lesson, parent=CourseLesson) for hook in (*hooks, "backward"))
    return not (isinstance(trainer.strategy, SingleDeviceStrategy) and plain_precision) or hooked
