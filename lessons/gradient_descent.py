"""Lesson 3 - gradient descent by hand: the gradient is written out, no autograd.

Model y = w·x, cost = MSE. Batch gradient descent uses the mean gradient over all samples,
    grad = mean(2·x·(x·w − y)),   w ← w − lr·grad,
once per epoch; stochastic gradient descent (``mode="sgd"``) updates after every sample.
The course's lines are printed every ``print_every`` epochs (1: every epoch, as the course),
the gradient of each sample too with ``print_grads`` (SGD). The course computes in Python
floats, so the lesson computes in float64 and prints the course's digits (Apple's MPS has no
float64: run this lesson on the CPU there).

>>> lesson = GradientDescent(mode="batch")
>>> x, y = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[2.0], [4.0], [6.0]])
>>> lesson.course_step((x, y))  # the cost before the update, with w = 1
tensor(4.6667, dtype=torch.float64)
>>> round(lesson.w.item(), 4)  # w + 0.01 · mean(2·x·(y − x·w)) = 1 + 0.01 · 28/3
1.0933
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch

from lessons import figures
from lessons.base import CourseLesson
from lessons.common import inputs_of


class GradientDescent(CourseLesson):
    data_class = "datamodules.toy.ToyDataModule"
    config = "configs/gradient_descent_batch.yaml"
    no_mixed_precision = True  # no autocast: the lesson is the hand-written arithmetic, in float64
    updates_by_hand = True  # the update is written out in course_step

    def __init__(
        self,
        mode: Literal["batch", "sgd"] = "batch",
        lr: float = 0.01,
        initial_w: float = 1.0,
        course_steps_per_batch: int = 100,
        print_every: int = 10,
        print_grads: bool = False,
    ) -> None:
        super().__init__(course_steps_per_batch, print_every)
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.save_hyperparameters()
        # The model's one parameter, updated by hand in course_step (no autograd, no optimizer).
        self.w = torch.nn.Parameter(torch.tensor(initial_w, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((self(x) - y) ** 2).mean()  # one sample: its loss; all of them: the cost

    def gradient(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (2 * x * (x * self.w - y)).mean()

    def on_train_start(self) -> None:
        super().on_train_start()
        if not self.loss_history:  # a resumed run has trained already
            self.print("Predict(before training)", 4, self(torch.tensor(4.0)).item())

    @torch.no_grad()
    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x_data, y_data = (t.double() for t in batch)  # the course's Python floats
        lr, epoch, w = self.hparams.lr, self.course_epoch, self.w
        if self.hparams.mode == "batch":
            cost_val = self.loss(x_data, y_data)
            grad_val = self.gradient(x_data, y_data)
            w -= lr * grad_val
            if self.printing:
                self.print("Epoch:", epoch, "w=", w.item(), "loss", cost_val.item())
            return cost_val
        for x, y in zip(x_data, y_data, strict=True):  # SGD: one update per sample
            grad = self.gradient(x, y)
            w -= lr * grad
            if self.printing and self.hparams.print_grads:
                self.print("\tgrad:", x.item(), y.item(), grad.item())
            l = self.loss(x, y)  # noqa: E741 (the course's name)
        if self.printing:
            self.print("progress:", epoch, "w=", w.item(), "loss=", l.item())
        return l

    def on_train_end(self) -> None:
        self.print("Predict(after training)", 4, self(torch.tensor(4.0)).item())

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.log("w", self.w)  # into metrics.csv

    def predict_step(self, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = inputs_of(batch)  # (x,) from the datamodule, or a plain tensor of x
        return {"x": x, "y_pred": self(x)}

    def configure_optimizers(self) -> list:
        return []  # no optimizer: the update is written out in course_step

    def draw_figures(self, folder: Path) -> None:
        ylabel = "MSE" if self.hparams.mode == "batch" else "Loss"
        figures.plot_loss_history(folder / "loss.png", self.loss_history, ylabel)
