"""A checkpoint from someone else runs no code, whatever Lightning's version.

A checkpoint of plain strings passes ``torch.load(weights_only=True)``, yet the names in its
``hyper_parameters`` are imported when a lesson is rebuilt from it: ``_instantiator``,
``_class_path`` and any ``class_path`` or dotted name inside (``lessons/checkpoint_names.py``).
Each crafted file below names a planted module whose import leaves a file behind; loaded every
way the pages load a checkpoint, it must import nothing and fail in one line.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import lightning
import pytest
import torch
from helpers import (
    BLOCKS_OF_50,
    LESSON_CONFIGS,
    PLAIN_TRAINER,
    REPO,
    config,
    run_folder,
    run_subprocess,
    short_fit_args,
)

from lessons.checkpoint_names import check_names
from lessons.diabetes import DiabetesClassifier
from runner.checkpoints import check_lesson

PLANTED = "planted_payload"
INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"
LESSON = "lessons.diabetes.DiabetesClassifier"

#: Where each crafted checkpoint names the planted module, and the key the refusal names.
CRAFTED = {
    "_instantiator": ({"_instantiator": f"{PLANTED}.build", "in_features": 8}, "_instantiator"),
    "_class_path": (
        {"_instantiator": INSTANTIATOR, "_class_path": f"{PLANTED}.Lesson", "in_features": 8},
        "_class_path",
    ),
    "nested class_path": (
        {
            "_instantiator": INSTANTIATOR,
            "_class_path": LESSON,
            "in_features": 8,
            "optimizer": {"class_path": f"{PLANTED}.Optimizer", "init_args": {}},
        },
        "optimizer.class_path",
    ),
    "class_path deeper, in a list": (
        {
            "_instantiator": INSTANTIATOR,
            "_class_path": LESSON,
            "optimizer": {
                "class_path": "torch.optim.SGD",
                "init_args": {"lr": 0.1, "schedules": [{"class_path": f"{PLANTED}.Schedule"}]},
            },
        },
        "optimizer.init_args.schedules[0].class_path",
    ),
    "dotted string": (
        {"_instantiator": INSTANTIATOR, "_class_path": LESSON, "optimizer": f"{PLANTED}.build"},
        "optimizer",
    ),
}


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A module ``planted_payload`` on sys.path whose import writes the file this returns."""
    folder = tmp_path / "planted"
    folder.mkdir()
    (folder / f"{PLANTED}.py").write_text(
        "from pathlib import Path\n"
        "Path(__file__).with_name('imported').write_text('code from a checkpoint ran')\n"
        "class Lesson: ...\nclass Optimizer: ...\nclass Schedule: ...\n"
        "def build(*args, **kwargs): ...\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, PLANTED, raising=False)
    yield folder / "imported"
    sys.modules.pop(PLANTED, None)


def crafted(folder: Path, hyperparameters: dict) -> Path:
    """A checkpoint of strings and a real lesson 7 ``state_dict``: weights_only=True reads it."""
    path = folder / "crafted.ckpt"
    checkpoint = {
        "state_dict": DiabetesClassifier().state_dict(),
        "pytorch-lightning_version": lightning.__version__,
        "hyper_parameters": hyperparameters,
    }
    torch.save(checkpoint, path)
    torch.load(path, weights_only=True)  # the safe reading alone lets it through
    return path


def assert_imported_nothing(trace: Path) -> None:
    assert not trace.exists(), "the planted module was imported"
    assert PLANTED not in sys.modules


def test_the_planted_module_leaves_a_trace_when_imported(planted):
    importlib.import_module(PLANTED)  # what the tests below would see, had loading imported it
    assert planted.read_text() == "code from a checkpoint ran"


@pytest.mark.parametrize("case", CRAFTED)
def test_load_from_checkpoint_imports_nothing_and_refuses_in_one_line(planted, tmp_path, case):
    hyperparameters, key = CRAFTED[case]
    path = crafted(tmp_path, hyperparameters)
    with pytest.raises(ValueError) as refused:
        DiabetesClassifier.load_from_checkpoint(path)
    message = str(refused.value)
    assert f"{path} names '{PLANTED}." in message and f"hyper_parameters.{key}," in message
    assert "\n" not in message and "refused" in message
    assert_imported_nothing(planted)


@pytest.mark.parametrize("subcommand", ["fit", "validate", "test", "predict"])
@pytest.mark.parametrize("case", CRAFTED)
def test_ckpt_path_imports_nothing_and_refuses_in_one_line(
    planted, tmp_path, cli_exit, subcommand, case
):
    hyperparameters, key = CRAFTED[case]
    path = crafted(tmp_path, hyperparameters)
    exit_message = cli_exit(subcommand, "--config", config("diabetes"), "--ckpt_path", str(path))
    assert exit_message.startswith(f"error: {path} names '{PLANTED}.")
    assert f"hyper_parameters.{key}," in exit_message and "\n" not in exit_message
    assert_imported_nothing(planted)
    assert not (tmp_path / "runs").exists()  # refused before any run folder


def test_a_real_cli_process_imports_nothing(planted, tmp_path):
    hyperparameters, key = CRAFTED["nested class_path"]
    path = crafted(tmp_path, hyperparameters)
    importable = os.pathsep.join([str(REPO), str(REPO / "tests"), str(planted.parent)])
    result = run_subprocess(
        "predict", "--config", config("diabetes"), "--ckpt_path", str(path),
        cwd=tmp_path, env={"PYTHONPATH": importable},
    )  # fmt: skip
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path} names '{PLANTED}.Optimizer' in hyper_parameters.{key},")
    assert not planted.exists()


