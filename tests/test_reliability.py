"""Faults and bad input through the real CLI: nothing lost, one clear line, no code run."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import BLOCKS_OF_50, QUIET, REPO, config, run_folder, wait_for

from datamodules.diabetes import DIABETES
from datamodules.files import DataError, fetch
from runner.checkpoints import read_checkpoint

GOOD_ROW = "-0.29,0.49,0.18,-0.29,0,0.00,-0.53,-0.03,0"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file's hash and every folder under ``folder``: an empty run folder counts too."""
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        )
        for path in sorted(folder.rglob("*"))
    }


def write(path: Path, text: str | bytes) -> str:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


@pytest.fixture
def workspace(tmp_path, run_cli) -> dict[str, str]:
    """Files the bad-input cases point at, and a real checkpoint."""
    folder = tmp_path
    run_cli("fit", "linear_regression", "--trainer.max_epochs", "1")
    toy_ckpt = folder / "runs" / "linear_regression" / "version_0" / "checkpoints" / "last.ckpt"
    good_gz = fetch(DIABETES, None).read_bytes()
    corrupt_default = folder / "corrupt_default"
    corrupt_default.mkdir()
    write(
        corrupt_default / "diabetes.csv.gz",
        gzip.compress(gzip.decompress(good_gz).replace(b"0.", b"0,", 1)),
    )

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {folder / 'PWNED'}",))

    torch.save({"state_dict": {}, "payload": Payload()}, folder / "evil.ckpt")
    (folder / "not_a_dir").write_text("a file where a folder should be")
    return {
        "dir": str(folder),
        "toy_ckpt": str(toy_ckpt),
        "empty": write(folder / "empty.csv", ""),
        "columns": write(folder / "columns.csv", f"{GOOD_ROW}\n1,2,3\n"),
        "text": write(folder / "text.csv", f"{GOOD_ROW}\n{GOOD_ROW.replace('0.49', 'abc')}\n"),
        "cell": write(folder / "cell.csv", f"{GOOD_ROW.replace('0.49', '')}\n"),
        "nan": write(folder / "nan.csv", f"{GOOD_ROW}\n{GOOD_ROW.replace('0.49', 'nan')}\n"),
        "label": write(folder / "label.csv", f"{GOOD_ROW}\n{GOOD_ROW[:-1]}7\n"),
        "truncated_gz": write(folder / "truncated.csv.gz", good_gz[: len(good_gz) // 2]),
        "corrupt_default": str(corrupt_default),
        "empty_dir": str(folder / "empty_dir"),
        "truncated_ckpt": write(folder / "truncated.ckpt", toy_ckpt.read_bytes()[:2000]),
        "not_ckpt": write(folder / "notes.ckpt", "these are my notes, not a checkpoint\n"),
        "evil_ckpt": str(folder / "evil.ckpt"),
        "existing_output": write(folder / "predictions.csv", "x,y_pred\n4,8\n"),
        "not_a_dir": str(folder / "not_a_dir" / "runs"),
    }


D, T = "diabetes", "linear_regression"
#: Each case: the config, what the user adds, what the one line must say ({name}: a workspace path).
BAD_INPUTS = {
    # config
    "unknown key": (T, ["--model.init_args.no_such_key", "1"], "no_such_key"),
    "wrong type": (T, ["--trainer.max_epochs", "ten"], "trainer.max_epochs"),
    "negative lr": (
        T,
        ["--model.init_args.optimizer.init_args.lr", "-0.5"],
        "Invalid learning rate: -0.5",
    ),
    "non-numeric predict value": (T, ["--data.init_args.predict_x", "[four]"], "predict_x"),
    "batch_size 0": (D, ["--data.init_args.batch_size", "0"], "batch_size must be at least 1"),
    "unknown lesson": (T, ["--model.class_path", "lessons.nope.Nope"], "lessons.nope.Nope"),
    "fraction out of range": (D, ["--data.init_args.val_fraction", "1.5"], "val_fraction"),
    "course_steps_per_batch 0": (
        T,
        ["--model.init_args.course_steps_per_batch", "0"],
        "course_steps_per_batch",
    ),
    # Trainer flags and callbacks a lesson cannot honour: what does the same instead
    "clipping, lesson 7": (
        D,
        ["--trainer.gradient_clip_val", "0.5"],
        "drop --trainer.gradient_clip_val: use --model.init_args.gradient_clip_val 0.5",
    ),
    "accumulation, lesson 7": (
        D,
        ["--trainer.accumulate_grad_batches", "2"],
        "drop --trainer.accumulate_grad_batches and raise --data.init_args.batch_size",
    ),
    "clipping, lesson 5": (
        T,
        ["--trainer.gradient_clip_val", "0.5"],
        "drop --trainer.gradient_clip_val: this lesson takes no clipping (lessons 7-8 do: "
        "gradient_clip_val)",
    ),
    "lr finder, lesson 7 in blocks": (
        D,
        ["--trainer.callbacks+=LearningRateFinder"],
        "run it with one per step: --model.init_args.course_steps_per_batch 1",
    ),
    # data: the file, the line and the problem
    "missing offline": (D, ["--data.init_args.data_dir", "{empty_dir}"], "LESSONS_DATA_DIR"),
    "empty file": (D, ["--data.init_args.file", "{empty}"], "{empty}: the file has no rows"),
    "wrong column count": (
        D,
        ["--data.init_args.file", "{columns}"],
        "{columns}:2: expected 9 columns, found 3",
    ),
    "non-numeric": (D, ["--data.init_args.file", "{text}"], "{text}:2: 'abc' is not a number"),
    "empty cell": (D, ["--data.init_args.file", "{cell}"], "{cell}:1: '' is not a number"),
    "NaN": (D, ["--data.init_args.file", "{nan}"], "{nan}:2: missing or non-finite"),
    "bad label": (D, ["--data.init_args.file", "{label}"], "{label}:2: label 7 is not 0 or 1"),
    "truncated gz": (D, ["--data.init_args.file", "{truncated_gz}"], "truncated or corrupt gzip"),
    "checksum mismatch": (D, ["--data.init_args.data_dir", "{corrupt_default}"], "sha256"),
    # checkpoints and output
    "missing checkpoint": (T, ["--ckpt_path", "{dir}/no/such.ckpt"], "not found"),
    "another lesson's checkpoint": (
        D,
        ["--ckpt_path", "{toy_ckpt}"],
        "was saved by lessons.linear_regression.LinearRegression",
    ),
    "last, no earlier run": (
        D,
        ["--ckpt_path", "last"],
        "no run under runs/diabetes has a last.ckpt; train one first",
    ),
    "truncated checkpoint": (T, ["--ckpt_path", "{truncated_ckpt}"], "not a readable checkpoint"),
    "not a checkpoint": (T, ["--ckpt_path", "{not_ckpt}"], "not a readable checkpoint"),
    "checkpoint that runs code": (T, ["--ckpt_path", "{evil_ckpt}"], "could run code"),
    "unwritable output": (
        T,
        ["--trainer.logger.init_args.save_dir", "{not_a_dir}"],
        "cannot write the run's output",
    ),
}
#: Cases that only another subcommand reaches, or that every subcommand checks alike.
OTHER_SUBCOMMANDS = {
    "predict over an existing file": (
        "predict",
        T,
        ["--ckpt_path", "{toy_ckpt}", "--predictions.output", "{existing_output}"],
        "exists",
    ),
    "another lesson's checkpoint, validate": (
        "validate",
        D,
        ["--ckpt_path", "{toy_ckpt}"],
        "was saved by lessons.linear_regression.LinearRegression",
    ),
    "missing checkpoint, a relative path, validate": (
        "validate",
        D,
        ["--ckpt_path", "no/such.ckpt"],
        "not found",
    ),
    "checkpoint that runs code, predict": (
        "predict",
        T,
        ["--ckpt_path", "{evil_ckpt}"],
        "could run code",
    ),
}


def test_bad_input_table(workspace, cli_exit, monkeypatch):
    """Every case through ``cli.run`` in this process (one real ``python cli.py`` process is in
    test_diabetes.py): a non-zero exit with one line that names the problem, nothing written."""
    monkeypatch.setattr("urllib.request.urlopen", offline)
    cases = [("fit", *case) for case in BAD_INPUTS.values()]
    cases += list(OTHER_SUBCOMMANDS.values())
    assert len(cases) >= 30
    folder = Path(workspace["dir"])
    before = snapshot(folder)
    failures = []
    for label, (subcommand, name, args, message) in zip([*BAD_INPUTS, *OTHER_SUBCOMMANDS], cases):
        args = [arg.format(**workspace) for arg in args]
        try:
            exit_message = cli_exit(subcommand, "--config", config(name), *QUIET, *args, cwd=folder)
        except Exception as error:  # noqa: BLE001 - a row that crashes is a failed row; go on
            failures.append(f"{label}: raised {error!r}")
            continue
        if not (isinstance(exit_message, str) and exit_message.startswith("error: ")):
            failures.append(f"{label}: exits with {exit_message!r}")
        elif "\n" in exit_message or message.format(**workspace) not in exit_message:
            failures.append(f"{label}: {exit_message}")
    assert not failures, "\n".join(failures)
    assert snapshot(folder) == before  # no earlier output changed, none added
    assert not (folder / "PWNED").exists()


def offline(*args, **kwargs):
    raise OSError("network is unreachable")


def test_debug_variable_shows_the_traceback(cli_exit, monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_DEBUG", "1")
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(DataError):  # not turned into one line: the traceback shows
        cli_exit("fit", "--config", config(D), *QUIET, "--data.init_args.file", empty)


@pytest.mark.parametrize(
    ("name", "run", "says", "saved_step"),
    [
        # lr 0.1 on sum-MSE: each step multiplies the error by ~1.8, so the loss overflows in
        # the second block of 50 course epochs
        (T, ["--model.init_args.optimizer.init_args.lr", "0.1", *BLOCKS_OF_50,
             "--trainer.max_epochs", "10"], "at course epoch", 50),
        # the learning rate a million times larger from the second epoch: nan in it
        ("mnist", ["--trainer.limit_train_batches", "5", "--trainer.limit_val_batches", "2",
                   "--trainer.max_epochs", "3", "--trainer.callbacks+=helpers.LearningRateJump",
                   "--trainer.callbacks.epoch", "1", "--trainer.callbacks.factor", "1e6"],
         "the training loss became nan in epoch 2", 5),
    ],
    ids=["lesson5-course-epochs", "lesson9-mini-batches"],
)  # fmt: skip
def test_a_diverging_run_names_where_and_keeps_the_last_good_checkpoint(
    run_cli, tmp_path, name, run, says, saved_step
):
    with pytest.raises(FloatingPointError) as error:
        run_cli("fit", name, *run)
    message = str(error.value)
    assert says in message and "lower the learning rate; the last good checkpoint is " in message
    last = f"runs/{name}/version_0/checkpoints/last.ckpt"
    assert message.endswith(last)
    checkpoint = read_checkpoint(tmp_path / last)
    assert checkpoint["global_step"] == saved_step  # the step before the loss went bad
    assert checkpoint["epoch"] == 0  # both go bad in their second epoch
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values())


def test_runs_never_overwrite_each_other(run_cli):
    first = run_folder(run_cli("fit", T, "--trainer.max_epochs", "1"))
    before = snapshot(first)
    second = run_folder(run_cli("fit", T, "--trainer.max_epochs", "1"))
    assert second != first and snapshot(first) == before


def test_same_config_and_seed_give_identical_metrics(run_cli):
    args = [
        "--trainer.max_epochs",
        "2",
        "--model.init_args.course_steps_per_batch",
        "20",
        "--trainer.deterministic",
        "true",
    ]
    one, two = (
        run_cli("fit", "diabetes_minibatch", *args),
        run_cli("fit", "diabetes_minibatch", *args),
    )
    assert {k: float(v) for k, v in one.trainer.callback_metrics.items()} == {
        k: float(v) for k, v in two.trainer.callback_metrics.items()
    }
    assert one.model.loss_history == two.model.loss_history


def start_fit(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), "fit", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_sigterm_saves_prints_the_resume_command_and_exits_non_zero(tmp_path):
    args = ["--config", config(D), *QUIET, "--model.init_args.course_steps_per_batch", "200"]
    process = start_fit(args, tmp_path)
    wait_for("runs/diabetes/version_0/checkpoints/last.ckpt", tmp_path, process)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode not in (0, None)
    command = next(line for line in output.splitlines() if "--ckpt_path" in line).strip()
    saved = read_checkpoint(tmp_path / shlex.split(command)[-1])
    assert saved["global_step"] > 0
    resumed = subprocess.run(
        [
            sys.executable,
            *shlex.split(command)[1:],
            "--trainer.max_epochs",
            str(saved["epoch"] + 2),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (
        read_checkpoint(tmp_path / "runs/diabetes/version_1/checkpoints/last.ckpt")["global_step"]
        > saved["global_step"]
    )


@pytest.mark.slow
def test_killed_at_ten_moments_resumes_to_the_same_weights(run_cli, tmp_path):
    """SIGKILL a real `cli.py fit` at random moments (mid-step, mid-validation, mid-write),
    resume each time from the newest last.ckpt, and end with the uninterrupted run's weights."""
    # 200 epochs of ~50 ms, each resumed run killed within 0.5 s of its first metrics
    # (about epoch 5): ten kills take at most 150 of them.
    extra = ["--trainer.deterministic", "true", "--trainer.max_epochs", "200"]
    args = ["--config", config("diabetes_minibatch"), *QUIET, *extra]
    reference = run_cli("fit", "diabetes_minibatch", *extra)
    rng = random.Random(0)
    kills = survived = 0
    work = tmp_path / "killed"
    work.mkdir()
    while kills < 10:
        checkpoints = sorted(
            work.glob("runs/diabetes_minibatch/version_*/checkpoints/last.ckpt"),
            key=lambda p: read_checkpoint(p)["global_step"],
        )
        resume = ["--ckpt_path", str(checkpoints[-1])] if checkpoints else []
        process = start_fit([*args, *resume], work)
        versions = len(list(work.glob("runs/diabetes_minibatch/version_*")))
        # A resumed run with little left may end before its first metrics are written.
        metrics = f"runs/diabetes_minibatch/version_{versions}/metrics.csv"
        wait_for(metrics, work, process, may_finish=True)
        time.sleep(rng.uniform(0.0, 0.5))
        if process.poll() is not None:
            break  # it finished before the kill
        process.kill()
        process.wait()
        kills += 1
        for path in work.glob("runs/diabetes_minibatch/version_*/checkpoints/*.ckpt"):
            read_checkpoint(path)  # every checkpoint on disk is complete
        survived += 1
    checkpoints = sorted(
        work.glob("runs/diabetes_minibatch/version_*/checkpoints/last.ckpt"),
        key=lambda p: read_checkpoint(p)["global_step"],
    )
    final = run_cli("fit", "diabetes_minibatch", *extra, "--ckpt_path", str(checkpoints[-1]))
    assert kills >= 10 and survived == kills
    expected, actual = reference.model.state_dict(), final.model.state_dict()
    assert all(torch.equal(expected[k], actual[k]) for k in expected)
