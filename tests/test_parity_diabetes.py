"""Lessons 7 and 8 against the course's own scripts: same losses, same lines, same weights.

The course's code is written out below as the course writes it (lesson 7 from
../shared/course/course-notes.txt; lesson 8 as the course's published code has it), inside a
function so that a test can give it the number of epochs, the data file and the lesson's
initial weights. The only other change, each marked ``# not in the course``: lesson 8's
``shuffle=True`` draws its order from the datamodule's sampler, so both see the same batches.
The lesson runs through a plain ``Trainer`` on all rows (``val_fraction=0``), as the course.
"""

from __future__ import annotations

import re
from functools import partial

import lightning as L
import numpy as np
import torch
from helpers import PLAIN_TRAINER
from torch.utils.data import DataLoader, Dataset, Sampler

from datamodules.diabetes import DIABETES, DiabetesDataModule
from datamodules.files import fetch
from lessons.diabetes import DiabetesClassifier

TOLERANCE = 1e-6


# --- the course's code ---------------------------------------------------------------------


class Model(torch.nn.Module):
    def __init__(self):
        super(Model, self).__init__()  # noqa: UP008 (the course's line)
        self.linear1 = torch.nn.Linear(8, 6)
        self.linear2 = torch.nn.Linear(6, 4)
        self.linear3 = torch.nn.Linear(4, 1)
        self.sigmoid = torch.nn.Sigmoid()

    def forward(self, x):
        x = self.sigmoid(self.linear1(x))
        x = self.sigmoid(self.linear2(x))
        x = self.sigmoid(self.linear3(x))
        return x


def course_lesson7(filename, epochs, initial_weights):
    xy = np.loadtxt(filename, delimiter=",", dtype=np.float32)
    x_data = torch.from_numpy(xy[:, :-1])
    y_data = torch.from_numpy(xy[:, [-1]])

    model = Model()
    model.load_state_dict(initial_weights)  # not in the course: the lesson's initial weights

    criterion = torch.nn.BCELoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    epoch_list = []
    loss_list = []

    for epoch in range(epochs):
        y_pred = model(x_data)
        loss = criterion(y_pred, y_data)
        print(epoch, loss.item())
        epoch_list.append(epoch)
        loss_list.append(loss.item())

        optimizer.zero_grad()
        loss.backward()

        optimizer.step()
    return model, loss_list


class DiabetesDataset(Dataset):
    def __init__(self, filepath):
        xy = np.loadtxt(filepath, delimiter=",", dtype=np.float32)
        self.len = xy.shape[0]
        self.x_data = torch.from_numpy(xy[:, :-1])
        self.y_data = torch.from_numpy(xy[:, [-1]])

    def __getitem__(self, index):
        return self.x_data[index], self.y_data[index]

    def __len__(self):
        return self.len


def course_lesson8(filename, epochs, initial_weights, order):
    dataset = DiabetesDataset(filename)
    train_loader = DataLoader(
        dataset=dataset,
        batch_size=32,
        sampler=order,  # not in the course (shuffle=True, num_workers=2): the lesson's order
    )

    model = Model()
    model.load_state_dict(initial_weights)  # not in the course: the lesson's initial weights

    criterion = torch.nn.BCELoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    losses = []  # not in the course: what it prints, kept for the comparison
    for epoch in range(epochs):
        for i, data in enumerate(train_loader, 0):
            inputs, labels = data
            y_pred = model(inputs)
            loss = criterion(y_pred, labels)
            print(epoch, i, loss.item())
            losses.append(loss.item())

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model, losses


class DataModuleOrder(Sampler[int]):
    """The datamodule's training order, a new epoch at each pass: what the lesson sees."""

    def __init__(self, data: DiabetesDataModule) -> None:
        self.sampler = data.train_dataloader().sampler
        self.epoch = 0

    def __iter__(self):
        self.sampler.set_epoch(self.epoch)  # as the Trainer does at each epoch's start
        self.epoch += 1
        return iter(list(self.sampler))

    def __len__(self) -> int:
        return len(self.sampler)


# --- the lesson, and the comparison --------------------------------------------------------

PRINTED = re.compile(r"^\d+( \d+)? \S+$")


