"""Lesson 13: the names data, its padded and packed batches, bad input, and training."""

from __future__ import annotations

import gzip
import re

import pytest
import torch
from helpers import DDP_ON_TWO_CPUS, QUIET, config, read_csv, run_folder, run_subprocess

from datamodules.files import DataError
from datamodules.names import NamesDataModule, encode, read_names
from lessons.name_classifier import NameClassifier

COUNTRIES = [
    "Arabic", "Chinese", "Czech", "Dutch", "English", "French", "German", "Greek", "Irish",
    "Italian", "Japanese", "Korean", "Polish", "Portuguese", "Russian", "Scottish", "Spanish",
    "Vietnamese",
]  # fmt: skip


@pytest.fixture(scope="module")
def names() -> NamesDataModule:
    data = NamesDataModule(batch_size=32, val_fraction=0.1)
    data.setup("fit")
    return data


@pytest.fixture
def one_thread():
    """One intra-op thread while training: with both cores busy with other work, a batch of
    the packed GRU took 6.1 s with two threads and 0.22 s with one (measured here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def write_gz(path, text: str):
    path.write_bytes(gzip.compress(text.encode()))
    return path


def test_the_files_hold_13374_and_6700_names_of_18_countries(names):
    assert names.countries == COUNTRIES
    assert len(names.splits["train"]) + len(names.splits["val"]) == 13374
    assert len(names.splits["val"]) == 1337  # val_fraction 0.1
    assert len(names.splits["test"]) == 6700
    labels = [label for _, label in names.splits["test"]]
    assert labels.count(COUNTRIES.index("Russian")) == 3136


def test_the_split_is_seeded():
    def val_names(seed: int) -> set[tuple[int, ...]]:
        data = NamesDataModule(val_fraction=0.1, seed=seed)
        data.setup("fit")
        return {tuple(codes.tolist()) for codes, _ in data.splits["val"]}

    assert val_names(0) == val_names(0) != val_names(1)


def test_batches_are_padded_with_0_and_sorted_longest_first(names):
    codes, countries = next(iter(names.train_dataloader()))
    lengths = (codes != 0).sum(dim=1)
    assert codes.shape == (32, int(lengths.max())) and countries.shape == (32,)
    assert lengths.tolist() == sorted(lengths.tolist(), reverse=True)
    for row, length in zip(codes, lengths, strict=True):
        assert (row[:length] != 0).all() and (row[length:] == 0).all()  # no gap, then padding


def test_packing_makes_the_padding_invisible(names):
    """A name scores the same alone as padded in a batch of longer names."""
    torch.manual_seed(0)
    model = NameClassifier().eval()
    codes, _ = next(iter(names.train_dataloader()))
    with torch.no_grad():
        batch_scores = model(codes)
        for row, scores in zip(codes, batch_scores, strict=True):
            alone = model(row[row != 0].unsqueeze(0))[0]
            torch.testing.assert_close(alone, scores, atol=1e-5, rtol=1e-5)


def test_the_character_rule():
    assert encode("Nakamura") == [ord(c) for c in "Nakamura"]
    assert encode(" Müller ") == encode("Muller")  # accents dropped, spaces stripped
    assert encode("O'Brien") == [ord(c) for c in "O'Brien"]
    with pytest.raises(ValueError, match="outside printable ASCII"):
        encode("Øster")  # Ø has no base letter to fall back to
    with pytest.raises(ValueError, match="outside printable ASCII"):
        encode("Иванов")
    with pytest.raises(ValueError, match="outside printable ASCII"):
        encode("Tab\there")
    with pytest.raises(ValueError, match="is empty"):
        encode("  ")


def test_a_malformed_row_names_the_file_and_line(tmp_path):
    path = write_gz(tmp_path / "names.csv.gz", '"Abe","Japanese"\n"Adams","English","extra"\n')
    with pytest.raises(DataError, match=r"names\.csv\.gz:2: expected a row"):
        read_names(path)
    path = write_gz(tmp_path / "names.csv.gz", '"Abe","Japanese"\n"","English"\n')
    with pytest.raises(DataError, match=r"names\.csv\.gz:2: the name '' is empty"):
        read_names(path)
    path = write_gz(tmp_path / "names.csv.gz", '"Abe","Japanese"\n"Øster","Danish"\n')
    with pytest.raises(DataError, match=r"names\.csv\.gz:2: the name 'Øster' has characters"):
        read_names(path)


def test_a_country_unseen_in_training_is_refused(tmp_path):
    path = write_gz(tmp_path / "test.csv.gz", '"Abe","Japanese"\n"Jensen","Danish"\n')
    with pytest.raises(DataError, match=r"test\.csv\.gz:2: the country 'Danish' is not among"):
        read_names(path, COUNTRIES)


def test_a_file_that_is_not_gzip_is_refused(tmp_path):
    path = tmp_path / "names.csv.gz"
    path.write_text('"Abe","Japanese"\n')
    with pytest.raises(DataError, match="not a readable .csv.gz file"):
        read_names(path)


@pytest.mark.parametrize(
    "predict_names, message",
    [([], "predict_names is empty"), (["Nakamura", "Иванов"], "'Иванов' has characters")],
    ids=["empty list", "non-ASCII name"],
)
def test_bad_predict_names_are_refused(predict_names, message):
    with pytest.raises(ValueError, match=message):
        NamesDataModule(predict_names=predict_names).setup("predict")


def test_one_epoch_trains_and_predicts_top_3_countries(run_cli, capsys, one_thread):
    """One epoch on all 13 374 training names, as the course, reaches about 62 % on the test
    set (measured: 62.4 % on 90 % of them; always answering Russian gives 46.8 %), printing
    the course's lines; predict reloads the checkpoint and prints the top-3 countries."""
    fit = run_cli("fit", "names", "--trainer.max_epochs", "1")
    assert len(fit.datamodule.splits["train"]) == 13_374 and "val" not in fit.datamodule.splits
    metrics = fit.trainer.callback_metrics
    assert fit.datamodule.val_split == "test"  # val_* measured the test set, as the course
    assert metrics["val_acc"] > 0.6 and "test_acc" not in metrics
    printed = capsys.readouterr().out.split("Run folder:")[0].splitlines()  # the lesson's lines
    assert printed[0] == "Training for 1 epochs..."
    progress = [line for line in printed if re.fullmatch(r"\[\d+m \d+s\] Epoch 1 .*", line)]
    assert [line.split("[")[2].split("]")[0] for line in progress] == [
        f"{names}/13374" for names in range(2560, 13374, 2560)
    ]  # every 10 batches of 256
    assert all(float(line.split("loss=")[1]) < 0.02 for line in progress)
    correct = round(float(metrics["val_acc"]) * 6700)
    assert printed[-2:] == [
        "evaluating trained model ...",
        f"Test set: Accuracy {correct}/6700 {100 * correct / 6700:.2f}%",
    ]
    assert fit.model.class_names == COUNTRIES  # what confusion_matrix.png is labelled with
    folder = run_folder(fit)
    assert all((folder / f"{figure}.png").exists() for figure in ("loss", "confusion_matrix"))
    checkpoint = folder / "checkpoints" / "last.ckpt"
    predicted = run_cli(
        "predict",
        "names",
        "--ckpt_path",
        str(checkpoint),
        "--data.init_args.predict_names",
        "[Nakamura, Müller, Ivanov]",
    )
    rows = read_csv(run_folder(predicted) / "predictions.csv")
    assert [row["name"] for row in rows] == ["Nakamura", "Muller", "Ivanov"]
    for row in rows:
        assert all(row[f"country_{rank}"] in COUNTRIES for rank in (1, 2, 3))
        probabilities = [float(row[f"p_{rank}"]) for rank in (1, 2, 3)]
        assert probabilities == sorted(probabilities, reverse=True)
    assert rows[2]["country_1"] == "Russian"
    shown = capsys.readouterr().out  # a preview of the rows, above where the file is
    assert "Nakamura" in shown and "predictions written to" in shown


