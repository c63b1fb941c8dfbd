"""Lessons 7 and 8 - many input features: the 8 → 6 → 4 → 1 sigmoid network on diabetes.

Each layer is a Linear map followed by a sigmoid; the last sigmoid gives P(diabetes), and
the loss is the mean binary cross-entropy. Lesson 7 trains on the whole training set at once
(SGD lr 0.1, the course's 100 000 epochs); lesson 8 in shuffled mini-batches of 32 (SGD lr 0.01).
Both are configs of this one module (configs/diabetes.yaml, configs/diabetes_minibatch.yaml).

Accuracy, AUROC and F1 are reported for training and validation, beside the accuracy of always
answering the majority class, so that a reader sees what was learned.

>>> DiabetesClassifier(hidden_sizes=[6, 4]).net
Sequential(
  (0): Linear(in_features=8, out_features=6, bias=True)
  (1): Sigmoid()
  (2): Linear(in_features=6, out_features=4, bias=True)
  (3): Sigmoid()
  (4): Linear(in_features=4, out_features=1, bias=True)
  (5): Sigmoid()
)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryF1Score

from lessons import figures
from lessons.base import CourseLesson

ACTIVATIONS = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}


class DiabetesClassifier(CourseLesson):
    def __init__(
        self,
        in_features: int = 8,
        hidden_sizes: list[int] = [6, 4],  # noqa: B006 (jsonargparse shows list defaults)
        activation: Literal["sigmoid", "relu", "tanh"] = "sigmoid",
        optimizer: OptimizerCallable = torch.optim.SGD,
        steps_per_batch: int = 1,
    ) -> None:
        super().__init__(steps_per_batch)
        self.save_hyperparameters()
        self.optimizer = optimizer
        sizes = [in_features, *hidden_sizes, 1]
        layers: list[torch.nn.Module] = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            layers += [torch.nn.Linear(fan_in, fan_out), ACTIVATIONS[activation]()]
        layers[-1] = torch.nn.Sigmoid()  # the output is a probability, whatever comes before
        self.net = torch.nn.Sequential(*layers)
        self.criterion = torch.nn.BCELoss(reduction="mean")
        metrics = MetricCollection(
            {"acc": BinaryAccuracy(), "auroc": BinaryAUROC(), "f1": BinaryF1Score()}
        )
        self.train_metrics = metrics.clone(prefix="train_")
        self.val_metrics = metrics.clone(prefix="val_")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        loss = self.compute_loss(self(x), y)
        self.optimize(loss)
        return loss

    def setup(self, stage: str) -> None:
        super().setup(stage)
        data = self.trainer.datamodule
        if data is not None and data.num_features != self.hparams.in_features:
            raise ValueError(
                f"the data has {data.num_features} feature columns but the model expects "
                f"{self.hparams.in_features}; set --model.init_args.in_features {data.num_features}"
            )

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        super().training_step(batch, batch_idx)  # the course epochs on this batch
        x, y = batch
        with torch.no_grad():  # metrics of the model as it stands after them
            self.train_metrics.update(self(x).flatten(), y.flatten().int())
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        y_pred = self(x)
        self.log("val_loss", self.compute_loss(y_pred, y), prog_bar=True, sync_dist=True)
        self.val_metrics.update(y_pred.flatten(), y.flatten().int())
        self.log_dict(self.val_metrics, prog_bar=True)
        majority = float(self.trainer.datamodule.majority_class)
        self.log("val_baseline_acc", (y == majority).float().mean(), sync_dist=True)

    def predict_step(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        probability = self(batch[:, : self.hparams.in_features]).flatten()
        columns = {"probability": probability, "predicted_label": (probability > 0.5).int()}
        if batch.shape[1] > self.hparams.in_features:  # a labelled file: show the truth beside
            columns["label"] = batch[:, -1]
        return columns

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())

    def draw_figures(self, folder: Path) -> None:
        curves = {"train": (range(len(self.loss_history)), self.loss_history)}
        if self.val_loss_history:
            curves["validation"] = tuple(zip(*self.val_loss_history))
        figures.plot_curves(folder / "loss.png", curves, "Epoch", "loss")
        data = self.trainer.datamodule
        if data is None or not len(data.val_set):
            return
        x, y = (t.to(self.device) for t in data.val_set.dataset[data.val_set.indices])
        with torch.no_grad():
            predicted = (self(x) > 0.5).int().flatten().cpu()
        matrix = torch.zeros(2, 2, dtype=torch.int64)
        matrix.index_put_(
            (y.flatten().long().cpu(), predicted.long()), torch.tensor(1), accumulate=True
        )
        figures.plot_confusion_matrix(
            folder / "confusion_matrix.png", matrix, ["0", "1"], "validation set"
        )