class OwnDiabetes(DiabetesClassifier):
    """A learner's own lesson, outside lessons/ (a notebook's, a script's)."""


def test_a_lesson_of_ones_own_loads_its_own_checkpoint(tmp_path):
    model = OwnDiabetes(course_steps_per_batch=2)  # the optimizer a class: saved as a config
    trainer = lightning.Trainer(**PLAIN_TRAINER, max_epochs=1, default_root_dir=tmp_path)
    from datamodules.diabetes import DiabetesDataModule

    trainer.fit(model, datamodule=DiabetesDataModule())
    trainer.save_checkpoint(tmp_path / "own.ckpt")
    reloaded = OwnDiabetes.load_from_checkpoint(tmp_path / "own.ckpt")
    assert reloaded.hparams.course_steps_per_batch == 2
    with pytest.raises(ValueError, match="OwnDiabetes' in hyper_parameters._class_path"):
        DiabetesClassifier.load_from_checkpoint(tmp_path / "own.ckpt")  # not its own class


def test_a_cli_checkpoint_loads_in_python_and_through_ckpt_path(run_cli, cli_exit, tmp_path):
    fit = run_cli("fit", "diabetes", "--trainer.max_epochs", "1", *BLOCKS_OF_50)
    last = run_folder(fit) / "checkpoints" / "last.ckpt"
    assert DiabetesClassifier.load_from_checkpoint(last).hparams.hidden_sizes == [6, 4]
    args = ["--config", config("diabetes"), "--ckpt_path", str(last), *BLOCKS_OF_50]
    assert cli_exit("validate", *args) is None
    assert cli_exit("fit", *args, "--trainer.max_epochs", "2") is None  # resumed


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSON_CONFIGS)
def test_every_configs_checkpoint_passes_the_check_and_loads(run_cli, name):
    fit = run_cli("fit", name, *short_fit_args(name))
    last = run_folder(fit) / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)["hyper_parameters"]
    check_names(saved, last)  # no name beyond the allow-list, not even the lesson's own
    check_lesson(last, saved["_class_path"])  # what --ckpt_path checks
    reloaded = type(fit.model).load_from_checkpoint(last)
    trained = fit.model.cpu().state_dict()
    assert all(torch.equal(value, trained[key]) for key, value in reloaded.state_dict().items())
