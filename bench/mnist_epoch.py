"""Lesson 9's training epoch: the course's plain PyTorch loop against the Lightning lesson.

    python bench/mnist_epoch.py [--repeats 3] [--accelerator cpu|cuda] [--workers 0] [--profile]

In one process, round after round, each of these trains one epoch (batch 64, SGD(lr=0.01,
momentum=0.5), all 60 000 training images) and is timed from its first batch to its last
update; round 0 warms up and is not counted, the table shows medians:

- plain, torchvision: the course's loop - torchvision MNIST, ToTensor + Normalize per image,
  a shuffling DataLoader;
- plain, tensors: the same loop fed by the fast way's batches (tensors on the device), the
  bar the lesson is held to;
- lightning, torchvision / lightning, fast: ``Trainer.fit`` of the lesson as its config runs
  it - one mini-batch per training step, Lightning's automatic optimisation - fed each way
  (validation off);
- lightning, fast, manual: the design not taken, for comparison - one mini-batch per step,
  the update written in ``training_step`` through Lightning's optimizer wrapper (manual
  optimisation, ``ManualSoftmax``), which leaves Lightning's gradient clipping and
  accumulation flags refused;
- lightning, barebones: Lightning's floor - ``Trainer(barebones=True)`` and a minimal module
  with the same net (no logging: barebones refuses it);
- lightning, minimal module: Lightning's defaults (bar off) with that minimal module: what
  the loop's hooks, its logger connector and its fetcher cost over the floor;
- lightning, fast, lessons' bar / Lightning's bar: the lesson with the progress bar the CLI
  installs (runner/progress.py) and with Lightning's default ``TQDMProgressBar``, drawn to
  stderr as in a terminal;
- plain, tensors + test / cli, epoch + test + checkpoint: the whole epoch as a learner runs
  it - ``python cli.py fit --config configs/mnist.yaml --trainer.max_epochs 1`` (the test
  set after the epoch, the logger, the bar, ``last.ckpt``), timed from the epoch's start to
  the end of training, against the course's loop that tests after its epoch.

The breakdown (printed after the table) is the distance between neighbouring rows in
microseconds per step: Lightning's floor over the plain loop, its default machinery over the
floor, the lesson's logging and metrics, the bar.

``--profile``: then one more epoch of "lightning, fast, lessons' bar" under cProfile (the
process's CPU time), its epoch loop only, cut into disjoint components by the cumulative time of
Lightning's and torch's functions (``profile_components``): the maths and the DataLoader's
batches, which the plain loop does too, and Lightning's own parts - the data fetcher, the
automatic optimisation around the maths, hook dispatch, the bar, logging. cProfile charges every
Python call, so Lightning's Python-heavy parts swell more than the maths: each of Lightning's
parts is also given as its share of Lightning's profiled time, times that row's unprofiled
microseconds per step over the plain loop.

Each of these runs with lesson 9's 784-512-256-128-64-10 MLP, then again with a tiny net
(``Linear(784, 10)``, ``--tiny`` rows) whose maths is next to nothing, so that the time over
the plain loop is the framework's: the table gives it in microseconds per update. The plain
loop and the lesson start from the same seed and read the same order: the JSON records
whether their weights after the epoch are bitwise the same.

Clock: on the CPU, the process's CPU time (``--clock cpu``, the default there: one thread,
no workers), which other processes on a busy machine disturb far less than the wall clock;
on a GPU, or with DataLoader workers, the wall clock.

Results go to bench/results/ as JSON (not committed).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datamodules.mnist import (  # noqa: E402
    COURSE_TRANSFORM,
    CourseMNIST,
    EpochShardSampler,
    MNISTDataModule,
    fast_loader,
)
from lessons.softmax import SoftmaxClassifier  # noqa: E402
from runner.progress import LessonProgressBar  # noqa: E402

BATCH_SIZE = 64
SEED = 0
#: What the epochs are timed with: main() picks it.
clock = time.perf_counter
#: The nets: lesson 9's MLP, and one whose maths is next to nothing.
NETS = {"mlp": [512, 256, 128, 64], "tiny": []}


def sgd(parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.SGD(parameters, lr=0.01, momentum=0.5)


@dataclass
class Epoch:
    seconds: float
    images: int
    updates: int
    model: torch.nn.Module


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def lesson(hidden_sizes: list[int], lesson_class: type = SoftmaxClassifier) -> SoftmaxClassifier:
    torch.manual_seed(SEED)  # the same first weights for every way
    return lesson_class(hidden_sizes=hidden_sizes, optimizer=sgd, print_every=0)


def plain_epoch(batches, device: torch.device, hidden_sizes: list[int]) -> Epoch:
    """The course's train(): forward, loss, zero_grad, backward, step for every batch."""
    model = lesson(hidden_sizes).to(device)
    optimizer = sgd(model.parameters())
    criterion = torch.nn.CrossEntropyLoss()
    synchronize(device)
    start, images, updates = clock(), 0, 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        images += len(y)
        updates += 1
    synchronize(device)
    return Epoch(clock() - start, images, updates, model)


