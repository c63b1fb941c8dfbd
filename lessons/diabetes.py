"""Lessons 7 and 8 - many input features: the course's 8 → 6 → 4 → 1 sigmoid net on diabetes.

The course's ``Model`` is written here as the course writes it (``linear1..3``, ``sigmoid``),
with ``BCELoss(reduction='mean')``. Lesson 7 trains it on the whole training set at once
(``SGD(lr=0.1)``, the course's 100 000 epochs, configs/diabetes.yaml); lesson 8 in shuffled
mini-batches of 32 (``SGD(lr=0.01)``, 100 epochs, configs/diabetes_minibatch.yaml).

What the course prints, printed where the course prints it: lesson 7 ``epoch loss``, lesson 8
``epoch i loss`` (i: the iteration, one mini-batch, within the epoch), every ``print_every``
course epochs (lesson 8: iterations) and the last; ``print_every: 1`` is the course's rate.

Beyond the course: other layer widths, feature counts or activations (``hidden_sizes``,
``in_features``, ``activation``: the course's invitation to try) build a stack of layers instead;
accuracy, AUROC and F1 are logged beside the majority-class baseline, and the confusion matrix of
the last validation is drawn.

>>> DiabetesClassifier()(torch.zeros(2, 8)).shape
torch.Size([2, 1])
>>> DiabetesClassifier(hidden_sizes=[16, 8], activation="relu").net
Sequential(
  (0): Linear(in_features=8, out_features=16, bias=True)
  (1): ReLU()
  (2): Linear(in_features=16, out_features=8, bias=True)
  (3): ReLU()
  (4): Linear(in_features=8, out_features=1, bias=True)
  (5): Sigmoid()
)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryConfusionMatrix,
    BinaryF1Score,
)

from lessons import figures
from lessons.base import CourseLesson
from lessons.common import inputs_of, layer_stack

ACTIVATIONS = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
COURSE_NET = (8, [6, 4], "sigmoid")  # in_features, hidden_sizes, activation of the course's Model


class DiabetesClassifier(CourseLesson):
    data_class = "datamodules.diabetes.DiabetesDataModule"
    config = "configs/diabetes.yaml"

    def __init__(
        self,
        in_features: int = 8,
        hidden_sizes: list[int] = [6, 4],  # noqa: B006 (jsonargparse shows list defaults)
        activation: Literal["sigmoid", "relu", "tanh"] = "sigmoid",
        optimizer: OptimizerCallable = torch.optim.SGD,
        course_steps_per_batch: int = 1,
        print_every: int = 10_000,
        gradient_clip_val: float | None = None,
    ) -> None:
        """``print_every``: course epochs (lesson 8: iterations) between printed lines;
        1: every one, as the course; 0: none. The last one is always printed.
        ``gradient_clip_val``: clip each update's gradient norm (None: never, as the course)."""
        super().__init__(course_steps_per_batch, print_every, gradient_clip_val)
        self.save_hyperparameters()
        if (in_features, hidden_sizes, activation) == COURSE_NET:  # the course's Model
            self.linear1 = torch.nn.Linear(8, 6)
            self.linear2 = torch.nn.Linear(6, 4)
            self.linear3 = torch.nn.Linear(4, 1)
            self.sigmoid = torch.nn.Sigmoid()
            self.net = None
        else:  # other sizes: Linear layers of these widths, `activation` after each but the last
            sizes = [in_features, *hidden_sizes, 1]  # a sigmoid last: P(diabetes)
            self.net = layer_stack(sizes, ACTIVATIONS[activation], last=torch.nn.Sigmoid)

        self.criterion = torch.nn.BCELoss(reduction="mean")
        self.optimizer = optimizer  # built in configure_optimizers: Lightning owns the parameters
        metrics = MetricCollection(
            {"acc": BinaryAccuracy(), "auroc": BinaryAUROC(), "f1": BinaryF1Score()}
        )
        self.train_metrics = metrics.clone(prefix="train_")
        self.val_metrics = metrics.clone(prefix="val_")
        self.val_confusion = BinaryConfusionMatrix()  # of each validation, for the figure
        self.confusion_matrix: torch.Tensor | None = None
        self.iteration = 0  # the batch's index in its epoch: lesson 8's i
        self.train_positives, self.train_labels_seen = 0.0, 0  # the first epoch's labels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.net is not None:  # the stack of other sizes
            return self.net(x)
        x = self.sigmoid(self.linear1(x))
        x = self.sigmoid(self.linear2(x))
        x = self.sigmoid(self.linear3(x))
        return x

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # the course's optimizer = torch.optim.SGD(model.parameters(), lr=0.1), lr from the config
        return self.with_found_lr(self.optimizer(self.parameters()))

    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x_data, y_data = batch  # lesson 8: inputs, labels = data
        y_pred = self(x_data)
        loss = self.compute_loss(y_pred, y_data)  # criterion(y_pred, y_data), in float32
        if self.printing:  # print(epoch, loss.item()), every print_every epochs (base.py)
            self.print(*self.course_counters(), loss.item())  # rank 0, above the progress bar

        optimizer = self.optimizers()  # Lightning's handle on configure_optimizers' optimizer
        optimizer.zero_grad()
        self.manual_backward(loss)  # Lightning's loss.backward(): scales a float16 loss
        optimizer.step()
        return loss

    def course_counters(self) -> tuple[int, ...]:
        """What the course prints before the loss: ``epoch`` (lesson 7, one batch per epoch,
        each step an epoch), or ``epoch, i`` (lesson 8: i, the iteration within the epoch)."""
        if self.trainer.num_training_batches == 1:
            return (self.course_epoch,)
        return (self.current_epoch, self.iteration)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        self.iteration = batch_idx
        loss = super().training_step(batch, batch_idx)  # course_steps_per_batch course steps
        x, y = batch
        if batch_idx < self.trainer.num_training_batches and self.current_epoch == 0:
            self.train_positives += float(y.sum())  # for the majority-class baseline
            self.train_labels_seen += len(y)
        with torch.no_grad():  # metrics of the model as it stands after them
            self.train_metrics.update(self(x).flatten(), y.flatten().int())
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True)
        return loss

    def draw_figures(self, folder: Path) -> None:
        """The course's plot of loss against epoch (lesson 7); with mini-batches (lesson 8) the
        mean loss of each epoch against epoch, and the loss of each iteration against iteration.
        The confusion matrix of the last validation, if there was one."""
        losses, validation = self.loss_history, self.val_loss_history
        per_epoch = self.trainer.num_training_batches * self.course_steps_per_batch  # iterations
        if self.trainer.num_training_batches == 1:  # full batch: each step is a course epoch
            curves = {"train": (range(len(losses)), losses)}
            if validation:
                curves["validation"] = tuple(zip(*validation))
            figures.plot_curves(folder / "loss.png", curves, "epoch", "loss")
        else:  # mini-batches: loss per epoch = the mean over its iterations
            epochs = range(len(losses) // per_epoch)
            means = [sum(losses[e * per_epoch : (e + 1) * per_epoch]) / per_epoch for e in epochs]
            curves = {"train, mean over the epoch": (epochs, means)}
            if validation:  # the validation after epoch e, at e
                curves["validation"] = (
                    [n // per_epoch - 1 for n, _ in validation],
                    [loss for _, loss in validation],
                )
            figures.plot_curves(folder / "loss.png", curves, "epoch", "loss")
            figures.plot_curves(
                folder / "loss_iterations.png",
                {"train": (range(len(losses)), losses)},
                f"iteration ({per_epoch} per epoch)",
                "loss",
            )
        if self.confusion_matrix is not None:
            figures.plot_confusion_matrix(
                folder / "confusion_matrix.png", self.confusion_matrix, ["0", "1"], "validation set"
            )

    # --- beyond the course: validation metrics, predict, checks ---

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        y_pred = self(x)
        self.log("val_loss", self.compute_loss(y_pred, y), sync_dist=True)
        self.val_metrics.update(y_pred.flatten(), y.flatten().int())
        others = {name: metric for name, metric in self.val_metrics.items() if name != "val_acc"}
        self.log_dict(others)  # AUROC, F1: in the logs; the bar shows the loss and accuracy
        self.log("val_acc", self.val_metrics["acc"], prog_bar=True)
        self.val_confusion.update(y_pred.flatten(), y.flatten().int())
        majority = self.majority_class()
        if majority is not None:
            self.log("val_baseline_acc", (y == majority).float().mean(), sync_dist=True)

    def majority_class(self) -> float | None:
        """The label most frequent in the training data - the baseline always answers it:
        the datamodule's when it knows it, else counted from the training batches seen."""
        datamodule = self.trainer.datamodule
        if datamodule is not None and hasattr(datamodule, "majority_class"):
            return float(datamodule.majority_class)
        if not self.train_labels_seen:
            return None
        return float(self.train_positives / self.train_labels_seen >= 0.5)

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        matrix = self.val_confusion.compute()  # summed over processes under DDP
        self.val_confusion.reset()
        if not self.trainer.sanity_checking:
            self.confusion_matrix = matrix.cpu()

    def predict_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """P(diabetes) and the predicted label of each row; its true label beside, when the
        rows have one (the held-out rows, or a predict_file with a label column)."""
        x, y = inputs_of(batch)
        probability = self(x).flatten()
        columns = {"probability": probability, "predicted_label": (probability > 0.5).int()}
        return columns | ({"label": y.flatten()} if y is not None else {})

    def setup(self, stage: str) -> None:
        super().setup(stage)
        data = self.trainer.datamodule
        features = getattr(data, "num_features", self.hparams.in_features)
        if features != self.hparams.in_features:
            raise ValueError(
                f"the data has {features} feature columns but the model expects "
                f"{self.hparams.in_features}; set --model.init_args.in_features {features}"
            )
