"""From a laptop to a cluster, on this machine: two torchrun nodes on 127.0.0.1, a SLURM job
through stand-ins of sbatch, srun, scontrol and scancel (tests/slurm/), its preemption and its
time limit, and the mistakes that must stop in one line. docs/running.md shows the commands."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import pytest
from helpers import (
    MNIST_DDP_CPU,
    QUIET,
    REPO,
    SLURM_STANDINS,
    finish,
    free_port,
    launch,
    read_csv,
    run_folder,
    wait_for,
)

from runner.checkpoints import read_checkpoint
from runner.slurm import Requeued, refuse_wrong_allocation, resume_point

LESSON_8 = "--config configs/diabetes_minibatch.yaml --config configs/trainer/ddp_cpu.yaml"
#: Each lesson's short run on one node x two CPU processes (Lightning starts them).
RUNS = {
    "diabetes_minibatch": [*shlex.split(LESSON_8), "--trainer.max_epochs", "10"],
    "mnist": [*MNIST_DDP_CPU, "--trainer.limit_train_batches", "20"],
}
TORCHRUN = (
    "torchrun --nnodes 2 --nproc_per_node 1 --node_rank {rank} --master_addr 127.0.0.1 "
    "--master_port {port} --rdzv_conf timeout=30 cli.py fit {run} "
    "--trainer.num_nodes 2 --trainer.devices 1"
)
SBATCH = "sbatch --nodes 2 --ntasks-per-node 1 scripts/slurm/lesson.sbatch " + shlex.join(
    RUNS["diabetes_minibatch"]
)
LAST = "runs/diabetes_minibatch/version_0/checkpoints/last.ckpt"


def job_folder(path: Path) -> Path:
    """``path`` made to look like the repository to the commands (its cli.py, configs/ and
    scripts/ linked in), with a folder for the stand-ins' records."""
    (path / ".slurm").mkdir(parents=True)
    for name in ("cli.py", "configs", "scripts"):
        (path / name).symlink_to(REPO / name)
    return path


def start(folder: Path, command: str):
    return launch(*shlex.split(command), cwd=folder, env={"SLURM_STANDIN_DIR": f"{folder}/.slurm"})


def only_run(folder: Path, lesson: str) -> Path:
    """The one run folder under ``folder``: one run, written once."""
    runs = sorted(path.relative_to(folder) for path in folder.glob("runs/*/*"))
    assert runs == [Path("runs", lesson, "version_0")]
    return folder / runs[0]


def same_weights(run: Path, reference: Path) -> bool:
    """Whether the two runs' last.ckpt hold equal weights (the differences are printed)."""
    ours, theirs = (
        read_checkpoint(f / "checkpoints/last.ckpt")["state_dict"] for f in (run, reference)
    )
    diffs = {name: (value - theirs[name]).abs().max().item() for name, value in ours.items()}
    print(f"largest weight differences from {reference}: {diffs}")  # pytest -s shows them
    return ours.keys() == theirs.keys() and not any(diffs.values())


def job_output(folder: Path) -> str:
    """What the job wrote in its output files (``--output``: %x-%j.out, slurm-%j.out)."""
    return "".join(path.read_text() for path in sorted(folder.glob("*.out")))


@pytest.fixture(scope="module")
def one_node(tmp_path_factory):
    """``one_node(lesson)``: the run folder of the lesson's run on one node x two processes,
    run once per module."""
    folders: dict[str, Path] = {}

    def run(lesson: str) -> Path:
        if lesson not in folders:
            folder = job_folder(tmp_path_factory.mktemp(lesson))
            process = launch(sys.executable, "cli.py", "fit", *RUNS[lesson], *QUIET, cwd=folder)
            output = finish(process, timeout=300)
            assert process.returncode == 0, output[-3000:]
            folders[lesson] = only_run(folder, lesson)
        return folders[lesson]

    return run


@pytest.mark.slow
@pytest.mark.parametrize("lesson", RUNS)
def test_two_torchrun_nodes_end_on_the_weights_of_one_node_with_two_processes(
    lesson, one_node, tmp_path
):
    nodes = [job_folder(tmp_path / f"node{rank}") for rank in (0, 1)]  # each its own disk
    command = TORCHRUN.format(port=free_port(), run=shlex.join(RUNS[lesson]), rank="{rank}")
    started = [start(folder, command.format(rank=rank)) for rank, folder in enumerate(nodes)]
    outputs = [finish(process, timeout=300) for process in started]
    assert [process.returncode for process in started] == [0, 0], "\n".join(outputs)[-5000:]
    run = only_run(nodes[0], lesson)  # written by global rank 0, and by no other process
    assert sorted(path.name for path in nodes[1].iterdir()) == [
        ".slurm",
        "cli.py",
        "configs",
        "scripts",
    ]
    reference = one_node(lesson)
    assert sorted(os.listdir(run / "checkpoints")) == sorted(os.listdir(reference / "checkpoints"))
    assert same_weights(run, reference)