class EpochTimer(L.Callback):
    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(pl_module.device)
        self.start = clock()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(pl_module.device)
        self.seconds = clock() - self.start


class ManualSoftmax(SoftmaxClassifier):
    """The lesson's training step with the update written out (manual optimisation)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        optimizer.zero_grad()
        loss = super().training_step(batch, batch_idx)
        self.manual_backward(loss)
        optimizer.step()
        return loss


class MinimalModule(L.LightningModule):
    """Lesson 9's net and loss and nothing else: no logging, no metrics, no printing."""

    def __init__(self, hidden_sizes: list[int]) -> None:
        super().__init__()
        self.net = lesson(hidden_sizes).net  # the same first weights as the lesson's

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        images, labels = batch
        return torch.nn.functional.cross_entropy(self.net(images.view(len(images), -1)), labels)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return sgd(self.parameters())


def lightning_epoch(
    accelerator: str,
    hidden_sizes: list[int],
    loader: str = "fast",
    lesson_class: type = SoftmaxClassifier,
    workers: int = 0,
    bar: L.Callback | None = None,
    barebones: bool = False,
    profile: cProfile.Profile | None = None,
) -> Epoch:
    timer = EpochTimer()
    flags = {"barebones": True} if barebones else {
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": bar is not None,
        "enable_model_summary": False,
    }  # fmt: skip
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        max_epochs=1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer] + ([bar] if bar is not None else []),
        **flags,
    )
    if profile is not None:  # the epoch loop's run only: the steps, not the set-up around them
        loop = trainer.fit_loop.epoch_loop
        loop.run = functools.partial(profile.runcall, loop.run)
    data = MNISTDataModule(
        loader=loader,
        num_workers=workers,
        val_fraction=0,
        seed=SEED,
    )
    if lesson_class is MinimalModule:
        model = MinimalModule(hidden_sizes)
    else:
        model = lesson(hidden_sizes, lesson_class)  # print_every=0: the plain loop prints nothing
    trainer.fit(model, datamodule=data)
    return Epoch(timer.seconds, len(data.splits["train"][0]), trainer.global_step, model)


