"""Lesson 4 - back-propagation: autograd computes the gradient, the update stays by hand.

For every sample: l = (y_pred − y)²; ``l.backward()``; ``w.data -= lr · w.grad``; zero the
grad - exactly the course's loop. ``model="linear"`` is y = w·x (w = 1 at the start);
``model="quadratic"`` is the exercise y = w1·x² + w2·x + b (w1, w2, b = 1, 2, 3), whose
analytic gradients are

    dl/dw1 = 2(w1·x² + w2·x + b − y)·x²,  dl/dw2 = 2(…)·x,  dl/db = 2(…).

The course's hand check: at x = 2, y = 4, w = 1 the gradient is −8.

>>> lesson = Backprop(model="linear")
>>> loss = (lesson(torch.tensor(2.0)) - 4.0) ** 2
>>> loss.backward()
>>> lesson.weights["w"].grad
tensor(-8.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from lessons import figures
from lessons.base import CourseLesson

INITIAL_WEIGHTS = {"linear": {"w": 1.0}, "quadratic": {"w1": 1.0, "w2": 2.0, "b": 3.0}}


class Backprop(CourseLesson):
    float32_only = True  # the lesson checks autograd's numbers against hand-derived ones
    distributable = False  # no optimizer: nothing to average over processes

    def __init__(
        self,
        model: Literal["linear", "quadratic"] = "linear",
        lr: float = 0.01,
        steps_per_batch: int = 100,
    ) -> None:
        super().__init__(steps_per_batch)
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.save_hyperparameters()
        self.weights = torch.nn.ParameterDict(
            {name: torch.tensor(value) for name, value in INITIAL_WEIGHTS[model].items()}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.model == "linear":
            return self.weights["w"] * x
        w1, w2, b = self.weights["w1"], self.weights["w2"], self.weights["b"]
        return w1 * x**2 + w2 * x + b

    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        for x_i, y_i in zip(x.flatten(), y.flatten(), strict=True):
            loss = (self(x_i) - y_i) ** 2
            loss.backward()
            for w in self.weights.values():
                w.data -= self.hparams.lr * w.grad.data
                w.grad.data.zero_()
        return loss  # the course prints the loss of the epoch's last sample

    def predict_step(self, batch: tuple[torch.Tensor]) -> dict[str, torch.Tensor]:
        (x,) = batch
        return {"x": x, "y_pred": self(x)}

    def configure_optimizers(self) -> None:
        return None  # the update is written out in course_step

    def draw_figures(self, folder: Path) -> None:
        figures.plot_loss_history(folder / "loss.png", self.loss_history)
