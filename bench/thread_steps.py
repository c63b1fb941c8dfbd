"""One training step of each lesson's net on one thread and on torch's default threads, in one
process: the numbers behind the rule in runner/start.py (which lessons run on one thread).

    python bench/thread_steps.py [--rounds 3] [--seconds 0.5] [--busy 0]

Each net is the course's (bench/plain_loops.py, course_cnn.py, course_names.py) at its lesson's
batch shape, fed random data of that shape: a step is forward, loss, zero_grad, backward,
optimizer step. Round after round the two counts alternate (1, N, N, 1, …); the table gives
the median time of a step and its spread (lowest-highest) over ``--rounds``, and how many
times faster one thread is. ``--busy N`` runs N CPU-bound processes beside it.

On a machine shared with other work, a quiet machine's numbers come from running it ahead of
every ordinary process (as root: ``chrt -f 10 python bench/thread_steps.py``, a minute or so;
the kernel still leaves the others 5 % of each second).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from course_cnn import NETS
from course_names import RNNClassifier
from plain_loops import diabetes_net


def step_of(model: torch.nn.Module, inputs: tuple, target, loss, optimizer) -> Callable[[], None]:
    def step() -> None:
        value = loss(model(*inputs), target)
        value.item()  # the course reads it every step
        optimizer.zero_grad()
        value.backward()
        optimizer.step()

    return step


def sgd(model: torch.nn.Module, lr: float = 0.01, momentum: float = 0.0) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def mlp(sizes: list[int]) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for size_in, size_out in zip(sizes, sizes[1:]):
        layers += [torch.nn.Linear(size_in, size_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def rows(count: int, features: int) -> tuple:
    """``count`` rows of ``features`` numbers and a 0/1 label each: (inputs,), target."""
    return (torch.randn(count, features),), torch.randint(0, 2, (count, 1)).float()


def names_step(vocabulary: int, longest: int, classes: int) -> Callable[[], None]:
    """The course's GRU classifier on a batch of 256 sequences, longest first."""
    model = RNNClassifier(vocabulary, 100, classes, 2)
    lengths = torch.randint(1, longest + 1, (256,)).sort(descending=True).values
    codes = torch.randint(1, vocabulary, (256, longest))
    target = torch.randint(0, classes, (256,))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    return step_of(model, (codes, lengths), target, F.cross_entropy, optimizer)


def workloads() -> dict[str, Callable[[], None]]:
    """Each lesson's step (and the homework's), by the config that runs it."""
    toy = torch.nn.Linear(1, 1)
    x3 = torch.tensor([[1.0], [2.0], [3.0]])
    diabetes = diabetes_net()
    minibatch = diabetes_net()
    otto = mlp([93, 128, 64, 32, 9])
    emb, rnn, fc = (
        torch.nn.Embedding(4, 10),
        torch.nn.RNN(10, 8, 2, batch_first=True),
        torch.nn.Linear(8, 4),
    )
    hello_adam = torch.optim.Adam([*emb.parameters(), *rnn.parameters(), *fc.parameters()], lr=0.05)
    hello_input = torch.LongTensor([[1, 0, 2, 2, 3]])

    def hello_forward(x):
        out, _ = rnn(emb(x), torch.zeros(2, 1, 8))
        return fc(out).view(-1, 4)

    images = torch.randn(64, 1, 28, 28)
    digits = torch.randint(0, 10, (64,))
    bce, ce = F.binary_cross_entropy, F.cross_entropy
    hello_target = torch.LongTensor([3, 1, 2, 3, 2])
    otto_rows, otto_classes = torch.randn(64, 93), torch.randint(0, 9, (64,))
    steps = {
        "linear_regression": step_of(toy, (x3,), 2 * x3, F.mse_loss, sgd(toy)),
        "diabetes": step_of(diabetes, *rows(759, 8), bce, sgd(diabetes, 0.1)),
        "diabetes_minibatch": step_of(minibatch, *rows(32, 8), bce, sgd(minibatch)),
        "rnn_embedding": step_of(hello_forward, (hello_input,), hello_target, ce, hello_adam),
        "otto": step_of(otto, (otto_rows,), otto_classes, ce, sgd(otto, 0.01, 0.5)),
    }
    for config, net in (
        ("mnist", "softmax"),
        ("cnn", "cnn"),
        ("inception", "inception"),
        ("resnet", "resnet"),
    ):
        model = NETS[net]()
        steps[config] = step_of(model, (images,), digits, F.cross_entropy, sgd(model, 0.01, 0.5))
    steps["names"] = names_step(128, 15, 18)
    steps["movie_reviews"] = names_step(16384, 30, 5)
    return steps


def seconds_per_step(step: Callable[[], None], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        step()
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5, help="of each timing, about")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes beside it")
    args = parser.parse_args()
    default = torch.get_num_threads()
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    print(f"ms per step, medians of {args.rounds} (lowest-highest); {args.busy} busy processes")
    print(f"| lesson | 1 thread | {default} threads (torch's default) | 1 thread, × faster |")
    print("| --- | --- | --- | --- |", flush=True)
    try:
        for config, step in workloads().items():
            torch.set_num_threads(1)
            step()  # warm up
            count = max(1, round(args.seconds / seconds_per_step(step, 1)))
            times: dict[int, list[float]] = {1: [], default: []}
            for round_ in range(args.rounds):
                for threads in (1, default) if round_ % 2 == 0 else (default, 1):
                    torch.set_num_threads(threads)
                    times[threads].append(seconds_per_step(step, count) * 1000)
            cells = [
                f"{statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f})" for t in times.values()
            ]
            speedup = statistics.median(times[default]) / statistics.median(times[1])
            print(f"| {config} | {cells[0]} | {cells[1]} | {speedup:.2f} |", flush=True)
    finally:
        for process in busy:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
