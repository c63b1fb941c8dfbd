"""Run any lesson: ``python cli.py fit --config configs/diabetes.yaml``.

The config names the lesson (``model.class_path``) and its data (``data.class_path``);
LightningCLI builds both and the Trainer, so devices, precision, checkpoints and several
GPUs are Trainer flags: ``--trainer.accelerator gpu --trainer.precision bf16-mixed``.
Subcommands: fit, validate, test, predict; ``--help`` and ``--print_config`` on each.
``python cli.py download [--data_dir DIR] [--check]`` fetches every data file for offline use.

Errors in a config, a data file or a checkpoint end the run with one line that says what
is wrong and how to fix it; set ``LESSONS_DEBUG=1`` to see the traceback instead.

Installed with pip, the same runs as ``lessons fit --config diabetes``: a ``--config`` that
is no file names a config shipped with the package (``diabetes``, ``trainer/ddp_cpu``).
"""

from __future__ import annotations

import atexit
import difflib
import os
import re
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from jsonargparse import ArgumentError
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO, TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import MisconfigurationException, SIGTERMException

from runner.callbacks import FiguresAtFitEnd, PredictionWriter
from runner.checkpoints import (
    SPECIAL_PATHS,
    AtomicCheckpointIO,
    LastCheckpoint,
    check_lesson,
    read_checkpoint,
    run_checkpoint,
)
from runner.progress import LessonProgressBar
from runner.slurm import Preemption, refuse_wrong_allocation, resume_point
from runner.start import end_run, quiet_dependencies, start_run
from runner.summary import already_finished, fit_summary, write_beside_its_run

#: Where the run folders go unless the config or --trainer.default_root_dir says otherwise.
RUNS = "runs"
TRAINER_DEFAULTS = {
    # metrics.csv and TensorBoard event files in one run folder: runs/<lesson>/version_<n>
    "logger": {
        "class_path": "runner.loggers.RunLogger",
        "init_args": {"save_dir": RUNS, "name": "lesson"},
    },
    # A Lightning step is a block of course epochs on small data: log every one.
    "log_every_n_steps": 1,
}
#: What ``python cli.py`` takes first: LightningCLI's subcommands and ours.
SUBCOMMANDS = (*LightningCLI.subcommands(), "download")
#: ``python cli.py --help`` ends with it: ``download`` is ours, not LightningCLI's.
DOWNLOAD_HELP = (
    "download: fetch and verify every data file the lessons read, for a machine without a "
    "network (`download --help` for its options)."
)


class LessonsCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # A config that names a validation metric to monitor (checkpoint.monitor,
        # save_top_k: 1) keeps the best checkpoint by it; registered first, it is the Trainer's
        # checkpoint_callback, the one ckpt_path="best" means. Every run keeps last.ckpt.
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_top_k": 0})
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(Preemption, "preemption")  # SLURM: save, requeue, stop
        parser.add_lightning_class_args(PredictionWriter, "predictions")
        parser.add_lightning_class_args(FiguresAtFitEnd, "figures")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as error:  # what was meant, when it can be told: one line
            given = list(sys.argv[1:] if args is None else args)
            raise ArgumentError(None, explain_parse_error(parser, given, str(error))) from error
        self.command_args = list(sys.argv[1:] if args is None else args)  # for fit's summary
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        config = self.config[subcommand]
        refuse_devices_that_are_not_there(config.get("trainer"))
        logger = run_logger_args(config.get("trainer"))
        root = config.get("trainer", {}).get("default_root_dir")
        if logger is not None and root and logger.get("save_dir") == RUNS:
            logger["save_dir"] = str(root)  # --trainer.default_root_dir DIR: the run goes there
        # Before LightningCLI reads the lesson's hyperparameters from --ckpt_path: "last" and
        # "best" become this lesson's newest run's file, and a missing, unreadable or unsafe
        # file, or one saved by another lesson, is refused in one line.
        ckpt_path = config.get("ckpt_path")
        if subcommand == "fit" and not ckpt_path and (requeued := resume_point(root or ".")):
            config["ckpt_path"] = ckpt_path = str(requeued[0])  # a requeued SLURM job goes on
            if logger is not None and requeued[1] is not None:
                logger["version"] = requeued[1]  # in its own run folder
                warnings.filterwarnings("ignore", message="Checkpoint directory .* exists")
        if ckpt_path in ("last", "best") and logger is not None:
            found, version = run_checkpoint(logger.get("save_dir"), logger.get("name"), ckpt_path)
            config["ckpt_path"] = ckpt_path = str(found)
            if subcommand == "fit" and ckpt_path.endswith("last.ckpt"):
                logger["version"] = version  # the run goes on in its own folder
                resumed = "Checkpoint directory .* exists and is not empty"
                warnings.filterwarnings("ignore", message=resumed)
        if ckpt_path:
            model = config.get("model")
            check_lesson(ckpt_path, getattr(model, "class_path", None))
            if logger is not None and subcommand != "fit":  # into <run>/predict/ …
                write_beside_its_run(subcommand, ckpt_path, logger)
                warnings.filterwarnings("ignore", message="The dirpath has changed")

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        # Another lesson's data: one line, before Lightning makes the run folder (the lesson's
        # setup hook refuses it too, in a user's own script).
        check_data = getattr(self.model, "check_data", None)
        if callable(check_data):
            check_data(self.datamodule)
        trainer = super().instantiate_trainer(**kwargs)
        refuse_wrong_allocation(trainer.num_nodes * trainer.num_devices)  # SLURM, before DDP
        start_run(self.model, trainer.accelerator, trainer.world_size)  # the lesson's threads
        # No half-written checkpoint, ever: Lightning's default checkpoint IO becomes the
        # atomic one; one that --trainer.plugins names is the user's and stays.
        prefix = f"{self.subcommand}." if self.subcommand else ""
        plugins = self.config_init.get(f"{prefix}trainer.plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        users = any(isinstance(plugin, CheckpointIO) for plugin in plugins)
        if not users and type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        # Lightning's default bar becomes the lessons' (cheap per step, course epochs); a bar
        # the config names is the user's and stays.
        bar = trainer.progress_bar_callback
        callbacks = self.config_init.get(f"{prefix}trainer.callbacks") or []
        named = bar in (callbacks if isinstance(callbacks, list) else [callbacks])
        if type(bar) is TQDMProgressBar and not named:
            trainer.callbacks[trainer.callbacks.index(bar)] = LessonProgressBar()
        # Every callback costs each training step a round of hook calls, whether it has work
        # there or not: the ones this subcommand gives no work (figures outside fit, the writer
        # outside predict, a best checkpoint the config did not ask for) are left out.
        trainer.callbacks = [c for c in trainer.callbacks if self.has_work(c)]
        return trainer

    def has_work(self, callback: Any) -> bool:
        if isinstance(callback, FiguresAtFitEnd):
            return self.subcommand == "fit"
        if isinstance(callback, PredictionWriter):
            return self.subcommand == "predict"
        if type(callback) is ModelCheckpoint and callback is self.config_init.get(
            f"{self.subcommand}.checkpoint"
        ):
            return callback.save_top_k != 0
        return True

    def before_fit(self) -> None:
        # Settings that only fail when used (a negative learning rate, say) fail here, before
        # the run folder exists; so do Trainer flags Lightning refuses for lessons that run
        # their own updates (they say what does the same).
        check_trainer = getattr(self.model, "check_trainer", None)
        if callable(check_trainer):
            check_trainer(self.trainer)
        build_optimizer = getattr(self.model, "optimizer", None)
        if callable(build_optimizer):
            build_optimizer(self.model.parameters())
        ensure_writable(Path(getattr(self.trainer.logger, "save_dir", None) or "."))
        # A resumed run remembers where it starts: one that trains nothing was finished.
        ckpt_path = self.config_init[self.subcommand].get("ckpt_path")
        readable = ckpt_path and str(ckpt_path) not in SPECIAL_PATHS
        self.resumed_at = read_checkpoint(ckpt_path).get("global_step") if readable else None

    def after_fit(self) -> None:
        folder = self.trainer.log_dir  # asked on every rank: under DDP it is a collective call
        if not self.trainer.is_global_zero or not folder or self.trainer.fast_dev_run:
            return
        if self.resumed_at is not None and self.trainer.global_step == self.resumed_at:
            print(already_finished(Path(folder), self.trainer, self.command_args, program_name()))
        else:
            print(fit_summary(Path(folder), self.command_args, program_name()))

    def after_validate(self) -> None:
        self.say_where_results_are()

    def after_test(self) -> None:
        self.say_where_results_are()

    def say_where_results_are(self) -> None:
        folder = self.trainer.log_dir  # on every rank, as above
        if self.trainer.is_global_zero and folder:
            print(f"results in {folder}")

    def before_predict(self) -> None:
        for callback in self.trainer.callbacks:
            if isinstance(callback, PredictionWriter) and callback.output:
                callback.refuse_to_overwrite(Path(callback.output))


def run_logger_args(trainer: Any) -> Any:
    """The init_args of the config's logger when it is the default kind (a run folder under
    save_dir/name), else None."""
    logger = trainer and trainer.get("logger")
    class_path = getattr(logger, "class_path", None) if logger else None
    if class_path in ("runner.loggers.RunLogger", "lightning.pytorch.loggers.CSVLogger"):
        return logger.init_args
    return None


def refuse_devices_that_are_not_there(trainer: Any) -> None:
    """``devices: -1`` (every GPU: the ddp preset) on a machine with none ends in one line,
    before anything is written, instead of Lightning's TypeError."""
    import torch

    if not trainer or str(trainer.get("devices")) != "-1":
        return
    accelerator = str(trainer.get("accelerator") or "auto")
    if accelerator in ("auto", "gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError(
            "devices: -1 (every GPU, the ddp preset) but this machine has no GPU; for "
            "processes on the CPU use --config configs/trainer/ddp_cpu.yaml (or add "
            "--trainer.accelerator cpu --trainer.devices 2)"
        )


def bundled_configs() -> Path:
    """The configs folder: beside cli.py in the repository, in the package when installed."""
    here = Path(__file__).resolve().with_name("configs")
    if here.is_dir():
        return here
    import runner  # installed: pyproject.toml ships configs/ as runner/configs

    return Path(runner.__file__).resolve().parent / "configs"


def resolve_configs(args: list[str]) -> list[str]:
    """``--config diabetes`` or ``--config configs/trainer/cpu.yaml`` where no such file is
    here: the config of that name shipped with the package.

    >>> resolve_configs(["fit", "--config", "trainer/cpu"])[2].endswith("trainer/cpu.yaml")
    True
    >>> resolve_configs(["fit", "--config=my.yaml"])
    ['fit', '--config=my.yaml']
    """
    resolved, after_config = [], False
    for arg in args:
        if after_config or arg.startswith("--config="):
            value = arg.removeprefix("--config=")
            name = value.removeprefix("configs/").removesuffix(".yaml")
            bundled = bundled_configs() / f"{name}.yaml"
            if not Path(value).exists() and bundled.is_file():
                value = str(bundled)
            arg = value if after_config else f"--config={value}"
        after_config = arg == "--config"
        resolved.append(arg)
    return resolved


def requested_subcommand(args: list[str]) -> str | None:
    """The first argument that names a subcommand, for the hint of an error message.

    >>> requested_subcommand(["fit", "--config", "configs/diabetes.yaml"])
    'fit'
    >>> requested_subcommand(["--help"]) is None
    True
    """
    return next((arg for arg in args if arg in LightningCLI.subcommands()), None)


def explain_parse_error(parser: LightningArgumentParser, args: list[str], message: str) -> str:
    """jsonargparse's error in one line, with what was probably meant: the subcommands when
    none is given, the nearest real option to an unknown one.

    >>> explain_parse_error(None, ["fti"], "argument subcommand: invalid choice: 'fti'")
    "'fti' is no subcommand; did you mean fit? (fit, validate, test, predict, download)"
    """
    if requested_subcommand(args) is None and "subcommand" in message:
        choices = ", ".join(SUBCOMMANDS)
        given = re.search(r"invalid choice: '([^']*)'", message)
        if given is None:
            return f"no subcommand: give one of {choices}"
        given = given[1]
        meant = difflib.get_close_matches(given, SUBCOMMANDS, n=1)
        guess = f"; did you mean {meant[0]}?" if meant else ""
        return f"{given!r} is no subcommand{guess} ({choices})"
    message = one_line(message).rstrip(".")
    unknown = unknown_option(args, message, parser)
    meant = unknown and nearest_options(parser, args, unknown)
    return f"{message}; did you mean {' or '.join(meant)}?" if meant else message


def unknown_option(
    args: list[str], message: str, parser: LightningArgumentParser | None = None
) -> str | None:
    """The argument (``--trainer.max_epoch``) that a parse error says no option takes: named
    in the message (its wording differs between jsonargparse versions), else the one option
    without which the other arguments parse.

    >>> unknown_option(["fit", "--trainer.max_epoch", "3"], "unrecognized arguments: "
    ...                "--trainer.max_epoch 3")
    '--trainer.max_epoch'
    >>> unknown_option(["fit", "--model.init_args.lr=1"], 'Parser key "model": Problem with '
    ...                "given class_path 'x.Y': Option 'lr' is not accepted")
    '--model.init_args.lr'
    >>> unknown_option(["fit", "--data.init_args.batchsize", "8"], 'Parser key "data": '
    ...                "Problem with given class_path 'x.Y': Key 'batchsize' is not expected")
    '--data.init_args.batchsize'
    """
    if found := re.search(r"unrecognized arguments: (--[^\s=]+)", message, re.IGNORECASE):
        return found[1]
    found = re.search(
        r"Parser key \"([\w.]+)\".*(?:Option|Key) '([\w.]+)' is not (?:accepted|expected)", message
    )
    if found:
        key, leaf = found.groups()
        for arg in args:
            option = arg.split("=", 1)[0]
            if option.startswith(f"--{key}.") and option.endswith(f".{leaf}"):
                return option
    if parser is None:
        return None
    options = [arg.split("=", 1)[0] for arg in args if arg.startswith("--") and "." in arg]
    return next((option for option in options if parses(parser, without(args, option))), None)


def without(args: list[str], unknown: str) -> list[str]:
    """``args`` less ``unknown`` and its value, and less any request for help."""
    rest, index = [], 0
    while index < len(args):
        arg, index = args[index], index + 1
        option = arg.split("=", 1)[0]
        if option == unknown:
            has_value = "=" not in arg and index < len(args) and not args[index].startswith("--")
            index += has_value
        elif option not in ("-h", "--help", "--print_config"):
            rest.append(arg)
    return rest


def parses(parser: LightningArgumentParser, args: list[str]) -> Any:
    """The config ``args`` give, or None where they do not parse."""
    try:
        return parser.parse_args(args)
    except (ArgumentError, SystemExit, KeyError, TypeError):
        return None


def nearest_options(parser: LightningArgumentParser, args: list[str], unknown: str) -> list[str]:
    """The real options of ``unknown``'s group (``--model``, ``--trainer``) whose last name is
    its own (``--model.init_args.lr``: the optimizer's lr) or the closest spelling of it
    (``--trainer.max_epoch``: max_epochs). The options are the keys of the config that the
    other arguments give, parsed again without ``unknown``."""
    config = parses(parser, without(args, unknown))
    if config is None:
        return []
    keys = list(config[requested_subcommand(args)].keys())
    name = unknown.removeprefix("--")
    group, leaf = name.split(".", 1)[0], name.rsplit(".", 1)[-1]
    in_group = [key for key in keys if key.startswith(f"{group}.")]
    names = {key.rsplit(".", 1)[-1] for key in in_group}
    meant = [leaf] if leaf in names else difflib.get_close_matches(leaf, names, n=1, cutoff=0.6)
    return [f"--{key}" for key in in_group if key.rsplit(".", 1)[-1] in meant][:2]


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
    quiet_dependencies()
    if args is None:
        sys.argv[1:] = resolve_configs(sys.argv[1:])
    return LessonsCLI(
        trainer_defaults=TRAINER_DEFAULTS,
        seed_everything_default=0,
        # Parse errors are raised, not printed with the whole usage: __main__ makes one line.
        # No abbreviations: `--trainer.max_epoch 3` is an error, not max_epochs taken silently.
        parser_kwargs={"exit_on_error": False, "allow_abbrev": False, "epilog": DOWNLOAD_HELP}
        | {
            subcommand: {"exit_on_error": False, "allow_abbrev": False}
            for subcommand in LightningCLI.subcommands()
        },
        save_config_kwargs={"overwrite": True},
        args=None if args is None else resolve_configs(list(args)),
    )


def program_name() -> str:
    """How the user called us: the ``lessons`` command or ``python cli.py``."""
    return "lessons" if Path(sys.argv[0]).name == "lessons" else "python cli.py"


def run() -> None:
    """``python cli.py …`` and the ``lessons`` command: errors end in one line."""
    program = program_name()
    if sys.argv[1:2] == ["download"]:  # the data files for offline use: no Trainer, no lesson
        from datamodules.download import main as download

        sys.exit(download(sys.argv[2:], program))
    atexit.register(end_run)
    if os.environ.get("LESSONS_DEBUG"):
        main()
        return
    try:
        main()
    except ArgumentError as error:
        subcommand = requested_subcommand(sys.argv[1:])
        line = one_line(str(error)).rstrip(".")
        help_ = f"`{program} --help` says what each does"
        if subcommand:
            help_ = f"`{program} {subcommand} --help` lists the options"
        sys.exit(f"error: {line}{' ' if line.endswith('?') else '; '}{help_}")
    except (ValueError, OSError, FloatingPointError, MisconfigurationException) as error:
        # MisconfigurationException: a Trainer setting this machine cannot honour (mps here)
        sys.exit(f"error: {one_line(str(error))}  (LESSONS_DEBUG=1 shows the traceback)")
    except SIGTERMException:
        sys.exit(128 + signal.SIGTERM)  # stopped by SIGTERM, checkpoint saved


if __name__ == "__main__":
    run()
