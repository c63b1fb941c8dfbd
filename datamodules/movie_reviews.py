"""Lecture 13's homework: Kaggle's Sentiment Analysis on Movie Reviews, from its own files.

Kaggle's ``train.tsv`` is tab-separated with a header and the columns PhraseId, SentenceId,
Phrase and Sentiment, 0 (negative) to 4 (positive): 156 060 phrases that the Stanford parser
cut from Rotten Tomatoes reviews, each sentence with its sub-phrases; ``test.tsv`` the same
without Sentiment (66 292). Download them from
https://www.kaggle.com/c/sentiment-analysis-on-movie-reviews/data (they come zipped: unzip
them) into ``data_dir`` (default ``$LESSONS_DATA_DIR/sentiment-analysis-on-movie-reviews/``,
else ``./data/sentiment-analysis-on-movie-reviews/``).

As lecture 13 reads a name character by character, the lesson reads a phrase word by word: a
phrase is lower-cased and cut at spaces (Kaggle's phrases are already tokenised), and each
word becomes its number in a vocabulary of the ``vocab_size - 2`` commonest words of
``train.tsv`` (most frequent first, ties alphabetical), counted from 2: 0 is the padding and
1 any other word. ``predict`` builds the same vocabulary from the same ``train.tsv``.

Batches are ``(words [B, T], sentiments [B])``, longest phrase first and padded with 0, as
lecture 13's names (``datamodules/names.py``'s ``collate``). The test file has no labels: a
seeded ``val_fraction`` of ``train.tsv``'s *sentences*, with all their phrases, is held out
for validation (held-out phrases would otherwise sit inside training sentences).

>>> vocabulary = build_vocabulary(["a good film", "a bad film", "a film"], size=5)
>>> vocabulary
{'a': 2, 'film': 3, 'bad': 4}
>>> encode("A GOOD film", vocabulary), encode(" ", vocabulary)
([2, 1, 3], [1])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

from datamodules.files import DataError
from datamodules.kaggle import Competition, number, read_table
from datamodules.names import collate
from datamodules.tables import TableDataModule, check_settings, random_split

MOVIE_REVIEWS = Competition(
    "sentiment-analysis-on-movie-reviews",
    "https://www.kaggle.com/c/sentiment-analysis-on-movie-reviews/data",
    ("train.tsv", "test.tsv"),
)
TEST_COLUMNS = ("PhraseId", "SentenceId", "Phrase")
TRAIN_COLUMNS = (*TEST_COLUMNS, "Sentiment")
SENTIMENTS = ("negative", "somewhat negative", "neutral", "somewhat positive", "positive")
PADDING, UNKNOWN = 0, 1


def words(phrase: str) -> list[str]:
    return phrase.lower().split()


def build_vocabulary(phrases: list[str], size: int) -> dict[str, int]:
    """The ``size - 2`` commonest words of ``phrases`` → 2, 3, … (0 pads, 1 is any other)."""
    counts = Counter(word for phrase in phrases for word in words(phrase))
    kept = sorted(counts, key=lambda word: (-counts[word], word))[: size - 2]
    return {word: number for number, word in enumerate(kept, start=2)}


def encode(phrase: str, vocabulary: dict[str, int]) -> list[int]:
    """The phrase's word numbers; a phrase with no word (Kaggle has a few) is one unknown."""
    return [vocabulary.get(word, UNKNOWN) for word in words(phrase)] or [UNKNOWN]


def read_phrases(path: Path, labelled: bool) -> list[tuple[int, int, str, int]]:
    """(PhraseId, SentenceId, Phrase, Sentiment) of each row; Sentiment -1 in the test file."""
    phrases = []
    for line, row in read_table(path, TRAIN_COLUMNS if labelled else TEST_COLUMNS, "\t"):
        sentiment = -1
        if labelled:
            sentiment = row["Sentiment"].strip()
            if sentiment not in ("0", "1", "2", "3", "4"):
                raise DataError(f"{path}:{line}: Sentiment {sentiment!r} is not 0, 1, 2, 3 or 4")
            sentiment = int(sentiment)
        phrase_id = int(number(path, line, row, "PhraseId"))
        sentence_id = int(number(path, line, row, "SentenceId"))
        phrases.append((phrase_id, sentence_id, row["Phrase"], sentiment))
    return phrases


def collate_predict(rows: list[tuple[torch.Tensor, int, int]]) -> dict[str, torch.Tensor]:
    """Test phrases (words, place in the file, PhraseId), longest first as ``collate``."""
    rows = sorted(rows, key=lambda row: len(row[0]), reverse=True)
    return {
        "codes": pad_sequence([codes for codes, _, _ in rows], batch_first=True),
        "index": torch.tensor([index for _, index, _ in rows]),
        "PhraseId": torch.tensor([phrase_id for _, _, phrase_id in rows]),
    }


class MovieReviewsDataModule(TableDataModule):
    no_test_labels = (
        "Kaggle's test.tsv has no Sentiment column to score; `validate` scores the held-out "
        "sentences of train.tsv, `predict` writes the submission"
    )

    def __init__(
        self,
        data_dir: str | None = None,
        vocab_size: int = 16384,
        batch_size: int = 256,
        val_fraction: float = 0.1,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        """``data_dir``: the folder with Kaggle's train.tsv and test.tsv (default
        ``$LESSONS_DATA_DIR/sentiment-analysis-on-movie-reviews``, else under ``./data``);
        ``vocab_size``: the words the model tells apart, padding and unknown included (the
        lesson's ``vocab_size`` must be the same); ``val_fraction``: the sentences of
        train.tsv held out (drawn with ``seed``) for validation."""
        super().__init__()
        if vocab_size < 3:
            raise ValueError(
                f"vocab_size must be at least 3 (padding, unknown, a word), got {vocab_size}"
            )
        check_settings(batch_size, num_workers, val_fraction=val_fraction)
        self.save_hyperparameters()
        self.vocabulary: dict[str, int] = {}

    @property
    def vocab_size(self) -> int:
        return self.hparams.vocab_size

    def prepare_data(self) -> None:
        """Check both files now, before the Trainer makes a run folder."""
        for name in MOVIE_REVIEWS.files:
            MOVIE_REVIEWS.file(self.hparams.data_dir, name)
        read_table(MOVIE_REVIEWS.file(self.hparams.data_dir, "test.tsv"), TEST_COLUMNS, "\t")

    def setup(self, stage: str) -> None:
        train = read_phrases(MOVIE_REVIEWS.file(self.hparams.data_dir, "train.tsv"), True)
        self.vocabulary = build_vocabulary([phrase for _, _, phrase, _ in train], self.vocab_size)
        if stage == "predict":
            test = read_phrases(MOVIE_REVIEWS.file(self.hparams.data_dir, "test.tsv"), False)
            self.splits["predict"] = [
                (torch.tensor(encode(phrase, self.vocabulary)), index, phrase_id)
                for index, (phrase_id, _, phrase, _) in enumerate(test)
            ]
            return
        sentences = sorted({sentence for _, sentence, _, _ in train})
        _, held_out = random_split(
            len(sentences), self.hparams.val_fraction, self.hparams.seed, "sentences"
        )
        validation = {sentences[i] for i in held_out}
        self.splits["train"], self.splits["val"] = [], []
        for _, sentence, phrase, sentiment in train:
            row = (torch.tensor(encode(phrase, self.vocabulary)), sentiment)
            self.splits["val" if sentence in validation else "train"].append(row)

    def collate(self, split: str) -> Callable[[list], Any]:
        return collate_predict if split == "predict" else collate
