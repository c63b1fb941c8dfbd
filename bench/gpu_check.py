"""Every lesson config for a few steps on one GPU, in each precision, then DDP (NCCL).

    LESSONS_DATA_DIR=../shared/data python bench/gpu_check.py [--configs diabetes mnist ...]

Prints a table config × mode → ok / error and seconds (whole process), and writes it to
bench/results/gpu_check.json. Modes: fp32, bf16-mixed, 16-mixed, and ddp (the ddp preset on
the one GPU, so that the NCCL path is exercised even on a single-GPU machine).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import child_environment  # bench/ is on the path when run as a script

REPO = Path(__file__).resolve().parents[1]
MODES: dict[str, list[str]] = {
    "fp32": ["--trainer.precision", "32-true"],
    "bf16-mixed": ["--trainer.precision", "bf16-mixed"],
    "16-mixed": ["--trainer.precision", "16-mixed"],
    # the ddp preset (configs/trainer/ddp.yaml), held to the one GPU
    "ddp": ["--config", str(REPO / "configs" / "trainer" / "ddp.yaml"), "--trainer.devices", "1"],
}
FEW_STEPS = [
    "--trainer.max_steps",
    "20",
    "--trainer.max_epochs",
    "1",
    "--trainer.limit_val_batches",
    "2",
    "--trainer.enable_progress_bar",
    "false",
]


def run(config: str, mode: str) -> tuple[str, float, str]:
    command = [
        sys.executable,
        str(REPO / "cli.py"),
        "fit",
        "--config",
        str(REPO / "configs" / f"{config}.yaml"),
        "--trainer.accelerator",
        "gpu",
        "--trainer.devices",
        "1",
        *FEW_STEPS,
        *MODES[mode],
    ]
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        result = subprocess.run(
            command,
            cwd=scratch,
            capture_output=True,
            text=True,
            env=child_environment(),
            timeout=600,
        )
        seconds = time.perf_counter() - start
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    detail = errors[-1] if errors else result.stderr.strip().splitlines()[-1:] or [""]
    return ("ok" if result.returncode == 0 else "error"), seconds, "".join(detail)[:200]


def main() -> None:
    configs = sorted(path.stem for path in (REPO / "configs").glob("*.yaml"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", default=configs)
    parser.add_argument("--modes", nargs="*", default=list(MODES))
    args = parser.parse_args()
    print(f"{'config':<24}" + "".join(f"{mode:>18}" for mode in args.modes), flush=True)
    table = {}
    for config in args.configs:
        table[config] = {}
        cells = []
        for mode in args.modes:
            status, seconds, detail = run(config, mode)
            table[config][mode] = {
                "status": status,
                "seconds": round(seconds, 1),
                "detail": detail if status != "ok" else "",
            }
            cells.append(f"{status} {seconds:6.1f}s".rjust(18))
        print(f"{config:<24}" + "".join(cells), flush=True)
    for config, row in table.items():
        for mode, cell in row.items():
            if cell["detail"]:
                print(f"{config} / {mode}: {cell['detail']}")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
