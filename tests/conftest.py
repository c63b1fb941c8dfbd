"""The ``run_cli`` and ``cli_exit`` fixtures; shared helpers are in helpers.py, and the data
folder is set (and filled once per session) by ../conftest.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import QUIET, config


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable:
    """``run_cli("fit", "linear_regression", "--trainer.max_epochs", "2")`` runs
    ``python cli.py fit --config configs/linear_regression.yaml …`` in ``tmp_path`` and
    returns the LightningCLI object (``.trainer``, ``.model``, ``.datamodule``)."""
    import cli

    monkeypatch.chdir(tmp_path)

    def run(subcommand: str, config_name: str, *args: str):
        return cli.main([subcommand, "--config", config(config_name), *QUIET, *args])

    return run


@pytest.fixture
def cli_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable:
    """``cli_exit("fit", "--config", …, cwd=folder)`` runs ``python cli.py …`` in this process,
    through ``cli.run`` as the command does, and returns what it exits with: None for a run
    that succeeds, else the one-line message ``python cli.py`` would print."""
    import cli

    def run(*args: str, cwd: Path | None = None) -> str | int | None:
        monkeypatch.chdir(cwd or tmp_path)
        monkeypatch.setattr(sys, "argv", ["cli.py", *args])
        try:
            cli.run()
        except SystemExit as exit_:
            return exit_.code
        return None

    return run
