"""DDP on two CPU processes: a fit started by torchrun (as on a cluster), a prediction by
Lightning's own launcher, each held to what one process gives."""

from __future__ import annotations

import sys

import pytest
from helpers import (
    CONFIGS,
    DDP_ON_TWO_CPUS,
    QUIET,
    REPO,
    config,
    read_csv,
    run_command,
    run_subprocess,
)


@pytest.mark.slow
def test_torchrun_fit_syncs_metrics_and_ddp_predict_equals_one_process(run_cli, tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    fit = run_command(
        *torchrun, "--nproc_per_node", "2", str(REPO / "cli.py"), "fit",
        "--config", config("diabetes"), "--config", str(CONFIGS / "trainer" / "ddp_cpu.yaml"),
        *QUIET, "--trainer.max_epochs", "2", "--model.init_args.course_steps_per_batch", "100",
        cwd=tmp_path, env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    runs = tmp_path / "runs" / "diabetes"
    assert [folder.name for folder in runs.iterdir()] == ["version_0"]  # rank 0's, once
    checkpoints = sorted(path.name for path in (runs / "version_0" / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and "last.ckpt" in checkpoints  # last + best, no partials
    assert checkpoints[0].startswith("best-")
    logged = [row for row in read_csv(runs / "version_0" / "metrics.csv") if row["val_acc"]]
    assert len(logged) == 2  # validation after each epoch
    # synced over both processes' shards = the whole validation set in one process
    last = runs / "version_0" / "checkpoints" / "last.ckpt"
    single = run_cli("validate", "diabetes", "--ckpt_path", str(last))
    assert float(logged[-1]["val_acc"]) == pytest.approx(
        float(single.trainer.callback_metrics["val_acc"]), abs=1e-6
    )
    assert single.trainer.world_size == 1

    # the checkpoint predicts the same rows, in the same order, on two processes as on one
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(",".join(["0.1"] * 7 + [str(i / 10)]) for i in range(5)) + "\n")
    predict_args = ["--ckpt_path", str(last), "--data.init_args.predict_file", str(rows)]
    ddp_predict = run_subprocess(
        "predict", "--config", config("diabetes"), *QUIET, *DDP_ON_TWO_CPUS, *predict_args,
        "--predictions.output", "ddp.csv", cwd=tmp_path,
    )  # fmt: skip
    assert ddp_predict.returncode == 0, ddp_predict.stderr[-3000:]
    one = run_cli("predict", "diabetes", *predict_args, "--predictions.output", "one.csv")
    assert one.trainer.world_size == 1
    by_ddp, by_one = read_csv(tmp_path / "ddp.csv"), read_csv(tmp_path / "one.csv")
    assert len(by_one) == 5 and by_ddp == by_one
