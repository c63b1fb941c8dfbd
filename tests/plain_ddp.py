"""A user's DDP script: ``python tests/plain_ddp.py FOLDER NAME...`` fits the plain module of
tests/test_plain_module.py for one epoch on two CPU processes, on each datamodule NAME in
turn (one launch, a Trainer each), and each process writes the keys of the samples it trained
and validated on to ``FOLDER/NAME/rank<N>.json`` (the files a datamodule needs are written
in ``FOLDER/NAME``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
from helpers import PLAIN_TRAINER
from test_plain_module import CASES, SampleRecorder, plain_module


def fit(name: str, folder: Path) -> None:
    recorder = SampleRecorder()
    flags = {**PLAIN_TRAINER, "strategy": "ddp", "devices": 2, "max_epochs": 1}
    trainer = L.Trainer(num_sanity_val_steps=0, callbacks=[recorder], **flags)
    trainer.fit(plain_module(name), CASES[name].data(folder))
    record = {"world_size": trainer.world_size, "train": recorder.train, "val": recorder.val}
    (folder / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    for name in sys.argv[2:]:
        folder = Path(sys.argv[1]) / name
        folder.mkdir(parents=True, exist_ok=True)
        fit(name, folder)
