"""Lecture 9's homework: Kaggle's Otto Group product classification, from the competition's files.

Kaggle's ``train.csv`` has a header and the columns id, feat_1 … feat_93 (counts of events,
whole numbers ≥ 0) and target, one of Class_1 … Class_9 (61 878 products); ``test.csv`` the
same without target (144 368). Download both from
https://www.kaggle.com/c/otto-group-product-classification-challenge/data into ``data_dir``
(default ``$LESSONS_DATA_DIR/otto-group-product-classification-challenge/``, else
``./data/otto-group-product-classification-challenge/``).

A product becomes its 93 counts as ``log(1 + count)``: the counts run from 0 into the
hundreds, and the logarithm keeps a few large ones from swamping a small net's first layer.
Batches are ``(features [B, 93], class [B])``, the class numbered from 0 (Class_1) to 8, as
lecture 9's digits. The test file has no labels: a seeded, stratified ``val_fraction`` of
``train.csv`` is held out for validation; ``predict`` reads ``test.csv`` as
``{"id", "features"}`` batches, and the lesson returns Kaggle's submission, each product's id
and its nine class probabilities.
"""

from __future__ import annotations

from pathlib import Path

import torch

from datamodules.files import DataError
from datamodules.kaggle import Competition, number, read_table
from datamodules.tables import TableDataModule, check_settings, stratified_split

OTTO = Competition(
    "otto-group-product-classification-challenge",
    "https://www.kaggle.com/c/otto-group-product-classification-challenge/data",
    ("train.csv", "test.csv"),
)
FEATURES = tuple(f"feat_{i}" for i in range(1, 94))
CLASSES = tuple(f"Class_{i}" for i in range(1, 10))
TEST_COLUMNS = ("id", *FEATURES)
TRAIN_COLUMNS = (*TEST_COLUMNS, "target")


def read_products(path: Path, labelled: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids [N], log(1 + counts) [N, 93], classes [N], -1 where the file has no target)."""
    rows = read_table(path, TRAIN_COLUMNS if labelled else TEST_COLUMNS)
    ids, counts, classes = [], [], []
    for line, row in rows:
        ids.append(int(number(path, line, row, "id")))
        values = [number(path, line, row, name) for name in FEATURES]
        if min(values) < 0:
            raise DataError(f"{path}:{line}: a negative count; the features are counts, 0 or more")
        counts.append(values)
        if labelled:
            target = row["target"].strip()
            if target not in CLASSES:
                raise DataError(f"{path}:{line}: target {target!r} is none of Class_1 … Class_9")
            classes.append(CLASSES.index(target))
    labels = torch.tensor(classes) if labelled else torch.full((len(ids),), -1)
    return torch.tensor(ids), torch.tensor(counts).log1p(), labels


class OttoDataModule(TableDataModule):
    no_test_labels = (
        "Kaggle's test.csv has no target column to score; `validate` scores the held-out "
        "products of train.csv, `predict` writes the submission"
    )

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        """``data_dir``: the folder with Kaggle's train.csv and test.csv (default
        ``$LESSONS_DATA_DIR/otto-group-product-classification-challenge``, else under
        ``./data``); ``val_fraction``: the products of train.csv held out (stratified, drawn
        with ``seed``) for validation."""
        super().__init__()
        check_settings(batch_size, num_workers, val_fraction=val_fraction)
        self.save_hyperparameters()

    def prepare_data(self) -> None:
        """Check both files now, before the Trainer makes a run folder."""
        for name in OTTO.files:
            OTTO.file(self.hparams.data_dir, name)
        read_table(OTTO.file(self.hparams.data_dir, "test.csv"), TEST_COLUMNS)

    def setup(self, stage: str) -> None:
        if stage == "predict":
            ids, features, _ = read_products(OTTO.file(self.hparams.data_dir, "test.csv"), False)
            self.splits["predict"] = [
                {"id": product, "features": x} for product, x in zip(ids, features, strict=True)
            ]
            return
        _, features, labels = read_products(OTTO.file(self.hparams.data_dir, "train.csv"), True)
        fractions = {"val_fraction": self.hparams.val_fraction}
        train, val = stratified_split(labels, fractions, self.hparams.seed, "products")
        rows = list(zip(features, labels.tolist(), strict=True))
        self.splits["train"] = [rows[i] for i in train]
        self.splits["val"] = [rows[i] for i in val]
