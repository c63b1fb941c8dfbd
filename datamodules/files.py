"""Where the lessons' data files live, and how a missing one is fetched.

Every datamodule takes a ``data_dir``: by default ``$LESSONS_DATA_DIR``, else ``./data``.
A file missing there is downloaded into ``data_dir`` and checked against its published
checksum before it is used. Each file has a list of addresses, tried in turn:

- ``$LESSONS_MIRROR/<name>`` first, when ``LESSONS_MIRROR`` is set: the base URL of a copy of a
  data folder, laid out as ``data_dir`` is (``$LESSONS_MIRROR/diabetes.csv.gz``,
  ``$LESSONS_MIRROR/MNIST/raw/train-images-idx3-ubyte.gz``), so a classroom server can run
  ``python -m http.server -d data`` and ``file:///mnt/share/data`` works too;
- then the file's public addresses: for the course's GitHub files GitHub's raw host and
  jsDelivr's CDN copy of the same repository, for MNIST every mirror torchvision lists.

A download goes to ``<name>.part`` and is renamed only once its checksum matches, so an
interrupted or corrupt download never stands where the real file belongs. An address that
fails or serves a wrong file is skipped with one line on stderr; when every one fails, the
error names the file, each address with its reason, and how to provide the file offline.
While a file downloads, stderr shows its size and speed when it is a terminal.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

#: The base URL of the user's own mirror, tried before every public address.
MIRROR_VARIABLE = "LESSONS_MIRROR"
#: The course's repository, where diabetes and the names files live (``data/``).
COURSE_REPOSITORY = "hunkim/PyTorchZeroToAll"


class DataError(ValueError):
    """Bad or missing data: the message names the file, the problem and the fix."""


@dataclass(frozen=True)
class RemoteFile:
    """A public data file: its path under ``data_dir`` (``/``-separated), the addresses that
    serve it, in the order they are tried, and its checksum."""

    name: str
    urls: tuple[str, ...]
    sha256: str | None = None
    md5: str | None = None

    def sources(self) -> tuple[str, ...]:
        """The addresses to try: ``$LESSONS_MIRROR/<name>`` first when set, then ``urls``."""
        mirror = os.environ.get(MIRROR_VARIABLE, "").strip()
        own = (f"{mirror.rstrip('/')}/{self.name}",) if mirror else ()
        return own + self.urls


def course_file_urls(name: str) -> tuple[str, ...]:
    """``data/<name>`` of the course's GitHub repository: GitHub's raw host, then jsDelivr's
    CDN, which serves the same branch's files where GitHub's raw host is blocked or slow."""
    return (
        f"https://raw.githubusercontent.com/{COURSE_REPOSITORY}/master/data/{name}",
        f"https://cdn.jsdelivr.net/gh/{COURSE_REPOSITORY}@master/data/{name}",
    )


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


def checksum_mismatch(path: Path, remote: RemoteFile) -> str | None:
    """``"sha256 is …, expected …"`` when ``path`` is not the file ``remote`` publishes."""
    for algorithm in ("sha256", "md5"):
        expected = getattr(remote, algorithm)
        if expected and (actual := file_digest(path, algorithm)) != expected:
            return f"{algorithm} is {actual}, expected {expected}"
    return None


def verify(path: Path, remote: RemoteFile) -> None:
    """Raise DataError when ``path`` does not have the checksum ``remote`` publishes."""
    if mismatch := checksum_mismatch(path, remote):
        raise DataError(
            f"{path}: {mismatch} (a corrupt or different file); delete it and run again to "
            "download it anew"
        )


def fetch(remote: RemoteFile, data_dir: str | os.PathLike | None) -> Path:
    """Return the verified local copy of ``remote``, downloading it when it is missing."""
    path = resolve_data_dir(data_dir) / remote.name
    if not path.exists():
        download_file(remote, path)
    verify(path, remote)
    return path


def download_file(remote: RemoteFile, path: Path) -> str:
    """Download ``remote`` to ``path`` from the first address that serves the right file, and
    return that address; DataError when none does."""
    failures = []
    for url in remote.sources():
        try:
            _download_from(url, remote, path)
            return url
        except (OSError, ValueError, http.client.HTTPException) as error:
            reason = failure_reason(error)
            failures.append(f"{url} ({reason})")
            print(f"{remote.name}: {url} failed ({reason})", file=sys.stderr)
    folder = path.parent.resolve()
    raise DataError(
        f"{remote.name} is not in {folder} and no address served it: {'; '.join(failures)}. "
        f"Copy the file into {folder}, set LESSONS_DATA_DIR to a folder that holds it or "
        f"{MIRROR_VARIABLE} to a server that has it, or run `python cli.py download` on a "
        "machine with a network and copy its data folder here"
    )


def failure_reason(error: Exception) -> str:
    """A download error in a few words: ``HTTP 404 Not Found``, ``Connection refused``."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        error = error.reason if isinstance(error.reason, Exception) else error
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _download_from(url: str, remote: RemoteFile, path: Path) -> None:
    """One address: the body into ``<name>.part``, its length and checksum checked, renamed."""
    partial = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            path.parent.mkdir(parents=True, exist_ok=True)
            received = 0
            with open(partial, "wb") as out, Progress(remote.name, size) as progress:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    received += len(chunk)
                    progress.update(received)
        if size is not None and received != size:
            raise DataError(f"the connection closed after {received} of {size} bytes")
        if mismatch := checksum_mismatch(partial, remote):
            raise DataError(f"a wrong file: {mismatch}")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


class Progress:
    """One stderr line redrawn while a file downloads (``name  [####    ]  3.1 MB/9.9 MB
    1.2 MB/s``) and left in place when it ends, only when stderr is a terminal: logs and
    pipes get nothing."""

    def __init__(self, name: str, size: int | None) -> None:
        self.name, self.size = name, size
        self.shown = sys.stderr.isatty()
        self.start = self.drawn = time.monotonic()
        self.received = 0
        self.width = 0  # of the longest line drawn: a shorter one is padded over it

    def __enter__(self) -> Progress:
        return self

    def update(self, received: int) -> None:
        self.received = received
        if time.monotonic() - self.drawn >= 0.1:
            self.draw()

    def draw(self) -> None:
        if self.shown:
            self.drawn = time.monotonic()
            line = progress_line(self.name, self.received, self.size, self.drawn - self.start)
            self.width = max(self.width, len(line))
            sys.stderr.write(f"\r{line:<{self.width}}")
            sys.stderr.flush()

    def __exit__(self, *exception: object) -> None:
        if self.shown:
            self.draw()
            sys.stderr.write("\n")


def progress_line(name: str, received: int, size: int | None, seconds: float) -> str:
    """The progress bar's text; without a Content-Length, no bar and no total.

    >>> progress_line("diabetes.csv.gz", 5_000_000, 10_000_000, 2.0)
    'diabetes.csv.gz  [##########          ]  5.0 MB/10.0 MB  2.5 MB/s'
    >>> progress_line("x.gz", 13_539, None, 0.0)
    'x.gz  13.5 kB'
    """
    amount = bytes_in_words(received)
    if size:
        filled = min(20, round(20 * received / size))
        amount = f"[{'#' * filled}{' ' * (20 - filled)}]  {amount}/{bytes_in_words(size)}"
    speed = f"  {bytes_in_words(received / seconds)}/s" if seconds > 0 else ""
    return f"{name}  {amount}{speed}"


def bytes_in_words(count: float) -> str:
    """``512 B``, ``13.5 kB``, ``9.9 MB``, ``1.2 GB`` (powers of 1000)."""
    for unit in ("B", "kB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"
