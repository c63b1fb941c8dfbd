"""Every lesson against every other lesson's data: ``fit`` stops before training, in one line
that names what the lesson learns from, what it was given and the config that pairs them."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest
import yaml
from helpers import CONFIGS, QUIET

import cli


def class_paths(config: Path) -> tuple[str, str]:
    """The (lesson, data) class paths a config pairs."""
    settings = yaml.safe_load(config.read_text())
    return settings["model"]["class_path"], settings["data"]["class_path"]


#: Each lesson with its first config (by name), and every data module a config names.
PAIRS = {class_paths(path): path for path in sorted(CONFIGS.glob("*.yaml"), reverse=True)}
LESSONS = {lesson: path for (lesson, _), path in PAIRS.items()}
DATA = sorted({data for _, data in PAIRS})
#: The data module each lesson's own configs give it.
PAIRS_DATA = {lesson: data for lesson, data in PAIRS}
MISMATCHES = [
    (lesson, data) for lesson in sorted(LESSONS) for data in DATA if (lesson, data) not in PAIRS
]


def test_the_table_covers_every_lesson_and_data_module():
    assert len(LESSONS) == 18 and len(DATA) == 8  # with the Kaggle homework's three
    assert len(MISMATCHES) == 18 * 7  # each lesson learns from one data module


def build(class_path: str):
    """An object of the class at ``class_path``, with its defaults."""
    module, name = class_path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)()


def test_each_lesson_refuses_every_other_data_module_and_takes_its_own():
    """The whole table in process, by the check the CLI runs before the Trainer is built."""
    lessons = {lesson: build(lesson) for lesson in LESSONS}
    data_modules = {data: build(data) for data in DATA}
    for lesson, data in MISMATCHES:
        with pytest.raises(ValueError, match="learns from") as refused:
            lessons[lesson].check_data(data_modules[data])
        assert_names_what_fits(str(refused.value), lesson, data)
    for lesson, data in PAIRS:
        lessons[lesson].check_data(data_modules[data])  # no error


def assert_names_what_fits(message: str, lesson: str, data: str) -> None:
    """What the lesson learns from, what it got, and a config that pairs them, in one line."""
    assert "\n" not in message
    expected = PAIRS_DATA[lesson]
    assert f"{lesson.rsplit('.', 1)[1]} learns from {expected}" in message
    assert f"the data given is {data}" in message
    named = re.search(r"--config configs/(\w+\.yaml)", message)
    assert named and class_paths(CONFIGS / named.group(1)) == (lesson, expected)


CHEAP = [
    ("lessons.linear_regression.LinearRegression", "datamodules.mnist.MNISTDataModule"),
    ("lessons.softmax.SoftmaxClassifier", "datamodules.toy.ToyDataModule"),
]


@pytest.mark.parametrize(
    ("lesson", "data"),
    [
        *CHEAP,
        *(pytest.param(*pair, marks=pytest.mark.slow) for pair in MISMATCHES if pair not in CHEAP),
    ],
    ids=lambda name: name.split(".")[-1],
)
def test_another_lessons_data_stops_before_training(lesson, data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = LESSONS[lesson]
    args = ["fit", "--config", str(config), "--data", data, *QUIET]
    monkeypatch.setattr(sys, "argv", ["cli.py", *args])
    with pytest.raises(SystemExit) as stopped:
        cli.run()
    message = str(stopped.value.code)
    assert message.startswith("error: ")
    assert_names_what_fits(message, lesson, data)
    assert not (tmp_path / "runs").exists()  # stopped before the Trainer made a run folder
    assert "Traceback" not in capsys.readouterr().err
