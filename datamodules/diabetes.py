"""Lessons 7 and 8: the diabetes CSV through a ``Dataset``, full batch or mini-batch.

``DiabetesDataset`` is the course's: ``__init__`` loads the file, ``__getitem__`` returns one
(features, label) row, ``__len__`` the number of rows. ``DiabetesDataModule`` splits it
(stratified, seeded) and serves it whole (lesson 7, ``batch_size: null``) or in shuffled
mini-batches (lesson 8, ``batch_size: 32``). Any CSV of the same shape works: N feature
columns, then a 0/1 label, no header, ``.csv`` or ``.csv.gz``.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from datamodules.files import DataError, RemoteFile, course_file_urls, fetch
from datamodules.tables import TableDataModule, check_settings, stratified_split

DIABETES = RemoteFile(
    name="diabetes.csv.gz",
    urls=course_file_urls("diabetes.csv.gz"),
    sha256="398214d0f6b7f4a722f598d8e424f28bc078abbd16ebdeea0f8e264492325aa4",
)
SPLITS = ("train", "val", "test")


def read_text(path: Path) -> str:
    """The file's text, gunzipped when it is gzip; a broken file is a one-line DataError."""
    try:
        raw = path.read_bytes()
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; check the path given as data.file") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(
            f"{path}: truncated or corrupt gzip file ({error}); download or copy it again"
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file; give a CSV of numbers") from None


def read_rows(path: Path, columns: int | None = None) -> torch.Tensor:
    """Parse a CSV of numbers into a float32 tensor, checking every cell.

    ``columns`` is the width every row must have (default: the first row's).
    Errors name the file, the line and the problem.
    """
    rows: list[list[float]] = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        columns = columns or len(cells)
        if len(cells) != columns:
            raise DataError(f"{path}:{number}: expected {columns} columns, found {len(cells)}")
        try:
            values = [float(cell) for cell in cells]
        except ValueError:
            bad = next(c for c in cells if not _is_number(c))
            raise DataError(f"{path}:{number}: {bad.strip()!r} is not a number") from None
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"{path}:{number}: missing or non-finite value (NaN or inf)")
        rows.append(values)
    if not rows:
        raise DataError(f"{path}: the file has no rows; give a CSV with one sample per line")
    return torch.tensor(rows, dtype=torch.float32)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


class DiabetesDataset(Dataset):
    """The rows of a labelled CSV: features ``x[i]`` (float32) and label ``y[i]`` (0. or 1.)."""

    def __init__(self, path: Path) -> None:
        table = read_rows(path)
        if table.shape[1] < 2:
            raise DataError(f"{path}: needs feature columns and a label column, found 1 column")
        self.x, self.y = table[:, :-1], table[:, -1:]
        bad = ((self.y != 0) & (self.y != 1)).flatten().nonzero()
        if len(bad):
            line = int(bad[0]) + 1
            raise DataError(f"{path}:{line}: label {self.y[bad[0]].item():g} is not 0 or 1")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]

    def __len__(self) -> int:
        return len(self.y)


class DiabetesDataModule(TableDataModule):
    def __init__(
        self,
        data_dir: str | None = None,
        file: str | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.0,
        seed: int = 0,
        batch_size: int | None = None,
        num_workers: int = 0,
        predict_file: str | None = None,
    ) -> None:
        """``file`` is any labelled CSV (default: the course's diabetes.csv.gz, found or
        downloaded in ``data_dir``); ``batch_size: null`` trains on the whole training split
        at once (lesson 7); ``predict_file`` holds rows to predict (default: the held-out ones)."""
        super().__init__()
        check_settings(
            batch_size,
            num_workers,
            full_batch=True,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
        )
        self.save_hyperparameters()
        self.dataset: DiabetesDataset | None = None

    def prepare_data(self) -> None:
        self.load()  # download and check the file before a run folder is made

    def load(self) -> DiabetesDataset:
        if self.dataset is None:
            file = self.hparams.file
            path = Path(file) if file else fetch(DIABETES, self.hparams.data_dir)
            self.dataset = DiabetesDataset(path)
        return self.dataset

    @property
    def num_features(self) -> int:
        return self.load().x.shape[1]

    def setup(self, stage: str) -> None:
        dataset = self.load()
        fractions = {
            "val_fraction": self.hparams.val_fraction,
            "test_fraction": self.hparams.test_fraction,
        }
        parts = stratified_split(dataset.y.flatten(), fractions, self.hparams.seed)
        self.splits = {
            name: Subset(dataset, part) for name, part in zip(SPLITS, parts, strict=True)
        }
        self.train_set, self.val_set, self.test_set = self.splits.values()  # the notebooks read

    def predict_dataloader(self) -> DataLoader:
        """The rows of ``predict_file`` (features, or features and a label), else the
        held-out validation rows with their labels (the whole file when none are held out):
        ``predict`` then shows each prediction beside the truth."""
        if not self.hparams.predict_file:
            rows = self.splits["val"] or self.load()
            return DataLoader(rows, batch_size=len(rows))
        path = Path(self.hparams.predict_file)
        features = self.num_features
        table = read_rows(path)
        if table.shape[1] not in (features, features + 1):
            raise DataError(
                f"{path}: rows have {table.shape[1]} columns; give {features} features per row "
                f"(a {features + 1}th column is read as the label)"
            )
        if table.shape[1] == features:
            return DataLoader(TensorDataset(table), batch_size=len(table))
        return DataLoader(TensorDataset(table[:, :-1], table[:, -1:]), batch_size=len(table))
