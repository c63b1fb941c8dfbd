"""Lesson 2 - linear model by exhaustive search: no gradients, just try every w.

For y = w·x the course evaluates the MSE over the data for each w in arange(0, 4.1, 0.1)
and plots MSE against w. The exercise adds a bias, y = w·x + b, and draws the MSE over the
(w, b) grid as a 3-D surface. Here each grid is evaluated at once, by broadcasting the grid
against the data, and ``fit`` is a single step.

>>> x, y = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 5.0, 7.0])
>>> w, b = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0])
>>> mse_grid(x, y, w, b)  # rows: b, columns: w
tensor([[9.6667, 1.0000],
        [4.6667, 0.0000]])
"""

from __future__ import annotations

from pathlib import Path

import torch

from lessons import figures
from lessons.base import CourseLesson


def mse_grid(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MSE of y_pred = w·x + b for every (b, w) pair: shape (len(b), len(w))."""
    y_pred = w[None, :, None] * x + b[:, None, None]  # (b, w, sample)
    return ((y_pred - y) ** 2).mean(dim=-1)


class LinearSearch(CourseLesson):
    float32_only = True  # a search over a grid: no reason to lose digits to half precision
    distributable = False  # no optimizer: nothing to average over processes

    def __init__(
        self,
        w_range: tuple[float, float, float] = (0.0, 4.1, 0.1),
        b_range: tuple[float, float, float] | None = None,
    ) -> None:
        """``w_range`` and ``b_range`` are ``arange(start, stop, step)``; no ``b_range``
        searches y = w·x alone, as in the lesson; with one, the exercise y = w·x + b."""
        super().__init__()
        self.save_hyperparameters()
        self.w_grid = torch.arange(*w_range, dtype=torch.float64).float()
        self.b_grid = torch.arange(*b_range, dtype=torch.float64).float() if b_range else None
        self.mse: torch.Tensor | None = None

    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = (t.flatten().float() for t in batch)
        b_grid = self.b_grid if self.b_grid is not None else torch.zeros(1)
        self.mse = mse_grid(x, y, self.w_grid.to(x), b_grid.to(x))
        best = int(self.mse.argmin())
        best_b, best_w = divmod(best, len(self.w_grid))
        self.log("best_w", self.w_grid[best_w])
        if self.b_grid is not None:
            self.log("best_b", self.b_grid[best_b])
        best_mse = self.mse.min()
        self.log("best_mse", best_mse)
        return best_mse

    def configure_optimizers(self) -> None:
        return None  # nothing to optimise: the search tries every candidate

    def draw_figures(self, folder: Path) -> None:
        if self.mse is None:
            return
        mse = self.mse.cpu()
        if self.b_grid is None:  # the lesson: MSE against w, a parabola with its minimum at 2
            figures.plot_curves(folder / "mse_w.png", {"MSE": (self.w_grid, mse[0])}, "w", "Loss")
            rows = [(float(w), float(m)) for w, m in zip(self.w_grid, mse[0], strict=True)]
            header = "w,mse"
        else:  # the exercise: the MSE surface over (w, b), its minimum at (2, 1)
            figures.plot_surface(
                folder / "mse_surface.png", self.w_grid, self.b_grid, mse, ("W", "B", "MSE")
            )
            rows = [
                (float(w), float(b), float(mse[j, i]))
                for i, w in enumerate(self.w_grid)
                for j, b in enumerate(self.b_grid)
            ]
            header = "w,b,mse"
        lines = [header] + [",".join(f"{v:.4f}" for v in row) for row in rows]
        (folder / "mse_grid.csv").write_text("\n".join(lines) + "\n")
