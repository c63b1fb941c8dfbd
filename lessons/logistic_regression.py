"""Lesson 6 - logistic regression: lesson 5's linear model squashed by a sigmoid into P(pass).

y_pred = σ(w·x + b) is the probability of passing after x hours of study; the loss is the
binary cross-entropy −[y·log ŷ + (1 − y)·log(1 − ŷ)], summed over the samples as in the course.
Training is lesson 5's loop unchanged.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.cli import OptimizerCallable

from lessons import figures
from lessons.linear_regression import LinearRegression


class LogisticRegression(LinearRegression):
    def __init__(self, optimizer: OptimizerCallable = torch.optim.SGD, steps_per_batch: int = 100):
        super().__init__(optimizer, steps_per_batch)
        self.criterion = torch.nn.BCELoss(reduction="sum")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x))

    def predict_step(self, batch: tuple[torch.Tensor]) -> dict[str, torch.Tensor]:
        (hours,) = batch
        return {"hours": hours, "p_pass": self(hours)}

    def draw_figures(self, folder: Path) -> None:
        super().draw_figures(folder)
        hours = torch.linspace(0, 10, 200, device=self.device).view(200, 1)
        with torch.no_grad():
            p_pass = self(hours).float().cpu().flatten()
        figures.plot_curves(
            folder / "p_pass.png",
            {"P(pass)": (hours.cpu().flatten(), p_pass)},
            "Hours",
            "Probability of Pass",
            hline=0.5,
            grid=True,
        )
