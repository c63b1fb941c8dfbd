"""Shared test helpers: run the CLI in this process, in a fresh folder, as a user would."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
sys.path.insert(0, str(REPO))

# Offline machines (CI) point the lessons at a local copy of the data. Tests run in their own
# folders, so a relative LESSONS_DATA_DIR (../shared/data) is fixed to where pytest started.
if os.environ.get("LESSONS_DATA_DIR"):
    os.environ["LESSONS_DATA_DIR"] = str(Path(os.environ["LESSONS_DATA_DIR"]).resolve())
elif (REPO.parent / "shared" / "data").is_dir():
    os.environ["LESSONS_DATA_DIR"] = str(REPO.parent / "shared" / "data")

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def config(name: str) -> str:
    return str(CONFIGS / f"{name}.yaml")


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


def run_folder(result) -> Path:
    return Path(result.trainer.log_dir)


def run_subprocess(*args: str, cwd: Path, env: dict | None = None, timeout: int = 600):
    """``python cli.py ARGS`` as a user types it, in ``cwd``; returns the CompletedProcess."""
    import subprocess

    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, str(REPO / "cli.py"), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
