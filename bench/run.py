"""Speed and memory of the lessons against the course's plain loops, measured side by side.

    LESSONS_DATA_DIR=../shared/data python bench/run.py [--repeats 4] [--quick]
    LESSONS_DATA_DIR=../shared/data python bench/run.py --quick --repeats 3

Each measurement is a fresh process (so whole-process time and peak memory are its own);
baseline and ours alternate in the order AB BA AB..., and the table gives medians over the
repeats and their ratio. It is printed and written to bench/results/bench.json. The second
row is lesson 7 updating through Lightning's optimizer wrapper and ``manual_backward``, as a
callback with its own ``on_before_optimizer_step`` makes it: what the course-epoch lessons'
direct path saves (lessons/base.py). Its last row
is the floor of any whole-process ratio here: a process that only imports Lightning, against
the plain lesson 5 script's whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
QUIET = ["--trainer.enable_model_summary", "false"]


def child_environment() -> dict[str, str]:
    """The children run in scratch folders: a relative LESSONS_DATA_DIR is fixed to here."""
    data_dir = os.environ.get("LESSONS_DATA_DIR")
    resolved = {"LESSONS_DATA_DIR": str(Path(data_dir).resolve())} if data_dir else {}
    return {**os.environ, "PYTHONPATH": str(REPO), **resolved}


def measure(command: list[str], environment: dict[str, str] | None = None) -> dict:
    """Run ``command`` in a scratch folder (in ``environment``, by default
    ``child_environment()``): wall seconds, peak RSS (MB) and its JSON line."""
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=scratch,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environment or child_environment(),
        )
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed with status {status}")
    result = json.loads(output.strip().splitlines()[-1])
    return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024, **result}


def plain(lesson: str, epochs: int) -> list[str]:
    return [sys.executable, str(BENCH / "plain_loops.py"), lesson, "--epochs", str(epochs)]


def ours(config: str, *args: str) -> list[str]:
    return [
        sys.executable,
        str(BENCH / "lightning_fit.py"),
        "--config",
        str(REPO / "configs" / f"{config}.yaml"),
        *QUIET,
        *args,
    ]


def import_only() -> list[str]:
    """The least any Lightning process does: import it. Its whole-process time over a plain
    script's is the lowest whole-process ratio a Lightning run can reach on this machine."""
    return [sys.executable, "-c", "import json, lightning; print(json.dumps({}))"]


def compare(
    name: str,
    baseline: list[str],
    candidate: list[str],
    repeats: int,
    keys: tuple[str, ...] = ("train_s", "wall_s", "peak_mb"),
) -> dict:
    runs: dict[str, list[dict]] = {"baseline": [], "ours": []}
    for repeat in range(repeats):
        order = ["baseline", "ours"] if repeat % 2 == 0 else ["ours", "baseline"]
        for who in order:  # ABBA: a drift in the machine's speed falls on both alike
            runs[who].append(measure(baseline if who == "baseline" else candidate))
    row = {"workload": name}
    for key in keys:
        base = statistics.median(r[key] for r in runs["baseline"])
        mine = statistics.median(r[key] for r in runs["ours"])
        row[key] = {
            "baseline": round(base, 3),
            "ours": round(mine, 3),
            "ratio": round(mine / base, 3),
        }
    metrics = runs["ours"][-1].get("metrics", {})
    row["accuracy"] = metrics.get("val_acc") or metrics.get("test_acc")
    print_row(row)
    return row


def print_row(row: dict) -> None:
    cells = [f"{row['workload']:<34}"]
    for key in ("train_s", "wall_s", "peak_mb"):
        if key not in row:
            cells.append(" " * 33)
            continue
        r = row[key]
        cells.append(f"{key} {r['baseline']:8.2f} → {r['ours']:8.2f} ({r['ratio']:.2f}×)")
    if row.get("accuracy") is not None:
        cells.append(f"acc {row['accuracy']:.3f}")
    print(" | ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, help="an even number balances AB BA (4)")
    parser.add_argument(
        "--quick", action="store_true", help="lesson 7 at 10 000 steps, 1 repeat unless given"
    )
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 4)
    diabetes_steps = 10_000 if args.quick else 100_000
    print("workload | baseline → ours (ours / baseline), medians of", repeats, flush=True)
    rows = [
        compare(
            f"lesson 7, {diabetes_steps} full-batch steps",
            plain("lesson7", diabetes_steps),
            ours("diabetes", "--trainer.max_epochs", str(diabetes_steps // 1000)),
            repeats,
        ),
        compare(
            f"lesson 7, {diabetes_steps}, through Lightning's optimizer",
            plain("lesson7", diabetes_steps),
            ours(
                "diabetes",
                "--trainer.max_epochs",
                str(diabetes_steps // 1000),
                "--trainer.callbacks+=lightning_fit.UpdatesThroughLightning",
            ),
            repeats,
        ),
        compare("lesson 5, 1000 steps", plain("lesson5", 1000), ours("linear_regression"), repeats),
        compare(
            "floor: `import lightning` alone",
            plain("lesson5", 1000),
            import_only(),
            repeats,
            keys=("wall_s", "peak_mb"),
        ),
    ]
    write_results("bench.json", rows)


def write_results(name: str, rows: list[dict]) -> None:
    """``rows`` as JSON into bench/results/``name`` (not committed)."""
    path = BENCH / "results" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
