"""Lesson 13 - RNN classifier: which of 18 countries a surname comes from.

A name is read character by character: each ASCII code becomes a learned vector
(``Embedding``), a GRU reads them in order - both ways when ``bidirectional`` - and its last
hidden state (of both directions, concatenated) goes through one ``Linear`` to 18 scores.
The names of a batch have different lengths: they come padded with 0 and sorted longest
first, and ``pack_padded_sequence`` hands the GRU each name's own characters only, so the
padding never changes a name's hidden state.

The course: hidden size 100, 2 GRU layers, bidirectional, batch 256, ``Adam(lr=0.001)``,
≈ 83 % test accuracy. ``predict`` prints each name's three likeliest countries.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lessons.classifier import ClassifierLesson
from lessons.common import inputs_of

EXPORT_REFUSAL = (
    "torch.export cannot follow pack_padded_sequence (its shapes are the names' lengths); "
    "export NameClassifier with model.to_torchscript() or model.to_onnx(path, codes)"
)


def refuse_torch_export() -> None:
    """torch.export fixes every shape it meets, and a packed batch's shapes are its names'
    lengths: say so in one line, instead of its traceback. TorchScript packs fine (and cannot
    read what follows, so it stops at the first line)."""
    if torch.jit.is_scripting():
        return
    if torch.compiler.is_exporting():
        raise NotImplementedError(EXPORT_REFUSAL)


class NameClassifier(ClassifierLesson):
    """``n_classes``: the classes told apart, lesson 13's 18 countries (the movie reviews'
    5 sentiments in ``SentimentClassifier``), the scores of the last ``Linear``."""

    data_class = "datamodules.names.NamesDataModule"
    config = "configs/names.yaml"

    def __init__(
        self,
        n_chars: int = 128,
        hidden_size: int = 100,
        n_layers: int = 2,
        bidirectional: bool = True,
        n_classes: int = 18,
        optimizer: OptimizerCallable = torch.optim.Adam,
        print_every: int = 1,
    ) -> None:
        super().__init__(num_classes=n_classes, optimizer=optimizer, print_every=print_every)
        for name, value in (("n_chars", n_chars), ("hidden_size", hidden_size)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if n_layers < 1 or n_classes < 2:
            raise ValueError(f"need n_layers ≥ 1 and n_classes ≥ 2, got {n_layers} and {n_classes}")
        self.save_hyperparameters()
        self.n_directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(n_chars, hidden_size)
        self.gru = nn.GRU(
            hidden_size, hidden_size, n_layers, bidirectional=bidirectional, batch_first=True
        )
        self.fc = nn.Linear(hidden_size * self.n_directions, n_classes)
        self.start = time.time()

    def setup(self, stage: str) -> None:
        super().setup(stage)
        countries = getattr(self.trainer.datamodule, "countries", None)
        if countries:
            if len(countries) != self.num_classes:
                raise ValueError(
                    f"the data has {len(countries)} countries, the model scores "
                    f"{self.num_classes}; set model.init_args.n_classes: {len(countries)}"
                )
            self.class_names = list(countries)  # what the confusion matrix is labelled with

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Scores [B, countries] for names given as ASCII codes [B, T], padded with 0 (no
        name holds code 0, so the padding gives the lengths), in any order: the course sorts
        a batch longest first, which ``pack_padded_sequence`` does itself here."""
        refuse_torch_export()  # the packing below depends on the names' lengths
        lengths = (codes != 0).sum(dim=1).cpu()
        packed = pack_padded_sequence(
            self.embedding(codes), lengths, batch_first=True, enforce_sorted=False
        )
        _, hidden = self.gru(packed)  # [n_layers × directions, B, hidden_size]
        if self.n_directions == 2:  # the last layer's two directions
            hidden_cat = torch.cat([hidden[-1], hidden[-2]], dim=1)
        else:
            hidden_cat = hidden[-1]
        return self.fc(hidden_cat)

    def to_onnx(
        self, file_path: str | Path | None = None, input_sample: Any = None, **kwargs: Any
    ) -> torch.onnx.ONNXProgram | None:
        """ONNX through torch's TorchScript-based exporter (``dynamo=False``): it writes the
        packed GRU as ONNX's GRU given each name's length, for any number of names of any
        length. (The default exporter goes through torch.export, which refuses the packing.)"""
        kwargs.setdefault("dynamo", False)
        kwargs.setdefault("input_names", ["codes"])
        kwargs.setdefault("dynamic_axes", {"codes": {0: "names", 1: "characters"}})
        return super().to_onnx(file_path, input_sample, **kwargs)

    # The course's lines: "Training for 100 epochs...", then in trainModel() every 10 batches
    # the time since the start, the epoch, the names seen and the summed loss per name so far;
    # in testModel() "evaluating trained model ..." and the test accuracy.
    loss_every = 10

    def on_fit_start(self) -> None:
        self.start = time.time()
        if self.print_every:
            self.print("Training for %d epochs..." % self.trainer.max_epochs)  # noqa: UP031

    def running_value(self, batches: int, batch_size: int) -> float:
        """The course's ``total_loss / (i * len(inputs))``: summed over the epoch so far."""
        return self.running_loss.item() / (batches * batch_size)

    def print_loss(self, batches: int, batch_size: int, value: float) -> None:
        seconds = time.time() - self.start
        names = len(self.trainer.train_dataloader.dataset)
        self.print(
            f"[{math.floor(seconds / 60)}m {math.floor(seconds % 60)}s] "
            f"Epoch {self.current_epoch + 1} [{batches * batch_size}/{names}] loss={value}"
        )

    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        if self.prints_this_epoch() and not self.trainer.sanity_checking:
            self.print("evaluating trained model ...")

    def print_accuracy(self, correct: int, total: int) -> None:
        self.print(f"Test set: Accuracy {correct}/{total} {100 * correct / total:.2f}%")

    def predict_step(self, batch: Any) -> dict[str, Any]:
        """Prints "name: country p, country p, country p" for the three likeliest countries;
        the CSV has each name with them and, when known, its true country."""
        codes, labels = inputs_of(batch)
        p = torch.softmax(self(codes).float(), dim=1)
        top = p.topk(min(3, self.num_classes), dim=1)
        names = ["".join(chr(code) for code in name if code) for name in codes.tolist()]
        row: dict[str, Any] = {"name": names}
        for rank in range(top.indices.shape[1]):
            row[f"country_{rank + 1}"] = self.names_of(top.indices[:, rank])
            row[f"p_{rank + 1}"] = top.values[:, rank]
        if labels is not None:
            row["true"] = self.names_of(labels)
        return row
