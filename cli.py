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
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from jsonargparse import ArgumentError
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.exceptions import SIGTERMException

from runner.callbacks import FiguresAtFitEnd, PredictionWriter
from runner.checkpoints import AtomicCheckpointIO, LastCheckpoint, check_lesson


class LessonsCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Every run keeps last.ckpt; a config that names a validation metric to monitor
        # (checkpoint.monitor, save_top_k: 1) also keeps the best checkpoint by it.
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_top_k": 0})
        parser.add_lightning_class_args(PredictionWriter, "predictions")
        parser.add_lightning_class_args(FiguresAtFitEnd, "figures")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        # Before LightningCLI reads the lesson's hyperparameters from --ckpt_path: refuse a
        # missing, unreadable or unsafe file, or one saved by another lesson, in one line.
        subcommand = self.config.get("subcommand")
        ckpt_path = subcommand and self.config[subcommand].get("ckpt_path")
        if ckpt_path:
            model = self.config[subcommand].get("model")
            check_lesson(ckpt_path, getattr(model, "class_path", None))

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()  # no half-written checkpoint, ever
        return trainer

    def before_fit(self) -> None:
        # Settings that only fail when used (a negative learning rate, say) fail here, before
        # the run folder exists.
        build_optimizer = getattr(self.model, "optimizer", None)
        if callable(build_optimizer):
            build_optimizer(self.model.parameters())
        ensure_writable(Path(getattr(self.trainer.logger, "save_dir", None) or "."))

    def before_predict(self) -> None:
        for callback in self.trainer.callbacks:
            if isinstance(callback, PredictionWriter) and callback.output:
                callback.refuse_to_overwrite(Path(callback.output))


def requested_subcommand(args: list[str]) -> str | None:
    """The first argument that names a subcommand, for the hint of an error message.

    >>> requested_subcommand(["fit", "--config", "configs/diabetes.yaml"])
    'fit'
    >>> requested_subcommand(["--help"]) is None
    True
    """
    return next((arg for arg in args if arg in LightningCLI.subcommands()), None)


def ensure_writable(folder: Path, needed_mb: int = 50) -> None:
    """Fail before training, not after it, when the run's output cannot be written.

    The check writes a temporary file in the nearest folder that exists and creates nothing.
    """
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is a file")
        with tempfile.TemporaryFile(dir=existing):
            pass
        free_mb = shutil.disk_usage(existing).free // 2**20
    except OSError as error:
        raise OSError(
            f"cannot write the run's output in {folder} ({error.strerror or error}); "
            "choose a writable folder with --trainer.logger.init_args.save_dir"
        ) from None
    if free_mb < needed_mb:
        raise OSError(
            f"only {free_mb} MB free for {folder}; free some space or choose another folder "
            "with --trainer.logger.init_args.save_dir"
        )


def one_line(message: str) -> str:
    """jsonargparse explains a bad value over many lines; keep the ones that say what is wrong.

    >>> one_line('Parser key "model":\\n  Does not validate against any of the Union subtypes\\n'
    ...          "  Errors:\\n    - Option 'no_such' is not accepted\\n"
    ...          "    - Expected a <class 'NoneType'>\\n  Given value: 1")
    'Parser key "model": Option \\'no_such\\' is not accepted'
    """
    noise = ("Does not validate", "Subtypes:", "Errors:", "Expected a <class 'NoneType'>", "Given")
    lines = [line.strip().lstrip("- ") for line in message.splitlines()]
    return " ".join(line for line in lines if line and not line.startswith(noise))


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
        # Parse errors are raised, not printed with the whole usage: __main__ makes one line.
        parser_kwargs={"exit_on_error": False}
        | {subcommand: {"exit_on_error": False} for subcommand in LightningCLI.subcommands()},
        save_config_kwargs={"overwrite": True},
        args=args,
    )


if __name__ == "__main__":
    if os.environ.get("LESSONS_DEBUG"):
        main()
    else:
        try:
            main()
        except ArgumentError as error:
            subcommand = requested_subcommand(sys.argv[1:]) or "fit"
            sys.exit(
                f"error: {one_line(str(error))}; "
                f"`python cli.py {subcommand} --help` lists the options"
            )
        except (ValueError, OSError, FloatingPointError) as error:
            sys.exit(f"error: {one_line(str(error))}  (LESSONS_DEBUG=1 shows the traceback)")
        except SIGTERMException:
            sys.exit(128 + signal.SIGTERM)  # stopped by SIGTERM, checkpoint saved
