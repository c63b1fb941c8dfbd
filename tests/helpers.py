"""What the tests share, imported as ``from helpers import …`` (pytest's ``pythonpath`` puts
tests/ on the path): the repository's folders, the CLI run as a user runs it, and test-only
callbacks that a CLI subprocess loads by class path (``helpers.BackwardCounter``)."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from lightning.pytorch.plugins.io import TorchCheckpointIO

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
#: The Kaggle homework's configs read the learner's download of the competition's files:
#: tests/test_homework.py runs them on files it writes.
HOMEWORK_CONFIGS = {"titanic", "otto", "movie_reviews"}
#: Every lesson's config: what runs on the data this project downloads.
LESSON_CONFIGS = sorted(
    path.stem for path in CONFIGS.glob("*.yaml") if path.stem not in HOMEWORK_CONFIGS
)
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
#: DDP over gloo on two CPU processes, as configs/trainer/ddp_cpu.yaml runs it.
DDP_ON_TWO_CPUS = [
    "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp", "--trainer.devices", "2",
]  # fmt: skip
#: One epoch of lesson 9 on two CPU processes (DDP over gloo), a few batches of each loader.
MNIST_DDP_CPU = [
    "--config", str(CONFIGS / "mnist.yaml"), *QUIET, *DDP_ON_TWO_CPUS,
    "--trainer.max_epochs", "1", "--trainer.limit_val_batches", "2",
    "--trainer.num_sanity_val_steps", "0",
]  # fmt: skip
#: An MNIST config for one epoch, validated on two batches (the training batches each test's own).
MNIST_ONE_EPOCH = ["--trainer.max_epochs", "1", "--trainer.limit_val_batches", "2"]
#: A course-epoch lesson (5-7) in blocks of 50 course epochs instead of its config's 1000.
BLOCKS_OF_50 = ["--model.init_args.course_steps_per_batch", "50"]
#: Two epochs of two training steps, two validation batches: a few seconds for any config.
SHORT_FIT = [
    "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "2",
    "--trainer.limit_val_batches", "2", "--trainer.num_sanity_val_steps", "0",
]  # fmt: skip
#: A plain Trainer on one CPU that writes and shows nothing: ``L.Trainer(**PLAIN_TRAINER)``.
PLAIN_TRAINER = dict(  # noqa: C408
    accelerator="cpu",
    devices=1,
    logger=False,
    enable_checkpointing=False,
    enable_progress_bar=False,
    enable_model_summary=False,
)


#: Seconds one notebook cell may take on a slow, busy CPU before the run counts as failed.
CELL_TIMEOUT = 300


def config(name: str) -> str:
    return str(CONFIGS / f"{name}.yaml")


def short_fit_args(name: str) -> list[str]:
    """SHORT_FIT, with the MNIST configs' epochs cut to 4 mini-batches of 64."""
    data = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())["data"]["class_path"]
    if not data.endswith("MNISTDataModule"):
        return SHORT_FIT
    return [*SHORT_FIT, "--trainer.limit_train_batches", "4", "--data.init_args.batch_size", "64"]


def read_csv(path) -> list[dict[str, str]]:
    """The rows of a CSV file the runs write (metrics.csv, predictions.csv), as dicts."""
    with open(path) as stream:
        return list(csv.DictReader(stream))


def run_folder(result) -> Path:
    return Path(result.trainer.log_dir)


def run_subprocess(*args: str, cwd: Path, env: dict | None = None, timeout: int = 600):
    """``python cli.py ARGS`` as a user types it, in ``cwd``; returns the CompletedProcess."""
    return run_command(
        sys.executable, str(REPO / "cli.py"), *args, cwd=cwd, env=env, timeout=timeout
    )


