"""Lecture 8's homework: Kaggle's Titanic, who survived, from the competition's own files.

Kaggle's ``train.csv`` has a header and the columns PassengerId, Survived, Pclass, Name, Sex,
Age, SibSp, Parch, Ticket, Fare, Cabin, Embarked (891 passengers); ``test.csv`` the same
without Survived (418). Download both from https://www.kaggle.com/c/titanic/data into
``data_dir`` (default ``$LESSONS_DATA_DIR/titanic/``, else ``./data/titanic/``).

As lecture 8 reads diabetes through a ``Dataset``, a passenger becomes 9 numbers, the features
the lesson chooses: Pclass, Sex (1 female, 0 male), Age, SibSp, Parch, Fare and Embarked as
three 0/1 columns (C, Q, S). Name, Ticket and Cabin are left out. A missing Age or Fare is
filled with the median of ``train.csv``, a missing Embarked with its most common port; then
Pclass, Age, SibSp, Parch and Fare are standardised with the mean and spread of
``train.csv``, so that one learning rate suits them all. The test file is filled and scaled
with the same numbers from ``train.csv``, so ``predict`` reads both files.

The test file has no labels: a seeded, stratified ``val_fraction`` of ``train.csv`` is held
out for validation; ``predict`` reads ``test.csv`` and the lesson returns Kaggle's
submission, PassengerId and Survived (0 or 1).

>>> rows = [{"Pclass": "3", "Sex": "male", "Age": "", "SibSp": "1", "Parch": "0",
...          "Fare": "7.25", "Embarked": "S"}]
>>> raw_features(Path("train.csv"), [(2, rows[0])]).tolist()
[[3.0, 0.0, nan, 1.0, 0.0, 7.25, 0.0, 0.0, 1.0]]
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset

from datamodules.files import DataError
from datamodules.kaggle import Competition, number, read_table
from datamodules.tables import TableDataModule, check_settings, stratified_split

TITANIC = Competition("titanic", "https://www.kaggle.com/c/titanic/data", ("train.csv", "test.csv"))
TEST_COLUMNS = (
    "PassengerId", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Ticket", "Fare", "Cabin",
    "Embarked",
)  # fmt: skip
TRAIN_COLUMNS = (*TEST_COLUMNS[:1], "Survived", *TEST_COLUMNS[1:])
PORTS = ("C", "Q", "S")  # Cherbourg, Queenstown, Southampton
#: The features a passenger becomes, in order.
FEATURES = ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", *(f"Embarked_{p}" for p in PORTS))
AGE, FARE = FEATURES.index("Age"), FEATURES.index("Fare")
SCALED = [FEATURES.index(name) for name in ("Pclass", "Age", "SibSp", "Parch", "Fare")]


def raw_features(path: Path, rows: list[tuple[int, dict[str, str]]]) -> torch.Tensor:
    """[N, 9] features as the file gives them; NaN where Age or Fare is missing, and no port
    (three zeros) where Embarked is."""
    table = []
    for line, row in rows:
        sex = row["Sex"].strip().lower()
        if sex not in ("male", "female"):
            raise DataError(f"{path}:{line}: Sex {row['Sex']!r} is neither male nor female")
        port = row["Embarked"].strip()
        if port and port not in PORTS:
            raise DataError(f"{path}:{line}: Embarked {port!r} is none of C, Q, S")
        age, fare = (number(path, line, row, name, required=False) for name in ("Age", "Fare"))
        table.append(
            [
                number(path, line, row, "Pclass"),
                float(sex == "female"),
                float("nan") if age is None else age,
                number(path, line, row, "SibSp"),
                number(path, line, row, "Parch"),
                float("nan") if fare is None else fare,
                *(float(port == p) for p in PORTS),
            ]
        )
    return torch.tensor(table, dtype=torch.float32)


class FillAndScale:
    """What ``train.csv`` teaches about filling and scaling: the medians of Age and Fare, the
    most common port, and the mean and spread of the scaled columns after filling."""

    def __init__(self, train: torch.Tensor) -> None:
        # (0 for a column with no value at all, where the median is NaN)
        self.age = float(train[:, AGE].nanmedian().nan_to_num(0.0))
        self.fare = float(train[:, FARE].nanmedian().nan_to_num(0.0))
        ports = train[:, -len(PORTS) :]
        known = ports[ports.sum(dim=1) > 0]
        self.port = int(known.sum(dim=0).argmax()) if len(known) else PORTS.index("S")
        filled = self.fill(train)
        self.mean = filled[:, SCALED].mean(dim=0)
        self.std = filled[:, SCALED].std(dim=0).nan_to_num(1.0).clamp(min=1e-6)

    def fill(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x[:, AGE] = x[:, AGE].nan_to_num(self.age)
        x[:, FARE] = x[:, FARE].nan_to_num(self.fare)
        ports = x[:, -len(PORTS) :]
        ports[ports.sum(dim=1) == 0, self.port] = 1.0
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Filled and scaled features."""
        x = self.fill(x)
        x[:, SCALED] = (x[:, SCALED] - self.mean) / self.std
        return x


