"""What the classification lessons share (lesson 9 on): loss, accuracy, curves, confusion.

Training is Lightning's automatic optimisation, one mini-batch per step, as the course's
loop: forward → loss → zero_grad → backward → step, with the optimizer from the config.

The course prints the test accuracy after every epoch. Here each validation pass runs over
two sets - the held-out training images (``val_*``) and the test set (``test_*``) - so both
are logged every epoch, while only ``val_acc`` may choose the best checkpoint.

Nothing in a step waits for the device: losses and accuracies are summed where they are
computed (torchmetrics) and come to the host once per epoch, into ``history``, which the
curves are drawn from and which checkpoints carry, so a resumed run draws the whole curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn
from torchmetrics import CatMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from lessons import figures

#: What each validation dataloader is, by its index.
VALIDATION_SETS = ("val", "test")


class ClassifierLesson(L.LightningModule):
    def __init__(self, num_classes: int, optimizer: OptimizerCallable = torch.optim.SGD) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.optimizer = optimizer
        self.criterion = nn.CrossEntropyLoss()
        # Inputs come from our own model and data: argument checks would cost a device
        # round trip per step; a NaN loss shows in the epoch mean anyway.
        losses = {
            f"{stage}_loss": MeanMetric(nan_strategy="disable")
            for stage in ("train", *VALIDATION_SETS)
        }
        accuracies = {
            f"{stage}_acc": MulticlassAccuracy(num_classes, average="micro", validate_args=False)
            for stage in VALIDATION_SETS
        }
        self.epoch_metrics = nn.ModuleDict(losses | accuracies)
        # true × classes + predicted, per test image: counted once an epoch, because
        # torchmetrics' ConfusionMatrix counts with torch.bincount, a device wait every batch.
        self.test_outcomes = CatMetric(nan_strategy="disable")
        self.history: dict[str, list[tuple[int, float]]] = {}
        self.confusion_counts: torch.Tensor | None = None
        #: The first test batch of the last evaluation: (inputs, predicted, true).
        self.examples: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        loss = self.criterion(self(x), y)
        self.log("train_loss_step", loss)  # written every log_every_n_steps
        self.epoch_metrics["train_loss"].update(loss.detach())
        return loss

    def validation_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self.evaluate(batch, batch_idx, VALIDATION_SETS[dataloader_idx])

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, batch_idx, "test")

    def evaluate(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, stage: str
    ) -> None:
        x, y = batch
        logits = self(x)
        # One loss per image, so that the epoch mean weighs a short last batch fairly.
        self.epoch_metrics[f"{stage}_loss"].update(self.criterion(logits, y).expand(len(y)))
        self.epoch_metrics[f"{stage}_acc"].update(logits, y)
        if stage == "test":
            self.test_outcomes.update(y * self.num_classes + logits.argmax(dim=1))
            if batch_idx == 0:
                self.examples = (x.detach(), logits.argmax(dim=1), y)

    def on_validation_epoch_start(self) -> None:
        if not self.trainer.sanity_checking:
            self.stop_if_diverged()

    def on_train_epoch_end(self) -> None:
        self.stop_if_diverged()
        self.end_epoch("train")

    def stop_if_diverged(self) -> None:
        """Stop before a checkpoint keeps weights that a non-finite loss has spoiled: checked
        when the epoch's training ends, and before each validation pass, which saves them."""
        train_loss = self.epoch_metrics["train_loss"]
        if train_loss.update_called and not torch.isfinite(loss := train_loss.compute()):
            raise FloatingPointError(
                f"the training loss became {loss.item()} in epoch {self.current_epoch + 1} "
                "(the run diverged); lower the learning rate"
            )

    def on_validation_epoch_end(self) -> None:
        for stage in VALIDATION_SETS:
            self.end_epoch(stage)

    def on_test_epoch_end(self) -> None:
        self.end_epoch("test")

    def end_epoch(self, stage: str) -> None:
        """Log the epoch's mean loss (and accuracy), keep them in ``history``, reset."""
        metrics = {
            name: metric
            for name, metric in self.epoch_metrics.items()
            if name.startswith(f"{stage}_")
        }
        values = {name: metric.compute() for name, metric in metrics.items()}
        if stage == "test":
            outcomes = self.test_outcomes.compute().long()
            counts = torch.bincount(outcomes, minlength=self.num_classes**2)
            self.confusion_counts = counts.view(self.num_classes, self.num_classes).cpu()
            self.test_outcomes.reset()
        self.log_dict(values, prog_bar=stage != "train")
        if self.trainer.state.fn == TrainerFn.FITTING and not self.trainer.sanity_checking:
            for name, value in values.items():
                self.history.setdefault(name, []).append((self.current_epoch + 1, value.item()))
        for metric in metrics.values():
            metric.reset()

    def draw_figures(self, folder: Path) -> None:
        """Loss and accuracy against epoch, and the last test pass's confusion matrix."""
        for quantity, scale, ylabel in (("loss", 1, "Loss"), ("acc", 100, "Accuracy (%)")):
            curves = {
                name.removesuffix(f"_{quantity}"): (
                    [epoch for epoch, _ in points],
                    [value * scale for _, value in points],
                )
                for name, points in self.history.items()
                if name.endswith(f"_{quantity}")
            }
            if curves:
                figures.plot_curves(folder / f"{quantity}.png", curves, "Epoch", ylabel)
        if self.confusion_counts is not None:
            counts = self.confusion_counts
            figures.plot_confusion_matrix(
                folder / "confusion_matrix.png",
                counts,
                [str(label) for label in range(self.num_classes)],
                f"Test set at the end: {counts.trace() / counts.sum():.2%} right",
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = dict(checkpoint.get("history", {}))
