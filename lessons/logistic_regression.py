"""Lesson 6 - logistic regression: lesson 5's linear model squashed by a sigmoid into P(pass).

y_pred = σ(w·x + b) is the probability of passing after x hours of study; the loss is the
binary cross-entropy −[y·log ŷ + (1 − y)·log(1 − ŷ)], summed over the samples as in the course.
Training is lesson 5's loop unchanged, ``epoch loss`` printed every ``print_every`` epochs.
After training the lesson prints w, b and P(pass) at a few hours (the course shows them only
in its plot, drawn here into p_pass.png).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable

from lessons import figures
from lessons.common import inputs_of
from lessons.linear_regression import LinearRegression

#: The hours at which P(pass) is printed after training.
HOURS = (1.0, 2.0, 2.5, 3.0, 4.0)


class LogisticRegression(LinearRegression):
    data_class = "datamodules.toy.ToyDataModule"
    config = "configs/logistic_regression.yaml"

    def __init__(
        self,
        optimizer: OptimizerCallable = torch.optim.SGD,
        course_steps_per_batch: int = 100,
        print_every: int = 100,
    ) -> None:
        super().__init__(optimizer, course_steps_per_batch, print_every)
        self.criterion = torch.nn.BCELoss(reduction="sum")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y_pred = torch.sigmoid(self.linear(x))
        return y_pred

    def on_train_end(self) -> None:
        self.print("w =", self.linear.weight.item())
        self.print("b =", self.linear.bias.item())
        with torch.no_grad():
            p_pass = self(torch.tensor(HOURS, device=self.device).view(-1, 1)).flatten()
        for hours, p in zip(HOURS, p_pass.tolist(), strict=True):
            self.print(f"P(pass) after {hours} hours = {p:.4f}")

    def predict_step(self, batch: Any) -> dict[str, torch.Tensor]:
        hours, _ = inputs_of(batch)  # (hours,) from the datamodule, or a tensor of hours
        return {"hours": hours, "p_pass": self(hours)}

    def draw_figures(self, folder: Path) -> None:
        super().draw_figures(folder)
        x = torch.linspace(0, 10, 200)
        x_t = x.view(200, 1).to(self.device)
        with torch.no_grad():
            y = self(x_t).float().cpu().flatten()
        figures.plot_curves(
            folder / "p_pass.png",
            {"P(pass)": (x, y)},
            "Hours",
            "Probability of Pass",
            hline=0.5,
            grid=True,
        )
