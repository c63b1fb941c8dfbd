"""Checkpoints: resume exactly, reload to the same numbers, refuse the wrong file."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pytest
import torch
from helpers import (
    BLOCKS_OF_50,
    CONFIGS,
    PLAIN_TRAINER,
    CountingCheckpointIO,
    read_csv,
    run_folder,
)

from lessons.diabetes import DiabetesClassifier
from runner.checkpoints import AtomicCheckpointIO, CheckpointError, check_lesson, read_checkpoint

DETERMINISTIC = ["--trainer.deterministic", "true"]


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    "name, extra",
    [
        ("diabetes_minibatch", []),  # shuffled mini-batches: the data order must come back too
        (
            "diabetes",
            ["--model.init_args.course_steps_per_batch", "100"],
        ),  # full batch, manual blocks
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


def test_a_checkpoint_validates_and_predicts_as_the_run_that_saved_it(run_cli):
    """``validate --ckpt_path`` gives the run's own metrics; ``load_from_checkpoint`` in plain
    Python, with no config, rebuilds the net that predicts the same."""
    blocks_of_200 = ["--model.init_args.course_steps_per_batch", "200"]
    fit = run_cli("fit", "diabetes", "--trainer.max_epochs", "3", *blocks_of_200)
    last = run_folder(fit) / "checkpoints" / "last.ckpt"
    validated = run_cli("validate", "diabetes", "--ckpt_path", str(last))
    for metric in ("val_acc", "val_auroc", "val_loss"):
        assert validated.trainer.callback_metrics[metric] == pytest.approx(
            float(fit.trainer.callback_metrics[metric]), abs=1e-6
        )
    best = next((run_folder(fit) / "checkpoints").glob("best-*.ckpt"))
    reloaded = DiabetesClassifier.load_from_checkpoint(best)  # no config needed
    x = fit.datamodule.dataset.x
    trained = DiabetesClassifier.load_from_checkpoint(last)
    with torch.no_grad():
        assert torch.equal(trained(x), fit.model.cpu()(x))
        assert reloaded(x).shape == (759, 1)
    assert reloaded.hparams.hidden_sizes == [6, 4]


# --- --ckpt_path last and best, whose checkpoint IO, remote paths, hyperparameters, folders ---


def test_ckpt_path_last_resumes_the_newest_run_in_its_own_folder(run_cli):
    first = run_cli("fit", "diabetes", *BLOCKS_OF_50, "--trainer.max_epochs", "2")
    saved_step = first.trainer.global_step
    resume = ["--ckpt_path", "last"]
    resumed = run_cli("fit", "diabetes", *BLOCKS_OF_50, "--trainer.max_epochs", "3", *resume)
    assert resumed.trainer.ckpt_path.endswith("version_0/checkpoints/last.ckpt")
    assert resumed.trainer.global_step == saved_step * 3 // 2  # went on from the saved step
    assert run_folder(resumed) == run_folder(first)  # the same run, not a new version folder
    rows = read_csv(run_folder(resumed) / "metrics.csv")
    assert {row["step"] for row in rows} == {"50", "100", "150"}  # the first part's rows kept
    again = run_cli("fit", "diabetes", *BLOCKS_OF_50, "--trainer.max_epochs", "4", *resume)
    assert again.trainer.global_step == saved_step * 2


NAMES_FEW = [
    "--config", str(CONFIGS / "presets" / "holdout.yaml"),  # val_acc picks the best checkpoint
    "--trainer.max_epochs", "3",
    "--trainer.limit_train_batches", "2",
    "--trainer.limit_val_batches", "2",
    "--trainer.limit_test_batches", "1",
]  # fmt: skip


def test_best_means_the_best_by_metric_checkpoint(run_cli):
    fit = run_cli("fit", "names", *NAMES_FEW)
    best = fit.trainer.checkpoint_callback.best_model_path
    assert Path(best).name.startswith("best-") and Path(best).is_file()
    fit.trainer.test(fit.model, datamodule=fit.datamodule, ckpt_path="best")  # same process
    assert fit.trainer.ckpt_path == best
    tested = run_cli("test", "names", *NAMES_FEW, "--ckpt_path", "best")  # a later process
    assert Path(tested.trainer.ckpt_path).resolve() == Path(best).resolve()
    assert "test_acc" in tested.trainer.callback_metrics


def test_atomic_io_replaces_only_lightnings_default_checkpoint_io(run_cli):
    default = run_cli("fit", "linear_regression", "--trainer.max_epochs", "1")
    assert type(default.trainer.strategy.checkpoint_io) is AtomicCheckpointIO
    CountingCheckpointIO.saved = 0
    own = run_cli(
        "fit", "linear_regression", "--trainer.max_epochs", "1",
        "--trainer.plugins", "helpers.CountingCheckpointIO",
    )  # fmt: skip
    assert type(own.trainer.strategy.checkpoint_io) is CountingCheckpointIO
    assert CountingCheckpointIO.saved >= 1  # last.ckpt went through the user's IO


def test_remote_checkpoints_go_through_fsspec(run_cli):
    fit = run_cli("fit", "linear_regression", "--trainer.max_epochs", "1")
    memory = fsspec.filesystem("memory")
    url = "memory://bucket/linear_regression/last.ckpt"
    with memory.open(url, "wb") as stream:
        stream.write((run_folder(fit) / "checkpoints" / "last.ckpt").read_bytes())
    predicted = run_cli("predict", "linear_regression", "--ckpt_path", url)
    assert predicted.trainer.ckpt_path == url
    assert (run_folder(predicted) / "predictions.csv").is_file()
    AtomicCheckpointIO().save_checkpoint({"state_dict": {}}, "memory://bucket/saved.ckpt")
    assert read_checkpoint("memory://bucket/saved.ckpt") == {"state_dict": {}}
    with pytest.raises(CheckpointError, match="memory://bucket/none.ckpt not found"):
        read_checkpoint("memory://bucket/none.ckpt")


def test_a_lesson_built_in_plain_python_saves_hyperparameters_safe_to_load(tmp_path):
    import lightning as L

    from datamodules.diabetes import DiabetesDataModule

    model = DiabetesClassifier(course_steps_per_batch=5)  # no CLI: the optimizer default is a class
    trainer = L.Trainer(**PLAIN_TRAINER, max_epochs=1, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=DiabetesDataModule())
    path = tmp_path / "plain.ckpt"
    trainer.save_checkpoint(path)
    saved = torch.load(path, weights_only=True)  # no pickled class object in it
    assert saved["hyper_parameters"]["course_steps_per_batch"] == 5
    reloaded = DiabetesClassifier.load_from_checkpoint(path, weights_only=True)
    assert reloaded.hparams.course_steps_per_batch == 5
    reloaded.configure_optimizers()  # the optimizer comes back as one that builds
    check_lesson(path, "lessons.diabetes.DiabetesClassifier")  # the CLI's check reads it


def test_default_root_dir_puts_the_run_under_it(run_cli, tmp_path):
    fit = run_cli(
        "fit", "linear_regression", "--trainer.max_epochs", "1",
        "--trainer.default_root_dir", str(tmp_path / "elsewhere"),
    )  # fmt: skip
    folder = run_folder(fit)
    assert folder == tmp_path / "elsewhere" / "linear_regression" / "version_0"
    assert (folder / "checkpoints" / "last.ckpt").is_file() and (folder / "metrics.csv").is_file()
    assert not (tmp_path / "runs").exists()


def test_a_classifier_built_in_plain_python_saves_hyperparameters_safe_to_load(tmp_path):
    from functools import partial

    from lessons.softmax import SoftmaxClassifier

    model = SoftmaxClassifier(optimizer=partial(torch.optim.SGD, lr=0.05, momentum=0.5))
    checkpoint = {"hyper_parameters": dict(model.hparams)}  # what Lightning puts in, then:
    model.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, tmp_path / "hparams.ckpt")
    saved = torch.load(tmp_path / "hparams.ckpt", weights_only=True)["hyper_parameters"]
    assert saved["optimizer"] == {
        "class_path": "torch.optim.sgd.SGD",
        "init_args": {"lr": 0.05, "momentum": 0.5},
    }
