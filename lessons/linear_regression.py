"""Lesson 5 - linear regression the PyTorch way: nn.Linear, a loss object, an optimizer.

Every epoch is the course's lines on the full batch: forward → loss → print → zero_grad →
backward → step; ``epoch loss`` is printed every ``print_every`` epochs (1: every epoch, as
the course), and ``w =``, ``b =``, ``y_pred =`` at x = 4 after training. The optimizer comes
from the config (``SGD(lr=0.01)`` as in the course), so the course's exercise - Adagrad, Adam,
Adamax, ASGD, LBFGS, RMSprop, Rprop, SGD - is a flag:
``--model.init_args.optimizer torch.optim.LBFGS`` (``bench/optimizers.py`` draws them all).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable

from lessons import figures
from lessons.base import CourseLesson
from lessons.common import inputs_of


class LinearRegression(CourseLesson):
    data_class = "datamodules.toy.ToyDataModule"
    config = "configs/linear_regression.yaml"

    def __init__(
        self,
        optimizer: OptimizerCallable = torch.optim.SGD,
        course_steps_per_batch: int = 100,
        print_every: int = 100,
    ) -> None:
        super().__init__(course_steps_per_batch, print_every)
        self.save_hyperparameters()
        self.optimizer = optimizer
        self.linear = torch.nn.Linear(1, 1)
        self.criterion = torch.nn.MSELoss(reduction="sum")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y_pred = self.linear(x)
        return y_pred

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # The course's optimizer = torch.optim.SGD(model.parameters(), lr=0.01), from the config.
        return self.with_found_lr(self.optimizer(self.parameters()))

    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """The body of the course's ``for epoch in range(1000):`` (base.py runs the loop)."""
        x_data, y_data = batch
        y_pred = self(x_data)
        loss = self.compute_loss(y_pred, y_data)  # criterion(y_pred, y_data), in float32
        if self.printing:
            self.print(self.course_epoch, loss.item())

        optimizer = self.optimizers()  # Lightning's handle on configure_optimizers' optimizer
        optimizer.zero_grad()
        self.manual_backward(loss)  # Lightning's loss.backward(): scales a float16 loss
        optimizer.step(self.lbfgs_closure(batch))  # None for every optimizer but LBFGS
        return loss

    def lbfgs_closure(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Callable | None:
        """LBFGS evaluates the loss several times per step: the lines above as a function."""
        optimizer = self.optimizers()
        if not isinstance(optimizer.optimizer, torch.optim.LBFGS):
            return None

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = self.compute_loss(self(batch[0]), batch[1])
            self.manual_backward(loss)
            return loss

        return closure

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.log("w", self.linear.weight.squeeze())  # into metrics.csv
        self.log("b", self.linear.bias.squeeze())

    def on_train_end(self) -> None:
        self.print("w =", self.linear.weight.item())
        self.print("b =", self.linear.bias.item())
        x_test = torch.tensor([4.0], device=self.device)
        y_test = self(x_test)
        self.print("y_pred =", y_test.data)

    def predict_step(self, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = inputs_of(batch)  # (x,) from the datamodule, or a plain tensor of x
        return {"x": x, "y_pred": self(x)}

    def draw_figures(self, folder: Path) -> None:
        figures.plot_loss_history(folder / "loss.png", self.loss_history)
