"""Lesson 13's data: surnames and the country each comes from, as padded batches of ASCII codes.

``names_train.csv.gz`` (13 374 rows) and ``names_test.csv.gz`` (6 700 rows) hold rows
``"name","country"`` with no header. The countries are those of the training file, sorted
(18 of them); a name becomes the ASCII codes of its characters, as the course's
``name2list`` (``N_CHARS = 128``).

The rule for other characters, in the data files and in ``predict_names`` alike: a name is
stripped of surrounding spaces and NFKD-normalised with its accents dropped, so accented
Latin letters become their base letter ("Müller" → "Muller"); a name that is then empty, or
still holds a character outside printable ASCII (space to "~": "Øster", "Иванов"), is refused
with a one-line error - in a data file, naming the file and the line.

Batches are ``(codes [B, T], countries [B])``: as the course's ``make_tensors``, the names
of a batch are sorted longest first and padded with code 0 (which no name holds) to the
longest, the order ``pack_padded_sequence`` needs, so the GRU never reads the padding.
``val_fraction`` 0 trains on the whole training file, as the course; otherwise a seeded
``val_fraction`` of it is held out for validation. The test file is the test set, evaluated
after every epoch; predict reads ``predict_names``, or else the test file's names with their
countries beside.

>>> encode("Müller")
[77, 117, 108, 108, 101, 114]
>>> batch = [(torch.tensor(encode(name)), label) for name, label in (("Abe", 0), ("Adams", 1))]
>>> codes, countries = collate(batch)
>>> codes.tolist(), countries.tolist()
([[65, 100, 97, 109, 115], [65, 98, 101, 0, 0]], [1, 0])
"""

from __future__ import annotations

import csv
import gzip
import unicodedata
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from datamodules.files import DataError, RemoteFile, course_file_urls, fetch
from datamodules.tables import TableDataModule, check_settings, random_split

NAMES_TRAIN = RemoteFile(
    "names_train.csv.gz",
    course_file_urls("names_train.csv.gz"),
    sha256="49b4bf41dce5bfeac989b46ca37cf7baccd9a0d2a855df82f86de67a9376268f",
)
NAMES_TEST = RemoteFile(
    "names_test.csv.gz",
    course_file_urls("names_test.csv.gz"),
    sha256="57d7758db533a42c99d513b2341a7e7b0f55c1e0e7d233b1ef6a4fa2f1adf753",
)
#: The course's N_CHARS: a character is its ASCII code; code 0 is the padding.
N_CHARS = 128


def encode(name: str) -> list[int]:
    """The ASCII codes of ``name`` under the rule above; a ValueError says what is wrong."""
    plain = "".join(
        char
        for char in unicodedata.normalize("NFKD", name.strip())
        if not unicodedata.combining(char)
    )
    if not plain:
        raise ValueError(f"the name {name!r} is empty; give at least one letter")
    outside = "".join(sorted({char for char in plain if not " " <= char <= "~"}))
    if outside:
        raise ValueError(
            f"the name {name!r} has characters outside printable ASCII ({outside!r}), the "
            "only characters the course's model reads; write it in Latin letters"
        )
    return [ord(char) for char in plain]


def read_names(path: Path, countries: list[str] | None = None) -> list[tuple[list[int], str]]:
    """The rows of a names file as (ASCII codes, country); errors name the file and line.

    ``countries``: the only countries allowed (the training file's, when reading the test
    file): the model cannot predict any other.
    """
    rows = []
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
            reader = csv.reader(stream)
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if not row:
                    continue  # a blank line
                if len(row) != 2 or not row[1].strip():
                    raise DataError(f'{where}: expected a row "name","country", got {row!r}')
                country = row[1].strip()
                if countries is not None and country not in countries:
                    raise DataError(
                        f"{where}: the country {country!r} is not among the {len(countries)} "
                        f"of the training file ({', '.join(countries)}); the model cannot "
                        "predict it"
                    )
                try:
                    rows.append((encode(row[0]), country))
                except ValueError as error:
                    raise DataError(f"{where}: {error}") from None
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(
            f"{path}: not a readable .csv.gz file ({error}); delete it and run again to "
            "download it, or copy a good one there"
        ) from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: not a UTF-8 CSV file ({error})") from None
    if not rows:
        raise DataError(f'{path}: the file has no rows; it should hold "name","country" rows')
    return rows