class UntilTrainEnd(L.Callback):
    """From the first epoch's start to the end of training: the test pass after the epoch,
    its printing and logging, and last.ckpt included; the figures drawn at fit end not.

    The CLI imports this module anew by name (``--trainer.callbacks+=``), where main() has
    not chosen the clock: both clocks are read, and ``cli_epoch`` takes the chosen one."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(pl_module.device)
        self.start = {"cpu": time.process_time(), "wall": time.perf_counter()}

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(pl_module.device)
        end = {"cpu": time.process_time(), "wall": time.perf_counter()}
        self.seconds = {name: end[name] - self.start[name] for name in end}


def cli_epoch(accelerator: str) -> Epoch:
    """``python cli.py fit --config configs/mnist.yaml --trainer.max_epochs 1`` in this
    process, in a scratch folder, its printed lines and bar sent to /dev/null."""
    import cli  # the repository's top, on the path above

    config = Path(__file__).resolve().parents[1] / "configs" / "mnist.yaml"
    with (
        tempfile.TemporaryDirectory() as scratch,
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        result = cli.main(
            ["fit", "--config", str(config), "--trainer.max_epochs", "1"]
            + ["--trainer.accelerator", accelerator, "--trainer.default_root_dir", scratch]
            + ["--trainer.callbacks+=mnist_epoch.UntilTrainEnd"]
        )
    (timer,) = [c for c in result.trainer.callbacks if type(c).__name__ == "UntilTrainEnd"]
    seconds = timer.seconds["cpu" if clock is time.process_time else "wall"]
    return Epoch(seconds, 60_000, result.trainer.global_step, result.model)


def plain_epoch_and_test(batches, test_batches, device: torch.device) -> Epoch:
    """The course's train() then test(): the epoch, then accuracy over the test set."""
    start = clock()
    epoch = plain_epoch(batches, device, NETS["mlp"])
    epoch.model.eval()
    with torch.no_grad():
        correct = sum((epoch.model(x).argmax(1) == y).sum() for x, y in test_batches)
    print(f"accuracy on test set: {100 * int(correct) // 10_000} %", file=sys.stderr)
    synchronize(device)
    return Epoch(clock() - start, epoch.images, epoch.updates, epoch.model)


def cumulative(stats: pstats.Stats, function: str, caller: str | None = None) -> float:
    """Seconds inside ``function`` ("file suffix:name"; a builtin's file is ``~``), all its
    calls or only those from ``caller`` (a file's functions: "file suffix:"). ``function``
    must name one function: one that a new version renames fails here, not counts nothing."""

    def named(key: tuple[str, int, str], spec: str) -> bool:
        path, name = spec.rsplit(":", 1)  # no name: any function of the file
        return key[0].endswith(path) and name in ("", key[2])

    keys = [key for key in stats.stats if named(key, function)]  # type: ignore[attr-defined]
    if len(keys) != 1:
        raise LookupError(f"{function} names {len(keys)} profiled functions, not one")
    *_, seconds, callers = stats.stats[keys[0]]  # type: ignore[attr-defined]
    if caller is None:
        return seconds
    return sum(entry[3] for by, entry in callers.items() if named(by, caller))


#: The progress bars' code: their hook bodies are the bar's time, not the dispatch's.
BAR_FILES = ("runner/progress.py", "lightning/pytorch/callbacks/progress/")
#: What the plain loop does too; the rest of the profiled epoch is Lightning's (and the
#: lesson's bookkeeping).
SHARED = (
    "maths: forward and loss",
    "maths: backward",
    "maths: optimizer step",
    "maths: zero_grad",
    "the DataLoader's batches",
)


