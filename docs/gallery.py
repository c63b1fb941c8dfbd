"""The README's gallery: each lesson's main figure, drawn by a real run of its config.

    LESSONS_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python docs/gallery.py

trains every lesson below with ``python cli.py fit --config configs/<config>.yaml`` (in this
process, the course's settings as the config holds them), copies the figure that the run
wrote into ``docs/gallery/`` as a small PNG, and records in ``docs/gallery/gallery.json``
what made each one: the config, any settings added to it, the final metrics and the time.

``--quick`` adds short-run settings (one epoch of a few batches, fewer course epochs) so that
the tests can check in a minute that every figure is written; ``--output DIR`` writes
somewhere else; ``--only lesson9_test_images …`` makes some figures only (the others in
``gallery.json`` are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "docs" / "gallery"
#: Short runs for --quick: one epoch of a few batches.
FEW_BATCHES = [
    "--trainer.max_epochs", "1",
    "--trainer.limit_train_batches", "3",
    "--trainer.limit_val_batches", "2",
]  # fmt: skip


@dataclass(frozen=True)
class Figure:
    """``name``.png in the gallery: ``figure`` from the run folder of ``configs/<config>.yaml``."""

    name: str
    lecture: int
    config: str
    figure: str
    quick: tuple[str, ...] = ()  # settings added with --quick


FIGURES = [
    Figure("lesson2_mse_w", 2, "linear_search", "mse_w.png"),
    Figure("lesson2_mse_surface", 2, "linear_search_bias", "mse_surface.png"),
    Figure("lesson3_loss", 3, "gradient_descent_batch", "loss.png"),
    Figure("lesson4_loss", 4, "backprop_quadratic", "loss.png"),
    Figure(
        "lesson5_loss", 5, "linear_regression", "loss.png",
        ("--model.init_args.course_steps_per_batch", "100"),
    ),
    Figure(
        "lesson6_p_pass", 6, "logistic_regression", "p_pass.png",
        ("--model.init_args.course_steps_per_batch", "100"),
    ),
    Figure(
        "lesson7_loss", 7, "diabetes", "loss.png",
        ("--trainer.max_epochs", "2", "--model.init_args.course_steps_per_batch", "100"),
    ),
    Figure("lesson8_loss_iterations", 8, "diabetes_minibatch", "loss_iterations.png",
           ("--trainer.max_epochs", "2")),
    Figure("lesson9_test_images", 9, "mnist", "test_images.png", tuple(FEW_BATCHES)),
    Figure("lesson10_filters", 10, "cnn", "filters.png", tuple(FEW_BATCHES)),
    Figure("lesson12_loss", 12, "rnn_embedding", "loss.png"),
    Figure("lesson13_confusion_matrix", 13, "names", "confusion_matrix.png", tuple(FEW_BATCHES)),
]  # fmt: skip
ORDER = [figure.name for figure in FIGURES]


def train(figure: Figure, quick: bool, root: Path) -> tuple[Path, dict[str, float]]:
    """One ``cli.py fit`` of the figure's config under ``root``: its run folder and metrics."""
    sys.path.insert(0, str(REPO))
    import cli

    args = [
        "fit",
        "--config", str(REPO / "configs" / f"{figure.config}.yaml"),
        "--trainer.default_root_dir", str(root),
        "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
        "--trainer.logger.init_args.tensorboard", "false",
        *(figure.quick if quick else ()),
    ]  # fmt: skip
    with mock.patch.object(sys, "argv", sys.argv[:1]):  # the CLI reads only ``args``
        result = cli.main(args)
    metrics = {
        name: round(float(value), 6)
        for name, value in result.trainer.callback_metrics.items()
        if value.numel() == 1
    }
    return Path(result.trainer.log_dir), metrics


def shrink(source: Path, target: Path, max_side: int = 720) -> None:
    """A small copy of ``source``: at most ``max_side`` pixels, 128 colours, optimised."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        palette = image.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        palette.save(target, optimize=True)


def make(names: list[str] | None, quick: bool, output: Path) -> None:
    """Trains each figure's lesson and writes ``output/<name>.png`` and ``gallery.json``."""
    output.mkdir(parents=True, exist_ok=True)
    record_path = output / "gallery.json"
    chosen = [figure for figure in FIGURES if names is None or figure.name in names]
    unknown = set(names or ()) - {figure.name for figure in FIGURES}
    if unknown:
        raise SystemExit(f"no such figure: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as root:
        for figure in chosen:
            start = time.perf_counter()
            folder, metrics = train(figure, quick, Path(root))
            seconds = time.perf_counter() - start
            shrink(folder / figure.figure, output / f"{figure.name}.png")
            # Read again before writing: another run (--only) may have added figures meanwhile.
            record = json.loads(record_path.read_text()) if record_path.exists() else {}
            record[figure.name] = {
                "lecture": figure.lecture,
                "command": " ".join(
                    ["python cli.py fit --config", f"configs/{figure.config}.yaml"]
                    + list(figure.quick if quick else ())
                ),
                "figure": figure.figure,
                "quick": quick,
                "seconds": round(seconds, 1),
                "metrics": metrics,
            }
            record = {name: record[name] for name in ORDER if name in record}
            record_path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
            print(f"{figure.name}.png: {seconds:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (for the tests)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where the PNGs go")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="make these figures only")
    args = parser.parse_args(argv)
    make(args.only, args.quick, args.output)


if __name__ == "__main__":
    main()
