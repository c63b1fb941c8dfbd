"""SLURM jobs: preempted, requeued and resumed in their own run folder; wrong allocations
refused in one line; SIGTERM and SIGUSR1 acted on by every process at the same step.

Lightning acts on SIGUSR1 (SLURM's warning before a preemption or the time limit: save
``hpc_ckpt_<n>.ckpt``, ``scontrol requeue`` the job) and on SIGTERM (tell the other processes,
stop) inside its signal handlers, which run wherever the signal lands. Under DDP one process
can then wait in a collective that another never joins: the job hangs until it is killed,
with no checkpoint and no requeue (Lightning issue #21406; tests/test_cluster.py saw both).
``Preemption`` only notes the signals in its handlers and acts where every process agrees.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from runner.checkpoints import read_checkpoint


class Requeued(SystemExit):
    """The run saved its state and SLURM requeued the job: this process ends here."""


class Preemption(Checkpoint):
    """SLURM's SIGUSR1 and SIGTERM, acted on by every process at the start of a step.

    After SIGUSR1 (``#SBATCH --signal=SIGUSR1@90``) the run goes on to the end of the epoch
    when that comes within ``wait_for_epoch_end`` seconds, else to the next step; there it
    saves ``hpc_ckpt_<n>.ckpt`` in the Trainer's ``default_root_dir`` (where Lightning looks
    for it), process 0 calls ``scontrol requeue``, and the run ends; the requeued job goes on
    from it (cli.py). A checkpoint at an epoch's end resumes exactly; one within an epoch
    resumes the epoch from its first batches (the loaders do not record their place), so
    the weights then differ a little from a run never stopped. After SIGTERM (SLURM's time
    limit, ``scancel``) every process stops at the same step, where ``LastCheckpoint`` saves
    ``last.ckpt``. SIGUSR1 is handled under SLURM with Lightning's ``auto_requeue`` on,
    SIGTERM in every run of several processes; one process alone keeps Lightning's handling.
    """

    def __init__(self, wait_for_epoch_end: float = 60.0) -> None:
        self.wait_for_epoch_end = wait_for_epoch_end
        self.requeue_signal: signal.Signals | None = None
        self.noted: dict[int, float] = {}  # signal → when it came (time.monotonic)
        self.replaced: dict[int, Any] = {}  # signal → the handler before ours
        self.failed = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        environment = getattr(trainer.strategy, "cluster_environment", None)
        if environment is None and SLURMEnvironment.detect():  # one process: Lightning's defaults
            self.requeue_signal = signal.SIGUSR1
        elif isinstance(environment, SLURMEnvironment) and environment.auto_requeue:
            self.requeue_signal = environment.requeue_signal
        if stage == "fit" and self.requeue_signal:
            self.take(self.requeue_signal)  # before Lightning's, which then adds none

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.world_size > 1:
            self.take(signal.SIGTERM)  # after Lightning's, which it replaces

    def take(self, signum: int) -> None:
        if threading.current_thread() is threading.main_thread():
            self.replaced.setdefault(signum, signal.getsignal(signum))
            signal.signal(signum, self.note)

    def note(self, signum: int, _frame: Any) -> None:
        self.noted.setdefault(signum, time.monotonic())

    def agreed(self, trainer: L.Trainer, pl_module: L.LightningModule) -> tuple[bool, ...]:
        """(stop, requeue, overdue) as every process sees them: one all-reduce."""
        noted = self.noted.get(self.requeue_signal) if self.requeue_signal else None
        overdue = noted is not None and time.monotonic() - noted >= self.wait_for_epoch_end
        flags = (signal.SIGTERM in self.noted, noted is not None and not self.failed, overdue)
        if trainer.world_size == 1:
            return flags
        agreed = trainer.strategy.reduce(
            torch.tensor(flags, dtype=torch.float32, device=pl_module.device), reduce_op="max"
        )
        return tuple(bool(flag) for flag in agreed.tolist())

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Before a step: the one before it is done and logged, and at an epoch's first batch
        so is the epoch before it (the point a resumed run goes on from exactly)."""
        if not self.replaced:
            return
        stop, requeue, overdue = self.agreed(trainer, pl_module)
        if stop:
            raise SIGTERMException  # on every process: LastCheckpoint saves last.ckpt
        if requeue and (batch_idx == 0 or overdue):
            self.save_and_requeue(trainer)

    def save_and_requeue(self, trainer: L.Trainer) -> None:
        root = Path(trainer.default_root_dir)
        path = trainer.strategy.broadcast(root / f"hpc_ckpt_{hpc_number(root) + 1}.ckpt")
        trainer.save_checkpoint(path)
        code: int | str = 0
        if trainer.is_global_zero:
            job = slurm_job_id()
            try:
                code = subprocess.call(["scontrol", "requeue", job])
            except FileNotFoundError:
                code = "not found"
            if code != 0:
                rank_zero_warn(
                    f"saved {path}, but `scontrol requeue {job}` failed ({code}); this run "
                    "goes on until SLURM stops it: resubmit the job, it resumes from there"
                )
            else:
                rank_zero_info(
                    f"SLURM is ending the job: saved {path} at step {trainer.global_step} and "
                    f"requeued job {job}, which goes on from there"
                )
        self.failed = bool(trainer.strategy.broadcast(code))
        if not self.failed:
            raise Requeued(128 + int(self.requeue_signal or 0))

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """SIGUSR1 back as it was before ``setup`` (Lightning has just put back the handlers
        it found, ours among them, and SIGTERM as it was)."""
        if self.requeue_signal in self.replaced:
            signal.signal(self.requeue_signal, self.replaced[self.requeue_signal])
        self.replaced.clear()


