"""The machinery every lesson shares, so that each lesson file holds only its maths.

The course counts *epochs* of full-batch training in the hundreds or thousands. Paying a
Lightning training step (hooks, logging, progress bar) for each of them costs far more than
the maths on toy data, so a ``CourseLesson`` runs ``steps_per_batch`` course epochs inside
one training step, with manual optimisation: ``trainer.global_step`` still counts every
optimizer step, and one Lightning epoch is a block of course epochs.

A lesson implements ``course_step(batch) -> loss``: one course epoch on ``batch``, update
included (``self.optimize(loss)`` for lessons that use a torch optimizer). The per-course-epoch
losses are kept for the lesson's figures and travel in checkpoints, so a resumed run draws the
whole curve.

Each update goes through Lightning (``manual_backward`` and its optimizer wrapper) only when
that adds something: loss scaling in float16, gradient averaging under DDP, or a callback or
lesson that overrides a backward or optimizer-step hook. Otherwise it goes straight to torch -
``loss.backward()``, ``optimizer.step()`` - because the three hook rounds of each update
would cost more than a toy step's maths; ``global_step`` counts it all the same.
"""

from __future__ import annotations

import contextlib
from typing import Any

import lightning as L
import torch
from lightning.pytorch import Callback
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.model_helpers import is_overridden


class CourseLesson(L.LightningModule):
    #: The maths of this lesson must stay in float32 (hand-written gradients, exhaustive
    #: search): mixed precision is switched off inside its steps.
    float32_only: bool = False
    #: Under DDP each process trains its own copy and gradients are averaged through the
    #: optimizer; a lesson that updates its weights by hand has nothing to average, so it
    #: refuses several processes.
    distributable: bool = True

    def __init__(self, steps_per_batch: int = 1) -> None:
        super().__init__()
        if steps_per_batch < 1:
            raise ValueError(f"steps_per_batch must be at least 1, got {steps_per_batch}")
        self.steps_per_batch = steps_per_batch
        self.automatic_optimization = False
        self.loss_history: list[float] = []  # the training loss of every course epoch
        self.val_loss_history: list[tuple[int, float]] = []  # (course epoch, validation loss)
        self.update_through_lightning = True  # decided when training starts

    def course_step(self, batch: Any) -> torch.Tensor:
        """One course epoch on ``batch``, update included; returns the loss before the update."""
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        if self.trainer.world_size > 1 and not self.distributable:
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
        self.update_through_lightning = needs_lightning_updates(self.trainer, self)

    def optimize(self, loss: torch.Tensor) -> None:
        """The course's update: zero_grad → backward → step."""
        optimizer = self.optimizers()
        optimizer.zero_grad()
        if self.update_through_lightning:
            self.manual_backward(loss)
            optimizer.step()
        else:  # what optimizer.step() does on one device in 32 or bf16 bits, minus the hooks
            loss.backward()
            optimizer._on_before_step()  # Lightning's step counting: global_step
            optimizer.optimizer.step()
            optimizer._on_after_step()

    def training_step(self, batch: Any, batch_idx: int) -> None:
        with self.full_precision() if self.float32_only else contextlib.nullcontext():
            losses = [self.course_step(batch).detach() for _ in range(self.steps_per_batch)]
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
        checkpoint["loss_history"] = self.loss_history
        checkpoint["val_loss_history"] = self.val_loss_history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.loss_history = list(checkpoint.get("loss_history", []))
        self.val_loss_history = [tuple(p) for p in checkpoint.get("val_loss_history", [])]


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
