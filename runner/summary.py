"""Where a run's results are: the block ``fit`` ends with, and the folder that ``predict``,
``validate`` and ``test`` from a run's checkpoint write into (``<run>/predict/`` …), beside
the run that made the checkpoint instead of in a run folder of their own."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from torch.optim.lr_scheduler import OneCycleLR

from runner.checkpoints import best_of


def run_of(checkpoint: str | Path) -> Path | None:
    """The run folder of a checkpoint saved in ``<run>/checkpoints/``, else None.

    >>> run_of("runs/mnist/version_3/checkpoints/last.ckpt")
    PosixPath('runs/mnist/version_3')
    >>> run_of("my.ckpt") is None, run_of("s3://bucket/checkpoints/last.ckpt") is None
    (True, True)
    """
    path = Path(checkpoint)
    if "://" in str(checkpoint) or path.parent.name != "checkpoints":
        return None
    return path.parent.parent


def write_beside_its_run(subcommand: str, checkpoint: str, logger: Any) -> None:
    """``predict``, ``validate`` and ``test`` of a run's checkpoint log into that run's folder,
    ``<run>/<subcommand>/`` (``predict_1/`` … the next times, as a run never reuses a folder):
    ``logger`` (the logger's init_args) is changed in place. A ``fit``, a logger version the
    user chose, or a checkpoint outside a run stays as it is."""
    run = run_of(checkpoint)
    if subcommand == "fit" or run is None or logger.get("version") is not None:
        return
    folder, count = subcommand, 0
    while (run / folder).exists():
        count += 1
        folder = f"{subcommand}_{count}"
    logger["save_dir"], logger["name"], logger["version"] = str(run), "", folder


def fit_summary(run: Path, args: list[str], program: str) -> str:
    """The run folder, what is in it, and the commands that predict from it and resume it."""
    last = run / "checkpoints" / "last.ckpt"
    best = best_of(run)
    contents = [
        (f"checkpoints/{best.name}", "the best checkpoint by the monitored metric")
        if best
        else None,
        ("checkpoints/last.ckpt", "the state reached, to predict from or resume")
        if last.is_file()
        else None,
        (", ".join(p.name for p in sorted(run.glob("*.png"))), "figures"),
        ("metrics.csv", "the logged metrics") if (run / "metrics.csv").is_file() else None,
        ("events.out.tfevents.*", f"TensorBoard: tensorboard --logdir {run.parent.parent}")
        if any(run.glob("events.out.tfevents.*"))
        else None,
    ]
    shown = [(name, what) for name, what in filter(None, contents) if name]
    width = max((len(name) for name, _ in shown), default=0)
    lines = [f"Run folder: {run}"] + [f"  {name:<{width}}  {what}" for name, what in shown]
    others = command_without_checkpoint(args)
    if last.is_file():
        lines.append(f"Predict:  {program} predict {others} --ckpt_path {best or last}")
        lines.append(f"Resume:   {program} fit {others} --ckpt_path last")
    return "\n".join(lines)


def already_finished(run: Path, trainer: Any, args: list[str], program: str) -> str:
    """One line for a resumed run that had nothing left to train, with the command that
    trains it longer: twice the epochs (or steps) it was asked for, from where it stopped - or,
    for a schedule planned to end where the run ended (one-cycle), a new run of that length."""
    by_steps = trainer.max_steps is not None and trainer.max_steps > 0
    name = "max_steps" if by_steps else "max_epochs"
    limit = getattr(trainer, name)
    others = command_without_option(command_without_checkpoint(args), f"--trainer.{name}")
    planned = any(isinstance(c.scheduler, OneCycleLR) for c in trainer.lr_scheduler_configs)
    longer = f"{program} fit {others} --trainer.{name} {2 * limit}"
    return f"The run in {run} is finished ({name}={limit} reached): nothing left to train. " + (
        f"Its one-cycle schedule ends there; to train longer, start a new run: {longer}"
        if planned
        else f"To train it longer: {longer} --ckpt_path last"
    )


def command_without_option(command: str, option: str) -> str:
    """``command`` without ``option`` and its value (``--option value`` or ``--option=value``).

    >>> command_without_option("--config a.yaml --trainer.max_epochs 3", "--trainer.max_epochs")
    '--config a.yaml'
    """
    kept, skip = [], False
    for arg in shlex.split(command):
        if skip or arg.startswith(f"{option}="):
            skip = False
            continue
        skip = arg == option
        if not skip:
            kept.append(arg)
    return shlex.join(kept)


def command_without_checkpoint(args: list[str]) -> str:
    """The command line's arguments less the subcommand and any ``--ckpt_path``.

    >>> command_without_checkpoint(["fit", "--config", "a b.yaml", "--ckpt_path", "last"])
    "--config 'a b.yaml'"
    """
    kept, skip = [], False
    subcommands = {"fit", "validate", "test", "predict"}
    for arg in args:
        if skip or arg.startswith("--ckpt_path=") or (arg in subcommands and not kept):
            skip = False
            continue
        skip = arg == "--ckpt_path"
        if not skip:
            kept.append(arg)
    return shlex.join(kept)
