"""TensorBoard beside metrics.csv: one run folder holds both, figures included."""

from __future__ import annotations

from helpers import run_folder
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def test_tensorboard_events_hold_the_scalars_and_the_figures_beside_metrics_csv(run_cli):
    fit = run_cli("fit", "linear_regression", "--trainer.max_epochs", "2")
    folder = run_folder(fit)
    assert (folder / "metrics.csv").is_file() and list(folder.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    losses = events.Scalars("train_loss")
    assert len(losses) == 2  # one per epoch, as in metrics.csv
    assert losses[-1].value < losses[0].value
    assert "loss" in events.Tags()["images"]  # loss.png, as drawn into the run folder
    image = events.Images("loss")[-1]
    assert image.width > 100 and image.height > 100 and image.step == fit.trainer.global_step


def test_the_tensorboard_writer_can_be_switched_off(run_cli):
    fit = run_cli(
        "fit", "linear_regression", "--trainer.max_epochs", "1",
        "--trainer.logger.init_args.tensorboard", "false",
    )  # fmt: skip
    folder = run_folder(fit)
    assert (folder / "metrics.csv").is_file()
    assert not list(folder.glob("events.out.tfevents.*"))