@pytest.mark.slow
def test_a_preempted_slurm_job_is_requeued_and_ends_as_if_it_never_stopped(one_node, tmp_path):
    folder = job_folder(tmp_path)
    job = start(folder, SBATCH)
    job_id = job.stdout.readline().split()[-1]  # "Submitted batch job <id>"
    wait_for(LAST, folder, job, timeout=300)  # mid-fit: the first epoch is done
    warning = start(folder, f"scancel --signal USR1 {job_id}")  # what --signal=SIGUSR1@90 sends
    assert warning.wait(timeout=60) == 0
    finish(job, timeout=600)
    output = job_output(folder)
    assert job.returncode == 0, output[-3000:]
    assert "SLURM auto-requeueing enabled" in output and "MEMBER: 2/2" in output  # detected
    assert (folder / ".slurm" / "scontrol.log").read_text() == f"requeue {job_id}\n"
    hpc = folder / "hpc_ckpt_1.ckpt"  # in the Trainer's default_root_dir: the job's folder
    step = read_checkpoint(hpc)["global_step"]
    assert f"saved {hpc} at step {step} and requeued job {job_id}" in output
    assert f"Restoring states from the checkpoint path at {hpc.name}" in output
    run, reference = only_run(folder, "diabetes_minibatch"), one_node("diabetes_minibatch")
    assert read_csv(run / "metrics.csv") == read_csv(reference / "metrics.csv")  # each step once
    assert same_weights(run, reference)


@pytest.mark.slow
def test_a_slurm_job_past_its_time_limit_keeps_last_ckpt_and_goes_on_resubmitted(
    one_node, tmp_path
):
    folder = job_folder(tmp_path)
    job = start(folder, SBATCH)
    job_id = job.stdout.readline().split()[-1]
    wait_for(LAST, folder, job, timeout=300)
    time_limit = start(folder, f"scancel --signal TERM {job_id}")  # SIGTERM to every task
    assert time_limit.wait(timeout=60) == 0
    finish(job, timeout=300)
    assert job.returncode == 143, job_output(folder)[-3000:]
    step = read_checkpoint(folder / LAST)["global_step"]
    assert f"Interrupted at step {step}; saved {LAST}" in job_output(folder)
    assert not list(folder.glob("hpc_ckpt_*")) and not (folder / ".slurm/scontrol.log").exists()
    again = start(folder, f"{SBATCH} --ckpt_path last")
    finish(again, timeout=600)
    assert again.returncode == 0, job_output(folder)[-3000:]
    run, reference = only_run(folder, "diabetes_minibatch"), one_node("diabetes_minibatch")
    steps = [[row["step"] for row in read_csv(f / "metrics.csv")] for f in (run, reference)]
    assert steps[0] == steps[1]  # no step lost or logged twice
    assert read_checkpoint(run / "checkpoints/last.ckpt")["global_step"] > step


