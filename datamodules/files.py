"""Where the lessons' data files live, and how a missing one is fetched.

Every datamodule takes a ``data_dir``: by default ``$LESSONS_DATA_DIR``, else ``./data``.
A file missing there is downloaded from its public address into ``data_dir`` and checked
against its published checksum before it is used; on a machine without a network the error
says which file is missing, where it was looked for and how to provide it.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class DataError(ValueError):
    """Bad or missing data: the message names the file, the problem and the fix."""


@dataclass(frozen=True)
class RemoteFile:
    """A public data file: its name under ``data_dir``, its address and its checksum."""

    name: str
    url: str
    sha256: str | None = None
    md5: str | None = None


def default_data_dir() -> Path:
    """``$LESSONS_DATA_DIR`` when set, else ``./data``."""
    return Path(os.environ.get("LESSONS_DATA_DIR") or "data")


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    return Path(data_dir) if data_dir else default_data_dir()


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, remote: RemoteFile) -> None:
    """Raise DataError when ``path`` does not have the checksum ``remote`` publishes."""
    for algorithm in ("sha256", "md5"):
        expected = getattr(remote, algorithm)
        if expected and (actual := file_digest(path, algorithm)) != expected:
            raise DataError(
                f"{path}: {algorithm} is {actual}, expected {expected} (a corrupt or different "
                f"file); delete it and run again to download {remote.url}"
            )


def fetch(remote: RemoteFile, data_dir: str | os.PathLike | None) -> Path:
    """Return the verified local copy of ``remote``, downloading it when it is missing.

    The download goes to a temporary name and is renamed only once its checksum matches,
    so an interrupted or corrupt download never stands where the real file belongs.
    """
    folder = resolve_data_dir(data_dir)
    path = folder / remote.name
    if not path.exists():
        _download(remote, path)
    verify(path, remote)
    return path


def _download(remote: RemoteFile, path: Path) -> None:
    partial = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(remote.url, timeout=30) as response, open(partial, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise DataError(
            f"{remote.name} is not in {path.parent.resolve()} and downloading {remote.url} failed "
            f"({getattr(error, 'reason', error)}); copy the file into {path.parent.resolve()} "
            f"or set LESSONS_DATA_DIR to a folder that holds it"
        ) from None
    try:
        verify(partial, remote)
    except DataError:
        partial.unlink(missing_ok=True)
        raise DataError(
            f"the download of {remote.url} does not match its published checksum and was "
            f"deleted; try again later, or copy a good {remote.name} into {path.parent}"
        ) from None
    partial.replace(path)
