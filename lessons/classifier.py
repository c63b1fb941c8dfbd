"""What the classification lessons share (lesson 9 on): the course's train() and test().

The course (lessons 9-11)::

    def train(epoch):                          # → training_step, one mini-batch per call
        running_loss = 0.0
        for batch_idx, data in enumerate(train_loader, 0):
            inputs, target = data
            optimizer.zero_grad()              #   Lightning: automatic optimisation, so
            outputs = model(inputs)            #   zero_grad, backward and step are the
            loss = criterion(outputs, target)  #   Trainer's, with its gradient clipping,
            loss.backward()                    #   accumulation, precision and devices
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

``training_step`` returns the loss and Lightning does the update (automatic optimisation):
one optimizer step per mini-batch, in the course's order, so ``global_step`` counts updates,
and every Trainer flag and callback works as Lightning documents it - gradient clipping and
accumulation, ``LearningRateFinder`` (it sets ``lr``), ``StochasticWeightAveraging``,
``EarlyStopping``, checkpoints every N steps.

The validation pass is the datamodule's ``val_dataloader``: the test set after every epoch
when nothing is held out (the course's ``test()``; its metrics are ``test_*``), the held-out
training images otherwise (``val_*``, which may choose the best checkpoint; the test set is
then ``python cli.py test``'s). The datamodule says which (``val_split``).

Nothing in a step waits for the device except the course's running loss, once per 300
batches: losses and hits are summed where they are computed and come to the host once per
epoch, into ``history``, which the curves are drawn from and which checkpoints carry, so a
resumed run draws the whole curve. The step's loss is logged (``self.log``, about half a
millisecond on a CPU) only at the steps the loggers write (``log_every_n_steps``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassConfusionMatrix

from lessons import figures
from lessons.base import Lesson
from lessons.hyperparameters import safe_hyperparameters

#: The sets a classifier is evaluated on: the held-out training images, the test set.
EVALUATION_SETS = ("val", "test")
SET_NAMES = {"val": "Validation set", "test": "Test set"}


class ClassifierLesson(Lesson):
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
                for stage in ("train", *EVALUATION_SETS)
            }
        )
        # The course's correct and total are the confusion matrix's trace and sum.
        self.confusion = nn.ModuleDict(
            {
                stage: MulticlassConfusionMatrix(num_classes, validate_args=False)
                for stage in EVALUATION_SETS
            }
        )
        self.running_loss = torch.zeros(())
        self.history: dict[str, list[tuple[int, float]]] = {}
        #: The last evaluation: its set ("test", or "val" for a hold-out), its confusion
        #: matrix [true, predicted], and its first batch (inputs, predicted, true).
        self.evaluated = "test"
        self.confusion_counts: torch.Tensor | None = None
        self.examples: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.with_found_lr(self.optimizer(self.parameters()))

    def printing(self) -> bool:
        """Whether this epoch prints the course's lines."""
        return self.print_every > 0 and (self.current_epoch + 1) % self.print_every == 0

    # train(epoch)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        """The course's loop body up to the loss; Lightning runs backward and the update."""
        inputs, target = batch
        outputs = self(inputs)
        loss = self.criterion(outputs, target)
        self.count_loss(loss.detach(), batch_idx, len(target))
        trainer = self.trainer
        if trainer.log_every_n_steps and (trainer.global_step + 1) % trainer.log_every_n_steps == 0:
            self.log("train_loss_step", loss)  # at the steps the loggers write, only
        return loss

    def count_loss(self, loss: torch.Tensor, batch_idx: int, batch_size: int) -> None:
        """The epoch's mean loss, and the course's ``running_loss += loss.item()`` summed where
        it is computed (no waiting), with its line every ``loss_every`` mini-batches."""
        self.epoch_losses["train_loss"].update(loss)
        if not self.printing():
            return
        self.running_loss = self.running_loss.to(loss.device) + loss
        if (batch_idx + 1) % self.loss_every == 0:
            self.print_loss(batch_idx + 1, batch_size)

    def on_train_epoch_start(self) -> None:
        self.running_loss = torch.zeros(())

    def print_loss(self, batches: int, batch_size: int) -> None:
        """The course's line every ``loss_every`` batches: the mean loss over them."""
        running_loss = self.running_loss.item() / self.loss_every
        line = "[%d, %5d] loss: %.3f" % (self.current_epoch + 1, batches, running_loss)  # noqa: UP031
        self.print(line)
        self.running_loss = torch.zeros(())

    # test()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, batch_idx, self.validation_set())

    def validation_set(self) -> str:
        """What the validation pass runs over: the datamodule's ``val_split``, "test" when
        it validates on the test set as the course does; any other data is a hold-out."""
        datamodule = getattr(self.trainer, "datamodule", None)
        return "test" if getattr(datamodule, "val_split", "val") == "test" else "val"

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
        self.confusion[stage].update(predicted, labels)
        if batch_idx == 0:
            self.examples = (images.detach(), predicted, labels)

    def on_validation_epoch_start(self) -> None:
        if not self.trainer.sanity_checking:
            self.stop_if_diverged()

    def on_train_epoch_end(self) -> None:
        self.stop_if_diverged()
        self.end_epoch("train")

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
        self.end_epoch(self.validation_set())

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
        if stage in self.confusion:
            counts = self.confusion[stage].compute().cpu()  # [true, predicted]
            self.confusion[stage].reset()
            correct, total = counts.trace().item(), counts.sum().item()
            values[f"{stage}_acc"] = torch.tensor(correct / total)
            self.evaluated, self.confusion_counts = stage, counts
            if self.printing() and not self.trainer.sanity_checking:
                if stage == "test":
                    self.print_accuracy(correct, total)
                else:
                    self.print_validation_accuracy(correct, total)
        self.log_dict(values, prog_bar=stage != "train")
        if self.trainer.state.fn == TrainerFn.FITTING and not self.trainer.sanity_checking:
            for name, value in values.items():
                self.history.setdefault(name, []).append((self.current_epoch + 1, value.item()))

    def print_validation_accuracy(self, correct: int, total: int) -> None:
        """The course's line for a hold-out, which the course does not have (a departure)."""
        percent = 100 * correct / total
        self.print("accuracy on validation set: %d %% [%d/%d]" % (percent, correct, total))  # noqa: UP031

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
                f"{SET_NAMES[self.evaluated]} at the end: {counts.trace() / counts.sum():.2%} "
                "right",
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
    (``test_images.png``; ``val_images.png`` after a hold-out) and, for a net whose first
    layer is the convolution ``conv1``, its learned filters (``filters.png``): what the net
    looks for before anything else."""

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
                folder / f"{self.evaluated}_images.png",
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
