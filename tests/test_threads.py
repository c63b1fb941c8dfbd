"""CPU threads: a run started by the CLI or by a notebook's ``start_run`` trains with the count
its lesson is fastest with (runner/start.py), says so in one line, and keeps the user's own.

These run in child processes whose environment has no thread setting: the test processes run
with one thread (conftest.py), a learner's with none.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import QUIET, REPO, config

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def environment(**settings: str) -> dict[str, str]:
    """A learner's environment: no thread setting, but ``settings``."""
    clean = {key: value for key, value in os.environ.items() if key not in THREAD_VARIABLES}
    paths = os.pathsep.join([str(REPO), str(REPO / "tests")])
    return {**clean, "PYTHONPATH": paths, **settings}


def run_python(source: str) -> str:
    """``python -c SOURCE`` in the repository, in a learner's environment: what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", source], cwd=REPO, env=environment(), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def torch_default() -> int:
    return int(run_python("import torch; print(torch.get_num_threads())"))


def fit(tmp_path: Path, **settings: str) -> tuple[str, int]:
    """Lesson 5 for one course epoch through ``python cli.py fit``: its threads line and the
    threads torch trained with."""
    done = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "fit", "--config", config("linear_regression"),
         *QUIET, "--model.init_args.course_steps_per_batch", "1",
         "--trainer.callbacks+=helpers.ThreadsAtFit"],
        cwd=tmp_path, env=environment(**settings), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("CPU threads")]
    return line, int(re.search(r"threads at fit: (\d+)", done.stdout).group(1))


def test_a_cli_run_trains_a_small_lesson_on_one_thread_and_says_why(tmp_path):
    line, threads = fit(tmp_path)
    assert threads == 1
    assert line.startswith("CPU threads: 1,") and "LinearRegression" in line
    assert "OMP_NUM_THREADS" in line  # how to choose another


@pytest.mark.parametrize("variable", THREAD_VARIABLES)
def test_a_thread_count_in_the_environment_wins(tmp_path, variable):
    """Two threads where the lesson's own choice is one (torch caps the variables at the
    cores, so the machine needs two)."""
    if torch_default() < 2:
        pytest.skip("one core: torch runs one thread whatever the variables say")
    line, threads = fit(tmp_path, **{variable: "2"})
    assert threads == 2 and line == f"CPU threads: 2, from {variable}"


START = """
import torch
from runner.start import start_run
from lessons.cnn import CNN
from lessons.diabetes import DiabetesClassifier

def run(lesson, **options):
    line = start_run(lesson, **options)
    print(torch.get_num_threads(), line, sep=" | ")

run(DiabetesClassifier())  # a notebook of lesson 7
run(CNN())  # then lesson 10 in the same kernel: the count start_run set is not the user's
torch.set_num_threads(3)  # the learner's own count
run(DiabetesClassifier())
run(DiabetesClassifier(), accelerator="gpu")  # a GPU run: threads left alone, no line
"""


def test_a_notebooks_start_chooses_as_the_cli_and_keeps_the_users_count():
    printed = run_python(START)
    default = torch_default()
    small, large, users, gpu = [line.split(" | ") for line in printed.splitlines()]
    assert small[0] == "1" and small[1].startswith("CPU threads: 1,")
    assert large == [str(shared_count(large[1], default)), large[1]]
    assert users == ["3", "CPU threads: 3, from torch.set_num_threads"]
    assert gpu == ["3", "None"]


def shared_count(line: str, default: int) -> int:
    """The count a lesson that shares its steps should get by what its line says: torch's
    default, or that less the busy cores the line names."""
    if line.startswith(f"CPU threads: {default}, torch's default, as CNN shares its steps"):
        return default
    found = re.fullmatch(
        r"CPU threads: \d+, as (\d+) of \d+ cores are busy with other work and CNN shares its "
        r"steps \(OMP_NUM_THREADS=N sets your own\)",
        line,
    )
    assert found and int(found[1]) > 0, line
    return max(1, default - int(found[1]))


def cpu_quota() -> bool:
    """Whether a cgroup caps this process's CPU time (busy loops then fill less than a core)."""
    limit = Path("/sys/fs/cgroup/cpu.max")
    return limit.exists() and not limit.read_text().startswith("max")


START_CNN = """
import torch
from runner.start import start_run
from lessons.cnn import CNN

line = start_run(CNN)
print(torch.get_num_threads(), line, sep=" | ")
"""
#: A busy loop that ends itself after two minutes, should the test die before it stops it.
BUSY_LOOP = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass"


@pytest.mark.skipif(not Path("/proc/stat").exists() or cpu_quota(), reason="Linux cores only")
def test_a_lesson_that_shares_its_steps_leaves_the_cores_busy_work_holds():
    """Lesson 10 started beside as many busy loops as cores: one thread, and the line says
    why (a thread on a busy core holds up every step; bench/thread_steps.py --busy 1)."""
    default = torch_default()
    if default < 2:
        pytest.skip("one core: one thread whatever the load")
    cores = len(os.sched_getaffinity(0))
    loop = [sys.executable, "-c", BUSY_LOOP]
    beside = [subprocess.Popen(loop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
              for _ in range(cores)]  # fmt: skip
    try:
        time.sleep(0.5)  # the loops are running
        printed = run_python(START_CNN)
    finally:
        for process in beside:
            process.kill()
            process.wait()
    threads, line = printed.strip().split(" | ")
    assert int(threads) == 1 == shared_count(line, default)
    assert re.search(rf"as ({cores}|{cores - 1}) of {cores} cores are busy", line), line


IMPORTS = """
import logging, warnings
import lightning, torch, torchmetrics, torchvision  # what the user's script imports anyway
filters, threads = list(warnings.filters), torch.get_num_threads()
import lessons, lessons.cnn, lessons.diabetes, lessons.name_classifier, datamodules.mnist
names = [name for name in logging.root.manager.loggerDict if name.startswith("lightning")]
assert warnings.filters == filters, "warning filters changed"
assert not [name for name in names if logging.getLogger(name).filters], "logger filters added"
assert torch.get_num_threads() == threads, "threads changed"
"""


def test_importing_the_lessons_changes_nothing_global():
    """A Lightning user's script that imports a lesson keeps its warnings, Lightning's log
    lines and torch's threads."""
    run_python(IMPORTS)  # its own asserts end the process with an error
