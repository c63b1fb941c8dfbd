"""The course's Kaggle homework: a competition's files, read as Kaggle lays them out.

Lectures 8, 9 and 13 end with a Kaggle competition as homework (Titanic, Otto Group product
classification, Sentiment Analysis on Movie Reviews). Kaggle serves their files only to a
signed-in account that accepted the competition's rules, so nothing here downloads them: the
learner puts them in ``data_dir``, by default ``$LESSONS_DATA_DIR/<competition>/``, else
``./data/<competition>/``. A missing file stops in one line naming the competition's data
page and the folder to put the files in; a file without the columns Kaggle gives names the
columns expected.

>>> shorten(("id", "feat_1", "feat_2", "feat_3", "target"), most=4)
'id, feat_1 … feat_3, target'
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from datamodules.files import DataError, resolve_data_dir


@dataclass(frozen=True)
class Competition:
    """A Kaggle competition: its name in Kaggle's addresses (also its folder under the data
    folder), its data page and the files the homework reads from it."""

    name: str
    url: str
    files: tuple[str, ...]

    def folder(self, data_dir: str | os.PathLike | None) -> Path:
        """``data_dir`` when given, else ``<$LESSONS_DATA_DIR or ./data>/<name>``."""
        return Path(data_dir) if data_dir else resolve_data_dir(None) / self.name

    def file(self, data_dir: str | os.PathLike | None, name: str) -> Path:
        """The path of the competition's file ``name``; DataError when it is not there."""
        folder = self.folder(data_dir)
        path = folder / name
        if not path.is_file():
            where = folder.absolute()
            zipped = (path.parent / f"{name}.zip").is_file()
            raise DataError(
                f"{name} is not in {where}"
                + (f" ({name}.zip is: unzip it there)" if zipped else "")
                + f"; download the competition's files from {self.url} (sign in and accept "
                f"its rules) and put {' and '.join(self.files)} in {where}, or pass "
                "--data.init_args.data_dir FOLDER where they are"
            )
        return path


def shorten(columns: tuple[str, ...] | list[str], most: int = 12) -> str:
    """Column names for a message; a long list keeps its two ends."""
    if len(columns) <= most:
        return ", ".join(columns)
    return f"{', '.join(columns[:2])} … {', '.join(columns[-2:])}"


def read_table(
    path: Path, columns: tuple[str, ...], delimiter: str = ","
) -> list[tuple[int, dict[str, str]]]:
    """The rows of a Kaggle CSV (TSV with ``delimiter="\\t"``) with a header line, each with
    its line number; the header must hold every one of ``columns``."""
    # Kaggle's TSV phrases hold quote characters as text: only the CSVs are quoted.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream, delimiter=delimiter, quoting=quoting)
            header = reader.fieldnames or []
            missing = [column for column in columns if column not in header]
            if missing:
                raise DataError(
                    f"{path}: expected the columns {shorten(columns)} (Kaggle's layout) but "
                    f"the header has {shorten(header) or 'nothing'}, without {shorten(missing)}"
                )
            rows = []
            for row in reader:
                if None in row or None in row.values():
                    raise DataError(
                        f"{path}:{reader.line_num}: expected {len(header)} fields, as the "
                        "header has; the line has more or fewer"
                    )
                rows.append((reader.line_num, row))
    except (UnicodeDecodeError, csv.Error) as error:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise DataError(f"{path}: not a UTF-8 {kind} file ({error})") from None
    if not rows:
        raise DataError(f"{path}: a header but no rows; download the file again")
    return rows


def number(
    path: Path, line: int, row: dict[str, str], column: str, required: bool = True
) -> float | None:
    """The cell as a number; an empty cell (Kaggle's missing value) is None where it may be
    missing (``required=False``), else a DataError."""
    cell = row[column].strip()
    if not cell:
        if required:
            raise DataError(f"{path}:{line}: {column} is empty; every row needs one")
        return None
    try:
        return float(cell)
    except ValueError:
        raise DataError(f"{path}:{line}: {column} {cell!r} is not a number") from None
