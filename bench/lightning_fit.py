"""``python cli.py fit ARGS`` in this process, timed: prints {"train_s": seconds in fit}.

The timer is an ordinary callback added as a user adds one
(``--trainer.callbacks+=lightning_fit.FitTimer``); the CLI itself is not touched.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import lightning as L
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # cli.py lives at the top of the repository
    sys.path.append(str(REPO))

import cli  # noqa: E402


class FitTimer(L.Callback):
    """Wall time from the start of fit to its end: training, validation and checkpoints.

    Callbacks' ``on_fit_end`` runs before the lesson's, so the figures the lesson draws
    then are not counted, as the plain loops' plot, drawn after their timed loop, is not."""

    def __init__(self) -> None:
        self.seconds = float("nan")

    def on_fit_start(self, trainer, pl_module) -> None:
        self.threads = torch.get_num_threads()  # what the run trains with (bench/threads.py)
        self.start = time.perf_counter()

    def on_fit_end(self, trainer, pl_module) -> None:
        self.seconds = time.perf_counter() - self.start


class UpdatesThroughLightning(L.Callback):
    """A callback with an ``on_before_optimizer_step`` of its own: the course-epoch lessons
    then update through Lightning's optimizer wrapper and ``manual_backward`` (its manual
    optimisation, as any user callback with this hook gets) instead of their direct path."""

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        pass


def timed_fit(args: list[str]) -> dict:
    """Run ``cli.py fit ARGS`` with a FitTimer; its seconds in ``Trainer.fit`` and its final
    metrics. A classifier that validated on a hold-out is then tested (not timed), so that
    its test accuracy is among them."""
    result = cli.main(["fit", *args, f"--trainer.callbacks+={__name__}.FitTimer"])
    # Found by name: run as a script this module is __main__, and the CLI imports it again.
    (timer,) = [c for c in result.trainer.callbacks if type(c).__name__ == "FitTimer"]
    if getattr(result.datamodule, "val_split", "test") == "val":
        result.trainer.test(result.model, datamodule=result.datamodule, verbose=False)
    metrics = {k: float(v) for k, v in result.trainer.callback_metrics.items()}
    return {"train_s": timer.seconds, "threads": timer.threads, "metrics": metrics}


if __name__ == "__main__":
    print(json.dumps(timed_fit(sys.argv[1:])))
