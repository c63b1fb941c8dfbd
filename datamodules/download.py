"""``python cli.py download``: every data file the lessons read, fetched and verified at once.

For a classroom or a cluster node without a network: run it where there is one, copy the
data folder over and point ``LESSONS_DATA_DIR`` at the copy. ``--check`` only verifies.

The files are those the datamodules define (their module-level ``RemoteFile`` values), so a
new data file needs no second list here; each comes from its addresses in turn
(``$LESSONS_MIRROR`` first, see ``datamodules/files.py``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

import datamodules
from datamodules.files import (
    DataError,
    RemoteFile,
    checksum_mismatch,
    download_file,
    resolve_data_dir,
)


def lesson_files() -> list[RemoteFile]:
    """Every ``RemoteFile`` a module of ``datamodules/`` defines at its top level, directly or
    as the values of a dict (MNIST's four), by module and in the order they are defined."""
    found: dict[str, RemoteFile] = {}
    for module_info in pkgutil.iter_modules(datamodules.__path__):
        module = importlib.import_module(f"datamodules.{module_info.name}")
        for value in vars(module).values():
            for candidate in value.values() if isinstance(value, dict) else (value,):
                if isinstance(candidate, RemoteFile):
                    found.setdefault(candidate.name, candidate)
    return list(found.values())


def download_all(data_dir: str | Path | None, program: str = "python cli.py") -> int:
    """Fetch every missing or corrupt file into ``data_dir``; print one line per file and the
    way to take the folder offline. Returns the exit status: 1 when a file could not be had."""
    folder = resolve_data_dir(data_dir)
    failed = 0
    for remote in lesson_files():
        path = folder / remote.name
        if path.exists() and not (mismatch := checksum_mismatch(path, remote)):
            print(f"present, verified: {remote.name}")
            continue
        if path.exists():
            print(f"corrupt ({mismatch}), downloading it again: {remote.name}")
        try:
            url = download_file(remote, path)
        except DataError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"downloaded, verified: {remote.name} ({path.stat().st_size:,} bytes from {url})")
    if failed:
        print(f"{failed} file(s) could not be downloaded into {folder.resolve()}", file=sys.stderr)
        return 1
    print(
        f"every data file is in {folder.resolve()}; for a machine without a network, copy this "
        f"folder there and set LESSONS_DATA_DIR to the copy (`{program} download --check` "
        "there verifies it)"
    )
    return 0


def check_all(data_dir: str | Path | None, program: str = "python cli.py") -> int:
    """Verify every file in ``data_dir`` without downloading: one line per file, exit status
    1 when one is missing or corrupt."""
    folder = resolve_data_dir(data_dir)
    bad = 0
    for remote in lesson_files():
        path = folder / remote.name
        if not path.exists():
            print(f"missing: {remote.name}")
        elif mismatch := checksum_mismatch(path, remote):
            print(f"corrupt: {remote.name} ({mismatch})")
        else:
            print(f"present, verified: {remote.name}")
            continue
        bad += 1
    if bad:
        print(
            f"{bad} file(s) missing or corrupt in {folder.resolve()}; `{program} download "
            f"--data_dir {folder}` fetches them",
            file=sys.stderr,
        )
        return 1
    print(f"every data file is in {folder.resolve()} and matches its published checksum")
    return 0


def main(args: list[str], program: str = "python cli.py") -> int:
    """``download [--data_dir DIR] [--check]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog=f"{program} download",
        description="Fetch and verify every data file the lessons use, for offline use.",
    )
    parser.add_argument(
        "--data_dir",
        help="the data folder (default: $LESSONS_DATA_DIR, else ./data)",
    )
    parser.add_argument(
        "--check", action="store_true", help="verify the files without downloading any"
    )
    options = parser.parse_args(args)
    run = check_all if options.check else download_all
    return run(options.data_dir, program)
