"""The course's own training loops, in plain Python and PyTorch: the baselines of the benchmarks.

Run as a script it trains one of them and prints {"train_s": seconds in the loop} as JSON.
Written as the course writes them (../shared/course/course-notes.txt for lessons 2-7; lessons
8 and 12 as the course's published code, docs/en/lecture08.md and lecture12.md), with the loss
kept per epoch as the course does for its plot. Where the course draws a figure after its
loop, so does its baseline, into a PNG file (the course shows it on screen); lessons 5, 8 and
12 draw none. The per-epoch prints of the course are left out, to the baselines' advantage,
and so are lesson 8's two DataLoader workers (the rows are in memory; the lesson has none).
torch is imported only by the loops whose course script imports it (lessons 4-8, 12).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def lesson2(epochs: int) -> float:
    """The exhaustive search over w (the course runs it once: ``--epochs`` repeats it)."""
    x_data = [1.0, 2.0, 3.0]
    y_data = [2.0, 4.0, 6.0]

    def forward(x):
        return x * w

    def loss(x, y):
        y_pred = forward(x)
        return (y_pred - y) * (y_pred - y)

    start = time.perf_counter()
    for _ in range(epochs):
        w_list = []
        mse_list = []
        for w in np.arange(0.0, 4.1, 0.1):  # noqa: B007 (forward reads it, as the course's)
            l_sum = 0
            for x_val, y_val in zip(x_data, y_data):
                forward(x_val)
                l_sum += loss(x_val, y_val)
            w_list.append(w)
            mse_list.append(l_sum / 3)
    seconds = time.perf_counter() - start
    draw(w_list, mse_list, "w", "Loss")
    return seconds


def lesson3(epochs: int) -> float:
    """Batch gradient descent by hand, in Python floats."""
    x_data = [1.0, 2.0, 3.0]
    y_data = [2.0, 4.0, 6.0]
    w = 1.0

    def forward(x):
        return x * w

    def cost(xs, ys):
        cost = 0
        for x, y in zip(xs, ys):
            y_pred = forward(x)
            cost += (y_pred - y) ** 2
        return cost / len(xs)

    def gradient(xs, ys):
        grad = 0
        for x, y in zip(xs, ys):
            grad += 2 * x * (x * w - y)
        return grad / len(xs)

    cost_list = []
    epoch_list = []
    start = time.perf_counter()
    for epoch in range(epochs):
        cost_val = cost(x_data, y_data)
        grad_val = gradient(x_data, y_data)
        w -= 0.01 * grad_val
        cost_list.append(cost_val)
        epoch_list.append(epoch)
    seconds = time.perf_counter() - start
    draw(epoch_list, cost_list, "Epoch", "MSE")
    return seconds


def lesson4(epochs: int) -> float:
    """Back-propagation through autograd, one update per sample."""
    import torch

    x_data = [1.0, 2.0, 3.0]
    y_data = [2.0, 4.0, 6.0]
    w = torch.Tensor([1.0])
    w.requires_grad = True

    def forward(x):
        return x * w

    def loss(x, y):
        y_pred = forward(x)
        return (y_pred - y) ** 2

    epoch_list = []
    MSE_list = []  # noqa: N806 (the course's name)
    start = time.perf_counter()
    for epoch in range(epochs):
        epoch_list.append(epoch)
        for x, y in zip(x_data, y_data):
            l = loss(x, y)  # noqa: E741 (the course's name)
            l.backward()
            w.data = w.data - 0.01 * w.grad.data
            w.grad.data.zero_()
        MSE_list.append(l.item())
    seconds = time.perf_counter() - start
    draw(epoch_list, MSE_list, "Epoch", "Loss")
    return seconds


def full_batch(model, criterion, lr: float, x_data, y_data, epochs: int) -> tuple[float, list]:
    """The loop of lessons 5-7: forward, loss, zero_grad, backward, step, every epoch."""
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    start = time.perf_counter()
    for _ in range(epochs):
        y_pred = model(x_data)
        loss = criterion(y_pred, y_data)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start, losses


def lesson5(epochs: int) -> float:
    import torch

    x_data = torch.tensor([[1.0], [2.0], [3.0]])
    y_data = torch.tensor([[2.0], [4.0], [6.0]])
    model = torch.nn.Linear(1, 1)
    criterion = torch.nn.MSELoss(reduction="sum")
    return full_batch(model, criterion, 0.01, x_data, y_data, epochs)[0]


def lesson6(epochs: int) -> float:
    import torch

    x_data = torch.Tensor([[1.0], [2.0], [3.0]])
    y_data = torch.Tensor([[0], [0], [1]])
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Sigmoid())
    criterion = torch.nn.BCELoss(reduction="sum")
    seconds = full_batch(model, criterion, 0.01, x_data, y_data, epochs)[0]
    x = np.linspace(0, 10, 200)
    y = model(torch.Tensor(x).view((200, 1))).data.numpy()
    draw(x, y, "Hours", "Probability of Pass")
    return seconds


def diabetes_rows():
    """The course's ``np.loadtxt`` of diabetes.csv (numpy reads the .gz itself)."""
    path = Path(os.environ.get("LESSONS_DATA_DIR") or "data") / "diabetes.csv.gz"
    return np.loadtxt(path, delimiter=",", dtype=np.float32)


