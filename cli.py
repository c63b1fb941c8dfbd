"""Run any lesson: ``python cli.py fit --config configs/diabetes.yaml``.

The config names the lesson (``model.class_path``) and its data (``data.class_path``);
LightningCLI builds both and the Trainer, so devices, precision, checkpoints and several
GPUs are Trainer flags: ``--trainer.accelerator gpu --trainer.precision bf16-mixed``.
Subcommands: fit, validate, test, predict; ``--help`` and ``--print_config`` on each.

Errors in a config, a data file or a checkpoint end the run with one line that says what
is wrong and how to fix it; set ``LESSONS_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lessons.callbacks import LastCheckpoint, PredictionWriter
from lessons.checkpoints import check_lesson


class LessonsCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Every run keeps last.ckpt; a config that names a validation metric to monitor
        # (checkpoint.monitor, save_top_k: 1) also keeps the best checkpoint by it.
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_top_k": 0})
        parser.add_lightning_class_args(PredictionWriter, "predictions")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        # Before LightningCLI reads the lesson's hyperparameters from --ckpt_path: refuse a
        # missing, unreadable or unsafe file, or one saved by another lesson, in one line.
        subcommand = self.config.get("subcommand")
        ckpt_path = subcommand and self.config[subcommand].get("ckpt_path")
        if ckpt_path:
            model = self.config[subcommand].get("model")
            check_lesson(ckpt_path, getattr(model, "class_path", None))


def main(args: list[str] | None = None) -> LessonsCLI:
    return LessonsCLI(
        trainer_defaults={
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": "runs", "name": "lesson"},
            },
            # A Lightning step is a block of course epochs on small data: log every one.
            "log_every_n_steps": 1,
        },
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        args=args,
    )


if __name__ == "__main__":
    if os.environ.get("LESSONS_DEBUG"):
        main()
    else:
        try:
            main()
        except (ValueError, OSError) as error:
            sys.exit(f"error: {error}  (LESSONS_DEBUG=1 shows the traceback)")
