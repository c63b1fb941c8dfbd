"""Every command the project prints works when followed as printed (issue 34).

A short fit of each config prints its run folder and two commands, ``Predict:`` and
``Resume:``; each is run as printed, in the same folder. Predict needs no extra file (lesson
2 predicts y(4) with its best w, lessons 7-8 the held-out rows with their truth, lesson 13 the
test names); ``Resume:`` of a finished run says in one line that it is finished and how to
train longer, and that line's command trains it further. Two configs in the default tier, every
config in the slow one; the homework's on generated files of Kaggle's layout.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from helpers import CONFIGS, LESSON_CONFIGS, QUIET, read_csv, run_subprocess
from test_homework import SHORT as HOMEWORK_SHORT
from test_homework import write_otto, write_reviews, write_titanic

from datamodules.movie_reviews import MOVIE_REVIEWS
from datamodules.otto import OTTO
from datamodules.titanic import TITANIC

#: A short fit of each kind of config: one epoch, a few batches of the big data sets.
MNIST_SHORT = [
    "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
    "--trainer.limit_val_batches", "2", "--trainer.limit_predict_batches", "2",
]  # fmt: skip
SHORT = {
    **{name: ["--trainer.max_epochs", "1"] for name in LESSON_CONFIGS},
    **{name: MNIST_SHORT for name in ("mnist", "mnist_sungkim", "cnn", "inception", "resnet")},
    "mnist_speedrun": [*MNIST_SHORT, "--trainer.precision", "32-true"],
    "names": [*MNIST_SHORT[:6], "--trainer.limit_predict_batches", "1"],
    **HOMEWORK_SHORT,
}
HOMEWORK = {
    "titanic": (write_titanic, TITANIC),
    "otto": (write_otto, OTTO),
    "movie_reviews": (write_reviews, MOVIE_REVIEWS),
}
DEFAULT_TIER = {"linear_search", "diabetes"}


def printed_commands(output: str) -> dict[str, list[str]]:
    """``{"Predict": argv, "Resume": argv}`` from what a fit printed, less ``python cli.py``."""
    commands = {}
    for line in output.splitlines():
        label, _, command = line.partition(":")
        if label in ("Predict", "Resume"):
            words = shlex.split(command)
            assert words[:2] == ["python", "cli.py"], line
            commands[label] = words[2:]
    return commands


def follow(cli_exit, capsys, args: list[str], cwd: Path) -> str:
    """``python cli.py ARGS`` in this process, as the command does; what it printed."""
    capsys.readouterr()
    code = cli_exit(*args, cwd=cwd)
    out = capsys.readouterr().out
    assert code is None, f"{shlex.join(args)} exited with {code!r}\n{out[-2000:]}"
    return out


@pytest.mark.parametrize(
    "name",
    [
        name if name in DEFAULT_TIER else pytest.param(name, marks=pytest.mark.slow)
        for name in sorted(SHORT)
    ],
)
def test_predict_and_resume_run_as_printed(name, cli_exit, capsys, tmp_path, monkeypatch):
    if name in HOMEWORK:  # the learner's download, here generated files of its layout
        write, competition = HOMEWORK[name]
        write(tmp_path / "data" / competition.name)
        monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "configs").symlink_to(CONFIGS)  # the config's path as the README gives it
    fit_args = ["fit", "--config", f"configs/{name}.yaml", *QUIET, *SHORT[name]]
    commands = printed_commands(follow(cli_exit, capsys, fit_args, tmp_path))
    assert set(commands) == {"Predict", "Resume"}

    follow(cli_exit, capsys, commands["Predict"], tmp_path)
    (predictions,) = (tmp_path / "runs").glob("*/version_0/predict*/predictions.csv")
    assert read_csv(predictions), "predict wrote no rows"

    resumed = follow(cli_exit, capsys, commands["Resume"], tmp_path)
    finished = [line for line in resumed.splitlines() if "is finished" in line]
    assert len(finished) == 1, resumed[-2000:]
    longer = shlex.split(finished[0].split(": ")[-1])  # from where it stopped, or a new run
    assert longer[:3] == ["python", "cli.py", "fit"]
    trained_on = follow(cli_exit, capsys, longer[2:], tmp_path)
    assert "Run folder:" in trained_on and "is finished" not in trained_on


def test_the_printed_predict_command_runs_in_a_real_process(tmp_path):
    """The same, once, as a learner types it: a real ``python cli.py`` process."""
    (tmp_path / "configs").symlink_to(CONFIGS)
    fit = run_subprocess(
        "fit", "--config", "configs/diabetes.yaml", *QUIET, "--trainer.max_epochs", "1",
        cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-2000:]
    predict = printed_commands(fit.stdout)["Predict"]
    result = run_subprocess(*predict, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = read_csv(next((tmp_path / "runs").glob("diabetes/version_0/predict/predictions.csv")))
    assert {"probability", "predicted_label", "label"} <= set(rows[0])  # the truth beside
    assert len(rows) == 152  # the held-out fifth of the rows
