"""Lesson 4 - back-propagation: autograd computes the gradient, the update stays by hand.

For every sample: l = (y_pred − y)²; ``l.backward()``; ``w.data = w.data − lr · w.grad.data``;
zero the grad - exactly the course's loop, and its lines printed every ``print_every`` epochs
(the gradient of each sample too with ``print_grads``). ``model="linear"`` is y = w·x (w = 1
at the start); ``model="quadratic"`` is the exercise y = w_1·x² + w_2·x + b (1, 2, 3), whose
analytic gradients are

    dl/dw_1 = 2(w_1·x² + w_2·x + b − y)·x²,  dl/dw_2 = 2(…)·x,  dl/db = 2(…);

``model="affine"`` is the notes' exercise 4-2, y = w·x + b from w = 1, b = 2. The notes'
typos (``prdict``, ``forward(4).item`` without brackets) are not copied.

Exercise 4-1, at x = 2, y = 4, w = 1: dl/dw = −8.

>>> lesson = Backprop(model="linear")
>>> loss = (lesson(torch.tensor(2.0)) - 4.0) ** 2
>>> loss.backward()
>>> lesson.weights["w"].grad
tensor(-8.)

Exercise 4-2, at x = 1, y = 2, w = 1, b = 2: dl/dw = 2 and dl/db = 2.

>>> lesson = Backprop(model="affine")
>>> loss = (lesson(torch.tensor(1.0)) - 2.0) ** 2
>>> loss.backward()
>>> lesson.weights["w"].grad, lesson.weights["b"].grad
(tensor(2.), tensor(2.))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch

from lessons import figures
from lessons.base import CourseLesson
from lessons.common import inputs_of

INITIAL_WEIGHTS = {
    "linear": {"w": 1.0},
    "quadratic": {"w_1": 1.0, "w_2": 2.0, "b": 3.0},
    "affine": {"w": 1.0, "b": 2.0},
}


class Backprop(CourseLesson):
    data_class = "datamodules.toy.ToyDataModule"
    config = "configs/backprop_linear.yaml"
    no_mixed_precision = True  # the lesson checks autograd's numbers against hand-derived ones
    updates_by_hand = True  # the update is written out in course_step

    def __init__(
        self,
        model: Literal["linear", "quadratic", "affine"] = "linear",
        lr: float = 0.01,
        course_steps_per_batch: int = 100,
        print_every: int = 10,
        print_grads: bool = False,
    ) -> None:
        super().__init__(course_steps_per_batch, print_every)
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.save_hyperparameters()
        self.weights = torch.nn.ParameterDict(  # pairs, not a dict, keep the course's order
            [(name, torch.tensor(value)) for name, value in INITIAL_WEIGHTS[model].items()]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weights
        if self.hparams.model == "linear":
            return x * w["w"]
        if self.hparams.model == "affine":
            return x * w["w"] + w["b"]
        return w["w_1"] * (x**2) + w["w_2"] * x + w["b"]

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y_pred = self(x)
        return (y_pred - y) ** 2

    def on_train_start(self) -> None:
        super().on_train_start()
        if not self.loss_history:  # a resumed run has trained already
            self.print("predict (before training)", 4, self(torch.tensor(4.0)).item())

    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x_data, y_data = batch
        for x, y in zip(x_data.flatten(), y_data.flatten(), strict=True):
            l = self.loss(x, y)  # noqa: E741 (the course's name)
            l.backward()
            if self.printing and self.hparams.print_grads:
                grads = (w.grad.item() for w in self.weights.values())
                if self.hparams.model == "quadratic":  # the course names x and y there
                    self.print("\tgrad:", "X:", x.item(), "Y:", y.item(), *grads)
                else:
                    self.print("\tgrad:", x.item(), y.item(), *grads)
            for w in self.weights.values():
                w.data = w.data - self.hparams.lr * w.grad.data
            for w in self.weights.values():
                w.grad.data.zero_()
        if self.printing:
            self.print("progress:", self.course_epoch, l.item())
        return l  # the course plots the loss of the epoch's last sample

    def on_train_end(self) -> None:
        # The course prints the weights of its exercise only.
        weights = [] if self.hparams.model == "linear" else self.weights.items()
        self.print(
            "predict (after training)",
            4,
            self(torch.tensor(4.0)).item(),
            *(part for name, w in weights for part in (f"{name}=", w.item())),
        )

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.log_dict(dict(self.weights))  # into metrics.csv

    def predict_step(self, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = inputs_of(batch)  # (x,) from the datamodule, or a plain tensor of x
        return {"x": x, "y_pred": self(x)}

    def configure_optimizers(self) -> list:
        return []  # no optimizer: the update is written out in course_step

    def draw_figures(self, folder: Path) -> None:
        figures.plot_loss_history(folder / "loss.png", self.loss_history)
