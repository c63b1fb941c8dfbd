"""Checkpoints: resume exactly, reload to the same numbers, refuse the wrong file."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import QUIET, config, run_folder, run_subprocess

from lessons.diabetes import DiabetesClassifier
from runner.checkpoints import CheckpointError

DETERMINISTIC = ["--trainer.deterministic", "true"]


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    "name, extra",
    [
        ("diabetes_minibatch", []),  # shuffled mini-batches: the data order must come back too
        ("diabetes", ["--model.init_args.steps_per_batch", "100"]),  # full batch, manual blocks
    ],
)
def test_stop_and_resume_equals_one_go(run_cli, name, extra):
    one_go = run_cli("fit", name, *DETERMINISTIC, *extra, "--trainer.max_epochs", "4")
    first_half = run_cli("fit", name, *DETERMINISTIC, *extra, "--trainer.max_epochs", "2")
    last = run_folder(first_half) / "checkpoints" / "last.ckpt"
    resumed = run_cli(
        "fit", name, *DETERMINISTIC, *extra, "--trainer.max_epochs", "4", "--ckpt_path", str(last)
    )
    assert resumed.trainer.global_step == one_go.trainer.global_step
    expected, actual = weights(one_go.model), weights(resumed.model)
    assert all(torch.equal(expected[k], actual[k]) for k in expected)  # bitwise
    assert resumed.model.loss_history == one_go.model.loss_history


def test_validate_with_the_checkpoint_reproduces_the_run(run_cli):
    fit = run_cli(
        "fit", "diabetes", "--trainer.max_epochs", "3", "--model.init_args.steps_per_batch", "200"
    )
    last = run_folder(fit) / "checkpoints" / "last.ckpt"
    validated = run_cli("validate", "diabetes", "--ckpt_path", str(last))
    for metric in ("val_acc", "val_auroc", "val_loss"):
        assert validated.trainer.callback_metrics[metric] == pytest.approx(
            float(fit.trainer.callback_metrics[metric]), abs=1e-6
        )


def test_load_from_checkpoint_in_plain_python_predicts_the_same(run_cli):
    fit = run_cli(
        "fit", "diabetes", "--trainer.max_epochs", "2", "--model.init_args.steps_per_batch", "200"
    )
    best = next((run_folder(fit) / "checkpoints").glob("best-*.ckpt"))
    reloaded = DiabetesClassifier.load_from_checkpoint(best)  # no config needed
    x = fit.datamodule.dataset.x
    trained = DiabetesClassifier.load_from_checkpoint(run_folder(fit) / "checkpoints" / "last.ckpt")
    with torch.no_grad():
        assert torch.equal(trained(x), fit.model.cpu()(x))
        assert reloaded(x).shape == (759, 1)
    assert reloaded.hparams.hidden_sizes == [6, 4]


def test_another_lessons_checkpoint_is_refused_in_one_line(run_cli):
    toy = run_cli("fit", "linear_regression", "--trainer.max_epochs", "1")
    last = run_folder(toy) / "checkpoints" / "last.ckpt"
    with pytest.raises(
        CheckpointError, match="saved by lessons.linear_regression.LinearRegression"
    ):
        run_cli("validate", "diabetes", "--ckpt_path", str(last))
    with pytest.raises(CheckpointError, match="not found"):
        run_cli("validate", "diabetes", "--ckpt_path", "no/such.ckpt")


def test_a_checkpoint_that_would_run_code_is_refused(run_cli, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Payload()}, evil)
    with pytest.raises(CheckpointError, match="could run code"):
        run_cli("predict", "linear_regression", "--ckpt_path", str(evil))
    assert not marker.exists()


def read_predictions(path) -> list[dict[str, str]]:
    with open(path) as stream:
        return list(csv.DictReader(stream))


def test_ddp_metrics_are_global_and_its_checkpoint_predicts_the_same_in_one_process(
    run_cli, tmp_path
):
    ddp = ["--trainer.accelerator", "cpu", "--trainer.strategy", "ddp", "--trainer.devices", "2"]
    fit = run_subprocess(
        "fit",
        "--config",
        config("diabetes"),
        *QUIET,
        *ddp,
        "--trainer.max_epochs",
        "2",
        "--model.init_args.steps_per_batch",
        "200",
        cwd=tmp_path,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    folder = tmp_path / "runs" / "diabetes" / "version_0"
    assert not (tmp_path / "runs" / "diabetes" / "version_1").exists()  # one folder, rank 0's
    last = folder / "checkpoints" / "last.ckpt"
    logged = [row for row in read_predictions(folder / "metrics.csv") if row["val_acc"]]
    single = run_cli("validate", "diabetes", "--ckpt_path", str(last))
    # synced over both processes' shards = the whole validation set in one process
    assert float(logged[-1]["val_acc"]) == pytest.approx(
        float(single.trainer.callback_metrics["val_acc"]), abs=1e-6
    )

    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(",".join(["0.1"] * 7 + [str(i / 10)]) for i in range(5)) + "\n")
    predict_args = ["--ckpt_path", str(last), "--data.init_args.predict_file", str(rows)]
    ddp_predict = run_subprocess(
        "predict",
        "--config",
        config("diabetes"),
        *QUIET,
        *ddp,
        *predict_args,
        "--predictions.output",
        "ddp.csv",
        cwd=tmp_path,
    )
    assert ddp_predict.returncode == 0, ddp_predict.stderr[-3000:]
    one = run_cli("predict", "diabetes", *predict_args, "--predictions.output", "one.csv")
    assert one.trainer.world_size == 1
    by_ddp, by_one = read_predictions(tmp_path / "ddp.csv"), read_predictions(tmp_path / "one.csv")
    assert len(by_one) == 5 and by_ddp == by_one