#: A mistake → the line that stops it (Lightning's own message, whole, for the first two).
MISTAKES = {
    "devices": (
        "srun --nodes 1 --ntasks-per-node 1 python cli.py fit "
        "--config configs/diabetes_minibatch.yaml --trainer.accelerator cpu --trainer.devices 2",
        "error: You set `devices=2` in Lightning, but the number of tasks per node configured in "
        "SLURM `--ntasks-per-node=1` does not match. HINT: Set `devices=1`.",
    ),
    "num_nodes": (
        "srun --nodes 1 --ntasks-per-node 1 python cli.py fit "
        "--config configs/diabetes_minibatch.yaml --trainer.accelerator cpu --trainer.num_nodes 2",
        "error: You set `num_nodes=2` in Lightning, but the number of nodes configured in SLURM "
        "`--nodes=1` does not match. HINT: Set `num_nodes=1`.",
    ),
    "ntasks below ntasks-per-node (Lightning #20391)": (
        f"sbatch --nodes 1 --ntasks 1 --ntasks-per-node 2 scripts/slurm/lesson.sbatch {LESSON_8}",
        "error: SLURM starts 1 task (--ntasks 1) where --ntasks-per-node 2 x --nodes 1 asks for 2",
    ),
    "python without srun (Lightning #18650)": (
        f"sbatch --nodes 2 --ntasks-per-node 1 --wrap 'python cli.py fit {LESSON_8}'",
        "error: this process is one of a SLURM job's 2 tasks but srun did not start it",
    ),
    "a node that never joins": (
        TORCHRUN.format(rank=0, port="{port}", run=LESSON_8),
        "DistStoreError: Timed out after",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_stops_in_one_line_before_anything_is_written(mistake, tmp_path):
    command, message = MISTAKES[mistake]
    folder = job_folder(tmp_path)
    process = start(folder, command.format(port=free_port()))
    output = finish(process, timeout=90) + job_output(folder)  # torchrun's wait: 30 s
    assert process.returncode != 0
    assert any(message in line for line in output.splitlines()), output[-3000:]
    assert not (folder / "runs").exists()


SLURM_TASK = {  # what srun gives the one task of a one-node job
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NAME": "lesson",
    "SLURM_NTASKS": "1",
    "SLURM_NTASKS_PER_NODE": "1",
    "SLURM_NNODES": "1",
    "SLURM_NODELIST": "127.0.0.1",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
    "SLURM_STEP_ID": "0",
}


@pytest.fixture
def slurm_task(monkeypatch, tmp_path):
    """This process as the task of a one-node SLURM job, with the stand-ins on PATH."""
    for name, value in {**SLURM_TASK, "SLURM_STANDIN_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", f"{SLURM_STANDINS}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("wait, saved_at", [("60", 38), ("0", 25)])
def test_a_preempted_task_saves_requeues_and_goes_on_in_its_run_folder(
    run_cli, slurm_task, tmp_path, wait, saved_at
):
    """SIGUSR1 after step 25 (in epoch 1 of 3, 19 steps each): the checkpoint is taken at
    the epoch's end (step 38) when that comes within ``wait`` seconds, else at the next step."""
    args = ["--trainer.max_epochs", "3", "--preemption.wait_for_epoch_end", wait]
    never_stopped = run_cli("fit", "diabetes_minibatch", *args, "--trainer.default_root_dir", "ref")
    warn = ["--trainer.callbacks+=helpers.SignalAt", "--trainer.callbacks.step", "25"]
    with pytest.raises(Requeued):
        run_cli("fit", "diabetes_minibatch", *args, *warn, "--trainer.callbacks.name", "SIGUSR1")
    assert (tmp_path / "scontrol.log").read_text() == "requeue 4242\n"
    assert read_checkpoint(tmp_path / "hpc_ckpt_1.ckpt")["global_step"] == saved_at
    resumed = run_cli("fit", "diabetes_minibatch", *args)
    assert run_folder(resumed) == Path("runs/diabetes_minibatch/version_0")  # its own folder
    rows = [read_csv(run_folder(run) / "metrics.csv") for run in (resumed, never_stopped)]
    assert [row["step"] for row in rows[0]] == [row["step"] for row in rows[1]]  # each once
    assert resumed.trainer.global_step == never_stopped.trainer.global_step
    if saved_at == 38:  # at an epoch's end the run goes on exactly
        assert rows[0] == rows[1]
        weights = never_stopped.model.state_dict()
        assert all(value.equal(weights[k]) for k, value in resumed.model.state_dict().items())


def test_the_requeued_job_goes_on_from_its_newest_checkpoint(slurm_task, tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    run = Path("runs/lesson/version_3/checkpoints")
    run.mkdir(parents=True)
    callbacks = {"LastCheckpoint": {"dirpath": str(run)}}

    def save(path, step):
        torch.save({"state_dict": {}, "global_step": step, "callbacks": callbacks}, path)

    assert resume_point(".") is None  # no hpc checkpoint: a new run
    save("hpc_ckpt_1.ckpt", 10)
    save("hpc_ckpt_2.ckpt", 20)
    assert resume_point(".") == (Path("hpc_ckpt_2.ckpt"), 3)  # the newest, in its run
    save(run / "last.ckpt", 30)  # later stopped by SIGTERM: last.ckpt is further on
    assert resume_point(".") == (run / "last.ckpt", 3)
    monkeypatch.setenv("SLURM_JOB_NAME", "interactive")  # not SLURM for Lightning
    assert resume_point(".") is None


@pytest.mark.parametrize(
    "processes, environ, refused",
    [
        (2, {**SLURM_TASK, "SLURM_NTASKS": "2", "SLURM_NNODES": "2"}, None),
        (2, {k: v for k, v in SLURM_TASK.items() if k != "SLURM_STEP_ID"}, None),  # 1 task
        (2, {**SLURM_TASK, "SLURM_NTASKS_PER_NODE": "2"}, "SLURM starts 1 task (--ntasks 1)"),
        (2, {"SLURM_NTASKS": "4", "SLURM_JOB_NAME": "lesson"}, "srun did not start it"),
        (1, {"SLURM_NTASKS": "4", "SLURM_JOB_NAME": "lesson"}, None),  # trains alone
        (2, {"SLURM_NTASKS": "4", "SLURM_JOB_NAME": "interactive"}, None),  # not SLURM
        (2, {}, None),
    ],
)
def test_wrong_allocations_are_refused(processes, environ, refused):
    if refused is None:
        refuse_wrong_allocation(processes, environ)
    else:
        with pytest.raises(ValueError, match=re.escape(refused)):
            refuse_wrong_allocation(processes, environ)


@pytest.mark.parametrize("page", ["docs/running.md", "docs/en/running.md"])
def test_the_running_page_shows_the_tested_script_and_commands(page):
    text = (REPO / page).read_text()
    assert (REPO / "scripts/slurm/lesson.sbatch").read_text() in text
    commands = [SBATCH, f"{SBATCH} --ckpt_path last", "scancel --signal USR1 <job id>"]
    run = shlex.join(RUNS["diabetes_minibatch"])
    commands += [TORCHRUN.format(rank=rank, port=29500, run=run) for rank in (0, 1)]
    for command in commands:
        assert command in text, command
