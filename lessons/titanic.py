"""Lecture 8's homework - Kaggle's Titanic: lecture 8's sigmoid net on the passengers' features.

The homework asks for lecture 8's classifier on another table: a passenger's 9 features
(``datamodules/titanic.py``: class, sex, age, family aboard, fare and port, missing values
filled) through ``Linear`` layers with a sigmoid after each, ``BCELoss``, and mini-batches
from a ``DataLoader``. It is lecture 7/8's ``DiabetesClassifier`` with 9 inputs: the same
update, printed lines, metrics and figures; ``hidden_sizes: []`` makes it logistic regression
(lecture 6), one ``Linear`` and a sigmoid.

``predict`` gives Kaggle's submission: each test passenger's PassengerId and Survived, 1 when
the net's probability of surviving is above one half.

>>> TitanicClassifier().net
Sequential(
  (0): Linear(in_features=9, out_features=6, bias=True)
  (1): Sigmoid()
  (2): Linear(in_features=6, out_features=4, bias=True)
  (3): Sigmoid()
  (4): Linear(in_features=4, out_features=1, bias=True)
  (5): Sigmoid()
)
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from lightning.pytorch.cli import OptimizerCallable

from lessons.diabetes import DiabetesClassifier


class TitanicClassifier(DiabetesClassifier):
    data_class = "datamodules.titanic.TitanicDataModule"
    config = "configs/titanic.yaml"

    def __init__(
        self,
        in_features: int = 9,
        hidden_sizes: list[int] = [6, 4],  # noqa: B006 (jsonargparse shows list defaults)
        activation: Literal["sigmoid", "relu", "tanh"] = "sigmoid",
        optimizer: OptimizerCallable = torch.optim.SGD,
        course_steps_per_batch: int = 1,
        print_every: int = 100,
        gradient_clip_val: float | None = None,
    ) -> None:
        """``print_every``: iterations between the printed ``epoch i loss`` lines."""
        super().__init__(
            in_features,
            hidden_sizes,
            activation,
            optimizer,
            course_steps_per_batch,
            print_every,
            gradient_clip_val,
        )

    def predict_step(self, batch: Any) -> dict[str, Any]:
        """Kaggle's two columns: PassengerId, and Survived = 1 when P(survived) > 0.5.
        Any other batch (inputs, or inputs and labels, from a DataLoader of your own) is
        predicted as the lesson it extends predicts it."""
        if not isinstance(batch, dict):
            return super().predict_step(batch)
        probability = self(batch["features"]).flatten()
        return {"PassengerId": batch["PassengerId"], "Survived": (probability > 0.5).int()}
