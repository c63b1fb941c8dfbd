"""How a run starts, the same in the CLI and in the notebooks: ``start_run(lesson)`` before the
Trainer is built (and how a CLI run ends: ``end_run``). It does two things, and importing
``lessons`` does neither: a Lightning user's own script that never calls it keeps Lightning's
and torch's own behaviour.

- It quiets what a learner cannot act on (``quiet_dependencies``); warnings about the learner's
  own settings still show.
- On the CPU it gives the run the intra-op threads its lesson is fastest with
  (``choose_threads``), and says so in one line beside Lightning's "GPU available" lines.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings

import lightning as L
import torch
from lightning.pytorch.accelerators import Accelerator, CPUAccelerator
from lightning.pytorch.utilities import rank_zero_info

#: Lessons whose steps a second thread does not speed up on a quiet machine: lessons 2-8 and
#: 12 (``CourseLesson``: a few rows or one word a step; the Titanic homework too), lesson 9's
#: MLP and the Otto homework's. One thread runs them as fast as torch's default (one per core)
#: there, within the spread, and many times faster beside other busy work. Every other lesson
#: - the convolutional nets of lessons 10-11, the GRUs of lesson 13 and the movie reviews -
#: shares its steps among the cores faster on a quiet machine, but beside busy work a thread
#: that shares a core with it holds up every step (1.5-5× slower than one thread): those get
#: torch's default less the cores other work keeps busy when the run starts.
#: Measured by bench/thread_steps.py and bench/threads.py (docs/en/benchmarks.md).
ONE_THREAD = (
    "lessons.base.CourseLesson",
    "lessons.softmax.SoftmaxClassifier",
    "lessons.otto.OttoClassifier",
)
#: The variables by which a user sets the threads of torch (OpenMP) and of MKL.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: torch's own count when this module was first imported: anything else at the start of a run
#: that this module did not set was set by the user (``torch.set_num_threads``).
TORCH_DEFAULT = torch.get_num_threads()
_chosen: int | None = None  # the count start_run set last


def start_run(
    lesson: L.LightningModule | type[L.LightningModule],
    accelerator: str | Accelerator = "cpu",
    processes: int = 1,
) -> str | None:
    """Quiet the dependencies and choose the threads of ``lesson`` (or of a lesson class) for
    a run on ``accelerator`` ("cpu", "auto", or the Trainer's own) in ``processes`` processes;
    returns the line said."""
    quiet_dependencies()
    if not on_cpu(accelerator) or processes > 1:
        return None  # a GPU's work is not on these threads; Lightning splits the cores for DDP
    line = choose_threads(lesson)
    rank_zero_info(line)
    return line


def on_cpu(accelerator: str | Accelerator) -> bool:
    if isinstance(accelerator, Accelerator):
        return isinstance(accelerator, CPUAccelerator)
    if accelerator == "auto":
        return not (torch.cuda.is_available() or torch.backends.mps.is_available())
    return accelerator == "cpu"


def choose_threads(lesson: L.LightningModule | type[L.LightningModule]) -> str:
    """Set the lesson's count unless the user chose one; the line that says which and why."""
    global _chosen
    kind = lesson if isinstance(lesson, type) else type(lesson)
    name = kind.__name__
    for variable in THREAD_VARIABLES:
        if os.environ.get(variable):
            return f"CPU threads: {torch.get_num_threads()}, from {variable}"
    threads = torch.get_num_threads()
    if threads not in (TORCH_DEFAULT, _chosen):
        return f"CPU threads: {threads}, from torch.set_num_threads"
    paths = {f"{cls.__module__}.{cls.__qualname__}" for cls in kind.__mro__}
    if paths.isdisjoint(ONE_THREAD):
        # torch's default counts physical cores, the kernel logical ones (hyperthreads): a busy
        # logical core takes one of torch's threads all the same.
        busy = busy_cores() if TORCH_DEFAULT > 1 else 0
        _chosen = max(1, TORCH_DEFAULT - busy)
        torch.set_num_threads(_chosen)
        if _chosen == TORCH_DEFAULT:
            return (
                f"CPU threads: {_chosen}, torch's default, as {name} shares its steps among "
                "the cores (OMP_NUM_THREADS=N sets your own)"
            )
        return (
            f"CPU threads: {_chosen}, as {busy} of {len(usable_cores())} cores are busy with "
            f"other work and {name} shares its steps (OMP_NUM_THREADS=N sets your own)"
        )
    _chosen = 1
    torch.set_num_threads(_chosen)
    return (
        f"CPU threads: 1, as {name}'s steps are too small to share "
        "(OMP_NUM_THREADS=N sets your own)"
    )


def busy_cores() -> int:
    """How many of this process's cores other work keeps busy, from the kernel's counters
    (Linux's /proc/stat) over 0.2 s, to the nearest core; 0 where there are none to read."""
    cores = usable_cores()
    try:
        before, own_start = cpu_ticks(cores), time.process_time()
        time.sleep(0.2)
        after, own_seconds = cpu_ticks(cores), time.process_time() - own_start
    except (OSError, ValueError):
        return 0
    total = after[1] - before[1]
    if total <= 0:
        return 0
    busy = after[0] - before[0] - own_seconds * os.sysconf("SC_CLK_TCK")
    return int(len(cores) * max(0.0, busy) / total + 0.5)


def usable_cores() -> set[int]:
    """The cores this process may run on (all of them where the system does not say)."""
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


def cpu_ticks(cores: set[int]) -> tuple[int, int]:
    """(busy, all) clock ticks of ``cores`` since boot: user, nice, system, irq, softirq and
    steal are busy; idle and iowait are not."""
    busy = total = 0
    with open("/proc/stat", encoding="ascii") as stat:  # Linux only: OSError elsewhere
        for line in stat:
            name, *fields = line.split()
            if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores):
                continue
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, fields[:8])
            busy += user + nice + system + irq + softirq + steal
            total += user + nice + system + idle + iowait + irq + softirq + steal
    return busy, total


def quiet_dependencies() -> None:
    """No deprecation notice from inside our dependencies (Lightning's use of torch's
    ``LeafSpec``), no advertising tip (litlogger, litmodels), no note that
    ``trainer.save_checkpoint`` kept the whole state (``weights_only`` not set), none that a
    checkpoint holds no parameters; other warnings show."""
    deprecated = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
    warnings.filterwarnings("ignore", message=deprecated, category=FutureWarning)
    # Lesson 2's search has no parameters: its checkpoint holds its settings and results.
    warnings.filterwarnings("ignore", message="The state dict in .* contains no parameters")
    for name in (
        "lightning.pytorch.utilities.rank_zero",
        "lightning.fabric.utilities.rank_zero",
        "lightning.pytorch.trainer.connectors.checkpoint_connector",
    ):
        logging.getLogger(name).addFilter(not_for_learners)  # added once, however often called


def not_for_learners(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not message.startswith("💡 Tip") and "`weights_only` was not set" not in message


def end_run() -> None:
    """Close the process group a DDP run formed (the CLI calls it at exit, as Lightning does
    for NCCL groups only).

    A gloo group left to the interpreter's shutdown aborts the process in about every other
    run at torch 2.11 ("terminate called without an active exception", exit code -6, after the
    run has finished and saved everything), which torchrun reports as a failed job.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as Lightning's, for NCCL
    try:
        torch.distributed.destroy_process_group()
    except RuntimeError:
        pass  # a group a failed process left broken: the process is ending anyway
    finally:
        signal.signal(signal.SIGINT, interrupt)
