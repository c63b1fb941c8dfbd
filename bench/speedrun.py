"""MNIST speedrun on one GPU: ``configs/mnist_speedrun.yaml`` through the CLI against the same
training written as a plain PyTorch loop, measured side by side in the same run.

    LESSONS_DATA_DIR=../shared/data python bench/speedrun.py [--repeats 3]
    # check the script on a CPU: --accelerator cpu --precision 32-true --limit-batches 5

Each measurement is a fresh process. It first warms the device up with one step of the same
net (CUDA and cuDNN start-up, paid by both outside the timed part), then trains: seconds in
``Trainer.fit`` or in the loop, the final validation and test passes included. Reported: those
seconds, test accuracy, peak GPU memory (the data is 55 MB of uint8 images: one copy on the
GPU) and peak RSS; medians over the repeats, the ratio ours / plain, and the issue's bars.
Written to bench/results/speedrun.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from datamodules.mnist import MNISTDataModule, normalise  # noqa: E402
from lessons.advanced_cnn import ResidualBlock  # noqa: E402

CONFIG = REPO / "configs" / "mnist_speedrun.yaml"
EPOCHS, BATCH, MAX_LR, CHANNELS = 2, 512, 0.01, (32, 64)  # as in the config


def residual_net() -> nn.Sequential:
    """SpeedrunNet's layers, in the order it creates them (same seed, same weights)."""
    first, second = CHANNELS
    return nn.Sequential(
        nn.Conv2d(1, first, 5), nn.MaxPool2d(2), nn.ReLU(), ResidualBlock(first),
        nn.Conv2d(first, second, 5), nn.MaxPool2d(2), nn.ReLU(), ResidualBlock(second),
        nn.Flatten(), nn.Linear(second * 16, 10),
    )  # fmt: skip


def warm_up(device: torch.device, bf16: bool) -> None:
    net = residual_net().to(device, memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        loss = net(torch.randn(BATCH, 1, 28, 28, device=device)).float().sum()
    loss.backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def plain_loop(device: torch.device, bf16: bool, limit_batches: int | None) -> dict:
    """The speedrun's training, written out: same split, net, optimizer, schedule, precision."""
    data = MNISTDataModule(batch_size=BATCH)
    data.prepare_data()
    data.setup("fit")
    torch.manual_seed(0)
    net = residual_net().to(device, memory_format=torch.channels_last)
    start = time.perf_counter()  # where Trainer.fit's on_fit_start comes: the model is ready
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = (
        (images.to(device), labels.to(device))
        for images, labels in (data.splits[split] for split in ("train", "val", "test"))
    )
    steps = -(-len(train_x) // BATCH) if limit_batches is None else limit_batches
    optimizer = torch.optim.Adam(net.parameters())
    schedule = OneCycleLR(optimizer, max_lr=MAX_LR, total_steps=EPOCHS * steps)
    for _ in range(EPOCHS):
        net.train()
        for index in torch.randperm(len(train_x), device=device).split(BATCH)[:steps]:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(net(normalise(train_x[index])), train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    net.eval()
    accuracies = []
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for images, labels in ((val_x, val_y), (test_x, test_y)):
            correct = sum(
                (net(normalise(images[i])).argmax(1) == labels[i]).sum()
                for i in torch.arange(len(images), device=device).split(BATCH)
            )
            accuracies.append(correct.item() / len(images))
    return {"train_s": time.perf_counter() - start, "test_acc": accuracies[1]}


def lightning_fit(accelerator: str, precision: str, limit_batches: int | None) -> dict:
    from lightning_fit import timed_fit  # bench/ is on the path when run as a script

    args = ["--config", str(CONFIG), "--trainer.accelerator", accelerator]
    args += ["--trainer.precision", precision]
    if limit_batches is not None:
        args += ["--trainer.limit_train_batches", str(limit_batches)]
    result = timed_fit(args)
    metrics = result["metrics"]  # validated on the test images, or tested after a hold-out
    test_acc = metrics.get("test_acc", metrics.get("val_acc"))
    return {"train_s": result["train_s"], "test_acc": test_acc}


def child(args: argparse.Namespace) -> None:
    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    bf16 = args.precision == "bf16-mixed"
    warm_up(device, bf16)
    if args.child == "plain":
        result = plain_loop(device, bf16, args.limit_batches)
    else:
        result = lightning_fit(args.accelerator, args.precision, args.limit_batches)
    if device.type == "cuda":
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(result))


def main(args: argparse.Namespace) -> None:
    from run import measure  # bench/ is on the path when run as a script

    command = [sys.executable, __file__, "--accelerator", args.accelerator]
    command += ["--precision", args.precision]
    if args.limit_batches is not None:
        command += ["--limit-batches", str(args.limit_batches)]
    runs: dict[str, list[dict]] = {"plain": [], "ours": []}
    for repeat in range(args.repeats):
        for name in ["plain", "ours"] if repeat % 2 == 0 else ["ours", "plain"]:  # ABBA
            runs[name].append(measure([*command, "--child", name]))
            print(name, json.dumps(runs[name][-1]), flush=True)
    table = {
        name: {
            key: statistics.median(r[key] for r in results)
            for key in ("train_s", "test_acc", "peak_gpu_mb", "wall_s", "peak_mb")
            if key in results[0]
        }
        for name, results in runs.items()
    }
    ratio = table["ours"]["train_s"] / table["plain"]["train_s"]
    bars = {
        "test_acc >= 0.99": table["ours"]["test_acc"] >= 0.99,
        "fit <= 1.0 s": table["ours"]["train_s"] <= 1.0,
        "ours / plain <= 1.5": ratio <= 1.5,
    }
    for name, row in table.items():
        print(f"{name:<6}" + "  ".join(f"{key} {value:.4g}" for key, value in row.items()))
    print(f"ratio ours / plain (train_s): {ratio:.2f}")
    for bar, met in bars.items():
        print(f"{bar}: {'met' if met else 'MISSED'}")
    report = {"device": device_name(args.accelerator), "table": table, "ratio": ratio}
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "speedrun.json").write_text(json.dumps(report | {"bars": bars}, indent=2) + "\n")


def device_name(accelerator: str) -> str:
    return torch.cuda.get_device_name() if accelerator == "gpu" else "cpu"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--accelerator", choices=["gpu", "cpu"], default="gpu")
    parser.add_argument("--precision", default="bf16-mixed")
    parser.add_argument("--limit-batches", type=int, help="train on this many batches an epoch")
    parser.add_argument("--child", choices=["plain", "ours"], help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
    else:
        main(arguments)
