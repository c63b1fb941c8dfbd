"""Stand-ins for SLURM's ``sbatch``, ``srun``, ``scontrol`` and ``scancel``, for the tests only
(tests/test_cluster.py puts tests/slurm/ first on PATH): just enough of SLURM to run the
project's batch script on one machine, each "node" a group of local processes on 127.0.0.1.

- ``sbatch [OPTIONS] SCRIPT [ARGS]``: the script's ``#SBATCH`` lines, overridden by OPTIONS,
  make the allocation (--nodes, --ntasks-per-node, --ntasks, --job-name, --output; others are
  accepted and ignored); the script runs in it with the environment of SLURM's batch step.
  Unlike SLURM it runs at once, in the foreground, and runs again each time ``scontrol
  requeue`` ended it (``SLURM_RESTART_COUNT`` 1, 2 …), as the scheduler would start it again.
- ``srun COMMAND``: SLURM_NTASKS tasks, SLURM_NTASKS_PER_NODE per "node", each with the
  environment srun gives a task (SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID, SLURM_STEP_ID …,
  and no MASTER_ADDR/MASTER_PORT: Lightning derives them); SIGINT, SIGTERM, SIGUSR1 and SIGUSR2
  go on to every task; a task that fails ends the others (``--kill-on-bad-exit``).
- ``scontrol requeue JOB``: appended to ``$SLURM_STANDIN_DIR/scontrol.log``; the running job
  ends as SLURM ends it: SIGTERM to every task, SIGKILL ``KILL_WAIT`` seconds later.
- ``scancel --signal SIG JOB``: SIG to every task, as SLURM sends ``--signal=SIG@SECONDS``.

Job ids are chosen so that the port Lightning derives from one (15000 + its last four digits)
is free here. Files in ``$SLURM_STANDIN_DIR``: ``<job>.tasks`` (the running tasks' process ids),
``<job>.srun`` (srun's), ``scontrol.log``.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

KILL_WAIT = 20  # seconds between SIGTERM and SIGKILL (SLURM's KillWait, 30 by default)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)
FLAGS = {"--requeue", "--no-requeue", "--exclusive", "--kill-on-bad-exit"}
SHORT = {"-N": "--nodes", "-n": "--ntasks", "-J": "--job-name", "-o": "--output", "-s": "--signal"}


def state() -> Path:
    return Path(os.environ["SLURM_STANDIN_DIR"])


def parse(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading ``--option value``, ``--option=value`` and short options; then the rest."""
    options: dict[str, str] = {}
    while args and args[0].startswith("-"):
        name, _, value = args.pop(0).partition("=")
        name = SHORT.get(name, name)
        if not value:
            value = "1" if name in FLAGS else args.pop(0)
        options[name] = value
    return options, args


def free_job_id() -> str:
    """A job id whose port (15000 + last four digits, as Lightning derives it) is free."""
    for _ in range(100):
        job = random.randint(10_000, 19_999)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", 15_000 + job % 10_000))
            except OSError:
                continue
        return str(job)
    raise SystemExit("sbatch: no free port for a job id")


def allocation(options: dict[str, str], job: str, name: str) -> dict[str, str]:
    """The environment of the batch step (and of srun's tasks, before their own variables)."""
    nodes = int(options.get("--nodes", 1))
    env = {
        "SLURM_JOB_ID": job,
        "SLURM_JOBID": job,
        "SLURM_JOB_NAME": options.get("--job-name", name),
        "SLURM_NNODES": str(nodes),
        "SLURM_JOB_NUM_NODES": str(nodes),
        "SLURM_NODELIST": f"127.0.0.[1-{nodes}]" if nodes > 1 else "127.0.0.1",
        "SLURM_SUBMIT_DIR": os.getcwd(),
    }
    env["SLURM_JOB_NODELIST"] = env["SLURM_NODELIST"]
    if "--ntasks-per-node" in options:
        env["SLURM_NTASKS_PER_NODE"] = options["--ntasks-per-node"]
    tasks = options.get("--ntasks") or int(options.get("--ntasks-per-node", 0)) * nodes
    if tasks:
        env["SLURM_NTASKS"] = env["SLURM_NPROCS"] = str(tasks)
    return env


