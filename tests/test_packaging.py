"""``pip install .`` (not only ``-e``): the ``lessons`` command and the configs ship."""

from __future__ import annotations

import shutil
import sys
import zipfile

import pytest
from helpers import REPO, run_command

#: What the wheel is built from (pyproject.toml names them), copied out of the checkout:
#: setuptools writes build/ and *.egg-info beside the sources it builds.
SOURCES = [
    "pyproject.toml", "README.md", "cli.py", "lessons", "datamodules", "runner", "exercises",
    "configs",
]  # fmt: skip
NO_CACHES = shutil.ignore_patterns("__pycache__")


@pytest.mark.slow
def test_the_wheel_installs_a_lessons_command_that_finds_its_configs(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=NO_CACHES)
        else:
            shutil.copy2(REPO / name, source / name)
    built = run_command(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "-w", str(tmp_path / "wheel"), str(source), cwd=tmp_path,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "wheel").glob("lightning_lessons-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "lessons = cli:run" in archive.read(entry_points).decode()
    assert {"cli.py", "runner/configs/diabetes.yaml", "runner/configs/trainer/ddp.yaml"} <= names
    installed = tmp_path / "site"
    done = run_command(
        sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(installed),
        str(wheel), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    work = tmp_path / "work"  # no configs/ folder here: the installed ones must be found
    work.mkdir()
    lessons_command = (
        "import sys, cli; assert cli.__file__.startswith(sys.argv[1]), cli.__file__; "
        "sys.argv = ['lessons', *sys.argv[2:]]; cli.run()"
    )
    run = run_command(
        sys.executable, "-c", lessons_command, str(installed),
        "fit", "--config", "linear_regression", "--config", "trainer/cpu",
        "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false",
        cwd=work, env={"PYTHONPATH": str(installed)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert (
        work / "runs" / "linear_regression" / "version_0" / "checkpoints" / "last.ckpt"
    ).is_file()
    unknown = run_command(
        sys.executable, "-c", lessons_command, str(installed), "fit", "--config", "no_such",
        cwd=work, env={"PYTHONPATH": str(installed)},
    )  # fmt: skip
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
