"""Trainer flags and built-in callbacks a Lightning user reaches for, through the CLI, on a
classifier lesson (lesson 9: automatic optimisation, one update per training step) and on a
course-epoch lesson (lesson 7: its own updates, ``course_steps_per_batch`` course epochs a step).
Where Lightning refuses a flag for lesson 7, the refusal is one line naming what does the
same."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import config, read_csv, run_folder
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

#: Lesson 9 for a few updates: a second or two each.
MNIST_SHORT = ["--trainer.max_epochs", "1", "--trainer.limit_val_batches", "2"]
#: Lesson 7 in blocks of 50 course epochs instead of 1000.
DIABETES_SHORT = [
    "--model.init_args.course_steps_per_batch",
    "50",
    "--model.init_args.print_every",
    "0",
]


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


# --- lesson 9 ---


def test_learning_rate_finder_sets_lesson_9s_learning_rate(run_cli):
    result = run_cli(
        "fit", "mnist", *MNIST_SHORT, "--trainer.limit_train_batches", "40",
        "--trainer.callbacks+=LearningRateFinder", "--trainer.callbacks.num_training_steps", "30",
    )  # fmt: skip
    found = result.model.lr
    assert found is not None and found != 0.01  # the config's
    assert optimizer_lr(result) == pytest.approx(found)  # the fit trained at it


def test_swa_learning_rate_reaches_lesson_9s_optimizer(run_cli):
    result = run_cli(
        "fit", "mnist", "--trainer.max_epochs", "3", "--trainer.limit_train_batches", "4",
        "--trainer.limit_val_batches", "1", "--trainer.log_every_n_steps", "1",
        "--trainer.callbacks+=StochasticWeightAveraging", "--trainer.callbacks.swa_lrs", "0.05",
        "--trainer.callbacks.swa_epoch_start", "1", "--trainer.callbacks.annealing_epochs", "1",
        "--trainer.callbacks+=LearningRateMonitor",
    )  # fmt: skip
    assert optimizer_lr(result) == pytest.approx(0.05)
    rates = [float(row["lr-SGD"]) for row in read_csv(run_folder(result) / "metrics.csv")
             if row.get("lr-SGD")]  # fmt: skip
    assert rates[0] == pytest.approx(0.01) and rates[-1] == pytest.approx(0.05)


def test_gradient_clipping_bounds_lesson_9s_updates(run_cli, tmp_path):
    """Five SGD(lr 0.01, momentum 0.5) updates whose gradients are clipped to norm 1e-4
    move the weights at most 5 × 0.01 × 2e-4 = 1e-5 (momentum at most doubles a step)."""
    steps = ["--trainer.max_steps", "5", "--trainer.limit_val_batches", "0"]
    run_cli("fit", "mnist", *steps, *recording(tmp_path / "free"))
    run_cli("fit", "mnist", *steps, "--trainer.gradient_clip_val", "1e-4",
            *recording(tmp_path / "clipped"))  # fmt: skip
    free, clipped = (recorded_weights(tmp_path / way) for way in ("free", "clipped"))
    assert 0 < movement(clipped) <= 1e-5 < movement(free)


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


def test_early_stopping_ends_lesson_9_when_the_loss_stops_falling(run_cli):
    result = run_cli(
        "fit", "mnist", "--trainer.max_epochs", "5", "--trainer.limit_train_batches", "3",
        "--trainer.limit_val_batches", "2", "--trainer.callbacks+=EarlyStopping",
        "--trainer.callbacks.monitor", "val_loss", "--trainer.callbacks.min_delta", "100",
        "--trainer.callbacks.patience", "1",
    )  # fmt: skip
    assert result.trainer.current_epoch == 2  # the first epoch sets the best; one more waits


def test_checkpoints_every_15_updates_of_lesson_9(run_cli, tmp_path):
    folder = tmp_path / "every15"
    run_cli(
        "fit", "mnist", "--trainer.max_steps", "45", "--trainer.limit_val_batches", "0",
        "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.every_n_train_steps", "15",
        "--trainer.callbacks.save_top_k", "-1", f"--trainer.callbacks.dirpath={folder}",
        "--trainer.callbacks.filename", "{step}",
    )  # fmt: skip
    assert sorted(path.name for path in folder.iterdir()) == [
        "step=15.ckpt", "step=30.ckpt", "step=45.ckpt"
    ]  # fmt: skip


def test_lesson_9_validates_every_10_updates(run_cli):
    result = run_cli(
        "fit", "mnist", *MNIST_SHORT, "--trainer.limit_train_batches", "30",
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
        "fit", "mnist", *MNIST_SHORT, "--trainer.limit_train_batches", "20",
        "--trainer.log_every_n_steps", "5",
    )  # fmt: skip
    folder = run_folder(result)
    rows = read_csv(folder / "metrics.csv")
    assert [int(row["step"]) for row in rows if row["train_loss"]] == [4, 9, 14, 19]
    assert [int(row["step"]) for row in rows if row["val_acc"]] == [19]
    assert scalar_steps(folder, "val_acc") == [19]  # TensorBoard: the same axis


# --- lesson 7 ---


def test_learning_rate_finder_on_lesson_7_needs_one_course_epoch_per_step(cli_exit, run_cli):
    message = cli_exit("fit", "--config", config("diabetes"),
                       "--trainer.callbacks+=LearningRateFinder")  # fmt: skip
    assert len(message.strip().splitlines()) == 1
    assert "run it with one per step: --model.init_args.course_steps_per_batch 1" in message
    result = run_cli(
        "fit", "diabetes", "--model.init_args.course_steps_per_batch", "1",
        "--trainer.max_epochs", "35", "--model.init_args.print_every", "0",
        "--trainer.callbacks+=LearningRateFinder",
        "--trainer.callbacks.num_training_steps", "30",
    )  # fmt: skip
    found = result.model.lr
    assert found is not None and found != 0.1 and optimizer_lr(result) == pytest.approx(found)


def test_swa_learning_rate_reaches_lesson_7s_optimizer(run_cli):
    result = run_cli(
        "fit", "diabetes", *DIABETES_SHORT, "--trainer.max_epochs", "3",
        "--trainer.callbacks+=StochasticWeightAveraging", "--trainer.callbacks.swa_lrs", "0.05",
        "--trainer.callbacks.swa_epoch_start", "1", "--trainer.callbacks.annealing_epochs", "1",
    )  # fmt: skip
    assert optimizer_lr(result) == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("flag", "value", "alternative"),
    [
        ("gradient_clip_val", "0.5", "--model.init_args.gradient_clip_val 0.5"),
        ("accumulate_grad_batches", "2", "--data.init_args.batch_size"),
    ],
)
def test_lesson_7_refuses_trainer_flags_for_its_own_updates_in_one_line(
    cli_exit, flag, value, alternative
):
    message = cli_exit("fit", "--config", config("diabetes"), f"--trainer.{flag}", value)
    assert len(message.strip().splitlines()) == 1
    assert f"--trainer.{flag}" in message and alternative in message


def test_a_lesson_without_clipping_says_so_and_where_it_is(cli_exit):
    message = cli_exit("fit", "--config", config("linear_regression"),
                       "--trainer.gradient_clip_val", "0.5")  # fmt: skip
    assert len(message.strip().splitlines()) == 1
    assert "takes no clipping (lessons 7-8 do: gradient_clip_val)" in message


def test_lesson_7s_own_gradient_clipping_bounds_its_updates(run_cli, tmp_path):
    """50 SGD(lr 0.1) updates of gradients clipped to norm 1e-4 move the weights at most
    50 × 0.1 × 1e-4 = 5e-4."""
    one_block = [*DIABETES_SHORT, "--trainer.max_epochs", "1"]
    run_cli("fit", "diabetes", *one_block, *recording(tmp_path / "free"))
    run_cli("fit", "diabetes", *one_block, "--model.init_args.gradient_clip_val", "1e-4",
            *recording(tmp_path / "clipped"))  # fmt: skip
    free, clipped = (recorded_weights(tmp_path / way) for way in ("free", "clipped"))
    assert 0 < movement(clipped) <= 5e-4 < movement(free)


def test_early_stopping_ends_lesson_7_when_the_loss_stops_falling(run_cli):
    result = run_cli(
        "fit", "diabetes", *DIABETES_SHORT, "--trainer.callbacks+=EarlyStopping",
        "--trainer.callbacks.monitor", "val_loss", "--trainer.callbacks.min_delta", "100",
        "--trainer.callbacks.patience", "1",
    )  # fmt: skip
    assert result.trainer.current_epoch == 2 and result.trainer.global_step == 100


def test_checkpoints_every_100_course_epochs_of_lesson_7(run_cli, tmp_path):
    """``every_n_train_steps`` counts updates; lesson 7 checks it after each block of
    ``course_steps_per_batch`` course epochs, so a multiple of it saves at each of its steps."""
    folder = tmp_path / "every100"
    run_cli(
        "fit", "diabetes", *DIABETES_SHORT, "--trainer.max_epochs", "4",
        "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.every_n_train_steps", "100",
        "--trainer.callbacks.save_top_k", "-1", f"--trainer.callbacks.dirpath={folder}",
        "--trainer.callbacks.filename", "{step}",
    )  # fmt: skip
    assert sorted(path.name for path in folder.iterdir()) == ["step=100.ckpt", "step=200.ckpt"]


def test_lesson_7s_step_axis_counts_course_epochs(run_cli):
    result = run_cli("fit", "diabetes", *DIABETES_SHORT, "--trainer.max_epochs", "3")
    folder = run_folder(result)
    rows = read_csv(folder / "metrics.csv")
    assert sorted({int(row["step"]) for row in rows}) == [50, 100, 150]
    assert [int(row["step"]) for row in rows if row["val_loss"]] == [50, 100, 150]
    assert scalar_steps(folder, "val_loss") == [50, 100, 150]  # TensorBoard: the same axis
    assert len(result.model.loss_history) == 150  # the loss figure's axis: course epochs
