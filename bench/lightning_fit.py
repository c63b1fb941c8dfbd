"""``python cli.py fit ARGS`` in this process, timed: prints {"train_s": seconds in fit}."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import lightning as L

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cli  # noqa: E402


class FitTimer(L.Callback):
    """Wall time from the start of fit to its end: training, validation and checkpoints.

    Callbacks' ``on_fit_end`` runs before the lesson's, so the figures the lesson draws
    then are not counted, as the plain loops' plot, drawn after their timed loop, is not."""

    def on_fit_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_fit_end(self, trainer, pl_module) -> None:
        self.seconds = time.perf_counter() - self.start


def timed_fit(args: list[str]) -> dict:
    """Run ``cli.py fit ARGS``; its seconds in ``Trainer.fit`` and its final metrics."""
    timer = FitTimer()
    original = cli.LessonsCLI.instantiate_trainer

    def with_timer(self, **kwargs):
        trainer = original(self, **kwargs)
        trainer.callbacks.append(timer)
        return trainer

    cli.LessonsCLI.instantiate_trainer = with_timer
    try:
        result = cli.main(["fit", *args])
    finally:
        cli.LessonsCLI.instantiate_trainer = original
    metrics = {k: float(v) for k, v in result.trainer.callback_metrics.items()}
    return {"train_s": timer.seconds, "metrics": metrics}


if __name__ == "__main__":
    print(json.dumps(timed_fit(sys.argv[1:])))
