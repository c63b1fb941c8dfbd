"""DDP started by torchrun (as on a cluster), not by Lightning's own launcher."""

from __future__ import annotations

import csv
import sys

import pytest
from helpers import CONFIGS, QUIET, REPO, config, run_command


def test_torchrun_with_the_cpu_ddp_preset_trains_syncs_and_writes_one_set_of_checkpoints(
    run_cli, tmp_path
):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    fit = run_command(
        *torchrun, "--nproc_per_node", "2", str(REPO / "cli.py"), "fit",
        "--config", config("diabetes"), "--config", str(CONFIGS / "trainer" / "ddp_cpu.yaml"),
        *QUIET, "--trainer.max_epochs", "2", "--model.init_args.steps_per_batch", "100",
        cwd=tmp_path, env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    runs = tmp_path / "runs" / "diabetes"
    assert [folder.name for folder in runs.iterdir()] == ["version_0"]  # rank 0's, once
    checkpoints = sorted(path.name for path in (runs / "version_0" / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and "last.ckpt" in checkpoints  # last + best, no partials
    assert checkpoints[0].startswith("best-")
    with open(runs / "version_0" / "metrics.csv") as stream:
        logged = [row for row in csv.DictReader(stream) if row["val_acc"]]
    assert len(logged) == 2  # validation after each epoch
    # synced over both processes' shards = the whole validation set in one process
    single = run_cli(
        "validate", "diabetes", "--ckpt_path", str(runs / "version_0" / "checkpoints" / "last.ckpt")
    )
    assert float(logged[-1]["val_acc"]) == pytest.approx(
        float(single.trainer.callback_metrics["val_acc"]), abs=1e-6
    )
    assert single.trainer.world_size == 1
