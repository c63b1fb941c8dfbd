"""The course's Kaggle homework (lectures 8, 9, 13) on files of Kaggle's layout.

The competitions' files cannot be shipped, so each test writes small files with the
competitions' columns under ``tmp_path``: random values with a pattern a net can learn
(generated here, not the competitions' data). ``fit`` trains on them and the loss falls;
``predict`` writes Kaggle's submission, its exact header and one row per test row; a missing
file or a file with other columns stops in one line that says what to do.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest
import torch
from helpers import QUIET, AutocastProbe, config, read_csv

from datamodules.files import DataError
from datamodules.movie_reviews import MovieReviewsDataModule
from datamodules.otto import OttoDataModule
from datamodules.titanic import FEATURES, SCALED, TitanicDataModule

TITANIC_TRAIN = [
    "PassengerId", "Survived", "Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Ticket",
    "Fare", "Cabin", "Embarked",
]  # fmt: skip
OTTO_TRAIN = ["id", *(f"feat_{i}" for i in range(1, 94)), "target"]
REVIEWS_TRAIN = ["PhraseId", "SentenceId", "Phrase", "Sentiment"]


def write_table(path: Path, header: list[str], rows: list[list], delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream, delimiter=delimiter, lineterminator="\n")
        writer.writerows([header, *rows])


def write_titanic(folder: Path, train: int = 160, test: int = 40) -> None:
    """Passengers whose survival follows sex and class; some ages, fares, ports missing."""
    rng = random.Random(0)

    def passenger(passenger_id: int) -> list:
        pclass, female = rng.choice([1, 2, 3]), rng.random() < 0.4
        chance = 1 / (1 + math.exp(-(4 * female - 1.5 * (pclass - 2) - 1.5)))
        return [
            passenger_id,
            int(rng.random() < chance),
            pclass,
            f"Doe{passenger_id}, Mr. John",  # a comma inside quotes, as Kaggle's names
            "female" if female else "male",
            "" if rng.random() < 0.2 else f"{rng.uniform(1, 70):.1f}",
            rng.randint(0, 3),
            rng.randint(0, 2),
            f"A/5 {passenger_id}",
            "" if rng.random() < 0.05 else f"{rng.uniform(5, 30) * (4 - pclass):.4f}",
            "",
            "" if rng.random() < 0.05 else rng.choice("CQS"),
        ]

    rows = [passenger(i) for i in range(1, train + test + 1)]
    write_table(folder / "train.csv", TITANIC_TRAIN, rows[:train])
    test_header = [c for c in TITANIC_TRAIN if c != "Survived"]
    write_table(folder / "test.csv", test_header, [r[:1] + r[2:] for r in rows[train:]])


def write_otto(folder: Path, train: int = 270, test: int = 30) -> None:
    """Products whose class raises the counts of every ninth feature."""
    rng = random.Random(0)

    def product(product_id: int) -> list:
        k = rng.randrange(9)
        counts = [rng.choice([0, 0, 1]) + 3 * (j % 9 == k) * rng.randint(1, 3) for j in range(93)]
        return [product_id, *counts, f"Class_{k + 1}"]

    rows = [product(i) for i in range(1, train + test + 1)]
    write_table(folder / "train.csv", OTTO_TRAIN, rows[:train])
    write_table(folder / "test.csv", OTTO_TRAIN[:-1], [r[:-1] for r in rows[train:]])


SENTIMENT_WORDS = [
    ["awful", "dreadful"],
    ["dull", "weak"],
    ["plain", "so-so"],
    ["nice"],
    ["superb"],
]
FILLER = ["the", "film", "a", "movie", "is", "of", ",", "."]


def write_reviews(folder: Path, sentences: int = 40, test_sentences: int = 8) -> None:
    """Sentences of 5 phrases, each phrase's sentiment given by its one sentiment word."""
    rng = random.Random(0)
    rows = []
    for sentence in range(1, sentences + test_sentences + 1):
        for _ in range(5):
            sentiment = rng.randrange(5)
            words = rng.sample(FILLER, rng.randint(0, 3)) + [rng.choice(SENTIMENT_WORDS[sentiment])]
            rows.append([len(rows) + 156061, sentence, " ".join(words), sentiment])
    train = [row for row in rows if row[1] <= sentences]
    write_table(folder / "train.tsv", REVIEWS_TRAIN, train, "\t")
    test = [row[:3] for row in rows if row[1] > sentences]
    write_table(folder / "test.tsv", REVIEWS_TRAIN[:3], test, "\t")


