"""Trainer flags and built-in callbacks a Lightning user reaches for, through the CLI, on a
classifier lesson (lesson 9: automatic optimisation, one update per training step) and on a
course-epoch lesson (lesson 7: its own updates, ``course_steps_per_batch`` course epochs a step).
Where Lightning refuses a flag for lesson 7, the refusal is one line naming what does the
same."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import BLOCKS_OF_50, MNIST_ONE_EPOCH, read_csv, run_folder
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

#: Lesson 7 in blocks of 50 course epochs instead of 1000, printing none of the course's lines.
DIABETES_SHORT = [*BLOCKS_OF_50, "--model.init_args.print_every", "0"]


def movement(weights: dict[str, dict[str, torch.Tensor]]) -> float:
    """How far training moved the weights: the norm of end - start over every tensor."""
    start, end = weights["start"], weights["end"]
    return torch.cat([(end[name] - start[name]).flatten() for name in start]).norm().item()


def recorded_weights(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    return torch.load(folder / "rank0.pt")


def recording(folder: Path) -> list[str]:
    return [
        "--trainer.callbacks+=mnist_helpers.WeightsRecorder",
        f"--trainer.callbacks.folder={folder}",
    ]


def optimizer_lr(result) -> float:
    return result.trainer.optimizers[0].param_groups[0]["lr"]


# --- both lessons: a row for lesson 9 (Lightning's updates), a row for lesson 7 (its own) ---


@pytest.mark.parametrize(
    ("name", "run", "first_lr"),
    [
        ("mnist", ["--trainer.max_epochs", "3", "--trainer.limit_train_batches", "4",
                   "--trainer.limit_val_batches", "1", "--trainer.log_every_n_steps", "1"], 0.01),
        ("diabetes", [*DIABETES_SHORT, "--trainer.max_epochs", "3"], 0.1),
    ],
    ids=["lesson9", "lesson7"],
)  # fmt: skip
def test_swa_learning_rate_reaches_the_optimizer(run_cli, name, run, first_lr):
    result = run_cli(
        "fit", name, *run,
        "--trainer.callbacks+=StochasticWeightAveraging", "--trainer.callbacks.swa_lrs", "0.05",
        "--trainer.callbacks.swa_epoch_start", "1", "--trainer.callbacks.annealing_epochs", "1",
        "--trainer.callbacks+=LearningRateMonitor",
    )  # fmt: skip
    assert optimizer_lr(result) == pytest.approx(0.05)
    rates = [float(row["lr-SGD"]) for row in read_csv(run_folder(result) / "metrics.csv")
             if row.get("lr-SGD")]  # fmt: skip
    assert rates[0] == pytest.approx(first_lr) and rates[-1] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("name", "run", "clip", "bound"),
    [
        # 5 SGD(lr 0.01, momentum 0.5) updates: 5 × 0.01 × 2e-4 (momentum at most doubles a step)
        ("mnist", ["--trainer.max_steps", "5", "--trainer.limit_val_batches", "0"],
         "--trainer.gradient_clip_val", 1e-5),
        # 50 SGD(lr 0.1) updates, one a course epoch: 50 × 0.1 × 1e-4
        ("diabetes", [*DIABETES_SHORT, "--trainer.max_epochs", "1"],
         "--model.init_args.gradient_clip_val", 5e-4),
    ],
    ids=["lesson9-trainer-flag", "lesson7-own-option"],
)  # fmt: skip
def test_gradient_clipping_bounds_the_updates(run_cli, tmp_path, name, run, clip, bound):
    """Gradients clipped to norm 1e-4 move the weights at most the bound; unclipped, further."""
    run_cli("fit", name, *run, *recording(tmp_path / "free"))
    run_cli("fit", name, *run, clip, "1e-4", *recording(tmp_path / "clipped"))
    free, clipped = (recorded_weights(tmp_path / way) for way in ("free", "clipped"))
    assert 0 < movement(clipped) <= bound < movement(free)


@pytest.mark.parametrize(
    ("name", "run", "steps"),
    [
        ("mnist", ["--trainer.max_epochs", "5", "--trainer.limit_train_batches", "3",
                   "--trainer.limit_val_batches", "2"], 6),
        ("diabetes", DIABETES_SHORT, 100),  # 50 course epochs an epoch
    ],
    ids=["lesson9", "lesson7"],
)  # fmt: skip
def test_early_stopping_ends_the_run_when_the_loss_stops_falling(run_cli, name, run, steps):
    result = run_cli(
        "fit", name, *run, "--trainer.callbacks+=EarlyStopping",
        "--trainer.callbacks.monitor", "val_loss", "--trainer.callbacks.min_delta", "100",
        "--trainer.callbacks.patience", "1",
    )  # fmt: skip
    assert result.trainer.current_epoch == 2  # the first epoch sets the best; one more waits
    assert result.trainer.global_step == steps


@pytest.mark.parametrize(
    ("name", "run", "every", "saved"),
    [
        ("mnist", ["--trainer.max_steps", "45", "--trainer.limit_val_batches", "0"], "15",
         ["step=15.ckpt", "step=30.ckpt", "step=45.ckpt"]),
        # lesson 7 checks after each block of course_steps_per_batch course epochs, so a
        # multiple of it saves at each of its steps
        ("diabetes", [*DIABETES_SHORT, "--trainer.max_epochs", "4"], "100",
         ["step=100.ckpt", "step=200.ckpt"]),
    ],
    ids=["lesson9", "lesson7"],
)  # fmt: skip
def test_checkpoints_every_n_updates(run_cli, tmp_path, name, run, every, saved):
    """``every_n_train_steps`` counts updates: lesson 9's mini-batches, lesson 7's course epochs."""
    folder = tmp_path / "every"
    run_cli(
        "fit", name, *run,
        "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.every_n_train_steps", every,
        "--trainer.callbacks.save_top_k", "-1", f"--trainer.callbacks.dirpath={folder}",
        "--trainer.callbacks.filename", "{step}",
    )  # fmt: skip
    assert sorted(path.name for path in folder.iterdir()) == saved


# --- lesson 9 ---


def test_learning_rate_finder_sets_lesson_9s_learning_rate(run_cli):
    result = run_cli(
        "fit", "mnist", *MNIST_ONE_EPOCH, "--trainer.limit_train_batches", "40",
        "--trainer.callbacks+=LearningRateFinder", "--trainer.callbacks.num_training_steps", "30",
    )  # fmt: skip
    found = result.model.lr
    assert found is not None and found != 0.01  # the config's
    assert optimizer_lr(result) == pytest.approx(found)  # the fit trained at it


def test_accumulating_2_batches_on_sgd_is_one_batch_twice_the_size(run_cli, tmp_path):
    steps = ["--trainer.max_steps", "3", "--trainer.limit_val_batches", "0"]
    accumulated = run_cli("fit", "mnist", *steps, "--trainer.accumulate_grad_batches", "2",
                          *recording(tmp_path / "accumulated"))  # fmt: skip
    run_cli("fit", "mnist", *steps, "--data.init_args.batch_size", "128",
            *recording(tmp_path / "doubled"))  # fmt: skip
    assert accumulated.trainer.global_step == 3
    ends = [recorded_weights(tmp_path / way)["end"] for way in ("accumulated", "doubled")]
    start = recorded_weights(tmp_path / "doubled")["start"]
    assert not torch.equal(ends[1]["net.0.weight"], start["net.0.weight"])
    for name in ends[0]:
        torch.testing.assert_close(ends[0][name], ends[1][name], rtol=0, atol=1e-6)


def test_lesson_9_validates_every_10_updates(run_cli):
    result = run_cli(
        "fit", "mnist", *MNIST_ONE_EPOCH, "--trainer.limit_train_batches", "30",
        "--trainer.val_check_interval", "10",
    )  # fmt: skip
    rows = read_csv(run_folder(result) / "metrics.csv")
    assert [int(row["step"]) for row in rows if row["val_acc"]] == [9, 19, 29]


def scalar_steps(folder: Path, tag: str) -> list[int]:
    events = EventAccumulator(str(folder))
    events.Reload()
    return [event.step for event in events.Scalars(tag)]


def test_lesson_9s_step_axis_counts_updates(run_cli):
    result = run_cli(
        "fit", "mnist", *MNIST_ONE_EPOCH, "--trainer.limit_train_batches", "20",
        "--trainer.log_every_n_steps", "5",
    )  # fmt: skip
    folder = run_folder(result)
    rows = read_csv(folder / "metrics.csv")
    assert [int(row["step"]) for row in rows if row["train_loss"]] == [4, 9, 14, 19]
    assert [int(row["step"]) for row in rows if row["val_acc"]] == [19]
    assert scalar_steps(folder, "val_acc") == [19]  # TensorBoard: the same axis


# --- lesson 7 ---


def test_learning_rate_finder_sets_lesson_7s_learning_rate_at_one_course_epoch_per_step(run_cli):
    """In blocks of course epochs the finder is refused (test_reliability's table)."""
    result = run_cli(
        "fit", "diabetes", "--model.init_args.course_steps_per_batch", "1",
        "--trainer.max_epochs", "35", "--model.init_args.print_every", "0",
        "--trainer.callbacks+=LearningRateFinder",
        "--trainer.callbacks.num_training_steps", "30",
    )  # fmt: skip
    found = result.model.lr
    assert found is not None and found != 0.1 and optimizer_lr(result) == pytest.approx(found)


def test_lesson_7s_step_axis_counts_course_epochs(run_cli):
    result = run_cli("fit", "diabetes", *DIABETES_SHORT, "--trainer.max_epochs", "3")
    folder = run_folder(result)
    rows = read_csv(folder / "metrics.csv")
    assert sorted({int(row["step"]) for row in rows}) == [50, 100, 150]
    assert [int(row["step"]) for row in rows if row["val_loss"]] == [50, 100, 150]
    assert scalar_steps(folder, "val_loss") == [50, 100, 150]  # TensorBoard: the same axis
    assert len(result.model.loss_history) == 150  # the loss figure's axis: course epochs
