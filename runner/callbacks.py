"""Callbacks the CLI adds to every run: figures at fit end, the prediction writer."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter, Callback

from lessons.common import print_above_the_bar
from runner.loggers import add_figures_to_tensorboard


class FiguresAtFitEnd(Callback):
    """The lesson's ``draw_figures(folder)`` once fit ends, by the process of global rank 0,
    into the run folder (not under ``fast_dev_run``, which has no run folder); the PNG files
    it writes also go to TensorBoard, as images of the last step."""

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        folder = trainer.log_dir  # asked on every rank: under DDP it is a collective call
        draw_figures = getattr(pl_module, "draw_figures", None)
        if trainer.is_global_zero and folder and not trainer.fast_dev_run and draw_figures:
            before = {path: path.stat().st_mtime_ns for path in Path(folder).glob("*.png")}
            draw_figures(Path(folder))
            drawn = [
                path
                for path in sorted(Path(folder).glob("*.png"))
                if before.get(path) != path.stat().st_mtime_ns
            ]
            add_figures_to_tensorboard(trainer.logger, drawn, trainer.global_step)


class PredictionWriter(BasePredictionWriter):
    """Writes what ``predict_step`` returns - a dict of column → tensor or list of strings,
    one entry per sample - as one CSV, and shows its first rows.

    A 2-D column (class probabilities) becomes one CSV column per class: ``p_0``, ``p_1`` ….
    The file goes to ``output``, by default ``predictions.csv`` in the run folder, and an
    existing file is never replaced unless ``overwrite`` is set. The terminal gets a preview
    of ``preview_rows`` rows and where the rest is.
    """

    def __init__(
        self, output: str | None = None, overwrite: bool = False, preview_rows: int = 5
    ) -> None:
        super().__init__(write_interval="epoch")
        self.output = output
        self.overwrite = overwrite
        self.preview_rows = preview_rows

    def target(self, trainer: L.Trainer) -> Path:
        return (
            Path(self.output) if self.output else Path(trainer.log_dir or ".") / "predictions.csv"
        )

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.refuse_to_overwrite(self.target(trainer))

    def refuse_to_overwrite(self, path: Path) -> None:
        if path.exists() and not self.overwrite:
            raise FileExistsError(
                f"{path} exists; choose another --predictions.output or pass "
                f"--predictions.overwrite true to replace it"
            )

    def write_on_epoch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        path = self.target(trainer)  # on every rank: under DDP log_dir is a collective call
        rows = gather_rows(trainer, predictions, batch_indices)
        if not trainer.is_global_zero or not rows:
            return
        table = [as_cells(row) for row in rows]
        header = list(table[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        with open(partial, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows([cells.values() for cells in table])
        partial.replace(path)  # a reader never sees half a file
        shown = preview(header, [list(cells.values()) for cells in table[: self.preview_rows]])
        more = len(table) - self.preview_rows
        rest = f"… and {more} more rows; all {len(table)} in {path}" if more > 0 else ""
        print_above_the_bar(trainer, shown + (f"\n{rest}" if rest else ""))
        print_above_the_bar(trainer, f"predictions written to {path}")


def as_cells(row: dict[str, Any]) -> dict[str, str]:
    """One CSV row: text as it is, a number in 6 significant digits, a vector one column each."""
    cells: dict[str, str] = {}
    for name, value in row.items():
        if isinstance(value, str):
            cells[name] = value
        elif value.dim() > 0 and value.numel() > 1:  # class probabilities: one column each
            cells.update({f"{name}_{i}": f"{v:.6g}" for i, v in enumerate(value.tolist())})
        else:
            cells[name] = f"{value.item():.6g}"
    return cells


def preview(header: list[str], rows: list[list[str]]) -> str:
    """The rows as an aligned table, at most 8 columns (a wide one says how many more).

    >>> print(preview(["name", "p"], [["Abe", "0.5"], ["Nakamura", "0.91"]]))
    name      p
    Abe       0.5
    Nakamura  0.91
    """
    shown = 8
    columns = [[name, *(row[i] for row in rows)] for i, name in enumerate(header[:shown])]
    widths = [max(len(cell) for cell in column) for column in columns]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
        for line in zip(*columns)
    ]
    if len(header) > shown:
        lines[0] += f"  (+{len(header) - shown} columns)"
    return "\n".join(lines)


def gather_rows(trainer: L.Trainer, predictions: Any, batch_indices: Any) -> list[dict]:
    """One dict per predicted sample, in data-set order, collected from every process.

    Under DDP each process predicts its own shard (the sampler pads it to equal sizes), so the
    rows are gathered, sorted by their index in the data set and the padding dropped.
    """
    if batch_indices and len(batch_indices) == 1 and len(batch_indices[0]) == len(predictions):
        batch_indices = batch_indices[0]  # one dataloader: its list of per-batch indices
    rows: dict[int, dict[str, Any]] = {}
    for batch, indices in zip(predictions, batch_indices or [None] * len(predictions)):
        if not batch:
            continue
        size = len(next(iter(batch.values())))
        if not indices:  # a loader Lightning cannot track: number the rows in order
            indices = range(len(rows), len(rows) + size)
        for position, index in enumerate(indices):
            rows[int(index)] = {
                name: value[position]
                if isinstance(value, list)
                else value[position].detach().float().cpu()
                for name, value in batch.items()
            }
    if trainer.world_size > 1:
        everyone: list[Any] = [None] * trainer.world_size
        torch.distributed.all_gather_object(everyone, rows)
        rows = {index: row for shard in everyone for index, row in shard.items()}
    return [rows[index] for index in sorted(rows)]
