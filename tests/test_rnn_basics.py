"""Lesson 12: "hello" → "ohlol" with RNNCell, RNN and Embedding, through the CLI."""

from __future__ import annotations

import csv

import pytest
from helpers import run_folder

from lessons.rnn_basics import VOCABULARY

CONFIGS = ["rnn_cell", "rnn", "rnn_embedding"]


def predicted_string(folder) -> str:
    """The string that predict wrote to predictions.csv, checked against its indices."""
    with open(folder / "predictions.csv") as stream:
        (row,) = csv.DictReader(stream)
    assert row["source"] == "hello"
    assert "".join(VOCABULARY[int(i)] for i in row["indices"].split()) == row["predicted"]
    return row["predicted"]


@pytest.mark.parametrize("name", CONFIGS)
def test_lesson12_learns_ohlol_and_predicts_it_from_the_checkpoint(run_cli, capsys, name):
    fit = run_cli("fit", name)
    assert fit.model.predicted == "ohlol"  # the last course epoch's prediction
    assert fit.trainer.global_step == len(fit.model.loss_history)  # one step per course epoch
    assert fit.model.loss_history[-1] < fit.model.loss_history[0] / 2
    assert (run_folder(fit) / "loss.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    checkpoint = run_folder(fit) / "checkpoints" / "last.ckpt"
    predicted = run_cli("predict", name, "--ckpt_path", str(checkpoint))
    assert "hello → ohlol" in capsys.readouterr().out
    assert predicted_string(run_folder(predicted)) == "ohlol"


@pytest.mark.parametrize("name", CONFIGS)
def test_lesson12_learns_ohlol_in_bf16_mixed(run_cli, name):
    fit = run_cli("fit", name, "--trainer.precision", "bf16-mixed")
    assert fit.model.predicted == "ohlol"


def test_lesson12_rnncell_from_seed_0_sticks_in_a_local_minimum(run_cli):
    """What the config's comment says: 200 course epochs do not get it out of "ohlll"."""
    fit = run_cli(
        "fit",
        "rnn_cell",
        "--seed_everything",
        "0",
        "--model.init_args.course_steps_per_batch",
        "50",
        "--trainer.max_epochs",
        "4",
    )
    assert fit.model.predicted == "ohlll"


def test_lesson12_refuses_characters_outside_the_vocabulary(run_cli):
    with pytest.raises(ValueError, match="'x' outside the vocabulary 'ehlo'"):
        run_cli("fit", "rnn_cell", "--data.init_args.source", "hellx")


def test_lesson12_needs_one_output_character_per_input_character(run_cli):
    with pytest.raises(ValueError, match="same, non-zero length"):
        run_cli("fit", "rnn", "--data.init_args.target", "ohlo")
