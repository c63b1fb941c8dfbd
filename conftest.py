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
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402


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