def diabetes_net():
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(8, 6),
        torch.nn.Sigmoid(),
        torch.nn.Linear(6, 4),
        torch.nn.Sigmoid(),
        torch.nn.Linear(4, 1),
        torch.nn.Sigmoid(),
    )


def lesson7(epochs: int) -> float:
    import torch

    xy = diabetes_rows()
    x_data, y_data = torch.from_numpy(xy[:, :-1]), torch.from_numpy(xy[:, [-1]])
    criterion = torch.nn.BCELoss(reduction="mean")
    seconds, losses = full_batch(diabetes_net(), criterion, 0.1, x_data, y_data, epochs)
    draw(range(len(losses)), losses, "epoch", "loss")
    return seconds


def lesson8(epochs: int) -> float:
    """Mini-batches of 32 through the course's ``DiabetesDataset`` and a shuffling DataLoader."""
    import torch
    from torch.utils.data import DataLoader, Dataset

    class DiabetesDataset(Dataset):
        def __init__(self):
            xy = diabetes_rows()
            self.len = xy.shape[0]
            self.x_data = torch.from_numpy(xy[:, :-1])
            self.y_data = torch.from_numpy(xy[:, [-1]])

        def __getitem__(self, index):
            return self.x_data[index], self.y_data[index]

        def __len__(self):
            return self.len

    train_loader = DataLoader(dataset=DiabetesDataset(), batch_size=32, shuffle=True)
    model = diabetes_net()
    criterion = torch.nn.BCELoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for _epoch in range(epochs):
        for _i, data in enumerate(train_loader, 0):
            inputs, labels = data
            y_pred = model(inputs)
            loss = criterion(y_pred, labels)
            loss.item()  # the course prints it
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def lesson12(epochs: int) -> float:
    """The course's last "hello" → "ohlol" script: Embedding → 2-layer RNN → Linear."""
    import torch

    idx2char = ["e", "h", "l", "o"]
    inputs = torch.LongTensor([[1, 0, 2, 2, 3]])  # hello: (batch, seq_len)
    labels = torch.LongTensor([3, 1, 2, 3, 2])  # ohlol
    emb = torch.nn.Embedding(4, 10)
    rnn = torch.nn.RNN(input_size=10, hidden_size=8, num_layers=2, batch_first=True)
    fc = torch.nn.Linear(8, 4)
    criterion = torch.nn.CrossEntropyLoss()
    parameters = [*emb.parameters(), *rnn.parameters(), *fc.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=0.05)
    start = time.perf_counter()
    for _epoch in range(epochs):
        optimizer.zero_grad()
        hidden = torch.zeros(2, inputs.size(0), 8)
        out, _ = rnn(emb(inputs), hidden)
        outputs = fc(out).view(-1, 4)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        _, idx = outputs.max(dim=1)
        "".join(idx2char[x] for x in idx.data.numpy())  # the course prints it, with the loss
        loss.item()
    return time.perf_counter() - start


def draw(x, y, xlabel: str, ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.plot(x, y)
    plt.xlabel(xlabel)
    plt.ylabel(ylabel)
    plt.savefig("figure.png")


LESSONS = {
    f.__name__: f for f in (lesson2, lesson3, lesson4, lesson5, lesson6, lesson7, lesson8, lesson12)
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("lesson", choices=LESSONS)
    parser.add_argument("--epochs", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps({"train_s": LESSONS[args.lesson](args.epochs)}))
