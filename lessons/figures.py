"""The course's figures, drawn with matplotlib's Agg backend straight into PNG files.

Each lesson's ``draw_figures(folder)`` uses these; the CLI calls it once fit ends
(``runner.callbacks.FiguresAtFitEnd``), and a notebook may call it directly.

matplotlib is imported when a figure is drawn, not when a lesson is imported: a run
that draws nothing does not pay for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: A curve of at most this many points marks each one.
MARKED_UP_TO = 30


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(
    path: Path,
    curves: dict[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    hline: float | None = None,
    grid: bool = False,
    log_y: bool = False,
) -> Path:
    """One line per ``label: (xs, ys)``, as the course's ``plt.plot(epoch_list, loss_list)``;
    a curve of few points (one epoch, a short or resumed run) has a marker on each, as a
    single point has no line to show it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=label, marker="o" if len(xs) <= MARKED_UP_TO else None)
    if hline is not None:
        ax.plot(
            [min(min(xs) for xs, _ in curves.values()), max(max(xs) for xs, _ in curves.values())],
            [hline, hline],
            c="r",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    if grid:
        ax.grid()
    if log_y:  # curves that fall by orders of magnitude
        ax.set_yscale("log")
    return _save(fig, path)


def plot_loss_history(path: Path, losses: Sequence[float], ylabel: str = "Loss") -> Path:
    """Loss against course epoch, the figure the course draws after every training loop."""
    return plot_curves(path, {"train": (range(len(losses)), losses)}, "Epoch", ylabel)


def plot_surface(path: Path, xs: Any, ys: Any, zs: Any, labels: tuple[str, str, str]) -> Path:
    """A 3-D surface ``zs[len(ys), len(xs)]`` over the grid of ``xs`` × ``ys``."""
    import numpy as np

    plt = _pyplot()
    fig = plt.figure(figsize=(6, 5))
    ax = fig.add_subplot(projection="3d")
    grid_x, grid_y = np.meshgrid(np.asarray(xs), np.asarray(ys))
    ax.plot_surface(grid_x, grid_y, np.asarray(zs), cmap="rainbow")
    for set_label, label, color in zip(
        (ax.set_xlabel, ax.set_ylabel, ax.set_zlabel), labels, "bgr", strict=True
    ):
        set_label(label, color=color)
    return _save(fig, path)


def plot_confusion_matrix(path: Path, matrix: Any, labels: Sequence[str], title: str) -> Path:
    """Counts of true (rows) against predicted (columns) classes, with the numbers written in."""
    import numpy as np

    plt = _pyplot()
    matrix = np.asarray(matrix)
    size = max(4, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90 if len(labels) > 10 else 0)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for (row, col), count in np.ndenumerate(matrix):
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(col, row, str(count), ha="center", va="center", color=color, fontsize=7)
    return _save(fig, path)


def plot_image_grid(
    path: Path, images: Any, captions: Sequence[str], marked: Sequence[bool], columns: int = 8
) -> Path:
    """Grayscale images ``[N, H, W]`` in a grid, each captioned; marked ones (mistakes) in red."""
    plt = _pyplot()
    rows = math.ceil(len(images) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.35 * rows), squeeze=False)
    for ax in axes.flat[len(images) :]:
        ax.set_axis_off()
    for ax, image, caption, mark in zip(axes.flat, images, captions, marked):
        ax.imshow(image, cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(caption, fontsize=8, color="red" if mark else "black")
        for spine in ax.spines.values():
            spine.set_color("red" if mark else "none")
            spine.set_linewidth(3)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
