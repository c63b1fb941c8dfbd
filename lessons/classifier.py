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
``EarlyStopping(monitor="val_loss")``, checkpoints every N steps.

Batches are plain ``(inputs, labels)`` (predict: ``inputs``, or ``(inputs, labels)`` to see
the truth beside), so any DataLoader feeds a lesson. The validation pass logs ``val_loss``
and ``val_acc`` whatever it runs over; when it runs over the test set, as the course's
``test()`` after every epoch does (the datamodule's ``val_split`` says so), the course's line
"accuracy on test set" is printed. ``trainer.test`` logs ``test_loss`` and ``test_acc``.

The metrics are torchmetrics objects logged as they are (``self.log("val_acc", metric)``):
Lightning computes, resets and, under DDP, torchmetrics syncs them. Nothing in a training
step waits for the device: the losses are summed where they are computed, and come to the
host once per ``loss_every`` batches (the course's running loss, also the figure's curve)
and once per epoch. The step's loss is logged only at the steps the loggers write
(``log_every_n_steps``): a ``self.log`` costs about half a millisecond on a CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from lessons import figures
from lessons.checkpoint_names import check_checkpoint, safe_hyperparameters
from lessons.common import (
    check_batch_size_finder,
    check_data,
    inputs_of,
    print_above_the_bar,
    with_found_lr,
)

#: The sets a classifier is evaluated on: the validation pass, the test pass.
EVALUATION_SETS = ("val", "test")
SET_NAMES = {"val": "Validation set", "test": "Test set"}
#: The homeworks' ``validation_line`` (Otto, movie reviews): a competition's test file has no
#: labels, so the course's ``test()`` after every epoch runs over the rows of the training file
#: that the datamodule holds out (its ``val_split`` is "val"), and prints this line for them.
HOLD_OUT_LINE = "accuracy on the held-out rows: %(percent).2f %%"

LessonType = TypeVar("LessonType", bound="ClassifierLesson")


class ClassifierLesson(L.LightningModule):
    """``num_classes``: 10 by default, MNIST's digits (lessons 9-11). ``print_every``: print
    the course's lines every this many epochs (1, the course's rate; 0, never).
    ``class_names``: the name of each class, which the confusion matrix and the predictions
    are labelled with; a lesson sets it (countries, sentiments).

    After ``fit`` the run folder gets the loss and accuracy curves, the confusion matrix and,
    for images of one channel (MNIST), the first batch of the last evaluation with its
    predictions (``test_images.png``; ``val_images.png`` after a hold-out) and, for a net whose
    first layer is the convolution ``conv1``, its learned filters (``filters.png``): what the
    net looks for before anything else."""

    #: The data module this lesson learns from (its class path), and the config pairing them.
    data_class: str = ""
    config: str = ""
    #: The learning rate that Lightning's learning-rate finder chose (``LearningRateFinder``,
    #: or ``Tuner.lr_find`` with ``update_attr=True``, set it): the optimizer then takes it in
    #: place of the config's. None: the config's.
    lr: float | None = None
    #: Every how many mini-batches the course prints the training loss.
    loss_every = 300
    #: The line after each validation pass over a hold-out, which the course does not have (a
    #: departure): ``%`` formatting of ``percent``, ``correct`` and ``total``.
    validation_line = "accuracy on validation set: %(percent)d %% [%(correct)d/%(total)d]"

    def __init__(
        self,
        num_classes: int = 10,
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
        self.train_loss = MeanMetric(nan_strategy="disable")
        self.val_loss, self.test_loss = (MeanMetric(nan_strategy="disable") for _ in range(2))
        self.val_acc, self.test_acc = (
            MulticlassAccuracy(num_classes, average="micro", validate_args=False) for _ in range(2)
        )
        # The course's correct and total, and the figure's counts.
        self.val_confusion, self.test_confusion = (
            MulticlassConfusionMatrix(num_classes, validate_args=False) for _ in range(2)
        )
        self.loss_sum = torch.zeros(())  # this epoch's training losses, summed on the device
        self.running_loss = torch.zeros(())  # the course's running_loss
        self.history: dict[str, list[tuple[float, float]]] = {}
        #: The last evaluation: its set ("test", or "val"), its confusion matrix
        #: [true, predicted], and its first batch (inputs, predicted, true).
        self.evaluated = "test"
        self.confusion_counts: torch.Tensor | None = None
        self.examples: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.with_found_lr(self.optimizer(self.parameters()))

    def with_found_lr(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        return with_found_lr(optimizer, self.lr)

    # --- what every lesson checks: its data, the Trainer's flags, a checkpoint's names ---

    def setup(self, stage: str) -> None:
        """Refuse, before anything runs, what would fail deep inside a step: another lesson's
        data, a Trainer flag the lesson cannot honour - in a user's own script as from the CLI."""
        self.check_data(self.trainer.datamodule)
        if stage == "fit":
            self.check_trainer(self.trainer)

    def check_data(self, datamodule: L.LightningDataModule | None) -> None:
        check_data(self, datamodule)

    def check_trainer(self, trainer: L.Trainer) -> None:
        check_batch_size_finder(self, trainer)

    @classmethod
    def load_from_checkpoint(cls: type[LessonType], *args: Any, **kwargs: Any) -> LessonType:
        """Lightning's, once the file's names are checked (``check_checkpoint``)."""
        check_checkpoint(cls, *args, **kwargs)
        return super().load_from_checkpoint(*args, **kwargs)

    def prints_this_epoch(self) -> bool:
        """Whether this epoch prints the course's lines."""
        return self.print_every > 0 and (self.current_epoch + 1) % self.print_every == 0

    def print(self, *args: Any, **kwargs: Any) -> None:
        """The course's ``print``, on process 0 only, as Lightning's ``self.print``, but
        shown whenever it is called (``print_above_the_bar``)."""
        if self.trainer.is_global_zero:
            print_above_the_bar(self.trainer, *args, **kwargs)

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
            self.log("train_loss", loss, prog_bar=True)  # at the steps the loggers write, only
        return loss

    def count_loss(self, loss: torch.Tensor, batch_idx: int, batch_size: int) -> None:
        """The epoch's loss and the course's ``running_loss += loss.item()``, summed where
        they are computed (no waiting); every ``loss_every`` mini-batches, a point of the
        loss curve and, in a printing epoch, the course's line."""
        self.loss_sum = self.loss_sum.to(loss.device) + loss
        self.running_loss = self.running_loss.to(loss.device) + loss
        batches = batch_idx + 1
        if batches % self.loss_every == 0:
            value = self.running_value(batches, batch_size)
            epochs = self.current_epoch + batches / max(1, self.trainer.num_training_batches)
            self.history.setdefault("train_running_loss", []).append((epochs, value))
            if self.prints_this_epoch():
                self.print_loss(batches, batch_size, value)

    def running_value(self, batches: int, batch_size: int) -> float:
        """The course's running loss: the mean over the last ``loss_every`` batches."""
        value = self.running_loss.item() / self.loss_every
        self.running_loss = torch.zeros(())
        return value

    def print_loss(self, batches: int, batch_size: int, value: float) -> None:
        """The course's line every ``loss_every`` batches."""
        self.print("[%d, %5d] loss: %.3f" % (self.current_epoch + 1, batches, value))  # noqa: UP031

    def on_train_epoch_start(self) -> None:
        self.loss_sum = torch.zeros(())
        self.running_loss = torch.zeros(())

    def on_train_epoch_end(self) -> None:
        """The epoch's mean training loss: into the metric, once (DDP averages it)."""
        batches = self.trainer.num_training_batches
        if batches and batches != float("inf"):
            self.train_loss.update(self.loss_sum / batches, weight=batches)
        self.stop_if_diverged()
        if self.train_loss.update_called:
            self.log("train_loss_epoch", self.train_loss)
            self.keep("train_loss", self.train_loss.compute())

    def stop_if_diverged(self) -> None:
        """Stop before a checkpoint keeps weights that a non-finite loss has spoiled: checked
        when the epoch's training ends, and before each validation pass, which saves them."""
        if not torch.isfinite(self.loss_sum):
            raise FloatingPointError(
                f"the training loss became {self.loss_sum.item()} in epoch "
                f"{self.current_epoch + 1} (the run diverged); lower the learning rate"
            )

    # test()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, batch_idx, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.evaluate(batch, batch_idx, "test")

    def evaluate(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, stage: str
    ) -> None:
        images, labels = batch
        outputs = self(images)
        predicted = outputs.argmax(dim=1)
        # Weighed by the batch's size, so that the epoch mean weighs a short last batch fairly.
        getattr(self, f"{stage}_loss").update(self.criterion(outputs, labels), len(labels))
        getattr(self, f"{stage}_acc").update(predicted, labels)
        getattr(self, f"{stage}_confusion").update(predicted, labels)
        if batch_idx == 0:
            self.examples = (images.detach(), predicted, labels)

    def validation_set(self) -> str:
        """What the validation pass runs over: "test" when the datamodule says it validates
        on the test set (``val_split``), as the course tests after every epoch; else "val"."""
        datamodule = getattr(self.trainer, "datamodule", None)
        return "test" if getattr(datamodule, "val_split", "val") == "test" else "val"

    def on_validation_epoch_start(self) -> None:
        if not self.trainer.sanity_checking:
            self.stop_if_diverged()

    def on_validation_epoch_end(self) -> None:
        self.end_evaluation("val")

    def on_test_epoch_end(self) -> None:
        self.end_evaluation("test")

    def end_evaluation(self, stage: str) -> None:
        """Log the pass's mean loss and accuracy, keep them in ``history``, and print the
        course's accuracy line."""
        loss, confusion = getattr(self, f"{stage}_loss"), getattr(self, f"{stage}_confusion")
        if not loss.update_called:  # an empty loader
            return
        counts = confusion.compute().cpu()  # [true, predicted], summed over processes
        confusion.reset()
        correct, total = int(counts.trace()), int(counts.sum())
        self.log(f"{stage}_loss", loss)  # the bar shows the accuracy: it fits 80 columns
        self.log(f"{stage}_acc", getattr(self, f"{stage}_acc"), prog_bar=True)
        evaluated = self.validation_set() if stage == "val" else "test"
        self.evaluated, self.confusion_counts = evaluated, counts
        if self.trainer.sanity_checking:
            return
        if self.prints_this_epoch():
            if evaluated == "test":
                self.print_accuracy(correct, total)
            else:
                self.print_validation_accuracy(correct, total)
        if self.trainer.state.fn == TrainerFn.FITTING:
            self.keep(f"{stage}_loss", loss.compute())
            self.keep(f"{stage}_acc", correct / total)

    def keep(self, name: str, value: torch.Tensor | float) -> None:
        """One point of the figures' curves: the epoch (1, 2 …) and the value."""
        self.history.setdefault(name, []).append((self.current_epoch + 1, float(value)))

    def print_validation_accuracy(self, correct: int, total: int) -> None:
        percent = 100 * correct / total
        self.print(self.validation_line % {"percent": percent, "correct": correct, "total": total})

    def print_accuracy(self, correct: int, total: int) -> None:
        """The course's line after each test pass."""
        percent = 100 * correct / total
        self.print("accuracy on test set: %d %% [%d/%d]" % (percent, correct, total))  # noqa: UP031

    # predict

    def predict_step(self, batch: Any) -> dict[str, Any]:
        """For each input, the likeliest class by name, the probability of every class
        (``p_0`` …), and the true class beside when the batch has labels. Softmax only here:
        training takes the raw scores (CrossEntropyLoss)."""
        inputs, labels = inputs_of(batch)
        p = torch.softmax(self(inputs).float(), dim=1)
        row = {"predicted": self.names_of(p.argmax(dim=1)), "p": p}
        return row | ({"true": self.names_of(labels)} if labels is not None else {})

    def names_of(self, classes: torch.Tensor) -> list[str]:
        return [self.class_names[i] for i in classes.tolist()]

    # figures

    def draw_figures(self, folder: Path) -> None:
        """Loss and accuracy against epoch - the course's running loss every ``loss_every``
        batches as a curve, even in a one-epoch run - and the last evaluation's confusion
        matrix, labelled with ``class_names``."""
        set_name = SET_NAMES[self.evaluated]
        labels = {
            "train_running_loss": f"train, every {self.loss_every} batches",
            "train_loss": "train, epoch mean",
            "val_loss": set_name,
            "val_acc": set_name,
            "test_loss": "Test set",
            "test_acc": "Test set",
        }
        for quantity, scale, ylabel in (("loss", 1, "Loss"), ("acc", 100, "Accuracy (%)")):
            curves = {
                labels.get(name, name): (
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
                f"{set_name} at the end: {counts.trace() / counts.sum():.2%} right",
            )
        if self.examples is not None and self.examples[0].dim() == 4:  # images [B, C, H, W]
            images, predicted, true = (tensor.cpu() for tensor in self.examples)
            pairs = list(zip(self.names_of(predicted), self.names_of(true)))
            figures.plot_image_grid(
                folder / f"{self.evaluated}_images.png",
                images.squeeze(1).float(),
                [p if p == t else f"{p} (true {t})" for p, t in pairs],
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

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # An optimizer class given in Python is kept as a config, which weights_only=True reads.
        checkpoint["hyper_parameters"] = safe_hyperparameters(
            type(self), checkpoint.get("hyper_parameters")
        )
        checkpoint["history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = dict(checkpoint.get("history", {}))
