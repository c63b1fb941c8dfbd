"""A Lightning user's own code (issue 35): each lesson under a plain ``Trainer``, fed by its
datamodule or by plain DataLoaders of ``(x, y)`` (predict: of ``x``), through fit, validate,
test and predict - no CLI, no callback of the project's. And what protects such a script:
the lessons' own hooks refuse another lesson's data and a Trainer flag they cannot honour.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from helpers import LESSON_CONFIGS, PLAIN_TRAINER, config
from lightning.pytorch.callbacks import BatchSizeFinder, LearningRateFinder
from lightning.pytorch.tuner import Tuner
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch.utils.data import DataLoader, TensorDataset

from datamodules.diabetes import DiabetesDataModule
from datamodules.mnist import MNISTDataModule
from lessons.diabetes import DiabetesClassifier
from lessons.softmax import SoftmaxClassifier

DEFAULT_TIER = {"diabetes", "mnist", "names"}
#: A few batches of the big data sets: what runs is the point, not what is learned.
LIMITS = {"limit_train_batches": 3, "limit_val_batches": 2, "limit_test_batches": 2}


def built(name: str) -> tuple[L.LightningModule, L.LightningDataModule]:
    """The lesson and datamodule that a config builds, as ``python cli.py`` would."""
    from cli import TRAINER_DEFAULTS, LessonsCLI

    cli = LessonsCLI(
        args=["--config", config(name)],
        run=False,
        trainer_defaults=TRAINER_DEFAULTS,
        save_config_callback=None,
    )
    return cli.model, cli.datamodule


def plain_loaders(datamodule: L.LightningDataModule) -> tuple[DataLoader, DataLoader]:
    """DataLoaders a user writes from the same data: ``(x, y)`` batches, and ``x`` alone for
    predict; names in no particular order (the datamodule sorts each batch longest first)."""
    datamodule.prepare_data()
    datamodule.setup("fit")
    x, y = next(iter(datamodule.train_dataloader()))
    if isinstance(x, torch.Tensor):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        x, y = x[order], y[order]
        whole = len(x) if len(x) <= 1000 else 16  # a full-batch lesson keeps one batch
        return DataLoader(TensorDataset(x, y), batch_size=whole), DataLoader(
            TensorDataset(x[:32]), batch_size=whole
        )
    pairs = list(zip(x, y))  # strings: lesson 12's "hello" → "ohlol"
    return DataLoader(pairs, batch_size=1), DataLoader(list(x), batch_size=1)


def trainer() -> L.Trainer:
    return L.Trainer(max_epochs=1, num_sanity_val_steps=0, **LIMITS, **PLAIN_TRAINER)


@pytest.mark.parametrize("feed", ["datamodule", "plain DataLoaders"])
@pytest.mark.parametrize(
    "name",
    [n if n in DEFAULT_TIER else pytest.param(n, marks=pytest.mark.slow) for n in LESSON_CONFIGS],
)
def test_a_lesson_fits_validates_tests_and_predicts_under_a_plain_trainer(name, feed):
    model, datamodule = built(name)
    validates = is_overridden("validation_step", model)
    tests = is_overridden("test_step", model)
    if feed == "datamodule":
        data = {"datamodule": datamodule}
        trainer().fit(model, **data)
        predictions = trainer().predict(model, **data)
    else:
        train, predict = plain_loaders(datamodule)
        trainer().fit(model, train, train if validates else None)
        data = {"dataloaders": train}
        predictions = trainer().predict(model, predict)
    assert predictions and all(isinstance(batch, dict) and batch for batch in predictions)
    if validates:
        (metrics,) = trainer().validate(model, **data, verbose=False)
        assert {"val_loss", "val_acc"} <= set(metrics)
    if tests and (feed != "datamodule" or is_overridden("test_dataloader", datamodule)):
        (metrics,) = trainer().test(model, **data, verbose=False)
        assert {"test_loss", "test_acc"} <= set(metrics)


# --- what protects a user's own script: the lessons' own hooks ---


def test_another_lessons_datamodule_is_refused_in_one_line():
    with pytest.raises(ValueError, match="learns from datamodules.mnist.MNISTDataModule") as e:
        trainer().fit(SoftmaxClassifier(), datamodule=DiabetesDataModule())
    assert len(str(e.value).splitlines()) == 1


def test_a_callback_lesson_7_cannot_honour_is_refused_by_its_own_hook():
    finder = L.Trainer(max_epochs=1, callbacks=[LearningRateFinder()], **PLAIN_TRAINER)
    with pytest.raises(ValueError, match="--model.init_args.course_steps_per_batch 1") as error:
        finder.fit(DiabetesClassifier(course_steps_per_batch=1000), datamodule=DiabetesDataModule())
    assert len(str(error.value).splitlines()) == 1


@pytest.mark.parametrize("flag", [{"gradient_clip_val": 0.5}, {"accumulate_grad_batches": 2}])
def test_trainer_flags_for_lesson_7s_own_updates_are_refused_before_it_runs(flag):
    """Lightning itself refuses these for a lesson that runs its own updates, in one line,
    before any hook; the CLI adds what does the same (test_lightning_features)."""
    flagged = L.Trainer(max_epochs=1, **flag, **PLAIN_TRAINER)
    with pytest.raises(MisconfigurationException, match="not supported for manual") as error:
        flagged.fit(DiabetesClassifier(print_every=0), datamodule=DiabetesDataModule())
    assert len(str(error.value).splitlines()) == 1


def test_the_batch_size_finder_says_lesson_7_has_no_batch_size_to_scale():
    with pytest.raises(ValueError, match="no batch size to scale") as error:
        Tuner(trainer()).scale_batch_size(
            DiabetesClassifier(print_every=0), datamodule=DiabetesDataModule()
        )
    assert "--data.init_args.batch_size" in str(error.value)


def test_the_batch_size_finder_scales_lesson_9s_batches():
    finder = BatchSizeFinder(mode="power", init_val=16, max_trials=2, steps_per_trial=1)
    data = MNISTDataModule(batch_size=16)
    L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, callbacks=[finder],
              **PLAIN_TRAINER).fit(SoftmaxClassifier(print_every=0), datamodule=data)  # fmt: skip
    assert data.hparams.batch_size == finder.optimal_batch_size > 16  # it scaled them up
