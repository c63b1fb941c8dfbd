"""Settings every test process shares, loaded by pytest before any test module imports torch.

Threads: one per process, set here for the tests only. Torch's default (one per core) makes
the small tensors of these tests many times slower on a busy 2-core machine, where the threads
of one process compete with the other tests, subprocesses, DDP ranks and notebook kernels;
those all inherit it, and a run started by the CLI or a notebook keeps it as the user's own
setting. A learner sets nothing: each run chooses its lesson's count (``runner/start.py``),
which tests/test_threads.py checks in child processes whose environment has no setting.

Tiers, by marker:

- no marker: the default ``python -m pytest``, a few minutes on 2 cores;
- ``slow``: trains lessons to the course's results, runs every config and notebook; CI runs it
  with ``python -m pytest -m slow``;
- ``long``: the CNN lessons' 10-epoch runs, only when a ``-m`` expression names ``long``.

A ``-m`` on the command line replaces the default selection, but never brings the ``long``
tests back unless it names them: ``-m "not slow"`` runs no ``long`` test.

Data: the tests read the lessons' files from ``LESSONS_DATA_DIR`` (made absolute: tests run in
their own folders), else ``../shared/data`` beside the repository (CI's copy), else the
repository's ``data/`` folder, the one ``python cli.py download`` fills. A file missing there is
downloaded once, when the session starts, before pytest-xdist starts its workers, so no two
processes ever download the same file; without a network, the session ends in one line that
says how to run the tests on a copy of the data.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent

if os.environ.get("LESSONS_DATA_DIR"):
    os.environ["LESSONS_DATA_DIR"] = str(Path(os.environ["LESSONS_DATA_DIR"]).resolve())
elif (REPO.parent / "shared" / "data").is_dir():
    os.environ["LESSONS_DATA_DIR"] = str(REPO.parent / "shared" / "data")
else:
    os.environ["LESSONS_DATA_DIR"] = str(REPO / "data")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Download the lessons' data files missing from LESSONS_DATA_DIR, once per session: in
    the process that starts pytest-xdist's workers (their environment holds the folder)."""
    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: the files are there
        return
    from datamodules.download import download_all, lesson_files

    folder = Path(os.environ["LESSONS_DATA_DIR"])
    if all((folder / remote.name).is_file() for remote in lesson_files()):
        return
    capture = session.config.pluginmanager.getplugin("capturemanager")
    shown = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
    with shown:  # the learner sees what is downloaded
        print(f"\nthe tests need the lessons' data: downloading it into {folder}, once")
        failed = download_all(folder)
    if failed:
        pytest.exit(
            f"the lessons' data is not all in {folder} and could not be downloaded (no "
            "network?): run `python cli.py download` where there is one, then "
            "`LESSONS_DATA_DIR=/path/to/its/data python -m pytest` here",
            returncode=1,
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    expression = config.getoption("markexpr") or ""
    excluded = set()
    if "long" not in expression:
        excluded.add("long")
    if not expression:
        excluded.add("slow")
    kept, removed = [], []
    for item in items:
        (removed if any(item.get_closest_marker(m) for m in excluded) else kept).append(item)
    if removed:
        config.hook.pytest_deselected(items=removed)
        items[:] = kept
