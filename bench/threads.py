"""CPU threads, lesson by lesson: each lesson at torch's default threads and at the count the
project chooses (runner/start.py), against the course's own loop at torch's default threads,
on a quiet machine and beside one and two busy processes.

    LESSONS_DATA_DIR=../shared/data python bench/threads.py [--repeats 3] [--size 1]
        [--lessons 7 names] [--busy 0 1 2] [--record threads]

Every run is a fresh process in a scratch folder (bench/run.py's ``measure``), timed whole, as
a learner waits for it; the seconds inside the training loop are recorded too. The course's
loops are bench/plain_loops.py, course_cnn.py and course_names.py; the lesson is
``cli.py fit`` (bench/lightning_fit.py) on a short run of its config. The three runs of a lesson
alternate course, default, chosen, then back (ABC CBA ABC …), so that a drift in the machine's
speed falls on all alike; the table gives medians of ``--repeats`` and their spread (lowest to
highest). A busy process is a Python ``while True: pass`` that this script starts before a
condition's runs and stops after them. No run has a thread setting in its environment, except
the lesson at torch's default, which gets ``OMP_NUM_THREADS`` = torch's own count (a user's
setting, which the CLI keeps). ``--size`` scales every run's work (epochs, batches); at 1 a
lesson trains for a few seconds, and the whole table takes about 40 minutes on 2 quiet cores.
The homework is left out: its data is the learner's download.

The table is printed (Markdown) and written to bench/results/threads.json. ``--record NAME``
also puts every figure into docs/results.json (ids ``NAME.…``, replacing the old ones) and, for
``--record threads``, the table's rows into docs/benchmarks.md and docs/en/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time

from run import BENCH, REPO, child_environment, measure, ours, plain, write_results

VARIANTS = ("course", "default", "chosen")
BUSY_LOOP = [sys.executable, "-c", "while True: pass"]
RESULTS = REPO / "docs" / "results.json"
PAGES = [REPO / "docs" / "benchmarks.md", REPO / "docs" / "en" / "benchmarks.md"]
#: The table in a page lies between these two lines: its header, its separator, then its rows.
TABLE_START, TABLE_END = "<!-- bench/threads.py --record threads -->", "<!-- end of the table -->"
MACHINE = "cpu-2core-threads"


def workloads(size: float) -> dict[str, tuple[int, list[str], list[str]]]:
    """Each lesson's short run by its config: (lecture, the course's loop, the lesson), the
    same work on both sides."""

    def n(count: int) -> int:
        return max(1, round(count * size))

    def course(script: str, *args: object) -> list[str]:
        return [sys.executable, str(BENCH / script), *map(str, args)]

    def lesson(config: str, *args: object) -> list[str]:
        return ours(config, *map(str, args))

    def short(batches: int, test_batches: int) -> list[object]:
        return ["--epochs", 1, "--batches", n(batches), "--test-batches", n(test_batches)]

    def limits(batches: int, test_batches: int) -> list[object]:
        return ["--trainer.max_epochs", 1, "--trainer.limit_train_batches", n(batches),
                "--trainer.limit_val_batches", n(test_batches)]  # fmt: skip

    few_lines = ["--model.init_args.print_every", 100_000]
    return {
        "linear_search": (2, plain("lesson2", 1), lesson("linear_search")),
        "gradient_descent_batch": (
            3,
            plain("lesson3", n(10_000)),
            lesson("gradient_descent_batch", "--trainer.max_epochs", n(100), *few_lines),
        ),
        "backprop_linear": (
            4,
            plain("lesson4", n(3000)),
            lesson("backprop_linear", "--trainer.max_epochs", n(30), *few_lines),
        ),
        "linear_regression": (
            5,
            plain("lesson5", n(10_000)),
            lesson("linear_regression", "--trainer.max_epochs", n(10), *few_lines),
        ),
        "logistic_regression": (
            6,
            plain("lesson6", n(10_000)),
            lesson("logistic_regression", "--trainer.max_epochs", n(10), *few_lines),
        ),
        "diabetes": (
            7,
            plain("lesson7", n(10_000)),
            lesson("diabetes", "--trainer.max_epochs", n(10)),
        ),
        "diabetes_minibatch": (
            8,
            plain("lesson8", n(100)),
            lesson("diabetes_minibatch", "--trainer.max_epochs", n(100)),
        ),
        "mnist": (
            9,
            course("course_cnn.py", "softmax", *short(100, 20)),
            lesson("mnist", *limits(100, 20)),
        ),
        "cnn": (
            10,
            course("course_cnn.py", "cnn", *short(100, 20)),
            lesson("cnn", *limits(100, 20)),
        ),
        "inception": (
            11,
            course("course_cnn.py", "inception", *short(30, 10)),
            lesson("inception", *limits(30, 10)),
        ),
        "resnet": (
            11,
            course("course_cnn.py", "resnet", *short(30, 10)),
            lesson("resnet", *limits(30, 10)),
        ),
        "rnn_embedding": (
            12,
            plain("lesson12", n(1500)),
            lesson("rnn_embedding", "--trainer.max_epochs", n(300), *few_lines),
        ),
        "names": (13, course("course_names.py", *short(10, 5)), lesson("names", *limits(10, 5))),
    }


def environments() -> dict[str, dict[str, str]]:
    """The environment of each variant: no thread setting, but for the lesson at torch's
    default, which gets torch's own count as a user would set it."""
    clean = {
        key: value
        for key, value in child_environment().items()
        if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
    }
    count = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {"course": clean, "default": {**clean, "OMP_NUM_THREADS": count}, "chosen": clean}