def run_command(*command: str, cwd: Path, env: dict | None = None, timeout: int = 600):
    """Any command, with the repository and tests/ importable (class paths in configs)."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        **(env or {}),
    }
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


#: Stand-ins for SLURM's sbatch, srun, scontrol and scancel (tests/slurm/standin.py).
SLURM_STANDINS = REPO / "tests" / "slurm"


def launch(*command: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """``command`` started as ``run_command`` runs it but without waiting, in a session of its
    own (``finish`` ends all it started), without the SLURM or torchrun variables of the
    machine running the tests, and the stand-ins and this Python first on PATH."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLURM_", "MASTER_", "TORCHELASTIC_")) and key != "PATH"
    }
    path = [str(SLURM_STANDINS), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    environment = {
        **inherited,
        "PATH": os.pathsep.join(path),
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        **(env or {}),
    }
    return subprocess.Popen(
        command, cwd=cwd, env=environment, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def finish(process: subprocess.Popen, timeout: float) -> str:
    """What ``process`` printed, once it ended; after ``timeout`` seconds its session is
    killed and the test fails with the output so far."""
    try:
        return process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"{process.args} still ran after {timeout} s:\n{process.communicate()[0]}")


def wait_for(
    path_glob: str,
    cwd: Path,
    process: subprocess.Popen,
    timeout: float = 120,
    may_finish: bool = False,
) -> None:
    """Wait until ``path_glob`` exists; the process must still run, or have ended well if
    ``may_finish``."""
    deadline = time.monotonic() + timeout
    while not list(cwd.glob(path_glob)):
        if may_finish and process.poll() == 0:
            return
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, f"no {path_glob} after {timeout} s"
        time.sleep(0.1)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CountingCheckpointIO(TorchCheckpointIO):
    """A user's own checkpoint IO (``--trainer.plugins``): counts the checkpoints it saves."""

    saved = 0

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        type(self).saved += 1
        super().save_checkpoint(checkpoint, path, storage_options)


class ShardRecorder(L.Callback):
    """Saves the training inputs each process sees in its first epoch, as ``rank<N>.pt``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.seen: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 0:
            self.seen.append(batch[0].detach().cpu().flatten(1))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            torch.save(torch.cat(self.seen), self.folder / f"rank{trainer.global_rank}.pt")


class SignalAt(L.Callback):
    """Sends this process the signal ``name`` (``SIGUSR1``) once ``step`` updates are done:
    SLURM's warning, landing at a known step."""

    def __init__(self, step: int, name: str) -> None:
        self.step, self.name, self.sent = step, name, False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step and not self.sent:
            self.sent = True
            os.kill(os.getpid(), getattr(signal, self.name))


class BackwardCounter(L.Callback):
    """Counts the backward passes Lightning reports: a callback that needs every update."""

    def __init__(self) -> None:
        self.calls = 0

    def on_after_backward(self, trainer, pl_module) -> None:
        self.calls += 1


class LearningRateJump(L.Callback):
    """Multiplies every learning rate by ``factor`` when epoch ``epoch`` (from 0) starts."""

    def __init__(self, epoch: int, factor: float) -> None:
        self.epoch, self.factor = epoch, factor

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            for group in trainer.optimizers[0].param_groups:
                group["lr"] *= self.factor


class AutocastProbe(L.Callback):
    """Records, each time a layer of the lesson (a module with weights of its own) computes
    in training, whether autocast is on. Losses, which the lessons compute in float32 on
    purpose, are modules without weights and are not watched."""

    def __init__(self) -> None:
        self.autocast_seen: set[bool] = set()
        self.handles: list = []

    def on_train_start(self, trainer, pl_module) -> None:
        device = pl_module.device.type

        def record(module, inputs, output) -> None:
            self.autocast_seen.add(torch.is_autocast_enabled(device))

        layers = [m for m in pl_module.modules() if any(True for _ in m.parameters(recurse=False))]
        self.handles = [layer.register_forward_hook(record) for layer in layers]

    def on_train_end(self, trainer, pl_module) -> None:
        for handle in self.handles:
            handle.remove()


class ThreadsAtFit(L.Callback):
    """Prints the intra-op threads torch trains with, as ``threads at fit: N``."""

    def on_fit_start(self, trainer, pl_module) -> None:
        print(f"threads at fit: {torch.get_num_threads()}")


def execute_notebook(notebook, folder: Path) -> tuple[list[str], float]:
    """Execute the notebook (an nbformat node) in a fresh kernel started in ``folder``, as
    "Run All" does: an error stops it with nbclient's CellExecutionError, but in a cell
    tagged ``raises-exception``. What each cell printed, and the seconds it took."""
    nbclient = pytest.importorskip("nbclient")
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(folder)}},  # the kernel's working folder
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    printed = [
        "".join(
            output.get("text", "")
            for output in cell.get("outputs", [])
            if output.get("output_type") == "stream"
        )
        for cell in notebook.cells
    ]
    return printed, seconds
