"""The classifier lessons' training steps: a block of the course's mini-batches each, one
update per mini-batch, straight to torch unless Lightning adds something to the update.

What must not change with the block size: the numbers (bitwise the plain loop's weights),
the count of updates (``global_step``), resuming, the schedules, and Lightning's own path
where a callback or the precision needs it.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from helpers import PLAIN_TRAINER, AutocastProbe

from datamodules.mnist import EpochShardSampler, MNISTDataModule, TensorBatches
from datamodules.steps import Blocks
from lessons.softmax import SoftmaxClassifier

UPDATES = 25  # mini-batches of 64: enough to move every weight, a second of CPU


def sgd(parameters) -> torch.optim.Optimizer:
    return torch.optim.SGD(parameters, lr=0.01, momentum=0.5)


def lesson(**kwargs) -> SoftmaxClassifier:
    torch.manual_seed(0)
    return SoftmaxClassifier(optimizer=sgd, print_every=0, **kwargs)


def mnist(batches_per_step: int) -> MNISTDataModule:
    return MNISTDataModule(val_fraction=0, batches_per_step=batches_per_step)


def plain_loop_weights(updates: int) -> dict[str, torch.Tensor]:
    """The course's train() on the fast way's batches, in the lesson's order."""
    model = lesson()
    optimizer = sgd(model.parameters())
    data = mnist(1)
    data.prepare_data()
    data.setup("fit")
    images, labels = data.splits["train"]
    sampler = EpochShardSampler(images, num_replicas=1, rank=0, shuffle=True, seed=0)
    for step, (inputs, target) in enumerate(TensorBatches(images, labels, 64, sampler)):
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


@pytest.mark.parametrize("batches_per_step", [1, 3, 10])
def test_any_block_size_gives_the_plain_loops_weights_bitwise(plain_weights, batches_per_step):
    model = lesson()
    trainer = L.Trainer(max_steps=UPDATES, limit_val_batches=0, **PLAIN_TRAINER)
    trainer.fit(model, mnist(batches_per_step))
    assert trainer.global_step == UPDATES  # one optimizer step per mini-batch
    assert model.update_through_lightning is False  # nothing for Lightning to add on one CPU
    weights = model.state_dict()
    assert all(torch.equal(weights[name], plain_weights[name]) for name in plain_weights)


class BackwardCounter(L.Callback):
    """A callback that must see every update: Lightning's own path is taken for it."""

    def __init__(self) -> None:
        self.backwards = 0

    def on_after_backward(self, trainer, pl_module) -> None:
        self.backwards += 1


def test_a_callback_on_the_update_sees_every_mini_batch_with_the_same_numbers(plain_weights):
    counter = BackwardCounter()
    model = lesson()
    trainer = L.Trainer(
        max_steps=UPDATES, limit_val_batches=0, callbacks=[counter], **PLAIN_TRAINER
    )
    trainer.fit(model, mnist(10))
    assert model.update_through_lightning is True
    assert counter.backwards == trainer.global_step == UPDATES
    weights = model.state_dict()
    assert all(torch.equal(weights[name], plain_weights[name]) for name in plain_weights)


def test_bf16_mixed_trains_in_blocks_under_autocast():
    model, probe = lesson(), AutocastProbe()
    trainer = L.Trainer(
        max_epochs=2, limit_train_batches=3, limit_val_batches=0, precision="bf16-mixed",
        callbacks=[probe], **PLAIN_TRAINER,
    )  # fmt: skip
    trainer.fit(model, mnist(10))
    assert trainer.global_step == 2 * 3 * 10
    assert model.update_through_lightning is False  # bf16 needs no loss scaling
    assert probe.autocast_seen == {True}  # every layer computed under autocast
    (_, first), (_, second) = model.history["train_loss"]
    assert second < first < 2.31  # the mean loss of each epoch: it learns (chance: ln 10)


def test_blocks_hand_out_every_mini_batch_once_in_order():
    batches = list(range(23))
    blocks = Blocks(batches, batches_per_step=10)
    assert len(blocks) == 3 and blocks.mini_batches == 23
    assert [len(block) for block in blocks] == [10, 10, 3]
    assert [batch for block in blocks for batch in block] == batches
    with pytest.raises(ValueError, match="batches_per_step must be at least 1"):
        Blocks(batches, batches_per_step=0)


def test_an_epoch_schedule_steps_once_an_epoch():
    model = lesson()
    model.configure_optimizers = lambda: {  # type: ignore[method-assign]
        "optimizer": (optimizer := sgd(model.parameters())),
        "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5),
    }
    trainer = L.Trainer(max_epochs=3, limit_train_batches=2, limit_val_batches=0, **PLAIN_TRAINER)
    trainer.fit(model, mnist(10))
    assert trainer.global_step == 3 * 2 * 10
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**3)


def test_a_step_schedule_spans_every_update_of_the_run():
    """The speedrun's one-cycle schedule is sized by ``planned_updates``: one per
    mini-batch, not one per training step; it ends where it should, at its last update."""
    model = lesson()

    def one_cycle():
        optimizer = sgd(model.parameters())
        total = model.planned_updates()
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    model.configure_optimizers = one_cycle  # type: ignore[method-assign]
    trainer = L.Trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=0, **PLAIN_TRAINER)
    trainer.fit(model, mnist(10))  # 2 epochs × 3 blocks × 10 mini-batches
    (config,) = trainer.lr_scheduler_configs
    assert config.scheduler.total_steps == 60 == trainer.global_step
    assert config.scheduler.last_epoch == 60  # stepped after every update


def test_stop_and_resume_from_last_ckpt_equals_one_go(run_cli):
    few = ["--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "1"]
    one_go = run_cli("fit", "mnist", *few, "--trainer.max_epochs", "2")
    first = run_cli("fit", "mnist", *few, "--trainer.max_epochs", "1")
    resumed = run_cli("fit", "mnist", *few, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert resumed.trainer.global_step == one_go.trainer.global_step == 2 * 3 * 10
    assert first.trainer.global_step == 30
    expected, actual = one_go.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(expected[name], actual[name]) for name in expected)  # bitwise
    assert resumed.model.history == one_go.model.history
