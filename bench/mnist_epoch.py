"""Lesson 9's training epoch: the course's plain PyTorch loop against the Lightning lesson.

    python bench/mnist_epoch.py [--repeats 3] [--accelerator cpu|cuda] [--workers 0]

In one process, round after round, each of these trains one epoch (batch 64, the lesson's
784-512-256-128-64-10 MLP, SGD(lr=0.01, momentum=0.5)) and is timed from its first batch
to its last update; round 0 warms up and is not counted, the table shows medians:

- plain, torchvision: the course's loop - torchvision MNIST, ToTensor + Normalize per image,
  a shuffling DataLoader, over all 60 000 training images;
- plain, tensors: the same loop fed by the fast way's batches (tensors on the device);
- lightning, torchvision / lightning, fast: ``Trainer.fit`` of the lesson for one epoch on
  all 60 000 training images (``val_fraction=0``, validation off), each feeding way;
- lightning, fast, CourseLesson: the same net as a ``CourseLesson`` (lessons/base.py: manual
  optimisation, one course step per batch), the other way the lesson could have been built.

The table also gives images per second and the time that rate needs for 60 000 images.
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
    TensorBatches,
)
from lessons.base import CourseLesson  # noqa: E402
from lessons.softmax import SoftmaxClassifier  # noqa: E402

BATCH_SIZE = 64


def sgd(parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.SGD(parameters, lr=0.01, momentum=0.5)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_epoch(batches, device: torch.device) -> tuple[float, int]:
    """The course's train(): forward, loss, zero_grad, backward, step for every batch."""
    model = SoftmaxClassifier().to(device)
    optimizer = sgd(model.parameters())
    criterion = torch.nn.CrossEntropyLoss()
    synchronize(device)
    start, images = time.perf_counter(), 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        images += len(y)
    synchronize(device)
    return time.perf_counter() - start, images


class EpochTimer(L.Callback):
    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(pl_module.device)
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        synchronize(pl_module.device)
        self.seconds = time.perf_counter() - self.start


class ManualSoftmax(CourseLesson):
    """Lesson 9's net on CourseLesson's manual optimisation, to time against the lesson."""

    def __init__(self) -> None:
        super().__init__(steps_per_batch=1)
        self.net = SoftmaxClassifier().net

    def course_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x.view(-1, 784)), y)
        self.optimize(loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return sgd(self.parameters())


def lightning_epoch(
    data: MNISTDataModule, accelerator: str, model: L.LightningModule | None = None
) -> tuple[float, int]:
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
    # print_every=0: the plain loop prints nothing either
    trainer.fit(model or SoftmaxClassifier(optimizer=sgd, print_every=0), datamodule=data)
    return timer.seconds, len(data.splits["train"][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after a warm-up")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (course: 0)")
    args = parser.parse_args()
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
    tensor_batches = TensorBatches(
        images.to(device),
        labels.to(device),
        BATCH_SIZE,
        EpochShardSampler(images, num_replicas=1, rank=0, shuffle=True),
    )
    ways: dict[str, Callable[[], tuple[float, int]]] = {
        "plain, torchvision": lambda: plain_epoch(course_loader, device),
        "plain, tensors": lambda: plain_epoch(tensor_batches, device),
    }
    for loader in ("torchvision", "fast"):
        data = MNISTDataModule(loader=loader, num_workers=args.workers, val_fraction=0)
        ways[f"lightning, {loader}"] = lambda data=data: lightning_epoch(data, accelerator)
    ways["lightning, fast, CourseLesson"] = lambda: lightning_epoch(
        MNISTDataModule(val_fraction=0), accelerator, ManualSoftmax()
    )

    seconds: dict[str, list[float]] = {way: [] for way in ways}
    counts: dict[str, int] = {}
    for round_number in range(args.repeats + 1):
        for way, run_epoch in ways.items():
            elapsed, counts[way] = run_epoch()
            print(f"round {round_number}: {way}: {elapsed:.2f} s", file=sys.stderr)
            if round_number > 0:
                seconds[way].append(elapsed)

    rows = []
    baseline = statistics.median(seconds["plain, torchvision"]) / counts["plain, torchvision"]
    for way, times in seconds.items():
        median = statistics.median(times)
        per_image = median / counts[way]
        rows.append(
            {
                "way": way,
                "images": counts[way],
                "median_s": median,
                "all_s": times,
                "images_per_s": 1 / per_image,
                "s_per_60k": per_image * 60_000,
                "speedup": baseline / per_image,
            }
        )
    header = f"{'way':<32}{'images':>8}{'s/epoch':>9}{'images/s':>10}{'s/60k':>8}{'×plain':>8}"
    print(header)
    for row in rows:
        print(
            f"{row['way']:<32}{row['images']:>8}{row['median_s']:>9.2f}"
            f"{row['images_per_s']:>10.0f}{row['s_per_60k']:>8.2f}{row['speedup']:>8.2f}"
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