#: name: (config, writer, the test file, its id column, Kaggle's submission header)
HOMEWORK = {
    "titanic": ("titanic", write_titanic, "test.csv", "PassengerId", ["PassengerId", "Survived"]),
    "otto": ("otto", write_otto, "test.csv", "id", ["id", *(f"Class_{i}" for i in range(1, 10))]),
    "movie_reviews": (
        "movie_reviews",
        write_reviews,
        "test.tsv",
        "PhraseId",
        ["PhraseId", "Sentiment"],
    ),
}
#: A short fit of each, a couple of seconds on CPU, long enough to learn the files' pattern
#: (titanic: lecture 6's logistic regression, which the lesson offers; its 9-6-4-1 sigmoid net
#: takes tens of epochs to leave the majority answer).
SHORT = {
    "titanic": [
        "--trainer.max_epochs", "3", "--model.init_args.print_every", "0",
        "--model.init_args.hidden_sizes", "[]", "--model.init_args.optimizer.init_args.lr", "1.0",
    ],
    "otto": [
        "--trainer.max_epochs", "3", "--model.init_args.print_every", "1",
        "--data.init_args.batch_size", "16", "--model.init_args.optimizer.init_args.lr", "0.1",
    ],
    "movie_reviews": [
        "--trainer.max_epochs", "3", "--model.init_args.print_every", "1",
        "--model.init_args.hidden_size", "16", "--model.init_args.vocab_size", "64",
        "--data.init_args.vocab_size", "64", "--data.init_args.batch_size", "16",
        "--model.init_args.optimizer.init_args.lr", "0.01",
    ],
}  # fmt: skip


#: The held-out accuracy of the commonest answer: the generated files' classes are balanced.
CHANCE = {"titanic": 0.5, "otto": 1 / 9, "movie_reviews": 1 / 5}


def epoch_losses(model) -> list[float]:
    """The mean training loss of each epoch: per iteration for lecture 8's lesson, per epoch
    for the classifiers."""
    if hasattr(model, "loss_history"):
        per_epoch = model.trainer.num_training_batches * model.course_steps_per_batch
        losses = model.loss_history
        return [
            sum(losses[i : i + per_epoch]) / per_epoch for i in range(0, len(losses), per_epoch)
        ]
    return [loss for _, loss in model.history["train_loss"]]


@pytest.mark.parametrize("name", HOMEWORK)
def test_fit_learns_and_predict_writes_kaggles_submission(run_cli, tmp_path, capsys, name):
    config_name, write, test_file, id_column, header = HOMEWORK[name]
    data = tmp_path / "kaggle"
    write(data)
    data_dir = ["--data.init_args.data_dir", str(data)]
    fit = run_cli("fit", config_name, *data_dir, *SHORT[name])
    losses = epoch_losses(fit.model)
    assert len(losses) >= 2 and losses[-1] < losses[0], losses
    accuracy = fit.trainer.callback_metrics["val_acc"].item()  # on the held-out rows
    assert accuracy > CHANCE[name] + 0.25, accuracy  # the features taught it, not the priors
    if name != "titanic":  # the course's test line, for the held-out rows
        assert f"accuracy on the held-out rows: {100 * accuracy:.2f} %" in capsys.readouterr().out

    submission = tmp_path / "submission.csv"
    run_cli(
        "predict", config_name, *data_dir, *SHORT[name],
        "--ckpt_path", "last", "--predictions.output", str(submission),
    )  # fmt: skip
    with open(submission) as stream:
        assert next(csv.reader(stream)) == header  # Kaggle's columns, in Kaggle's order
    rows = read_csv(submission)
    delimiter = "\t" if test_file.endswith(".tsv") else ","
    with open(data / test_file) as stream:
        test_ids = [row[id_column] for row in csv.DictReader(stream, delimiter=delimiter)]
    assert [row[id_column] for row in rows] == test_ids  # every test row once, in order
    if name == "otto":  # nine probabilities per product
        for row in rows:
            assert math.isclose(sum(float(row[c]) for c in header[1:]), 1, abs_tol=1e-4)
    else:  # a label Kaggle accepts
        labels = {"0", "1"} if name == "titanic" else {"0", "1", "2", "3", "4"}
        assert {row[header[1]] for row in rows} <= labels