def collate(rows: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The course's ``make_tensors``: sort longest first, pad with 0 → (codes, labels)."""
    rows = sorted(rows, key=lambda row: len(row[0]), reverse=True)
    codes = pad_sequence([codes for codes, _ in rows], batch_first=True)
    return codes, torch.tensor([label for _, label in rows])


def collate_predict(rows: list[tuple[torch.Tensor, int | None]]) -> Any:
    """Names to predict, padded with 0 and kept in their order (each prediction is that of
    the name in the same place): ``codes``, or ``(codes, countries)`` when they are known."""
    codes = pad_sequence([codes for codes, _ in rows], batch_first=True)
    if any(label is None for _, label in rows):
        return codes
    return codes, torch.tensor([label for _, label in rows])


class NamesDataModule(TableDataModule):
    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 256,
        val_fraction: float = 0.0,
        seed: int = 0,
        num_workers: int = 0,
        predict_names: list[str] | None = None,
    ) -> None:
        """``data_dir``: where the two files are (default ``$LESSONS_DATA_DIR`` or
        ``./data``, downloaded when missing); ``val_fraction``: the training names held out for
        validation (0, the course: none, the test names are validated on); ``seed``: the
        validation split and the shuffle; ``predict_names``: the names ``predict`` classifies."""
        super().__init__()
        check_settings(batch_size, num_workers, val_fraction=val_fraction)
        self.save_hyperparameters()
        self.countries: list[str] = []

    def prepare_data(self) -> None:
        """Fetch and check both files now, before the Trainer makes a run folder."""
        for remote in (NAMES_TRAIN, NAMES_TEST):
            fetch(remote, self.hparams.data_dir)

    def setup(self, stage: str) -> None:
        train = read_names(fetch(NAMES_TRAIN, self.hparams.data_dir))
        self.countries = sorted({country for _, country in train})
        if stage in ("fit", "validate"):
            rows = self.labelled(train)
            train_rows, held_out = random_split(
                len(rows), self.hparams.val_fraction, self.hparams.seed, "names"
            )
            if held_out:
                self.splits["val"] = [rows[i] for i in held_out]
            self.splits["train"] = [rows[i] for i in train_rows]
        if stage in ("fit", "validate", "test"):
            test = read_names(fetch(NAMES_TEST, self.hparams.data_dir), self.countries)
            self.splits["test"] = self.labelled(test)
        if stage == "predict":  # the learner's names, else the test set's with their truth
            names = self.hparams.predict_names
            if names is not None and not names:
                raise ValueError(
                    "predict_names is empty: give names, e.g. '[Nakamura, Dupont]', or leave it "
                    "out to predict the test file's names"
                )
            self.splits["predict"] = (
                [(torch.tensor(encode(name)), None) for name in names]
                if names
                else self.labelled(read_names(fetch(NAMES_TEST, self.hparams.data_dir)))
            )

    def labelled(self, rows: list[tuple[list[int], str]]) -> list[tuple[torch.Tensor, int]]:
        """(codes, country index) pairs, what the batches are made of."""
        index = {country: i for i, country in enumerate(self.countries)}
        return [(torch.tensor(codes), index[country]) for codes, country in rows]

    def collate(self, split: str) -> Callable[[list], Any]:
        return collate_predict if split == "predict" else collate

    @property
    def val_split(self) -> str:
        """What ``val_dataloader`` serves: the held-out names, or the test set (the course)."""
        return "val" if self.hparams.val_fraction else "test"

    def val_dataloader(self) -> DataLoader:
        """The held-out names, or, with none held out, the test set: the course tests after
        every epoch."""
        return self.loader(self.val_split)
