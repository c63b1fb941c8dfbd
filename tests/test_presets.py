"""Trainer presets where they are used: a clear line where the hardware is missing."""

from __future__ import annotations

import pytest
import torch
import yaml
from helpers import CONFIGS, QUIET, config, run_folder

PRESETS = CONFIGS / "trainer"


@pytest.mark.parametrize(
    ("preset", "name", "says"),
    [
        pytest.param("ddp", "diabetes_minibatch", ["no GPU", "configs/trainer/ddp_cpu.yaml"],
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")),
        pytest.param("mps", "linear_regression", ["MPSAccelerator", "not available"],
                     marks=pytest.mark.skipif(torch.backends.mps.is_available(), reason="mps")),
    ],
)  # fmt: skip
def test_a_preset_without_its_hardware_says_what_is_missing_in_one_line(
    cli_exit, tmp_path, preset, name, says
):
    exit_message = cli_exit(
        "fit", "--config", config(name), "--config", str(PRESETS / f"{preset}.yaml"), *QUIET
    )
    assert exit_message.startswith("error: ") and "\n" not in exit_message
    assert all(words in exit_message for words in says), exit_message
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_debug_preset_runs_a_few_batches_with_anomaly_detection(run_cli, tmp_path):
    result = run_cli("fit", "diabetes_minibatch", "--config", str(PRESETS / "debug.yaml"))
    trainer = result.trainer
    assert trainer.fast_dev_run == 3 and trainer.num_training_batches == 3
    assert trainer._detect_anomaly and trainer.state.finished
    assert not (tmp_path / "runs").exists()  # a check, not a run: nothing written


def test_the_cpu_ddp_preset_is_two_gloo_processes(capsys):
    import cli

    with pytest.raises(SystemExit):
        cli.main(["fit", "--config", config("diabetes_minibatch"), "--config",
                  str(PRESETS / "ddp_cpu.yaml"), "--print_config"])  # fmt: skip
    trainer = yaml.safe_load(capsys.readouterr().out)["trainer"]
    assert trainer["accelerator"] == "cpu" and trainer["devices"] == 2
    assert trainer["strategy"]["class_path"].endswith("DDPStrategy")
    assert trainer["strategy"]["init_args"]["process_group_backend"] == "gloo"


def test_the_speedrun_logs_its_learning_rate(run_cli):
    result = run_cli(
        "fit", "mnist_speedrun", "--trainer.precision", "32-true",
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
        "--trainer.log_every_n_steps", "1", "--trainer.accelerator", "cpu",
        "--model.init_args.channels_last", "false",
    )  # fmt: skip
    metrics = (run_folder(result) / "metrics.csv").read_text().splitlines()
    assert "lr-Adam" in metrics[0].split(",")  # logged by the config's LearningRateMonitor
