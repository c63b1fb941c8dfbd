"""Lightning's private API: used in ``lessons/lightning_private.py`` only, each use listed in
README.md, and each still doing its job (this file runs at the lowest Lightning too, in
``.ci/lowest``)."""

from __future__ import annotations

import re
from pathlib import Path

import lightning as L
import pytest
from helpers import PLAIN_TRAINER, REPO, read_csv, run_folder

from datamodules.toy import ToyDataModule
from lessons.gradient_descent import GradientDescent
from lessons.linear_regression import LinearRegression

PRIVATE_MODULE = REPO / "lessons" / "lightning_private.py"
SOURCES = [REPO / "cli.py"] + sorted(
    path
    for folder in ("lessons", "datamodules", "runner", "exercises")
    for path in (REPO / folder).rglob("*.py")
)
#: ``something._name``: a private attribute of an object other than ``self`` or ``cls``.
PRIVATE_ACCESS = re.compile(r"(?<![\w.])(?!self\.|cls\.)[\w)\]][\w.()\[\]]*?\._([a-z]\w*)")
#: ``from lightning… import _name`` or ``lightning…._module``.
PRIVATE_IMPORT = re.compile(r"^\s*(from|import) lightning[\w.]*(\._| import _)", re.MULTILINE)


def code_lines(path: Path) -> list[str]:
    """The lines of ``path`` that are code, not docstring or comment text."""
    lines, in_docstring = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        quotes = line.count('"""')
        if in_docstring or quotes:
            in_docstring = in_docstring != (quotes % 2 == 1)
            continue
        lines.append(line.split("#")[0])
    return lines


def private_names(path: Path) -> set[str]:
    """The private Lightning names ``path`` reaches: attributes of other objects, and the
    overridden or inherited private members of a Lightning class (``self._fs``)."""
    names = set()
    for line in code_lines(path):
        names.update(PRIVATE_ACCESS.findall(line))
        names.update(re.findall(r"\bdef (_[a-z]\w*)\(self", line))
        names.update(re.findall(r"\bself\.(_[a-z]\w*)", line))
    return {name if name.startswith("_") else f"_{name}" for name in names}


def test_no_private_lightning_name_outside_its_one_module():
    for path in SOURCES:
        if path == PRIVATE_MODULE:
            continue
        text = "\n".join(code_lines(path))
        assert not PRIVATE_IMPORT.search(text), path
        for line in code_lines(path):
            assert not PRIVATE_ACCESS.findall(line), f"{path.relative_to(REPO)}: {line.strip()}"


def test_the_readme_lists_every_private_name_the_module_uses():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Lightning's private API")[1].split("\n## ")[0]
    listed = set(re.findall(r"[`.](_[a-z]\w*)`", section))
    assert listed == private_names(PRIVATE_MODULE)
    assert "optim_step_progress" in section  # reached through the loops, no underscore


@pytest.mark.parametrize(
    ("lesson", "has_direct_optimizer"),
    [(LinearRegression, True), (GradientDescent, False)],
    ids=["counted_step-lesson5", "count_updates_by_hand-lesson3"],
)
def test_updates_that_bypass_lightnings_optimizer_are_counted_in_global_step(
    lesson, has_direct_optimizer
):
    """Lesson 5's updates go straight to torch, lesson 3 has no optimizer: both still count,
    one a course epoch."""
    model = lesson(course_steps_per_batch=10)
    trainer = L.Trainer(max_epochs=3, **PLAIN_TRAINER)
    trainer.fit(model, ToyDataModule())
    assert (model.direct_optimizer is not None) == has_direct_optimizer  # the path taken
    assert trainer.global_step == 30 == len(model.loss_history)


def test_a_resumed_run_appends_to_its_metrics_csv(run_cli):
    """``ResumingWriter``: Lightning's writer would delete the first part's rows."""
    short = ["--model.init_args.course_steps_per_batch", "5"]
    first = run_cli("fit", "linear_regression", *short, "--trainer.max_epochs", "2")
    resumed = run_cli(
        "fit", "linear_regression", *short, "--trainer.max_epochs", "3", "--ckpt_path", "last"
    )
    assert run_folder(resumed) == run_folder(first)
    steps = [int(row["step"]) for row in read_csv(run_folder(resumed) / "metrics.csv")]
    assert sorted(set(steps)) == [5, 10, 15]