def profile_components(stats: pstats.Stats) -> dict[str, float]:
    """The profiled epoch loop in seconds, cut into parts that do not overlap: each is the
    cumulative time of a function less the parts inside it; "the rest" is what is left."""
    c = functools.partial(cumulative, stats)
    loop, advance = "lightning/pytorch/loops/", "training_epoch_loop.py:advance"
    dispatch = c("lightning/pytorch/trainer/call.py:_call_callback_hooks")
    # The hooks the update calls (on_before_zero_grad, on_before_backward …), not advance's.
    dispatch_in_update = dispatch - c("trainer/call.py:_call_callback_hooks", caller=advance)
    bar = sum(
        entry[3]
        for key, (*_, callers) in stats.stats.items()  # type: ignore[attr-defined]
        if any(part in key[0] for part in BAR_FILES)
        for by, entry in callers.items()
        if by[2] == "_call_callback_hooks"
    )
    log = c("lightning/pytorch/core/module.py:log")
    lesson_step = c("lessons/classifier.py:training_step")
    parts = {
        "maths: forward and loss": c("torch/nn/modules/module.py:_wrapped_call_impl"),
        "maths: backward": c("torch/_tensor.py:backward"),
        # The optimizer's step runs the closure (training_step, zero_grad, backward) inside.
        "maths: optimizer step": c(
            "lightning/pytorch/plugins/precision/precision.py:optimizer_step"
        )
        - c("lightning/pytorch/plugins/precision/precision.py:_wrap_closure"),
        "maths: zero_grad": c("lightning/pytorch/core/module.py:optimizer_zero_grad"),
        "the DataLoader's batches": c("torch/utils/data/dataloader.py:__next__"),
    }
    parts |= {
        "Lightning's data fetcher and batch transfer hooks": (
            c("~:<built-in method builtins.next>", caller=advance)  # next(data_fetcher)
            - parts["the DataLoader's batches"]
            + c("lightning/pytorch/core/module.py:_on_before_batch_transfer")
            + c("lightning/pytorch/strategies/strategy.py:batch_to_device")
        ),
        "automatic optimisation around the maths (closure, optimizer wrappers, hook calls)": (
            c(loop + "optimization/automatic.py:run")
            - lesson_step
            - parts["maths: backward"]
            - parts["maths: optimizer step"]
            - parts["maths: zero_grad"]
            - dispatch_in_update
        ),
        "callback hook dispatch (the bar's hook bodies apart)": dispatch - bar,
        "the lessons' progress bar's hooks": bar,
        "self.log, the logger connector and its result collection": log
        + sum(
            c(f"logger_connector/logger_connector.py:{name}")
            for name in ("on_batch_start", "on_batch_end", "update_train_step_metrics")
        ),
        "the lesson's own step bookkeeping (its loss sums)": (
            lesson_step - parts["maths: forward and loss"] - log
        ),
    }
    run = c(loop + "training_epoch_loop.py:run")
    parts["the rest of the epoch loop (step kwargs, module and strategy hooks, counters)"] = (
        run - sum(parts.values())
    )
    return parts


def profile_epoch(accelerator: str, unprofiled: dict) -> dict:
    """One epoch of "lightning, fast, lessons' bar" under cProfile: each component in µs a
    step, and the parts the plain loop does not have as shares of their profiled time, scaled
    to the time over the plain loop of ``unprofiled`` (that row of the table, unprofiled)."""
    profile = cProfile.Profile(time.process_time)
    epoch = lightning_epoch(accelerator, NETS["mlp"], bar=LessonProgressBar(), profile=profile)
    stats = pstats.Stats(profile)
    us = {
        part: seconds / epoch.updates * 1e6 for part, seconds in profile_components(stats).items()
    }
    total = sum(us.values())
    over_plain = {part: value for part, value in us.items() if part not in SHARED}
    shares = {part: value / sum(over_plain.values()) for part, value in over_plain.items()}
    gap = unprofiled["us_per_update_over_plain"]
    # Of the dispatch's time, nn.Module.__setattr__ of pl_module._current_fx_name, which every
    # hook call sets and restores.
    setattr_seconds = cumulative(
        stats, "torch/nn/modules/module.py:__setattr__", caller="lightning/pytorch/trainer/call.py:"
    )
    return {
        "row": unprofiled["way"],
        "steps": epoch.updates,
        "profiled_us_per_step": total,
        "unprofiled_us_per_step": unprofiled["median_s"] / unprofiled["updates"] * 1e6,
        "overhead_x": total / (unprofiled["median_s"] / unprofiled["updates"] * 1e6),
        "us_per_step": us,
        "share_over_plain": shares,
        "lightning_us_per_step_over_plain": gap,
        "scaled_us_per_step": {part: share * gap for part, share in shares.items()},
        "hook_dispatch_setattr_us_per_step": setattr_seconds / epoch.updates * 1e6,
    }


