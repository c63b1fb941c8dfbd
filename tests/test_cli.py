"""The CLI as a user meets it: every config runs, configs round-trip, bad input is one line."""

from __future__ import annotations

import pytest
import yaml
from helpers import (
    CONFIGS,
    DDP_ON_TWO_CPUS,
    LESSON_CONFIGS,
    QUIET,
    AutocastProbe,
    config,
    run_subprocess,
    short_fit_args,
)

TRAINER_PRESETS = sorted(path.stem for path in (CONFIGS / "trainer").glob("*.yaml"))


def assert_learned(model) -> None:
    """The loss the lesson records fell: per course epoch (lessons 3-8, 12) or per epoch (the
    classifiers, lessons 9-13); lesson 2 searches, so its best MSE beats its first guess."""
    if hasattr(model, "mse_list"):
        losses = model.mse_list
        assert min(losses) < losses[0], losses
    else:
        losses = getattr(model, "loss_history", None) or [
            loss for _, loss in model.history["train_loss"]
        ]
        assert len(losses) >= 2 and losses[-1] < losses[0], losses


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSON_CONFIGS)
def test_every_config_learns_in_a_short_run(run_cli, name):
    result = run_cli("fit", name, *short_fit_args(name))
    assert result.trainer.state.finished
    assert_learned(result.model)


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSON_CONFIGS)
def test_every_config_learns_in_bf16_mixed_under_autocast(run_cli, name):
    probe = "--trainer.callbacks+=helpers.AutocastProbe"
    result = run_cli("fit", name, *short_fit_args(name), "--trainer.precision", "bf16-mixed", probe)
    assert_learned(result.model)
    (probe,) = (c for c in result.trainer.callbacks if isinstance(c, AutocastProbe))
    if getattr(result.model, "no_mixed_precision", False):  # lessons 3-4: hand-written arithmetic
        assert True not in probe.autocast_seen
    elif not hasattr(result.model, "mse_list"):  # lesson 2 searches in NumPy floats
        assert probe.autocast_seen == {True}


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
    assert all(word in out for word in ("fit", "validate", "test", "predict", "download"))


def test_an_unknown_option_points_to_the_help_of_its_subcommand(cli_exit):
    exit_message = cli_exit(
        "validate", "--config", config("linear_regression"), "--trainer.no_such", "1"
    )
    assert exit_message.startswith("error: ") and "--trainer.no_such" in exit_message
    assert "`python cli.py validate --help` lists the options" in exit_message


def test_an_abbreviated_option_is_refused_and_the_option_named(cli_exit, tmp_path):
    """argparse would take ``--trainer.max_epoch`` for ``--trainer.max_epochs`` silently."""
    exit_message = cli_exit("fit", "--config", config("linear_regression"), *QUIET,
                            "--trainer.max_epoch", "3")  # fmt: skip
    # "Unrecognized" in jsonargparse 4.39, "unrecognized" in newer ones
    assert exit_message.lower().startswith("error: unrecognized arguments: --trainer.max_epoch 3")
    assert "did you mean --trainer.max_epochs? `python cli.py fit --help`" in exit_message
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "option, meant",
    [
        ("--model.init_args.lr", "--model.init_args.optimizer.init_args.lr"),
        ("--model.init_args.optimizer.init_args.l", "--model.init_args.optimizer.init_args.lr"),
        ("--data.init_args.batchsize", "--data.init_args.batch_size"),
        ("--trainer.max_epoch=3", "--trainer.max_epochs"),
    ],
)
def test_an_unknown_option_names_the_nearest_real_one(cli_exit, option, meant):
    value = [] if "=" in option else ["3"]
    exit_message = cli_exit("fit", "--config", config("mnist"), *QUIET, option, *value)
    assert exit_message.startswith("error: ") and "\n" not in exit_message
    assert f"did you mean {meant}?" in exit_message


def test_an_unknown_option_far_from_every_real_one_names_none(cli_exit):
    exit_message = cli_exit("fit", "--config", config("mnist"), *QUIET, "--trainer.no_such", "1")
    assert "--trainer.no_such" in exit_message and "did you mean" not in exit_message


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "error: no subcommand: give one of fit, validate, test, predict, download;"),
        (["fti"], "error: 'fti' is no subcommand; did you mean fit? (fit, validate, test, "),
    ],
    ids=["none", "misspelt"],
)
def test_without_a_subcommand_every_one_is_named(cli_exit, args, message):
    exit_message = cli_exit(*args)
    assert exit_message.startswith(message), exit_message
    assert "download" in exit_message and ".;" not in exit_message
    assert exit_message.endswith("`python cli.py --help` says what each does")


@pytest.mark.slow
def test_toy_lessons_that_update_by_hand_refuse_ddp(tmp_path):
    result = run_subprocess(
        "fit", "--config", config("gradient_descent_batch"), *QUIET, *DDP_ON_TWO_CPUS, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "updates its weights by hand" in result.stderr and "--trainer.devices 1" in result.stderr


@pytest.mark.slow
def test_a_run_is_quiet_but_keeps_warnings_about_the_users_settings(tmp_path):
    result = run_subprocess(
        "fit", "--config", config("linear_regression"), "--trainer.max_epochs", "1",
        "--trainer.log_every_n_steps", "50", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LeafSpec" not in result.stderr and "deprecated" not in result.stderr
    assert "litlogger" not in result.stderr + result.stdout
    assert "smaller than the logging interval" in result.stderr  # the user's setting: shown