def hpc_number(folder: Path) -> int:
    """The largest n of the folder's ``hpc_ckpt_<n>.ckpt`` files, 0 when there is none."""
    names = (re.fullmatch(r"hpc_ckpt_(\d+)\.ckpt", path.name) for path in folder.glob("hpc_*"))
    return max((int(name[1]) for name in names if name), default=0)


def slurm_job_id() -> str:
    """The id ``scontrol requeue`` takes: the job's, or ``<array job>_<task>`` in an array."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_job:
        return f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ["SLURM_JOB_ID"]


def refuse_wrong_allocation(processes: int, environ: Mapping[str, str] = os.environ) -> None:
    """Two SLURM mistakes that Lightning does not catch, for a Trainer of several
    ``processes`` (num_nodes x devices), each a hang or a silently smaller run, end in one
    line before the processes meet. One process trains alone whatever the allocation.

    >>> refuse_wrong_allocation(2, {"SLURM_NTASKS": "2"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: this process is one of a SLURM job's 2 tasks but srun did not start it ...
    """
    if processes < 2 or "SLURM_NTASKS" not in environ:
        return
    if environ.get("SLURM_JOB_NAME") in ("bash", "interactive"):
        return  # not under SLURM for Lightning (SLURMEnvironment.detect)
    tasks = int(environ["SLURM_NTASKS"])
    if tasks > 1 and "SLURM_STEP_ID" not in environ:  # Lightning issue #18650
        raise ValueError(
            f"this process is one of a SLURM job's {tasks} tasks but srun did not start it "
            f"(a plain `python` in the batch script), so it would wait for {tasks - 1} more "
            "forever; start it with `srun python cli.py ...`, as scripts/slurm/lesson.sbatch does"
        )
    per_node, nodes = environ.get("SLURM_NTASKS_PER_NODE"), environ.get("SLURM_NNODES")
    if per_node and nodes and tasks != int(per_node) * int(nodes):  # Lightning issue #20391
        expected = int(per_node) * int(nodes)
        raise ValueError(
            f"SLURM starts {tasks} task{'s' * (tasks > 1)} (--ntasks {tasks}) where "
            f"--ntasks-per-node {per_node} x --nodes {nodes} asks for {expected}: Lightning "
            f"would train on {tasks} process{'es' * (tasks > 1)} while the Trainer counts "
            f"{expected}; drop --ntasks from the job (or make it {expected})"
        )


def resume_point(root: str | Path) -> tuple[Path, int | None] | None:
    """Where ``fit`` under SLURM without ``--ckpt_path`` goes on from: the newest
    ``hpc_ckpt_<n>.ckpt`` in ``root`` (the one Lightning would take), or its run's
    ``last.ckpt`` if that one is further on; with the version of that run folder (None when
    the checkpoint does not say). None when ``root`` holds no hpc checkpoint."""
    number = hpc_number(Path(root))
    if not number or not SLURMEnvironment.detect():
        return None
    hpc = Path(root) / f"hpc_ckpt_{number}.ckpt"
    saved = read_checkpoint(hpc)
    run_checkpoints = Path(saved.get("callbacks", {}).get("LastCheckpoint", {}).get("dirpath", ""))
    version = run_checkpoints.parent.name.removeprefix("version_")
    last = run_checkpoints / "last.ckpt"
    further = last.is_file() and read_checkpoint(last)["global_step"] > saved["global_step"]
    if version.isdigit() and further:
        return last, int(version)
    return hpc, int(version) if version.isdigit() else None