def print_profile(profiled: dict) -> None:
    """The profiled epoch's components: µs a step under cProfile, and for the parts the plain
    loop does not have, their share of those and that share of the unprofiled time over it."""
    print(
        f"\ncProfile of one more epoch of {profiled['row']!r} ({profiled['steps']} steps): "
        f"{profiled['profiled_us_per_step']:.0f} µs a step profiled, "
        f"{profiled['unprofiled_us_per_step']:.0f} unprofiled: {profiled['overhead_x']:.2f}×"
    )
    gap = profiled["lightning_us_per_step_over_plain"]
    print(f"{'µs/step':>8}{'share':>7}{'scaled':>8}  (scaled: share × {gap:.0f} µs over plain)")
    for part, microseconds in profiled["us_per_step"].items():
        share = profiled["share_over_plain"].get(part)
        scaled = (
            "" if share is None else f"{share:>7.1%}{profiled['scaled_us_per_step'][part]:>8.0f}"
        )
        print(f"{microseconds:>8.0f}{scaled:>15}  {part}")
    print(f"{profiled['profiled_us_per_step']:>8.0f}{'':>15}  total: the epoch loop's run")
    setattr_us = profiled["hook_dispatch_setattr_us_per_step"]
    print(f"{setattr_us:>8.0f}{'':>15}  of those, nn.Module.__setattr__ in hook calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after a warm-up")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (course: 0)")
    parser.add_argument("--clock", choices=["cpu", "wall"], help="default: cpu on the CPU")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then one epoch of the lesson with the lessons' bar under cProfile, by component",
    )
    args = parser.parse_args()
    global clock
    cpu_clock = args.clock == "cpu" or (
        args.clock is None and args.accelerator == "cpu" and args.workers == 0
    )
    clock = time.process_time if cpu_clock else time.perf_counter
    device = torch.device(args.accelerator)
    accelerator = "gpu" if device.type == "cuda" else "cpu"

    course = MNISTDataModule()
    course.prepare_data()
    images, labels = course.read("train")
    course_loader = DataLoader(
        CourseMNIST(images, labels, train=True, transform=COURSE_TRANSFORM),
        batch_size=BATCH_SIZE,
        shuffle=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
    )
    tensor_batches = fast_loader(
        images.to(device),
        labels.to(device),
        BATCH_SIZE,
        EpochShardSampler(images, num_replicas=1, rank=0, shuffle=True, seed=SEED),
    )
    test_images, test_labels = course.read("t10k")
    test_batches = fast_loader(test_images.to(device), test_labels.to(device), BATCH_SIZE)
    ways: dict[str, Callable[[], Epoch]] = {}
    for net, sizes in NETS.items():
        tag = "" if net == "mlp" else ", tiny"
        if net == "mlp":  # the course's per-image loader: the same maths, slower data
            ways["plain, torchvision"] = lambda: plain_epoch(course_loader, device, NETS["mlp"])
            ways["lightning, torchvision"] = lambda: lightning_epoch(
                accelerator, NETS["mlp"], loader="torchvision", workers=args.workers
            )
        ways[f"plain, tensors{tag}"] = lambda s=sizes: plain_epoch(tensor_batches, device, s)
        ways[f"lightning, fast{tag}"] = lambda s=sizes: lightning_epoch(accelerator, s)
        ways[f"lightning, fast, manual{tag}"] = lambda s=sizes: lightning_epoch(
            accelerator, s, lesson_class=ManualSoftmax
        )
        if net == "mlp":  # the ladder from the plain loop to the lesson with its bar
            ways["lightning, barebones"] = lambda: lightning_epoch(
                accelerator, NETS["mlp"], lesson_class=MinimalModule, barebones=True
            )
            ways["lightning, minimal module"] = lambda: lightning_epoch(
                accelerator, NETS["mlp"], lesson_class=MinimalModule
            )
            ways["lightning, fast, lessons' bar"] = lambda: lightning_epoch(
                accelerator, NETS["mlp"], bar=LessonProgressBar()
            )
            ways["lightning, fast, Lightning's bar"] = lambda: lightning_epoch(
                accelerator, NETS["mlp"], bar=TQDMProgressBar()
            )
            ways["plain, tensors + test"] = lambda: plain_epoch_and_test(
                tensor_batches, test_batches, device
            )
            ways["cli, epoch + test + checkpoint"] = lambda: cli_epoch(accelerator)

    seconds: dict[str, list[float]] = {way: [] for way in ways}
    last: dict[str, Epoch] = {}
    for round_number in range(args.repeats + 1):
        for way, run_epoch in ways.items():
            last[way] = run_epoch()
            print(f"round {round_number}: {way}: {last[way].seconds:.2f} s", file=sys.stderr)
            if round_number > 0:
                seconds[way].append(last[way].seconds)

    rows = []
    for way, times in seconds.items():
        tiny = way.endswith(", tiny")
        plain = "plain, tensors, tiny" if tiny else "plain, tensors"
        if way == "cli, epoch + test + checkpoint":
            plain = "plain, tensors + test"
        median, plain_median = statistics.median(times), statistics.median(seconds[plain])
        epoch = last[way]
        weights, plain_weights = epoch.model.state_dict(), last[plain].model.state_dict()
        rows.append(
            {
                "way": way,
                "images": epoch.images,
                "updates": epoch.updates,
                "median_s": median,
                "all_s": times,
                "s_per_60k": median / epoch.images * 60_000,
                "x_plain_tensors": median / plain_median,
                "us_per_update_over_plain": (median - plain_median) / epoch.updates * 1e6,
                "against": plain,
                # The CLI's run reads its config's seed and order: not compared.
                "weights_bitwise_equal_plain": None
                if way.startswith("cli")
                else weights.keys() == plain_weights.keys()
                and all(torch.equal(weights[name], plain_weights[name]) for name in weights),
            }
        )
    header = f"{'way':<38}{'updates':>8}{'s/epoch':>9}{'×plain tensors':>16}{'µs/update over':>16}"
    print(header)
    for row in rows:
        print(
            f"{row['way']:<38}{row['updates']:>8}{row['median_s']:>9.2f}"
            f"{row['x_plain_tensors']:>16.2f}{row['us_per_update_over_plain']:>16.0f}"
            + ("  (weights differ)" if row["weights_bitwise_equal_plain"] is False else "")
        )
    per_step = {row["way"]: row["us_per_update_over_plain"] for row in rows}
    breakdown = {
        "Lightning's floor (barebones over the plain loop)": per_step["lightning, barebones"],
        "Lightning's defaults: hooks, logger connector, fetcher (minimal module over barebones)": (
            per_step["lightning, minimal module"] - per_step["lightning, barebones"]
        ),
        "the lesson's logging, metrics and printing (lesson over minimal module)": (
            per_step["lightning, fast"] - per_step["lightning, minimal module"]
        ),
        "the lessons' progress bar": (
            per_step["lightning, fast, lessons' bar"] - per_step["lightning, fast"]
        ),
        "Lightning's TQDMProgressBar, for comparison": (
            per_step["lightning, fast, Lightning's bar"] - per_step["lightning, fast"]
        ),
    }
    print("\nµs per step over the row before (lesson 9's MLP, the fast way):")
    for part, microseconds in breakdown.items():
        print(f"{microseconds:>8.0f}  {part}")
    profiled = None
    if args.profile:
        (row,) = [row for row in rows if row["way"] == "lightning, fast, lessons' bar"]
        profiled = profile_epoch(accelerator, row)
        print_profile(profiled)
    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    )
    result = {
        "device": device_name or platform.machine(),
        "accelerator": args.accelerator,
        "torch": torch.__version__,
        "lightning": L.__version__,
        "threads": torch.get_num_threads(),
        "clock": "cpu" if cpu_clock else "wall",
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "workers": args.workers,
        "repeats": args.repeats,
        "rows": rows,
        "breakdown_us_per_step": breakdown,
    }
    if profiled is not None:
        result["profile_us_per_step"] = profiled["us_per_step"]
        result["profile"] = profiled
    folder = Path(__file__).resolve().parent / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"mnist_epoch-{args.accelerator}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
