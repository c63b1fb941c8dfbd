"""The progress bar the CLI shows: Lightning's tqdm bar, cheap per step, and counting course
epochs where a lesson runs many of them in one training step."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar


class LessonProgressBar(TQDMProgressBar):
    """Lightning's ``TQDMProgressBar`` with three changes, each for what a learner sees:

    - It redraws at most every ``interval`` seconds, and at the end of each loop. Lightning's
      bar redraws and re-reads the logged metrics every ``refresh_rate`` steps, which costs
      about 0.4 ms a step on a CPU, as much as the rest of Lightning's step; here a step that
      does not redraw costs one clock reading.
    - A lesson that runs many course epochs in one training step (``course_steps_per_batch``, on
      data that is one batch: lessons 3-7, 12) gets one bar over the whole fit that counts
      course epochs (``len(loss_history)``), where Lightning's would read ``0/1`` and jump.
    - The line fits an 80-column terminal: no rate, no run version, the lesson's ``prog_bar``
      metrics (the training loss and the validation accuracy); and it ends once the last
      epoch does, so that Lightning's "`Trainer.fit` stopped" gets a line of its own.
    """

    BAR_FORMAT = "{desc}{n_fmt}/{total_fmt} |{bar}| {elapsed}<{remaining}{postfix}"

    def __init__(self, interval: float = 0.2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = interval
        self.drawn: dict[str, float] = {}  # when each loop's bar was last drawn
        self.course_epochs = False  # whether the training bar counts course epochs

    def due(self, loop: str, done: int, total: Any) -> bool:
        """Whether to redraw ``loop``'s bar now: ``interval`` seconds since the last time, or
        the end."""
        now = time.monotonic()
        if done == total or now - self.drawn.get(loop, 0.0) >= self.interval:
            self.drawn[loop] = now
            return True
        return False

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)  # the run folder's number: printed when fit ends
        return metrics

    # Training: course epochs, or Lightning's per-epoch bar redrawn on time.

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        per_step = getattr(pl_module, "course_steps_per_batch", 1)
        self.course_epochs = per_step > 1 and trainer.num_training_batches == 1
        if self.course_epochs and trainer.max_epochs is not None and trainer.max_epochs > 0:
            bar = self.train_progress_bar
            bar.set_description("Course epoch", refresh=False)
            bar.total = trainer.max_epochs * per_step
            bar.initial = bar.n = len(getattr(pl_module, "loss_history", []))  # a resumed run's

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if not self.course_epochs:  # one bar per Lightning epoch
            super().on_train_epoch_start(trainer, *args)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        last = trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs
        steps_done = trainer.max_steps is not None and 0 <= trainer.max_steps <= trainer.global_step
        if last or steps_done or trainer.should_stop:
            # The bar ends its line now: Lightning says why fit stopped before it closes it.
            self.train_progress_bar.close()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        bar = self.train_progress_bar
        if not self.course_epochs:
            if self.due("train", i + 1, bar.total):
                super().on_train_batch_end(trainer, pl_module, outputs, batch, i)
            return
        if self.is_enabled and not bar.disable:
            bar.n = done = len(pl_module.loss_history)  # what any redraw shows
            if self.due("train", done, bar.total):
                bar.set_postfix(self.get_metrics(trainer, pl_module))  # draws the bar

    # Validation, test, predict: Lightning's bars, redrawn on time.

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if self.due("val", i + 1, self.val_progress_bar.total):
            super().on_validation_batch_end(trainer, pl_module, outputs, batch, i, dataloader_idx)

    def on_test_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if self.due("test", i + 1, self.test_progress_bar.total):
            super().on_test_batch_end(trainer, pl_module, outputs, batch, i, dataloader_idx)

    def on_predict_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if self.due("predict", i + 1, self.predict_progress_bar.total):
            super().on_predict_batch_end(trainer, pl_module, outputs, batch, i, dataloader_idx)