@pytest.mark.slow
@pytest.mark.parametrize("name", HOMEWORK)
def test_each_homework_learns_in_bf16_mixed_under_autocast(run_cli, tmp_path, name):
    HOMEWORK[name][1](tmp_path / "kaggle")
    fit = run_cli(
        "fit", name, "--data.init_args.data_dir", str(tmp_path / "kaggle"), *SHORT[name],
        "--trainer.precision", "bf16-mixed", "--trainer.callbacks+=helpers.AutocastProbe",
    )  # fmt: skip
    losses = epoch_losses(fit.model)
    assert losses[-1] < losses[0], losses
    (probe,) = (c for c in fit.trainer.callbacks if isinstance(c, AutocastProbe))
    assert probe.autocast_seen == {True}  # every layer computed under autocast


@pytest.mark.parametrize(
    ("name", "url", "files"),
    [
        ("titanic", "https://www.kaggle.com/c/titanic/data", "train.csv and test.csv"),
        (
            "otto",
            "https://www.kaggle.com/c/otto-group-product-classification-challenge/data",
            "train.csv and test.csv",
        ),
        (
            "movie_reviews",
            "https://www.kaggle.com/c/sentiment-analysis-on-movie-reviews/data",
            "train.tsv and test.tsv",
        ),
    ],
)
def test_a_missing_file_says_where_to_download_it_and_where_to_put_it(
    cli_exit, tmp_path, name, url, files
):
    folder = tmp_path / "nothing here"
    message = cli_exit(
        "fit", "--config", config(name), *QUIET, "--data.init_args.data_dir", str(folder)
    )
    assert message.startswith("error: ") and "\n" not in message
    assert url in message and f"put {files} in {folder}" in message
    assert not (tmp_path / "runs").exists()  # stopped before the Trainer made a run folder


def test_the_default_folder_is_the_competitions_under_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="sentiment-analysis-on-movie-reviews") as missing:
        MovieReviewsDataModule().prepare_data()
    assert f"is not in {tmp_path / 'sentiment-analysis-on-movie-reviews'};" in str(missing.value)
    write_titanic(tmp_path / "titanic")
    TitanicDataModule().prepare_data()  # found there


def test_a_zipped_file_is_named_to_unzip(tmp_path):
    (tmp_path / "train.tsv.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match=r"train.tsv.zip is: unzip it there"):
        MovieReviewsDataModule(data_dir=str(tmp_path)).prepare_data()


@pytest.mark.parametrize(
    ("module", "write", "file", "renamed", "expected"),
    [
        (TitanicDataModule, write_titanic, "train.csv", "Survived", ", ".join(TITANIC_TRAIN)),
        (OttoDataModule, write_otto, "train.csv", "target", "id, feat_1 … feat_93, target"),
        (MovieReviewsDataModule, write_reviews, "train.tsv", "Sentiment", ", ".join(REVIEWS_TRAIN)),
    ],
    ids=["titanic", "otto", "movie_reviews"],
)
def test_a_file_with_other_columns_names_the_columns_expected(
    tmp_path, module, write, file, renamed, expected
):
    write(tmp_path)
    path = tmp_path / file
    header, rest = path.read_text().split("\n", 1)
    path.write_text(header.replace(renamed, "label") + "\n" + rest)  # a column Kaggle doesn't name
    with pytest.raises(DataError) as wrong:
        module(data_dir=str(tmp_path)).setup("fit")
    message = str(wrong.value)
    assert "\n" not in message
    assert f"{path}: expected the columns {expected} (Kaggle's layout)" in message
    assert message.endswith(f"without {renamed}")


def test_titanic_fills_a_missing_age_with_train_csvs_median(tmp_path):
    write_titanic(tmp_path)
    data = TitanicDataModule(data_dir=str(tmp_path))
    data.prepare_data()
    data.setup("predict")
    batch = next(iter(data.predict_dataloader()))  # the first 32 of the 40 test passengers
    with open(tmp_path / "test.csv") as stream:
        ages = [row["Age"] for row in csv.DictReader(stream)][: len(batch["features"])]
    with open(tmp_path / "train.csv") as stream:
        known = sorted(float(row["Age"]) for row in csv.DictReader(stream) if row["Age"])
    median = known[(len(known) - 1) // 2]  # torch's median: the lower middle value
    assert "" in ages and torch.isfinite(batch["features"]).all()
    age = FEATURES.index("Age")
    scale = data.fill_and_scale
    scaled_median = (median - scale.mean[SCALED.index(age)]) / scale.std[SCALED.index(age)]
    for given, features in zip(ages, batch["features"], strict=True):
        if not given:
            assert features[age].item() == pytest.approx(scaled_median.item())
