"""The course's own training loops, in plain PyTorch: the baselines of the benchmark.

Run as a script it trains one of them and prints {"train_s": seconds in the loop} as JSON.
Written as the course writes them (../shared/course/course-notes.txt), with the loss kept
per epoch as the course does for its plot. Lesson 7 draws that plot after the loop, as the
course does, into loss.png (the course shows it on screen); lesson 5's course code draws none.
The per-epoch print of the course's lesson 7 is left out, to the baseline's advantage.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch


def lesson5(epochs: int) -> float:
    x_data = torch.tensor([[1.0], [2.0], [3.0]])
    y_data = torch.tensor([[2.0], [4.0], [6.0]])
    model = torch.nn.Linear(1, 1)
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = []
    start = time.perf_counter()
    for _ in range(epochs):
        y_pred = model(x_data)
        loss = criterion(y_pred, y_data)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def lesson7(epochs: int) -> float:
    path = Path(os.environ.get("LESSONS_DATA_DIR") or "data") / "diabetes.csv.gz"
    xy = np.loadtxt(path, delimiter=",", dtype=np.float32)  # numpy reads .gz itself
    x_data, y_data = torch.from_numpy(xy[:, :-1]), torch.from_numpy(xy[:, [-1]])
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 6),
        torch.nn.Sigmoid(),
        torch.nn.Linear(6, 4),
        torch.nn.Sigmoid(),
        torch.nn.Linear(4, 1),
        torch.nn.Sigmoid(),
    )
    criterion = torch.nn.BCELoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    start = time.perf_counter()
    for _ in range(epochs):
        y_pred = model(x_data)
        loss = criterion(y_pred, y_data)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    draw_loss(losses)
    return seconds


def draw_loss(losses: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.plot(range(len(losses)), losses)
    plt.ylabel("loss")
    plt.xlabel("epoch")
    plt.savefig("loss.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("lesson", choices=["lesson5", "lesson7"])
    parser.add_argument("--epochs", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps({"train_s": globals()[args.lesson](args.epochs)}))
