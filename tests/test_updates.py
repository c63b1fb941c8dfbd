"""The classifier lessons' training steps: one of the course's mini-batches each, updated by
Lightning's automatic optimisation.

What must hold: the numbers (bitwise the plain loop's weights), one update per training step
(``global_step``), resuming, the schedules, mixed precision.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from helpers import PLAIN_TRAINER, AutocastProbe

from datamodules.mnist import EpochShardSampler, MNISTDataModule, fast_loader
from lessons.softmax import SoftmaxClassifier

UPDATES = 25  # mini-batches of 64: enough to move every weight, a second of CPU


def sgd(parameters) -> torch.optim.Optimizer:
    return torch.optim.SGD(parameters, lr=0.01, momentum=0.5)


def lesson(**kwargs) -> SoftmaxClassifier:
    torch.manual_seed(0)
    return SoftmaxClassifier(optimizer=sgd, print_every=0, **kwargs)


def mnist() -> MNISTDataModule:
    return MNISTDataModule()  # the course's settings are its defaults


def plain_loop_weights(updates: int) -> dict[str, torch.Tensor]:
    """The course's train() on the fast way's batches, in the lesson's order."""
    model = lesson()
    optimizer = sgd(model.parameters())
    data = mnist()
    data.prepare_data()
    data.setup("fit")
    images, labels = data.splits["train"]
    sampler = EpochShardSampler(images, num_replicas=1, rank=0, shuffle=True, seed=0)
    for step, (inputs, target) in enumerate(fast_loader(images, labels, 64, sampler)):
        if step == updates:
            break
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs), target)
        loss.backward()
        optimizer.step()
    return model.state_dict()


@pytest.fixture(scope="module")
def plain_weights() -> dict[str, torch.Tensor]:
    return plain_loop_weights(UPDATES)


def test_the_lesson_gives_the_plain_loops_weights_bitwise(plain_weights):
    model = lesson()
    trainer = L.Trainer(max_steps=UPDATES, limit_val_batches=0, **PLAIN_TRAINER)
    trainer.fit(model, mnist())
    assert trainer.global_step == UPDATES  # one optimizer step per mini-batch
    weights = model.state_dict()
    assert all(torch.equal(weights[name], plain_weights[name]) for name in plain_weights)


def test_bf16_mixed_trains_under_autocast():
    model, probe = lesson(), AutocastProbe()
    trainer = L.Trainer(
        max_epochs=2, limit_train_batches=30, limit_val_batches=0, precision="bf16-mixed",
        callbacks=[probe], **PLAIN_TRAINER,
    )  # fmt: skip
    trainer.fit(model, mnist())
    assert trainer.global_step == 2 * 30
    assert probe.autocast_seen == {True}  # every layer computed under autocast
    (_, first), (_, second) = model.history["train_loss"]
    assert second < first < 2.31  # the mean loss of each epoch: it learns (chance: ln 10)


def test_an_epoch_schedule_steps_once_an_epoch():
    model = lesson()
    model.configure_optimizers = lambda: {  # type: ignore[method-assign]
        "optimizer": (optimizer := sgd(model.parameters())),
        "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5),
    }
    trainer = L.Trainer(max_epochs=3, limit_train_batches=2, limit_val_batches=0, **PLAIN_TRAINER)
    trainer.fit(model, mnist())
    assert trainer.global_step == 3 * 2
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**3)


def test_a_step_schedule_spans_every_update_of_the_run():
    """The speedrun's one-cycle schedule is sized by ``estimated_stepping_batches``, one
    update per training step; it ends where it should, at its last update."""
    model = lesson()

    def one_cycle():
        optimizer = sgd(model.parameters())
        total = model.trainer.estimated_stepping_batches
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    model.configure_optimizers = one_cycle  # type: ignore[method-assign]
    trainer = L.Trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=0, **PLAIN_TRAINER)
    trainer.fit(model, mnist())  # 2 epochs × 3 mini-batches
    (config,) = trainer.lr_scheduler_configs
    assert config.scheduler.total_steps == 6 == trainer.global_step
    assert config.scheduler.last_epoch == 6  # stepped after every update


def test_stop_and_resume_from_last_ckpt_equals_one_go(run_cli):
    few = ["--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "1"]
    one_go = run_cli("fit", "mnist", *few, "--trainer.max_epochs", "2")
    first = run_cli("fit", "mnist", *few, "--trainer.max_epochs", "1")
    resumed = run_cli("fit", "mnist", *few, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert resumed.trainer.global_step == one_go.trainer.global_step == 2 * 3
    assert first.trainer.global_step == 3
    expected, actual = one_go.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(expected[name], actual[name]) for name in expected)  # bitwise
    assert resumed.model.history == one_go.model.history