def printed_lines(text: str) -> list[tuple[tuple[int, ...], float]]:
    """Lines such as ``12 0.64…`` or ``2 7 0.69…``: (the integers, the loss)."""
    rows = []
    for line in text.splitlines():
        if PRINTED.match(line):
            *counters, loss = line.split()
            rows.append((tuple(map(int, counters)), float(loss)))
    return rows


def fit(lesson: DiabetesClassifier, data: DiabetesDataModule, max_epochs: int) -> dict:
    """Trains ``lesson`` with a plain Trainer; returns its initial weights."""
    initial = {name: value.clone() for name, value in lesson.state_dict().items()}
    trainer = L.Trainer(max_epochs=max_epochs, **PLAIN_TRAINER)
    trainer.fit(lesson, datamodule=data)
    return initial


def all_rows(batch_size: int | None) -> DiabetesDataModule:
    data = DiabetesDataModule(val_fraction=0.0, batch_size=batch_size)
    data.setup("fit")
    assert data.train_set.indices == list(range(759))  # the file's rows, in the file's order
    return data


def assert_same_weights(lesson: torch.nn.Module, course: torch.nn.Module) -> None:
    ours, theirs = lesson.state_dict(), course.state_dict()
    assert ours.keys() == theirs.keys()  # linear1.weight … linear3.bias, the course's names
    for name in theirs:
        assert torch.allclose(ours[name], theirs[name], rtol=0, atol=TOLERANCE), name


def assert_same_lines(lesson_output: str, course_output: str, count: int) -> None:
    ours, theirs = printed_lines(lesson_output), printed_lines(course_output)
    assert len(theirs) == count and [c for c, _ in ours] == [c for c, _ in theirs]
    assert max(abs(a - b) for (_, a), (_, b) in zip(ours, theirs)) <= TOLERANCE


def test_lesson7_is_the_course_script(capsys):
    """300 full-batch epochs (3 Lightning epochs × 100): losses, printed lines, weights."""
    torch.manual_seed(0)
    optimizer = partial(torch.optim.SGD, lr=0.1)
    lesson = DiabetesClassifier(optimizer=optimizer, course_steps_per_batch=100, print_every=1)
    initial = fit(lesson, all_rows(batch_size=None), max_epochs=3)
    lesson_output = capsys.readouterr().out

    course, loss_list = course_lesson7(fetch(DIABETES, None), 300, initial)
    course_output = capsys.readouterr().out

    assert len(lesson.loss_history) == 300
    assert np.allclose(lesson.loss_history, loss_list, rtol=0, atol=TOLERANCE)
    assert loss_list[-1] < loss_list[0] - 0.05  # it learns: not a comparison of two no-ops
    assert_same_lines(lesson_output, course_output, count=300)
    assert_same_weights(lesson, course)


def test_lesson8_is_the_course_script(capsys):
    """3 epochs of shuffled mini-batches of 32 (24 iterations each), in the datamodule's order."""
    torch.manual_seed(1)
    optimizer = partial(torch.optim.SGD, lr=0.01)
    lesson = DiabetesClassifier(optimizer=optimizer, print_every=1)
    initial = fit(lesson, all_rows(batch_size=32), max_epochs=3)
    lesson_output = capsys.readouterr().out

    order = DataModuleOrder(all_rows(batch_size=32))
    first_epoch = list(order.sampler)
    assert sorted(first_epoch) == list(range(759)) and first_epoch != list(range(759))
    course, losses = course_lesson8(fetch(DIABETES, None), 3, initial, order)
    course_output = capsys.readouterr().out

    assert len(lesson.loss_history) == len(losses) == 3 * 24
    assert np.allclose(lesson.loss_history, losses, rtol=0, atol=TOLERANCE)
    assert_same_lines(lesson_output, course_output, count=3 * 24)
    assert_same_weights(lesson, course)


def test_another_order_gives_other_losses():
    """Guards the test above: equal losses there mean the same batches in the same order."""
    torch.manual_seed(1)
    initial = DiabetesClassifier().state_dict()
    file = fetch(DIABETES, None)
    _, ours = course_lesson8(file, 1, initial, DataModuleOrder(all_rows(batch_size=32)))
    other = torch.utils.data.RandomSampler(range(759), generator=torch.Generator().manual_seed(9))
    _, theirs = course_lesson8(file, 1, initial, other)
    assert max(abs(a - b) for a, b in zip(ours, theirs)) > 1e-3
