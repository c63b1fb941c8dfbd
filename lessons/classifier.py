"""What the classification lessons share (lesson 9 on): the course's train() and test().

The course (lessons 9-11)::

    def train(epoch):                          # → training_step, a block of mini-batches
        running_loss = 0.0                     #   per call, each one update as here
        for batch_idx, data in enumerate(train_loader, 0):
            inputs, target = data
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, target)
            loss.backward()                    #   self.manual_backward(loss)
            optimizer.step()
            running_loss += loss.item()
            if batch_idx % 300 == 299:
                print('[%d, %5d] loss: %.3f' % (epoch + 1, batch_idx + 1, running_loss / 300))
                running_loss = 0.0

    def test():                                # → evaluate, one test batch per call
        correct = 0
        total = 0
        with torch.no_grad():
            for data in test_loader:
                images, labels = data
                outputs = model(images)
                _, predicted = torch.max(outputs.data, dim=1)
                total += labels.size(0)
                correct += (predicted == labels).sum().item()
        print('accuracy on test set: %d %% [%d/%d]' % (100 * correct / total, correct, total))

    for epoch in range(10):
        train(epoch)
        test()                                 # → the validation pass after every epoch

and the lesson prints the same lines (``print_every`` epochs: 1, the course's rate; 0, none).

One Lightning training step takes a *block* of the course's mini-batches (the datamodule's
``batches_per_step``, 10 for MNIST) and runs the course's update on each in turn: one
optimizer step per mini-batch of 64, in the course's order, with the course's numbers, and
``global_step`` counts every one. Lightning's machinery around a step (hooks, logging, the
progress bar) then costs a tenth as much per update, which on a small net is a large part of
the time; and, as for lessons 2-8, each update goes straight to torch unless Lightning adds
something to it (``lessons/base.py``: ``DirectUpdates``).

The validation pass runs over the test set after every epoch, as the course's ``test()``;
with a hold-out (the datamodule's ``val_fraction``) it first runs over the held-out training
images (``val_*``), and only ``val_acc`` may choose the best checkpoint.

Nothing in a step waits for the device except the course's running loss, once per 300
batches: losses and hits are summed where they are computed and come to the host once per
epoch, into ``history``, which the curves are drawn from and which checkpoints carry, so a
resumed run draws the whole curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn
from torchmetrics import CatMetric, MeanMetric

from lessons import figures
from lessons.base import DirectUpdates
from lessons.hyperparameters import safe_hyperparameters

#: The evaluation sets of a validation pass, in the datamodule's order: the held-out
#: training images when there are any, then the test set, always last.
VALIDATION_SETS = ("val", "test")


class ClassifierLesson(DirectUpdates):
    """``print_every``: print the course's lines every this many epochs (1, the course's
    rate; 0, never). ``class_names``: the name of each class, which the confusion matrix is
    labelled with; a lesson sets it (digits, countries)."""

    #: Every how many mini-batches the course prints the training loss.
    loss_every = 300

    def __init__(
        self,
        num_classes: int,
        optimizer: OptimizerCallable = torch.optim.SGD,
        print_every: int = 1,
    ) -> None:
        super().__init__()
        if print_every < 0:
            raise ValueError(f"print_every must be 0 (never) or more, got {print_every}")
        self.num_classes = num_classes
        self.optimizer = optimizer
        self.print_every = print_every
        self.class_names = [str(i) for i in range(num_classes)]
        self.criterion = nn.CrossEntropyLoss()
        # Inputs come from our own model and data: argument checks would cost a device
        # round trip per step; a NaN loss shows in the epoch mean anyway.
        self.epoch_losses = nn.ModuleDict(
            {
                f"{stage}_loss": MeanMetric(nan_strategy="disable")
                for stage in ("train", *VALIDATION_SETS)
            }
        )
        # true × classes + predicted, per image: the course's correct and total, and the
        # confusion matrix, counted once an epoch (a bincount per batch waits for the device).
        self.outcomes = nn.ModuleDict(
            {stage: CatMetric(nan_strategy="disable") for stage in VALIDATION_SETS}
        )
        self.running_loss = torch.zeros(())
        self.batches_done = 0  # mini-batches trained on in this epoch: the course's batch_idx + 1
        self.history: dict[str, list[tuple[int, float]]] = {}
        self.confusion_counts: torch.Tensor | None = None
        #: The first test batch of the last evaluation: (inputs, predicted, true).
        self.examples: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())

    def printing(self) -> bool:
        """Whether this epoch prints the course's lines."""
        return self.print_every > 0 and (self.current_epoch + 1) % self.print_every == 0

    # train(epoch)

    def training_step(
        self, block: list[tuple[torch.Tensor, torch.Tensor]], block_idx: int
    ) -> torch.Tensor:
        """The course's loop body for each mini-batch of ``block``; returns their losses."""
        optimizer = self.optimizers()
        losses = []
        for inputs, target in block[: self.updates_left()]:  # --trainer.max_steps may end it
            optimizer.zero_grad()
            outputs = self(inputs)
            loss = self.criterion(outputs, target)
            self.manual_backward(loss)
            optimizer.step()
            self.step_schedulers("step")  # a schedule by step (the speedrun's) moves on
            losses.append(loss.detach())
        losses = torch.stack(losses)
        self.count_losses(losses, len(target))
        if self.trainer._logger_connector.should_update_logs:  # only when the loggers write it
            self.log("train_loss_step", losses.mean())  # (a self.log costs about a millisecond)
        self.epoch_losses["train_loss"].update(losses)
        return losses

    def count_losses(self, losses: torch.Tensor, batch_size: int) -> None:
        """The course's ``running_loss += loss.item()`` for each loss of a block, summed where
        it is computed (no waiting), and its line every ``loss_every`` mini-batches."""
        first, self.batches_done = self.batches_done, self.batches_done + len(losses)
        if not self.printing():
            return
        start = first
        while start < self.batches_done:  # up to the next line, or the end of the block
            end = min(self.batches_done, (start // self.loss_every + 1) * self.loss_every)
            part = losses[start - first : end - first].sum()
            self.running_loss = self.running_loss.to(part.device) + part
            if end % self.loss_every == 0:
                self.print_loss(end, batch_size)
            start = end

    def on_train_epoch_start(self) -> None:
        self.running_loss = torch.zeros(())
        self.batches_done = 0

    def print_loss(self, batches: int, batch_size: int) -> None:
        """The course's line every ``loss_every`` batches: the mean loss over them."""
        running_loss = self.running_loss.item() / self.loss_every
        line = "[%d, %5d] loss: %.3f" % (self.current_epoch + 1, batches, running_loss)  # noqa: UP031
        self.print(line)
        self.running_loss = torch.zeros(())

    # test()

    def validation_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        # The test set is the datamodule's last loader: the only one without a hold-out.
        sets = VALIDATION_SETS[-len(self.trainer.num_val_batches) :]
        self.evaluate(batch, batch_idx, sets[dataloader_idx])

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, batch_idx, "test")

    def evaluate(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, stage: str
    ) -> None:
        images, labels = batch
        outputs = self(images)
        predicted = outputs.argmax(dim=1)
        # One loss per image, so that the epoch mean weighs a short last batch fairly.
        self.epoch_losses[f"{stage}_loss"].update(
            self.criterion(outputs, labels).expand(len(labels))
        )
        self.outcomes[stage].update(labels * self.num_classes + predicted)
        if stage == "test" and batch_idx == 0:
            self.examples = (images.detach(), predicted, labels)

    def on_validation_epoch_start(self) -> None:
        if not self.trainer.sanity_checking:
            self.stop_if_diverged()

    def on_train_epoch_end(self) -> None:
        self.stop_if_diverged()
        self.end_epoch("train")
        super().on_train_epoch_end()  # the schedulers stepped by epoch

    def stop_if_diverged(self) -> None:
        """Stop before a checkpoint keeps weights that a non-finite loss has spoiled: checked
        when the epoch's training ends, and before each validation pass, which saves them."""
        train_loss = self.epoch_losses["train_loss"]
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
        """Log the epoch's mean loss (and accuracy), keep them in ``history``, reset; after
        the test set, print the course's accuracy line."""
        loss = self.epoch_losses[f"{stage}_loss"]
        if not loss.update_called:  # no hold-out: no val_* metrics
            return
        values = {f"{stage}_loss": loss.compute()}
        loss.reset()
        if stage in self.outcomes:
            outcomes = self.outcomes[stage].compute().long()
            self.outcomes[stage].reset()
            counts = torch.bincount(outcomes, minlength=self.num_classes**2)
            counts = counts.view(self.num_classes, self.num_classes).cpu()
            correct, total = counts.trace().item(), counts.sum().item()
            values[f"{stage}_acc"] = torch.tensor(correct / total)
            if stage == "test":
                self.confusion_counts = counts
                if self.printing() and not self.trainer.sanity_checking:
                    self.print_accuracy(correct, total)
        self.log_dict(values, prog_bar=stage != "train")
        if self.trainer.state.fn == TrainerFn.FITTING and not self.trainer.sanity_checking:
            for name, value in values.items():
                self.history.setdefault(name, []).append((self.current_epoch + 1, value.item()))

    def print_accuracy(self, correct: int, total: int) -> None:
        """The course's line after each test pass."""
        percent = 100 * correct / total
        self.print("accuracy on test set: %d %% [%d/%d]" % (percent, correct, total))  # noqa: UP031

    def draw_figures(self, folder: Path) -> None:
        """Loss and accuracy against epoch, and the last test pass's confusion matrix,
        labelled with ``class_names``."""
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
                self.class_names,
                f"Test set at the end: {counts.trace() / counts.sum():.2%} right",
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # An optimizer class given in Python is kept as a config, which weights_only=True reads.
        checkpoint["hyper_parameters"] = safe_hyperparameters(
            type(self), checkpoint.get("hyper_parameters")
        )
        checkpoint["history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = dict(checkpoint.get("history", {}))


class DigitClassifier(ClassifierLesson):
    """MNIST's ten digits (lessons 9-11). ``predict`` writes one row per image - its index,
    the predicted digit, the ten probabilities p_0…p_9 and, when known, its true label. After
    ``fit`` the run folder also gets the first test batch with its predictions
    (``test_images.png``) and, for a net whose first layer is the convolution ``conv1``, its
    learned filters (``filters.png``): what the net looks for before anything else."""

    def __init__(
        self, optimizer: OptimizerCallable = torch.optim.SGD, print_every: int = 1
    ) -> None:
        super().__init__(num_classes=10, optimizer=optimizer, print_every=print_every)

    def predict_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Softmax only here: training takes the raw scores (CrossEntropyLoss)."""
        p = torch.softmax(self(batch["image"]).float(), dim=1)
        row = {"index": batch["index"], "digit": p.argmax(dim=1), "p": p}
        return row | ({"label": batch["label"]} if "label" in batch else {})

    def draw_figures(self, folder: Path) -> None:
        super().draw_figures(folder)
        if self.examples is not None:
            images, predicted, true = (tensor.cpu() for tensor in self.examples)
            pairs = list(zip(predicted.tolist(), true.tolist()))
            figures.plot_image_grid(
                folder / "test_images.png",
                images.squeeze(1).float(),
                [str(p) if p == t else f"{p} (true {t})" for p, t in pairs],
                [p != t for p, t in pairs],
            )
        conv = getattr(self, "conv1", None)
        if isinstance(conv, nn.Conv2d) and conv.in_channels == 1:
            filters = conv.weight.detach().float().cpu().squeeze(1)  # [out, k, k]
            figures.plot_image_grid(
                folder / "filters.png",
                filters,
                [f"filter {i}" for i in range(len(filters))],
                [False] * len(filters),
            )
