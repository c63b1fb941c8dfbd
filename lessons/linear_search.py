"""Lesson 2 - linear model by exhaustive search: no gradients, just try every w.

For y = w·x the course evaluates the MSE over the data for each w in arange(0, 4.1, 0.1)
and plots MSE against w. The exercise adds a bias, y = w·x + b, and draws the MSE over the
(w, b) grid as a 3-D surface. The search is the course's loop, in the course's NumPy and
Python floats, and ``fit`` is a single step. It prints the course's lines for every
``print_every``-th point of the grid (1: every point, as the course), then the best point;
``predict`` gives y = w·x (+ b) at the best point for the datamodule's ``predict_x`` (x = 4).

>>> lesson = LinearSearch(w_range=(1.0, 2.1, 1.0), b_range=(0.0, 1.1, 1.0))
>>> x, y = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[3.0], [5.0], [7.0]])
>>> lesson.course_step((x, y))  # the least MSE over the grid, at w = 2, b = 1
tensor(0., dtype=torch.float64)
>>> [round(float(mse), 4) for mse in lesson.mse_list]  # w = 1: b = 0, 1; then w = 2: b = 0, 1
[9.6667, 4.6667, 1.0, 0.0]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lessons import figures
from lessons.base import CourseLesson
from lessons.common import inputs_of


class LinearSearch(CourseLesson):
    data_class = "datamodules.toy.ToyDataModule"
    config = "configs/linear_search.yaml"
    updates_by_hand = True  # no optimizer: the search tries every candidate

    def __init__(
        self,
        w_range: tuple[float, float, float] = (0.0, 4.1, 0.1),
        b_range: tuple[float, float, float] | None = None,
        print_every: int = 10,
    ) -> None:
        """``w_range`` and ``b_range`` are ``np.arange(start, stop, step)``; no ``b_range``
        searches y = w·x alone, as in the lesson; with one, the exercise y = w·x + b.
        ``print_every``: grid points between the printed ones (0: none)."""
        super().__init__(print_every=print_every)
        self.save_hyperparameters()
        self.w_list: list[float] = []
        self.b_list: list[float] = []
        self.mse_list: list[float] = []
        # The best (w, b) found, kept in checkpoints: predict draws y = w·x + b with it.
        self.register_buffer("best", torch.zeros(2, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The course's ``forward(x)`` with the best w (and b) of the search."""
        w, b = self.best.to(x.dtype)
        return x * w + b

    def predict_step(self, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = inputs_of(batch)  # the datamodule's predict_x (x = 4), or a tensor of x
        return {"x": x, "y_pred": self(x)}

    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x_data, y_data = (t.flatten().tolist() for t in batch)
        exercise = self.hparams.b_range is not None
        w_values = np.arange(*self.hparams.w_range)
        b_values = np.arange(*self.hparams.b_range) if exercise else [0.0]
        last = len(w_values) * len(b_values) - 1
        self.w_list, self.b_list, self.mse_list = [], [], []
        for w in w_values:
            for b in b_values:
                point = len(self.mse_list)
                show = self.printing and (point % self.print_every == 0 or point == last)
                if show:
                    self.print("w=", w)
                    if exercise:
                        self.print("b=", b)
                l_sum = 0
                for x_val, y_val in zip(x_data, y_data, strict=True):
                    y_pred_val = x_val * w + b  # the course's forward(x_val)
                    loss_val = (y_pred_val - y_val) * (y_pred_val - y_val)  # loss(x_val, y_val)
                    l_sum += loss_val
                    if show:
                        self.print("\t", x_val, y_val, y_pred_val, loss_val)
                if show:
                    self.print("MSE=", l_sum / len(x_data))
                self.w_list.append(w)
                self.b_list.append(b)
                self.mse_list.append(l_sum / len(x_data))
        best = int(np.argmin(self.mse_list))
        best_w, best_b, best_mse = self.w_list[best], self.b_list[best], self.mse_list[best]
        self.best = torch.tensor([best_w, best_b], dtype=torch.float64, device=self.best.device)
        if self.printing:  # not the course's: it reads the minimum off its plot
            self.print(
                "least MSE=", best_mse, "at w=", best_w, *(("b=", best_b) if exercise else ())
            )
        self.log("best_w", best_w)  # into metrics.csv
        if exercise:
            self.log("best_b", best_b)
        self.log("best_mse", best_mse)
        return torch.tensor(best_mse)

    def configure_optimizers(self) -> list:
        return []  # no optimizer: the search tries every candidate

    def draw_figures(self, folder: Path) -> None:
        if not self.mse_list:
            return
        # The lesson: MSE against w, a parabola with its minimum at 2.
        if self.hparams.b_range is None:
            figures.plot_curves(
                folder / "mse_w.png", {"MSE": (self.w_list, self.mse_list)}, "w", "Loss"
            )
            rows = zip(self.w_list, self.mse_list, strict=True)
            header = "w,mse"
        else:  # the exercise: the MSE surface over (w, b), its minimum at (2, 1)
            w_grid, b_grid = np.unique(self.w_list), np.unique(self.b_list)
            # The list runs over b inside w; the notes' reshape(21, 31) mixes up the two axes.
            mse = np.array(self.mse_list).reshape(len(w_grid), len(b_grid)).T
            figures.plot_surface(folder / "mse_surface.png", w_grid, b_grid, mse, ("W", "B", "MSE"))
            rows = zip(self.w_list, self.b_list, self.mse_list, strict=True)
            header = "w,b,mse"
        lines = [header] + [",".join(f"{v:.4f}" for v in row) for row in rows]
        (folder / "mse_grid.csv").write_text("\n".join(lines) + "\n")
