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

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from datamodules.files import DataError, RemoteFile, course_file_urls, fetch
from datamodules.sampling import SeededShuffle

DIABETES = RemoteFile(
    name="diabetes.csv.gz",
    urls=course_file_urls("diabetes.csv.gz"),
    sha256="398214d0f6b7f4a722f598d8e424f28bc078abbd16ebdeea0f8e264492325aa4",
)


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


def stratified_split(
    labels: torch.Tensor, fractions: tuple[float, ...], seed: int
) -> list[list[int]]:
    """Indices for (train, *held-out parts): each class shuffled with ``seed`` and cut by
    ``fractions``, so every part keeps the file's class balance.

    >>> labels = torch.tensor([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    >>> train, val = stratified_split(labels, (0.5,), seed=0)
    >>> sorted(labels[val].tolist()), len(train)
    ([0, 1, 1, 1, 1], 5)
    """
    generator = torch.Generator().manual_seed(seed)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)].tolist()
        start = 0
        for part, fraction in enumerate(fractions, start=1):
            size = round(fraction * len(members))
            parts[part] += members[start : start + size]
            start += size
        parts[0] += members[start:]
    return [sorted(part) for part in parts]


class DiabetesDataModule(L.LightningDataModule):
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
        for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 <= fraction < 1:
                raise ValueError(f"{name} must be in [0, 1), got {fraction}")
        if val_fraction + test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no "
                "rows to train on; keep their sum below 1"
            )
        if batch_size is not None and batch_size < 1:
            raise ValueError(
                f"batch_size must be at least 1 (or null for full batch), got {batch_size}"
            )
        if num_workers < 0:
            raise ValueError(f"num_workers must be 0 or more, got {num_workers}")
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
        fractions = (self.hparams.val_fraction, self.hparams.test_fraction)
        train, val, test = stratified_split(dataset.y.flatten(), fractions, self.hparams.seed)
        for name, part, fraction in (
            ("validation", val, fractions[0]),
            ("test", test, fractions[1]),
        ):
            if fraction > 0 and not part:
                raise ValueError(
                    f"a {name} fraction of {fraction} of {len(dataset)} rows is an empty split; "
                    "raise it or set it to 0"
                )
        self.train_set, self.val_set, self.test_set = (
            Subset(dataset, part) for part in (train, val, test)
        )

    @property
    def majority_class(self) -> int:
        """The label most frequent in the training split: the baseline always answers it."""
        labels = self.load().y[self.train_set.indices]
        return int(labels.mean() >= 0.5)

    def loader(self, subset: Subset, shuffle: bool) -> DataLoader:
        return DataLoader(
            subset,
            batch_size=self.hparams.batch_size or len(subset),
            sampler=SeededShuffle(len(subset), self.hparams.seed) if shuffle else None,
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader(self.train_set, shuffle=self.hparams.batch_size is not None)

    def val_dataloader(self) -> DataLoader | list:
        return self.loader(self.val_set, shuffle=False) if len(self.val_set) else []

    def test_dataloader(self) -> DataLoader | list:
        return self.loader(self.test_set, shuffle=False) if len(self.test_set) else []

    def predict_dataloader(self) -> DataLoader:
        """The rows of ``predict_file`` (features, or features and a label), else the
        held-out validation rows with their labels (the whole file when none are held out):
        ``predict`` then shows each prediction beside the truth."""
        if not self.hparams.predict_file:
            rows = self.val_set if len(self.val_set) else self.load()
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
