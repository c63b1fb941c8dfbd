"""The test tiers do what the README says (conftest.py at the repository root selects them):
the default run has neither ``slow`` nor ``long``, and a ``-m`` brings ``long`` back only when
it names it."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import REPO

#: Two files that hold all three kinds: unmarked, slow (test_mnist.py), long (test_cnn.py).
FILES = ["tests/test_mnist.py", "tests/test_cnn.py"]
EXPRESSIONS = {
    "default": [],
    "not slow": ["-m", "not slow"],
    "slow": ["-m", "slow"],
    "long": ["-m", "long"],
    "not long": ["-m", "not long"],
}


def collect(arguments: list[str]) -> list[str]:
    """The test ids ``python -m pytest ARGUMENTS`` would run."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0",
         "-p", "no:cacheprovider", *arguments, *FILES],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


pytestmark = pytest.mark.slow  # five pytest processes, each importing Lightning


@pytest.fixture(scope="module")
def collected() -> dict[str, list[str]]:
    with ThreadPoolExecutor(max_workers=len(EXPRESSIONS)) as pool:
        return dict(zip(EXPRESSIONS, pool.map(collect, EXPRESSIONS.values())))


def test_the_default_run_has_neither_slow_nor_long(collected):
    default, slow, long = (set(collected[name]) for name in ("default", "slow", "long"))
    assert default and slow and long  # FILES hold all three
    assert not default & (slow | long) and not slow & long
    assert set(collected["not long"]) == default | slow


def test_a_marker_expression_brings_long_back_only_when_it_names_it(collected):
    assert not set(collected["not slow"]) & set(collected["long"])
    assert set(collected["not slow"]) == set(collected["default"])
    assert all("10_epochs" in test or "speedrun" in test for test in collected["long"])
