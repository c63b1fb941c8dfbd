"""Lesson 3 - gradient descent by hand: the gradient is written out, no autograd.

Model y = w·x, cost = MSE. Batch gradient descent uses the mean gradient over all samples,
    grad = mean(2·x·(x·w − y)),   w ← w − lr·grad,
once per epoch; stochastic gradient descent (``mode="sgd"``) updates after every sample.

>>> lesson = GradientDescent(mode="batch")
>>> x, y = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[2.0], [4.0], [6.0]])
>>> lesson.course_step((x, y))  # the cost before the update, with w = 1
tensor(4.6667)
>>> round(lesson.w.item(), 4)  # w + 0.01 · mean(2·x·(y − x·w)) = 1 + 0.01 · 28/3
1.0933
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from lessons import figures
from lessons.base import CourseLesson


class GradientDescent(CourseLesson):
    float32_only = True  # the lesson is the hand-written arithmetic: keep every digit of it
    distributable = False  # no optimizer: nothing to average over processes

    def __init__(
        self,
        mode: Literal["batch", "sgd"] = "batch",
        lr: float = 0.01,
        initial_w: float = 1.0,
        steps_per_batch: int = 100,
    ) -> None:
        super().__init__(steps_per_batch)
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.save_hyperparameters()
        # A parameter so that it is saved and moved with the model; autograd never sees it.
        self.w = torch.nn.Parameter(torch.tensor(initial_w), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w

    @torch.no_grad()
    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        lr = self.hparams.lr
        if self.hparams.mode == "batch":
            cost = ((self(x) - y) ** 2).mean()
            gradient = (2 * x * (x * self.w - y)).mean()
            self.w -= lr * gradient
            return cost
        for x_i, y_i in zip(x, y, strict=True):  # SGD: one update per sample
            gradient = 2 * x_i * (x_i * self.w - y_i)
            self.w -= lr * gradient.squeeze()
            loss = ((self(x_i) - y_i) ** 2).squeeze()  # the course prints the last sample's loss
        return loss

    def predict_step(self, batch: tuple[torch.Tensor]) -> dict[str, torch.Tensor]:
        (x,) = batch
        return {"x": x, "y_pred": self(x)}

    def configure_optimizers(self) -> None:
        return None  # the update is written out in course_step

    def draw_figures(self, folder: Path) -> None:
        ylabel = "MSE" if self.hparams.mode == "batch" else "Loss"
        figures.plot_loss_history(folder / "loss.png", self.loss_history, ylabel)