class TitanicDataset(Dataset):
    """Passengers of a competition file: features ``x[i]``, ``PassengerId`` ``ids[i]`` and,
    for ``train.csv``, the label ``y[i]`` (0. or 1.), as lecture 8's ``DiabetesDataset``."""

    def __init__(self, path: Path, labelled: bool) -> None:
        rows = read_table(path, TRAIN_COLUMNS if labelled else TEST_COLUMNS)
        self.raw = raw_features(path, rows)
        self.ids = torch.tensor([int(number(path, line, row, "PassengerId")) for line, row in rows])
        self.x = self.raw
        self.y = torch.zeros(len(rows), 1)
        if labelled:
            for i, (line, row) in enumerate(rows):
                if row["Survived"].strip() not in ("0", "1"):
                    raise DataError(f"{path}:{line}: Survived {row['Survived']!r} is not 0 or 1")
                self.y[i] = float(row["Survived"])

    def prepare(self, fill_and_scale: FillAndScale) -> None:
        self.x = fill_and_scale(self.raw)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]

    def __len__(self) -> int:
        return len(self.y)


class TitanicDataModule(TableDataModule):
    no_test_labels = (
        "Kaggle's test.csv has no Survived column to score; `validate` scores the "
        "held-out passengers of train.csv, `predict` writes the submission"
    )

    def __init__(
        self,
        data_dir: str | None = None,
        val_fraction: float = 0.2,
        seed: int = 0,
        batch_size: int | None = 32,
        num_workers: int = 0,
    ) -> None:
        """``data_dir``: the folder with Kaggle's train.csv and test.csv (default
        ``$LESSONS_DATA_DIR/titanic``, else ``./data/titanic``); ``val_fraction``: the
        passengers of train.csv held out (stratified, drawn with ``seed``) for validation;
        ``batch_size: null`` trains on the whole training split at once (lecture 7)."""
        super().__init__()
        check_settings(batch_size, num_workers, full_batch=True, val_fraction=val_fraction)
        self.save_hyperparameters()
        self.dataset: TitanicDataset | None = None

    def prepare_data(self) -> None:
        """Check both files now, before the Trainer makes a run folder."""
        for name in TITANIC.files:
            TITANIC.file(self.hparams.data_dir, name)
        self.load()

    def load(self) -> TitanicDataset:
        """train.csv, filled and scaled by what it teaches itself."""
        if self.dataset is None:
            dataset = TitanicDataset(TITANIC.file(self.hparams.data_dir, "train.csv"), True)
            self.fill_and_scale = FillAndScale(dataset.raw)
            dataset.prepare(self.fill_and_scale)
            self.dataset = dataset
        return self.dataset

    @property
    def num_features(self) -> int:
        return len(FEATURES)

    def setup(self, stage: str) -> None:
        """The held-out split of train.csv; for predict, test.csv's passengers as
        ``{"PassengerId", "features"}`` rows, filled and scaled as train.csv."""
        dataset = self.load()
        fractions = {"val_fraction": self.hparams.val_fraction}
        train, val = stratified_split(
            dataset.y.flatten(), fractions, self.hparams.seed, "passengers"
        )
        self.splits = {"train": Subset(dataset, train), "val": Subset(dataset, val)}
        if stage == "predict":
            test = TitanicDataset(TITANIC.file(self.hparams.data_dir, "test.csv"), labelled=False)
            self.splits["predict"] = [
                {"PassengerId": passenger, "features": x}
                for passenger, x in zip(test.ids, self.fill_and_scale(test.raw), strict=True)
            ]
