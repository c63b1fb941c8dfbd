"""Lecture 13's homework - Kaggle's movie reviews: lecture 13's GRU classifier, word by word.

The homework asks for lecture 13's RNN classifier on another sequence: a phrase of a movie
review instead of a name, one of 5 sentiments (negative … positive) instead of 18 countries.
It is lecture 13's ``NameClassifier`` over words instead of characters: each word's number
(``datamodules/movie_reviews.py``: the ``vocab_size`` commonest words of train.tsv) becomes a
learned vector (``Embedding``), a bidirectional GRU reads them in order, packed so that it
never reads the padding, and one ``Linear`` turns its last hidden states into 5 scores.
Its test after every epoch runs over the sentences of train.tsv held out for validation, as
the competition's test file has no labels.

``predict`` gives Kaggle's submission: each test phrase's PhraseId and its likeliest
Sentiment, 0 to 4.

>>> SentimentClassifier(vocab_size=50, hidden_size=8)(torch.tensor([[5, 7, 2], [3, 0, 0]])).shape
torch.Size([2, 5])
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable

from lessons.classifier import HOLD_OUT_LINE, ClassifierLesson
from lessons.name_classifier import NameClassifier

SENTIMENTS = ["negative", "somewhat negative", "neutral", "somewhat positive", "positive"]


class SentimentClassifier(NameClassifier):
    data_class = "datamodules.movie_reviews.MovieReviewsDataModule"
    config = "configs/movie_reviews.yaml"
    validation_line = HOLD_OUT_LINE
    loss_every = 100  # batches between the course's loss lines (lecture 13: 10 of its 53)

    def __init__(
        self,
        vocab_size: int = 16384,
        hidden_size: int = 100,
        n_layers: int = 2,
        bidirectional: bool = True,
        optimizer: OptimizerCallable = torch.optim.Adam,
        print_every: int = 1,
    ) -> None:
        """``vocab_size``: the words told apart, padding and unknown included, as the
        datamodule's ``vocab_size``: the rows of the ``Embedding``."""
        super().__init__(
            n_chars=vocab_size,
            hidden_size=hidden_size,
            n_layers=n_layers,
            bidirectional=bidirectional,
            n_classes=len(SENTIMENTS),
            optimizer=optimizer,
            print_every=print_every,
        )
        self.save_hyperparameters()  # this lesson's arguments, not NameClassifier's
        self.class_names = SENTIMENTS

    def setup(self, stage: str) -> None:
        super().setup(stage)
        words = getattr(self.trainer.datamodule, "vocab_size", None)
        if words is not None and words != self.hparams.vocab_size:
            raise ValueError(
                f"the data numbers {words} words, the model embeds {self.hparams.vocab_size}; "
                f"set model.init_args.vocab_size and data.init_args.vocab_size alike"
            )

    def predict_step(self, batch: Any) -> dict[str, Any]:
        """Kaggle's two columns, PhraseId and Sentiment, in the test file's order.
        Any other batch (word codes, or codes and labels, from a DataLoader of your own) gets
        each phrase's likeliest sentiment by name and the probability of each."""
        if not isinstance(batch, dict):
            return ClassifierLesson.predict_step(self, batch)  # not the names' characters
        sentiment = self(batch["codes"]).argmax(dim=1)
        order = batch["index"].argsort()  # from longest first back to the file's order
        return {"PhraseId": batch["PhraseId"][order], "Sentiment": sentiment[order]}
