"""Lesson 5 - linear regression the PyTorch way: nn.Linear, a loss object, an optimizer.

Every epoch is the course's four lines on the full batch:
forward → loss → zero_grad → backward → step. The optimizer comes from the config
(``SGD(lr=0.01)`` as in the course), so another one is a change of YAML, not of code.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.cli import OptimizerCallable

from lessons import figures
from lessons.base import CourseLesson


class LinearRegression(CourseLesson):
    def __init__(self, optimizer: OptimizerCallable = torch.optim.SGD, steps_per_batch: int = 100):
        super().__init__(steps_per_batch)
        self.save_hyperparameters()
        self.optimizer = optimizer
        self.linear = torch.nn.Linear(1, 1)
        self.criterion = torch.nn.MSELoss(reduction="sum")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)

    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        loss = self.compute_loss(self(x), y)
        self.optimize(loss)
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("w", self.linear.weight.squeeze())
        self.log("b", self.linear.bias.squeeze())

    def predict_step(self, batch: tuple[torch.Tensor]) -> dict[str, torch.Tensor]:
        (x,) = batch
        return {"x": x, "y_pred": self(x)}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())

    def draw_figures(self, folder: Path) -> None:
        figures.plot_loss_history(folder / "loss.png", self.loss_history)
