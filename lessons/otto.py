"""Lecture 9's homework - Kaggle's Otto Group products: lecture 9's softmax classifier on 93 counts.

The homework asks for lecture 9's network on another table: a product's 93 feature counts
(``datamodules/otto.py`` gives them as log(1 + count)) through linear layers with ReLU
between, and 9 scores for Class_1 … Class_9 from the last one, with no activation, because
``CrossEntropyLoss`` takes the raw scores. The course's lines, update and figures are lecture
9's (``ClassifierLesson``); its test after every epoch runs over the rows of train.csv held
out for validation, as the competition's test file has no labels.

``predict`` gives Kaggle's submission: each test product's id and the softmax probability of
each class, in columns Class_1 … Class_9 (Kaggle scores them by log loss).

>>> OttoClassifier(hidden_sizes=[64, 32]).net
Sequential(
  (0): Linear(in_features=93, out_features=64, bias=True)
  (1): ReLU()
  (2): Linear(in_features=64, out_features=32, bias=True)
  (3): ReLU()
  (4): Linear(in_features=32, out_features=9, bias=True)
)
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from lessons.classifier import HOLD_OUT_LINE, ClassifierLesson
from lessons.common import layer_stack

N_FEATURES = 93
#: The competition's classes, in the order of the scores and of the submission's columns.
CLASSES = [f"Class_{i}" for i in range(1, 10)]


class OttoClassifier(ClassifierLesson):
    data_class = "datamodules.otto.OttoDataModule"
    config = "configs/otto.yaml"
    validation_line = HOLD_OUT_LINE

    def __init__(
        self,
        hidden_sizes: list[int] = [128, 64, 32],  # noqa: B006 (jsonargparse shows list defaults)
        optimizer: OptimizerCallable = torch.optim.SGD,
        print_every: int = 1,
    ) -> None:
        super().__init__(num_classes=len(CLASSES), optimizer=optimizer, print_every=print_every)
        if not all(size >= 1 for size in hidden_sizes):
            raise ValueError(f"hidden_sizes must all be at least 1, got {hidden_sizes}")
        self.save_hyperparameters()
        self.class_names = CLASSES
        self.net = layer_stack([N_FEATURES, *hidden_sizes, len(CLASSES)], nn.ReLU)  # scores

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def predict_step(self, batch: Any) -> dict[str, Any]:
        """Kaggle's columns: id, then the probability of each class (softmax only here).
        Any other batch (inputs, or inputs and labels, from a DataLoader of your own) is
        predicted as the lesson it extends predicts it."""
        if not isinstance(batch, dict):
            return super().predict_step(batch)
        p = torch.softmax(self(batch["features"]).float(), dim=1)
        return {"id": batch["id"]} | {name: p[:, i] for i, name in enumerate(CLASSES)}
