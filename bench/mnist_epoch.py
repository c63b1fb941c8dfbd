"""Lesson 9's training epoch: the course's plain PyTorch loop against the Lightning lesson.

    python bench/mnist_epoch.py [--repeats 3] [--accelerator cpu|cuda] [--workers 0]

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
  accumulation flags refused.

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
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
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


def lightning_epoch(
    accelerator: str,
    hidden_sizes: list[int],
    loader: str = "fast",
    lesson_class: type = SoftmaxClassifier,
    workers: int = 0,
) -> Epoch:
    timer = EpochTimer()
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        max_epochs=1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    data = MNISTDataModule(
        loader=loader,
        num_workers=workers,
        val_fraction=0,
        seed=SEED,
    )
    model = lesson(hidden_sizes, lesson_class)  # print_every=0: the plain loop prints nothing
    trainer.fit(model, datamodule=data)
    return Epoch(timer.seconds, len(data.splits["train"][0]), trainer.global_step, model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after a warm-up")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (course: 0)")
    parser.add_argument("--clock", choices=["cpu", "wall"], help="default: cpu on the CPU")
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
                "weights_bitwise_equal_plain": all(
                    torch.equal(weights[name], plain_weights[name]) for name in weights
                ),
            }
        )
    header = f"{'way':<38}{'updates':>8}{'s/epoch':>9}{'×plain tensors':>16}{'µs/update over':>16}"
    print(header)
    for row in rows:
        print(
            f"{row['way']:<38}{row['updates']:>8}{row['median_s']:>9.2f}"
            f"{row['x_plain_tensors']:>16.2f}{row['us_per_update_over_plain']:>16.0f}"
            + ("" if row["weights_bitwise_equal_plain"] else "  (weights differ)")
        )
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
    }
    folder = Path(__file__).resolve().parent / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"mnist_epoch-{args.accelerator}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
