"""The CLI as a user meets it: every config runs, configs round-trip, bad input is one line."""

from __future__ import annotations

import pytest
import yaml
from helpers import CONFIGS, QUIET, config, run_subprocess

LESSON_CONFIGS = sorted(path.stem for path in CONFIGS.glob("*.yaml"))
TRAINER_PRESETS = sorted(path.stem for path in (CONFIGS / "trainer").glob("*.yaml"))


@pytest.mark.parametrize("name", LESSON_CONFIGS)
def test_every_config_fits(run_cli, name):
    result = run_cli("fit", name, "--trainer.fast_dev_run", "true")
    assert result.trainer.state.finished


@pytest.mark.parametrize("name", LESSON_CONFIGS)
def test_every_config_runs_in_bf16_mixed_on_cpu(run_cli, name):
    result = run_cli(
        "fit", name, "--trainer.fast_dev_run", "true", "--trainer.precision", "bf16-mixed"
    )
    assert result.trainer.state.finished
    assert all(
        p.dtype.is_floating_point and p.dtype.itemsize == 4 for p in result.model.parameters()
    )  # weights stay float32


def test_trainer_presets_compose_with_a_lesson(run_cli):
    result = run_cli(
        "fit",
        "linear_regression",
        "--config",
        str(CONFIGS / "trainer" / "cpu.yaml"),
        "--config",
        str(CONFIGS / "trainer" / "bf16.yaml"),
        "--trainer.fast_dev_run",
        "true",
    )
    assert result.trainer.precision == "bf16-mixed"
    assert {"cpu", "gpu", "ddp", "bf16", "fp16"} <= set(TRAINER_PRESETS)


def test_print_config_round_trips(tmp_path, capsys):
    import cli

    with pytest.raises(SystemExit):
        cli.main(["fit", "--config", config("diabetes"), "--print_config"])
    printed = capsys.readouterr().out
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(printed)
    with pytest.raises(SystemExit):
        cli.main(["fit", "--config", str(dumped), "--print_config"])
    assert yaml.safe_load(capsys.readouterr().out) == yaml.safe_load(printed)
    assert yaml.safe_load(printed)["model"]["init_args"]["optimizer"]["init_args"]["lr"] == 0.1


def test_help_lists_the_subcommands(capsys):
    import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(word in out for word in ("fit", "validate", "test", "predict"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model.init_args.no_such_key", "1"], "no_such_key"),
        (["--model.init_args.optimizer.init_args.lr", "-0.1"], "Invalid learning rate: -0.1"),
        (["--data.init_args.predict_x", "[four]"], "predict_x"),
    ],
    ids=["unknown key", "negative lr", "non-numeric predict value"],
)
def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path, args, message):
    result = run_subprocess(
        "fit", "--config", config("linear_regression"), *QUIET, *args, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_an_unknown_option_points_to_the_help_of_its_subcommand(tmp_path):
    result = run_subprocess(
        "validate", "--config", config("linear_regression"), "--trainer.no_such", "1", cwd=tmp_path
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "--trainer.no_such" in result.stderr
    assert "`python cli.py validate --help` lists the options" in result.stderr


def test_toy_lessons_that_update_by_hand_refuse_ddp(tmp_path):
    result = run_subprocess(
        "fit",
        "--config",
        config("gradient_descent_batch"),
        *QUIET,
        "--trainer.accelerator",
        "cpu",
        "--trainer.strategy",
        "ddp",
        "--trainer.devices",
        "2",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "updates its weights by hand" in result.stderr and "--trainer.devices 1" in result.stderr


def test_a_run_is_quiet_but_keeps_warnings_about_the_users_settings(tmp_path):
    result = run_subprocess(
        "fit", "--config", config("linear_regression"), "--trainer.max_epochs", "1",
        "--trainer.log_every_n_steps", "50", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LeafSpec" not in result.stderr and "deprecated" not in result.stderr
    assert "litlogger" not in result.stderr + result.stdout
    assert "smaller than the logging interval" in result.stderr  # the user's setting: shown