def busy_processes(count: int) -> list[subprocess.Popen]:
    processes = [subprocess.Popen(BUSY_LOOP) for _ in range(count)]
    time.sleep(1)  # running before the first measured run starts
    return processes


def measure_lesson(commands: dict[str, list[str]], env: dict, repeats: int) -> dict:
    """Each variant ``repeats`` times, in the order ABC CBA ABC …: medians and spreads."""
    runs: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    for repeat in range(repeats):
        for variant in VARIANTS if repeat % 2 == 0 else VARIANTS[::-1]:
            runs[variant].append(measure(commands[variant], env[variant]))
    row: dict = {"threads": runs["chosen"][-1].get("threads")}
    for variant in VARIANTS:
        for key in ("wall_s", "train_s"):
            values = [run[key] for run in runs[variant]]
            row[f"{variant}_{key}"] = {
                "median": round(statistics.median(values), 3),
                "low": round(min(values), 3),
                "high": round(max(values), 3),
            }
    return row


def seconds(figure: dict) -> str:
    return f"{figure['median']:.1f} s ({figure['low']:.1f}-{figure['high']:.1f})"


def ratios(row: dict) -> dict[str, float]:
    """default / course, chosen / course and chosen / default, of the whole processes."""
    course, default, chosen = (row[f"{variant}_wall_s"]["median"] for variant in VARIANTS)
    return {
        "default": default / course,
        "chosen": chosen / course,
        "chosen_default": chosen / default,
    }


def table_row(row: dict) -> str:
    ratio = ratios(row)
    cells = [
        f"{row['lecture']} `{row['config']}`",
        str(row["busy"]),
        seconds(row["course_wall_s"]),
        f"{seconds(row['default_wall_s'])}, {ratio['default']:.2f}×",
        f"{seconds(row['chosen_wall_s'])}, {ratio['chosen']:.2f}×",
        str(row["threads"]),
        f"{ratio['chosen_default']:.2f}×",
    ]
    return "| " + " | ".join(cells) + " |"


def record(rows: list[dict], name: str, command: str) -> None:
    """Every figure of ``rows`` into docs/results.json as ``name.<config>.busy<n>.<figure>``;
    for ``threads``, the rows into the benchmarks pages between their two marker lines."""
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    results["machines"][MACHINE] = (
        "the 2-core x86 development machine (AMD EPYC, a KVM virtual machine), CPU, fp32, no "
        "thread setting in the environment, LESSONS_DATA_DIR=../shared/data"
    )
    entries = [entry for entry in results["results"] if not entry["id"].startswith(f"{name}.")]
    for row in rows:
        where = f"lesson {row['lecture']} ({row['config']}), {row['busy']} busy processes beside it"
        figures = {variant: (row[f"{variant}_wall_s"]["median"], "s") for variant in VARIANTS}
        figures |= {f"{key}.ratio": (value, "x") for key, value in ratios(row).items()}
        for key, (value, unit) in figures.items():
            entries.append({
                "id": f"{name}.{row['config']}.busy{row['busy']}.{key}",
                "lecture": row["lecture"],
                "what": f"{where}: {key} (whole process; medians)",
                "value": round(value, 1 if unit == "s" else 2),
                "unit": unit,
                "command": command,
                "seed": 0,
                "machine": MACHINE,
            })  # fmt: skip
    results["results"] = entries
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if name != "threads":
        return
    lines = "\n".join(table_row(row) for row in rows)
    for page in PAGES:  # the page's own header and separator lines stay
        text = page.read_text(encoding="utf-8")
        table = rf"({re.escape(TABLE_START)}\n[^\n]*\n[^\n]*\n)(?:.*?\n)?({re.escape(TABLE_END)})"
        page.write_text(re.sub(table, rf"\g<1>{lines}\n\g<2>", text, flags=re.S), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=float, default=1.0, help="scales every run's work")
    parser.add_argument("--lessons", nargs="*", help="lecture numbers or configs (default: all)")
    parser.add_argument("--busy", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--record", metavar="NAME", help="into docs/results.json as NAME.…")
    args = parser.parse_args()
    chosen = {
        config: workload
        for config, workload in workloads(args.size).items()
        if not args.lessons or config in args.lessons or str(workload[0]) in args.lessons
    }
    env = environments()
    print(
        f"torch's default: {env['default']['OMP_NUM_THREADS']} threads; whole processes, "
        f"medians of {args.repeats} (lowest-highest), × the course's loop"
    )
    print("| lesson | busy processes | course's loop | torch's default threads | chosen threads "
          "| threads chosen | chosen / default |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    rows = []
    for busy in args.busy:
        processes = busy_processes(busy)
        try:
            for config, (lecture, course, lesson) in chosen.items():
                commands = {"course": course, "default": lesson, "chosen": lesson}
                row = {"lecture": lecture, "config": config, "busy": busy}
                row |= measure_lesson(commands, env, args.repeats)
                print(table_row(row), flush=True)
                rows.append(row)
        finally:
            for process in processes:
                process.kill()
                process.wait()
    write_results("threads.json", rows)
    if args.record:
        command = " ".join(
            ["LESSONS_DATA_DIR=../shared/data python bench/threads.py", *sys.argv[1:]]
        )
        record(rows, args.record, command)


if __name__ == "__main__":
    main()
