"""Lesson 12 - RNN basics: turn "hello" into "ohlol", one character per time step.

The same input letter must give different outputs ('l' → 'l', then 'l' → 'o'): only the
hidden state carried from one step to the next can tell the two apart. The course builds
the net up in three steps, each a class here and a config:

- ``HelloRNNCell``: the course's own loop over the time steps, one ``RNNCell`` call per
  one-hot character; the hidden state (4 numbers, one per character) is the output.
- ``HelloRNN``: ``nn.RNN`` runs that loop over the whole sequence in one call.
- ``HelloEmbedding``: each character a learned vector (``Embedding``) → 2-layer RNN →
  ``Linear``, so the hidden size no longer has to be the number of characters.

Each course epoch is one optimizer step on the whole sequence (``CrossEntropyLoss`` over the
five steps, Adam), and prints as the course (``print_every`` course epochs: 1, as the course;
0, none; the last always)::

    Predicted string: ohlol, Epoch [15/15] loss=0.4013

the characters predicted for "hello" before that epoch's update, and its loss. ``predict``
prints ``hello → ohlol``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from lessons import figures
from lessons.base import CourseLesson

#: The course's ``idx2char``: character i of this string is class i.
VOCABULARY = "ehlo"


class HelloLesson(CourseLesson):
    """What the three nets share: the vocabulary, the loss and the printed prediction."""

    #: The course adds up the RNNCell's per-step losses and averages nn.RNN's.
    reduction = "mean"

    def __init__(
        self,
        optimizer: OptimizerCallable,
        vocabulary: str,
        course_steps_per_batch: int,
        print_every: int,
    ) -> None:
        super().__init__(course_steps_per_batch, print_every)
        if not vocabulary or len(set(vocabulary)) != len(vocabulary):
            raise ValueError(f"vocabulary must list distinct characters, got {vocabulary!r}")
        self.optimizer = optimizer
        self.vocabulary = vocabulary
        self.criterion = nn.CrossEntropyLoss(reduction=self.reduction)
        # The last course epoch's prediction (made before its update) and its target.
        self.predicted, self.expected = "", ""

    def encode(self, text: str) -> torch.Tensor:
        """Character indices of ``text``, as the course's ``x_data`` and ``y_data``."""
        unknown = sorted(set(text) - set(self.vocabulary))
        if unknown:
            raise ValueError(
                f"{text!r} has characters {''.join(unknown)!r} outside the vocabulary "
                f"{self.vocabulary!r}; add them to model.init_args.vocabulary"
            )
        return torch.tensor([self.vocabulary.index(c) for c in text], device=self.device)

    def decode(self, indices: torch.Tensor) -> str:
        return "".join(self.vocabulary[i] for i in indices.tolist())

    def one_hot(self, x: torch.Tensor) -> torch.Tensor:
        """The course's ``one_hot_lookup``: character i → a row with a 1 in column i."""
        return nn.functional.one_hot(x, len(self.vocabulary)).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores [seq_len, characters] for the character indices ``x`` [seq_len]."""
        raise NotImplementedError

    def course_step(self, batch: tuple[tuple[str], tuple[str]]) -> torch.Tensor:
        (source,), (target,) = batch
        scores = self(self.encode(source))
        loss = self.criterion(scores.float(), self.encode(target))
        self.optimize(loss)
        self.predicted, self.expected = self.decode(scores.argmax(dim=1)), target
        if self.printing:
            epochs = self.last_course_epoch + 1  # the course's 15: all epochs of this fit
            self.print(
                "Predicted string: %s, Epoch [%d/%d] loss=%.4f"  # noqa: UP031
                % (self.predicted, self.course_epoch + 1, epochs, loss.item())
            )
        return loss

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.log("exact", float(self.predicted == self.expected))

    def predict_step(self, batch: list[str]) -> dict[str, Any]:
        """Prints ``source → prediction``; the CSV gets both, and the predicted characters'
        indices (``idx2char``'s)."""
        (source,) = batch
        predicted = self(self.encode(source)).argmax(dim=1)
        self.print(f"{source} → {self.decode(predicted)}")  # above the progress bar
        indices = " ".join(map(str, predicted.tolist()))
        return {"source": [source], "predicted": [self.decode(predicted)], "indices": [indices]}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.with_found_lr(self.optimizer(self.parameters()))

    def draw_figures(self, folder: Path) -> None:
        figures.plot_loss_history(folder / "loss.png", self.loss_history)


class HelloRNNCell(HelloLesson):
    data_class = "datamodules.hello.HelloDataModule"
    config = "configs/rnn_cell.yaml"
    reduction = "sum"  # the course: loss += criterion(hidden, label) at every step

    def __init__(
        self,
        optimizer: OptimizerCallable = torch.optim.Adam,
        vocabulary: str = VOCABULARY,
        course_steps_per_batch: int = 5,
        print_every: int = 1,
    ) -> None:
        super().__init__(optimizer, vocabulary, course_steps_per_batch, print_every)
        self.save_hyperparameters()
        # The hidden state is read as the scores: its size is the number of characters.
        self.rnncell = nn.RNNCell(input_size=len(vocabulary), hidden_size=len(vocabulary))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = self.one_hot(x).unsqueeze(1)  # [seq_len, batch 1, input_size]
        hidden = torch.zeros(1, self.rnncell.hidden_size, device=x.device)  # init_hidden
        outputs = []
        for input in inputs:  # the course's loop over the time steps
            hidden = self.rnncell(input, hidden)
            outputs.append(hidden)
        return torch.cat(outputs)


class HelloRNN(HelloLesson):
    data_class = "datamodules.hello.HelloDataModule"
    config = "configs/rnn.yaml"

    def __init__(
        self,
        optimizer: OptimizerCallable = torch.optim.Adam,
        vocabulary: str = VOCABULARY,
        num_layers: int = 1,
        course_steps_per_batch: int = 5,
        print_every: int = 1,
    ) -> None:
        super().__init__(optimizer, vocabulary, course_steps_per_batch, print_every)
        self.save_hyperparameters()
        size = len(vocabulary)
        self.rnn = nn.RNN(input_size=size, hidden_size=size, num_layers=num_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.one_hot(x).unsqueeze(1))  # hidden starts at zeros, as the course's
        return out.view(-1, self.rnn.hidden_size)  # [seq_len × batch 1, hidden_size]


class HelloEmbedding(HelloLesson):
    data_class = "datamodules.hello.HelloDataModule"
    config = "configs/rnn_embedding.yaml"

    def __init__(
        self,
        optimizer: OptimizerCallable = torch.optim.Adam,
        vocabulary: str = VOCABULARY,
        embedding_size: int = 10,
        hidden_size: int = 8,
        num_layers: int = 2,
        course_steps_per_batch: int = 5,
        print_every: int = 1,
    ) -> None:
        super().__init__(optimizer, vocabulary, course_steps_per_batch, print_every)
        self.save_hyperparameters()
        self.emb = nn.Embedding(len(vocabulary), embedding_size)
        self.rnn = nn.RNN(embedding_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, len(vocabulary))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.emb(x.unsqueeze(0)))  # [batch 1, seq_len, hidden_size]
        return self.fc(out).view(-1, len(self.vocabulary))
