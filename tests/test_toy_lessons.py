"""Lessons 2-6 through the CLI, against the course's results (../shared/LESSONS.md)."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import run_folder
from helpers import BackwardCounter

from lessons.backprop import Backprop


def predictions(folder) -> list[dict[str, float]]:
    with open(folder / "predictions.csv") as stream:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(stream)]


def is_png(path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lesson2_finds_w_2(run_cli):
    result = run_cli("fit", "linear_search")
    metrics = result.trainer.logged_metrics
    assert metrics["best_w"] == pytest.approx(2.0)
    assert metrics["best_mse"] == pytest.approx(0.0, abs=1e-10)
    folder = run_folder(result)
    assert is_png(folder / "mse_w.png")
    rows = (folder / "mse_grid.csv").read_text().splitlines()
    assert len(rows) == 1 + 41  # the MSE at every one of the 41 w


def test_lesson2_exercise_finds_w_2_b_1(run_cli):
    result = run_cli("fit", "linear_search_bias")
    metrics = result.trainer.logged_metrics
    assert (metrics["best_w"], metrics["best_b"]) == (pytest.approx(2.0), pytest.approx(1.0))
    assert metrics["best_mse"] == pytest.approx(0.0, abs=1e-10)
    folder = run_folder(result)
    assert is_png(folder / "mse_surface.png")
    assert len((folder / "mse_grid.csv").read_text().splitlines()) == 1 + 31 * 21


def test_lesson3_batch_gd_matches_closed_form(run_cli):
    result = run_cli("fit", "gradient_descent_batch")
    closed_form = 2 - (1 - 0.02 * 14 / 3) ** 100
    assert result.model.w.item() == pytest.approx(closed_form, abs=1e-4)
    assert len(result.model.loss_history) == 100
    assert is_png(run_folder(result) / "loss.png")


def test_lesson3_sgd_converges_to_2(run_cli):
    result = run_cli("fit", "gradient_descent_sgd")
    assert result.model.w.item() == pytest.approx(2.0, abs=1e-3)


def test_lesson4_gradient_at_the_course_point_is_minus_8():
    lesson = Backprop(model="linear")
    loss = (lesson(torch.tensor(2.0)) - 4.0) ** 2
    loss.backward()
    assert lesson.weights["w"].grad.item() == -8.0


def test_lesson4_quadratic_autograd_equals_analytic_gradients():
    lesson = Backprop(model="quadratic")
    w1, w2, b = (lesson.weights[name] for name in ("w1", "w2", "b"))
    for x, y in [(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]:
        loss = (lesson(torch.tensor(x)) - y) ** 2
        loss.backward()
        residual = (w1 * x**2 + w2 * x + b - y).item()
        assert w1.grad.item() == pytest.approx(2 * residual * x**2)
        assert w2.grad.item() == pytest.approx(2 * residual * x)
        assert b.grad.item() == pytest.approx(2 * residual)
        lesson.zero_grad()


@pytest.mark.parametrize("model", ["linear", "quadratic"])
def test_lesson4_training_lowers_the_loss(run_cli, model):
    result = run_cli("fit", f"backprop_{model}")
    history = result.model.loss_history
    assert len(history) == 100 and history[-1] < history[0] / 4
    if model == "linear":
        assert result.model(torch.tensor(4.0)).item() == pytest.approx(8.0, abs=1e-3)


def test_lesson5_predicts_8_at_x_4(run_cli):
    fit = run_cli("fit", "linear_regression")
    assert fit.trainer.global_step == 1000  # the course's 1000 epochs, one step each
    checkpoint = run_folder(fit) / "checkpoints" / "last.ckpt"
    predicted = run_cli("predict", "linear_regression", "--ckpt_path", str(checkpoint))
    (row,) = predictions(run_folder(predicted))
    assert row["x"] == 4.0
    assert abs(row["y_pred"] - 8.0) < 0.05
    assert is_png(run_folder(fit) / "loss.png")


def test_updates_skip_lightning_hooks_only_when_nothing_needs_them(run_cli):
    """Straight-to-torch updates train exactly as Lightning's, and count the same steps; a
    callback that hooks every backward pass gets Lightning's path and sees every update."""
    two_blocks = ("--trainer.max_epochs", "2", "--model.init_args.steps_per_batch", "100")
    direct = run_cli("fit", "linear_regression", *two_blocks)
    hooked = run_cli(
        "fit", "linear_regression", *two_blocks, "--trainer.callbacks+=helpers.BackwardCounter"
    )
    assert not direct.model.update_through_lightning and hooked.model.update_through_lightning
    (counter,) = (c for c in hooked.trainer.callbacks if isinstance(c, BackwardCounter))
    assert counter.calls == hooked.trainer.global_step == direct.trainer.global_step == 200
    assert direct.model.loss_history == hooked.model.loss_history
    for ours, theirs in zip(direct.model.parameters(), hooked.model.parameters()):
        assert torch.equal(ours, theirs)


def test_lesson6_probability_rises_with_hours(run_cli):
    fit = run_cli("fit", "logistic_regression")
    checkpoint = run_folder(fit) / "checkpoints" / "last.ckpt"
    rows = predictions(
        run_folder(run_cli("predict", "logistic_regression", "--ckpt_path", str(checkpoint)))
    )
    p = {row["hours"]: row["p_pass"] for row in rows}
    assert p[2.0] < 0.5 < p[3.0]
    assert [p[h] for h in sorted(p)] == sorted(p.values())  # rises with hours
    assert is_png(run_folder(fit) / "p_pass.png") and is_png(run_folder(fit) / "loss.png")