@pytest.mark.slow
def test_ddp_predicts_the_same_rows_in_the_same_order_as_one_process(run_cli, tmp_path, one_thread):
    """Each process predicts its shard of the names, sorted by length inside each batch; the
    CSV still lists every name once, in the order of predict_names."""
    fit = run_cli(
        "fit", "names", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1",
        "--trainer.limit_val_batches", "1",
    )  # fmt: skip
    names = "[Nakamura, Dupont, Müller, Sokolov, Rossi, Nguyen, Kim]"
    predict = [
        "--ckpt_path", str(run_folder(fit) / "checkpoints" / "last.ckpt"),
        "--data.init_args.predict_names", names,
    ]  # fmt: skip
    result = run_subprocess(
        "predict", "--config", config("names"), *QUIET, *predict, *DDP_ON_TWO_CPUS,
        "--predictions.output", "ddp.csv", cwd=tmp_path, env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run_cli("predict", "names", *predict, "--predictions.output", "one.csv")
    by_ddp, by_one = (read_csv(tmp_path / name) for name in ("ddp.csv", "one.csv"))
    assert [row["name"] for row in by_one] == names.strip("[]").replace("ü", "u").split(", ")
    for ddp_row, one_row in zip(by_ddp, by_one, strict=True):  # other batches: last digits
        assert ddp_row.keys() == one_row.keys()
        for key, value in one_row.items():
            if key.startswith("p_"):
                assert float(ddp_row[key]) == pytest.approx(float(value), abs=1e-5)
            else:
                assert ddp_row[key] == value


@pytest.mark.slow
def test_the_course_settings_reach_80_percent_on_the_test_set(run_cli, one_thread):
    """The course's own code reaches 83.84 % after 10 epochs (seed 0); measured here earlier:
    82.9 % after 10 epochs on 90 % of the training names."""
    fit = run_cli("fit", "names", "--trainer.max_epochs", "10")
    assert fit.trainer.callback_metrics["val_acc"] >= 0.80  # over the test set