def sbatch(args: list[str]) -> int:
    options, rest = parse(args)
    if "--wrap" in options:  # the command line itself is the script
        rest = [str(state() / "wrap.sh")]
        Path(rest[0]).write_text(f"#!/bin/sh\n{options.pop('--wrap')}\n")
    script, *script_args = rest
    text = Path(script).read_text()
    directives = re.findall(r"^#SBATCH\s+(.*)$", text, flags=re.MULTILINE)
    from_script, _ = parse([word for line in directives for word in shlex.split(line, True)])
    options = {**from_script, **options}
    job = free_job_id()
    env = {**os.environ, **allocation(options, job, Path(script).name)}
    env.update(SLURM_PROCID="0", SLURM_LOCALID="0", SLURM_NODEID="0")
    output = options.get("--output", "slurm-%j.out").replace("%j", job)
    output = output.replace("%x", env["SLURM_JOB_NAME"])
    print(f"Submitted batch job {job}", flush=True)
    log = state() / "scontrol.log"
    for restart in range(4):
        if restart:
            env["SLURM_RESTART_COUNT"] = str(restart)
        requeues = log.read_text().count(f"requeue {job}\n") if log.exists() else 0
        with open(output, "a") as out:
            code = subprocess.call(["bash", script, *script_args], env=env, stdout=out, stderr=out)
        if not log.exists() or log.read_text().count(f"requeue {job}\n") == requeues:
            return code
    return code


def task_env(rank: int, per_node: int, tasks: int) -> dict[str, str]:
    return {
        "SLURM_PROCID": str(rank),
        "SLURM_LOCALID": str(rank % per_node),
        "SLURM_NODEID": str(rank // per_node),
        "SLURM_STEP_ID": "0",
        "SLURM_STEPID": "0",
        "SLURM_STEP_NUM_TASKS": str(tasks),
        "SLURMD_NODENAME": f"127.0.0.{rank // per_node + 1}",
    }


def srun(args: list[str]) -> int:
    options, command = parse(args)
    env = dict(os.environ)
    if "SLURM_JOB_ID" not in env:  # outside sbatch: srun makes its own allocation (options)
        env.update(allocation(options, free_job_id(), Path(command[0]).name))
    nodes = int(env["SLURM_NNODES"])
    tasks = int(env.get("SLURM_NTASKS", nodes))
    per_node = int(env.get("SLURM_NTASKS_PER_NODE", -(-tasks // nodes)))
    job = env["SLURM_JOB_ID"]
    processes = [
        subprocess.Popen(command, env={**env, **task_env(rank, per_node, tasks)})
        for rank in range(tasks)
    ]
    (state() / f"{job}.tasks").write_text("".join(f"{p.pid}\n" for p in processes))
    (state() / f"{job}.srun").write_text(str(os.getpid()))
    deadline = None

    def forward(signum: int, _frame: object) -> None:
        nonlocal deadline
        for process in processes:
            if process.poll() is None:
                process.send_signal(signum)
        if signum == signal.SIGTERM and deadline is None:
            deadline = time.monotonic() + KILL_WAIT

    for signum in FORWARDED:
        signal.signal(signum, forward)
    try:
        while any(p.poll() is None for p in processes):
            failed = [p for p in processes if p.returncode not in (None, 0)]
            if failed and deadline is None:
                code = exit_code(failed[0])
                rank = processes.index(failed[0])
                print(f"srun: error: task {rank}: Exited with exit code {code}", file=sys.stderr)
                forward(signal.SIGTERM, None)
            if deadline is not None and time.monotonic() > deadline:
                for process in processes:
                    if process.poll() is None:
                        process.kill()
            time.sleep(0.1)
    finally:  # the job step is over: nothing left to signal
        for suffix in ("tasks", "srun"):
            (state() / f"{job}.{suffix}").unlink()
    return max(exit_code(process) for process in processes)


def exit_code(process: subprocess.Popen) -> int:
    """As a shell reports it: 128 + the signal for a process a signal ended."""
    return process.returncode if process.returncode >= 0 else 128 - process.returncode


def signal_tasks(job: str, signum: int) -> None:
    tasks = state() / f"{job}.tasks"
    if not tasks.exists():
        raise SystemExit(f"scancel: error: job {job} runs no tasks")
    for pid in tasks.read_text().split():
        with contextlib.suppress(ProcessLookupError):  # ended already
            os.kill(int(pid), signum)


def scontrol(args: list[str]) -> int:
    if args[:1] != ["requeue"]:
        raise SystemExit(f"scontrol stand-in: only `scontrol requeue JOB`, not {args}")
    job = args[1]
    with open(state() / "scontrol.log", "a") as log:
        log.write(f"requeue {job}\n")
    srun_pid = state() / f"{job}.srun"
    if srun_pid.exists():  # the job runs: SLURM ends it, srun passes SIGTERM on and waits
        os.kill(int(srun_pid.read_text()), signal.SIGTERM)
    return 0


def scancel(args: list[str]) -> int:
    options, (job,) = parse(args)
    name = options.get("--signal", "KILL")
    signal_tasks(job, signal.Signals[f"SIG{name.removeprefix('SIG')}"])
    return 0


def main() -> None:
    command = Path(sys.argv[0]).name
    commands = {"sbatch": sbatch, "srun": srun, "scontrol": scontrol, "scancel": scancel}
    sys.exit(commands[command](sys.argv[1:]))
