"""The course's optimizer exercise (lesson 5): eight optimizers on y = w·x + b, one figure.

    python bench/optimizers.py [--lr 0.01] [--epochs 1000] [--output optimizers.png]

Each optimizer trains ``configs/linear_regression.yaml`` through the CLI, as
``python cli.py fit --config configs/linear_regression.yaml --model.init_args.optimizer
torch.optim.Adam`` would (same seed, so the same initial weights; LBFGS gets the closure it
needs from the lesson). By default the course's settings: lr 0.01, 1000 epochs. It prints w, b,
y(4) and the last loss of each, and draws their losses against the epoch in one figure
(log scale). With lr 0.01 and 1000 epochs, Adagrad, Adam and Adamax stop short of y(4) = 8:
their steps are about lr per epoch whatever the gradient (Adagrad's shrink), too few to take
w from its random start to 2; lr 0.5, 0.1 and 0.5 take them there.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cli  # noqa: E402
from lessons import figures  # noqa: E402

OPTIMIZERS = ("Adagrad", "Adam", "Adamax", "ASGD", "LBFGS", "RMSprop", "Rprop", "SGD")


def train(name: str, lr: float, epochs: int) -> cli.LessonsCLI:
    """Lesson 5 with ``torch.optim.<name>``, quietly (its printed lines dropped), here."""
    with contextlib.redirect_stdout(io.StringIO()):
        return cli.main(
            [
                "fit",
                "--config",
                str(REPO / "configs" / "linear_regression.yaml"),
                "--trainer.enable_progress_bar=false",
                "--trainer.enable_model_summary=false",
                f"--model.init_args.optimizer=torch.optim.{name}",
                f"--model.init_args.optimizer.init_args.lr={lr}",
                f"--model.init_args.course_steps_per_batch={epochs}",
                "--model.init_args.print_every=0",
            ]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=Path("optimizers.png"))
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # the options above are not the CLI's
    for name in ("lightning.pytorch", "lightning.fabric"):  # no "GPU available" per run
        logging.getLogger(name).setLevel(logging.WARNING)
    output = args.output.resolve()
    curves, rows = {}, []
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # the runs' folders are of no use here
        for name in OPTIMIZERS:
            model = train(name, args.lr, args.epochs).model
            y4 = model(model.linear.weight.new_tensor([4.0])).item()
            weight, bias = model.linear.weight.item(), model.linear.bias.item()
            rows.append(
                f"{name:8} {weight:9.5f} {bias:9.5f} {y4:9.5f} {model.loss_history[-1]:10.3g}"
            )
            curves[name] = (range(len(model.loss_history)), model.loss_history)
    print(f"lr {args.lr}, {args.epochs} epochs")
    print(f"{'optimizer':8} {'w':>9} {'b':>9} {'y(4)':>9} {'loss':>10}")
    print("\n".join(rows))
    title = f"lesson 5, lr {args.lr}, {args.epochs} epochs"
    figures.plot_curves(output, curves, "Epoch", "Loss", title=title, log_y=True)
    print(f"figure written to {output}")


if __name__ == "__main__":
    main()
