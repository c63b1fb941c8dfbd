"""Lesson 9: MNIST through both feeding ways, the softmax classifier, DDP shards, bad input."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import re
import shutil
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from helpers import MNIST_DDP_CPU, QUIET, config, run_folder, run_subprocess
from lightning.fabric.utilities.data import _set_sampler_epoch
from lightning.pytorch.cli import LightningCLI
from mnist_helpers import ImageCounter
from PIL import Image
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler

from datamodules.files import DataError
from datamodules.mnist import (
    MNIST_FILES,
    EpochShardSampler,
    MNISTDataModule,
    as_batch,
    normalise,
    read_idx,
)
from lessons.softmax import SoftmaxClassifier
from runner.checkpoints import read_checkpoint

#: Test accuracy after the first epoch, held to the course's own code after its first epoch
#: (`bench/course_cnn.py softmax --epochs 1 --seed N`: 89.95 / 89.50 / 89.39 %, seeds 0-2),
#: just under its lowest seed; the lesson with the config's seeds: 89.41 %.
FIRST_EPOCH_BOUND = 0.89


def fitted(loader: str, val_fraction: float = 0.1) -> MNISTDataModule:
    data = MNISTDataModule(loader=loader, val_fraction=val_fraction)
    data.prepare_data()
    data.setup("fit")
    return data


def first_batches(data: MNISTDataModule, epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first batch of the training, validation and test loaders in ``epoch``."""
    loaders = [data.train_dataloader(), data.val_dataloader(), data.test_dataloader()]
    for loader in loaders:
        _set_sampler_epoch(loader, epoch)  # what Lightning calls at every epoch start
    return [next(iter(loader)) for loader in loaders]


def rows(images: torch.Tensor) -> list[bytes]:
    """The images as a sorted list of their bytes: equal lists, equal multisets of images."""
    return sorted(image.numpy().tobytes() for image in images)


def read_predictions(path: Path) -> list[dict[str, float]]:
    with open(path) as stream:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(stream)]


# --- the two feeding ways ---


def test_both_ways_give_identical_first_batches():
    fast, course = fitted("fast"), fitted("torchvision")
    for epoch in (0, 1):
        for (x_fast, y_fast), (x_course, y_course) in zip(
            first_batches(fast, epoch), first_batches(course, epoch), strict=True
        ):
            assert x_fast.shape == x_course.shape == (64, 1, 28, 28)
            assert x_fast.dtype == x_course.dtype == torch.float32
            assert torch.equal(y_fast, y_course)
            torch.testing.assert_close(x_fast, x_course, rtol=0, atol=1e-6)
    first_epoch, second_epoch = (first_batches(fast, epoch)[0][1] for epoch in (0, 1))
    assert not torch.equal(first_epoch, second_epoch)  # reshuffled every epoch


def test_fast_way_holds_one_copy_of_the_data_per_device():
    """Every fast loader reads the split in place: on the CPU no copy is made, and the test
    images are shared by the validation pass and the test loader."""
    data = fitted("fast", val_fraction=0)
    val_test = data.val_dataloader()  # the course's: the test set after every epoch
    loaders = {"train": data.train_dataloader(), "test": val_test}
    for split, loader in loaders.items():
        images, labels = data.splits[split]
        assert loader.dataset.images.data_ptr() == images.data_ptr()
        assert loader.dataset.labels.data_ptr() == labels.data_ptr()
    assert data.test_dataloader().dataset.images.data_ptr() == val_test.dataset.images.data_ptr()
    # Another device (here "meta", which has no memory to check): moved once per split.
    data.training_device = lambda: torch.device("meta")
    on_meta = data.test_dataloader().dataset.images
    assert on_meta.device.type == "meta" and data.val_dataloader().dataset.images is on_meta


def test_fast_way_is_a_dataloader_that_any_sampler_reads():
    """What Lightning or a user puts in the fast way's DataLoader is what it reads: here a
    batch sampler of one's own, and the images one at a time."""
    data = fitted("fast", val_fraction=0)
    dataset = data.train_dataloader().dataset
    images, labels = data.splits["train"]
    mine = BatchSampler([7, 0, 59_999, 3, 3], batch_size=2, drop_last=False)
    batches = list(DataLoader(dataset, batch_sampler=mine, collate_fn=as_batch))
    assert len(batches) == 3
    for (x, y), index in zip(batches, list(mine), strict=True):
        assert torch.equal(x, normalise(images[index])) and torch.equal(y, labels[index])
    image, label = dataset[5]
    assert torch.equal(image, normalise(images[5:6])[0]) and label == labels[5]


def test_split_is_seeded_disjoint_and_complete():
    data = fitted("fast")
    (train, train_labels), (val, val_labels) = data.splits["train"], data.splits["val"]
    assert (len(train), len(val)) == (54_000, 6_000)
    # ../shared/data/README.md: the digit counts of the 60 000 training images
    assert torch.bincount(torch.cat([train_labels, val_labels])).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]  # fmt: skip
    images, _ = data.read("train")
    assert rows(torch.cat([train, val])) == rows(images)  # each image in exactly one part
    assert torch.equal(fitted("fast").splits["val"][0], val)
    other = MNISTDataModule(val_fraction=0.1, seed=1)
    other.setup("fit")
    assert not torch.equal(other.splits["val"][0], val)


@pytest.mark.parametrize(
    ("count", "ranks", "shuffle", "epoch"),
    [(54_000, 1, True, 0), (54_000, 2, True, 3), (10_000, 2, False, 0), (7, 3, True, 1)],
)
def test_shards_are_torch_distributed_sampler_as_one_tensor(count, ranks, shuffle, epoch):
    shards = []
    for rank in range(ranks):
        sampler = EpochShardSampler(range(count), num_replicas=ranks, rank=rank, shuffle=shuffle)
        sampler.set_epoch(epoch)
        reference = list(DistributedSampler.__iter__(sampler))
        assert sampler.indices().tolist() == reference
        shards.append(reference)
    assert len({len(shard) for shard in shards}) == 1  # equal sizes: no rank waits for another
    assert set().union(*shards) == set(range(count))  # every sample in the epoch


def test_two_ranks_get_disjoint_halves_covering_every_image():
    halves = [
        EpochShardSampler(range(54_000), num_replicas=2, rank=rank, seed=0).indices()
        for rank in (0, 1)
    ]
    assert len(halves[0]) == len(halves[1]) == 27_000
    assert not set(halves[0].tolist()) & set(halves[1].tolist())
    assert torch.equal(torch.cat(halves).sort().values, torch.arange(54_000))


@pytest.mark.slow
def test_ddp_on_cpu_gives_each_process_a_disjoint_half_and_averages_every_update(tmp_path):
    """Two CPU processes: each deals its own half of the images, and DDP averages each
    backward, so both processes end with the same weights, moved from the start."""
    shards, weights = tmp_path / "shards", tmp_path / "weights"
    result = run_subprocess(
        "fit", *MNIST_DDP_CPU, "--trainer.limit_train_batches", "2",
        "--trainer.callbacks+=mnist_helpers.ShardIndexRecorder",
        f"--trainer.callbacks.folder={shards}",
        "--trainer.callbacks+=mnist_helpers.WeightsRecorder",
        f"--trainer.callbacks.folder={weights}",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sync_dist" not in result.stderr  # the metrics sync themselves (torchmetrics)
    records = [torch.load(shards / f"rank{rank}.pt") for rank in (0, 1)]
    assert [record["world_size"] for record in records] == [2, 2]
    assert [record["batches"] for record in records] == [2, 2]
    halves = [record["indices"] for record in records]  # the config's: all 60 000 images
    assert len(halves[0]) == len(halves[1]) == 30_000
    assert torch.equal(torch.cat(halves).sort().values, torch.arange(60_000))
    images, labels = fitted("fast", val_fraction=0).splits["train"]
    for record, half in zip(records, halves, strict=True):  # the batches come from the shard
        assert torch.equal(record["first_labels"], labels[half[:64]])
        assert torch.equal(record["first_images"], normalise(images[half[:64]]))

    ends = [torch.load(weights / f"rank{rank}.pt")["end"] for rank in (0, 1)]
    start = torch.load(weights / "rank0.pt")["start"]
    assert all(torch.equal(ends[0][name], ends[1][name]) for name in start)
    assert not any(torch.equal(ends[0][name], start[name]) for name in start)
    last = read_checkpoint(tmp_path / "runs/mnist/version_0/checkpoints/last.ckpt")
    assert last["global_step"] == 2  # each process: 2 updates


# --- the lesson, one epoch with each way ---


@dataclass
class Run:
    result: LightningCLI
    folder: Path  # the run folder, absolute
    test_acc: float  # of the validation pass, which runs over the test set (the course)
    printed: str  # what the run printed
    trained_on: int  # images trained on


class OneEpoch(dict):
    """One epoch of the course's settings (configs/mnist.yaml: val_fraction 0, all 60 000
    training images, the test set after the epoch), run the first time a way is asked for:
    ``one_epoch["fast"]``, ``one_epoch["torchvision"]`` (the course's, slower: slow tests)."""

    def __init__(self, folders: pytest.TempPathFactory) -> None:
        super().__init__()
        self.folders = folders

    def __missing__(self, loader: str) -> Run:
        import cli

        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(self.folders.mktemp(loader))
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()) as out:
                result = cli.main(
                    ["fit", "--config", config("mnist"), *QUIET, "--trainer.max_epochs", "1"]
                    + ["--data.init_args.loader", loader]
                    + ["--trainer.callbacks+=mnist_helpers.ImageCounter"]
                )
            test_acc = float(result.trainer.callback_metrics["val_acc"])
            (counter,) = [c for c in result.trainer.callbacks if isinstance(c, ImageCounter)]
            folder = run_folder(result).resolve()
            self[loader] = Run(result, folder, test_acc, out.getvalue(), counter.images)
            print(f"one epoch, {loader}: {test_acc:.4f} in {time.perf_counter() - start:.1f} s")
        return self[loader]


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory) -> OneEpoch:
    return OneEpoch(tmp_path_factory)


@pytest.mark.parametrize("loader", ["fast", pytest.param("torchvision", marks=pytest.mark.slow)])
def test_val_fraction_0_trains_on_all_60000_images_and_reports_the_test_set(one_epoch, loader):
    run = one_epoch[loader]
    assert run.result.datamodule.hparams.val_fraction == 0
    assert run.trained_on == 60_000
    metrics = run.result.trainer.callback_metrics
    assert run.result.datamodule.val_split == "test"  # val_* measured the test set
    assert {"val_acc", "val_loss"} <= set(metrics) and "test_acc" not in metrics
    # the course's lines: the mean loss of every 300 batches, the test accuracy after the epoch
    correct = round(run.test_acc * 10_000)
    assert f"accuracy on test set: {100 * correct // 10_000} % [{correct}/10000]" in run.printed
    losses = re.findall(r"^\[1, +(\d+)\] loss: (\d\.\d{3})$", run.printed, re.MULTILINE)
    assert [int(batches) for batches, _ in losses] == [300, 600, 900]
    assert float(losses[-1][1]) < float(losses[0][1])


def test_one_epoch_reaches_the_course_accuracy(one_epoch):
    assert one_epoch["fast"].test_acc >= FIRST_EPOCH_BOUND


@pytest.mark.slow
def test_one_epoch_each_way_reaches_the_same_accuracy(one_epoch):
    fast, course = one_epoch["fast"].test_acc, one_epoch["torchvision"].test_acc
    assert abs(fast - course) <= 0.005


def test_run_folder_has_metrics_checkpoints_and_figures(one_epoch):
    folder = one_epoch["fast"].folder
    header = (folder / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train_loss", "train_loss_epoch", "val_loss", "val_acc"} <= set(header)
    assert sorted(path.name for path in (folder / "checkpoints").iterdir()) == ["last.ckpt"]
    counts = one_epoch["fast"].result.model.confusion_counts  # drawn in confusion_matrix.png
    assert counts.sum() == 10_000
    assert counts.trace() / 10_000 == pytest.approx(one_epoch["fast"].test_acc, abs=1e-6)
    # loss.png: the course's running loss every 300 batches, a curve even after one epoch
    running = one_epoch["fast"].result.model.history["train_running_loss"]
    assert [round(epochs, 2) for epochs, _ in running] == [0.32, 0.64, 0.96]
    assert running[-1][1] < running[0][1]
    for figure in ("loss", "acc", "confusion_matrix", "test_images"):
        png = folder / f"{figure}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_predict_writes_digit_and_probabilities_of_every_test_image(run_cli, one_epoch):
    checkpoint = one_epoch["fast"].folder / "checkpoints" / "last.ckpt"
    rows = read_predictions(
        run_folder(run_cli("predict", "mnist", "--ckpt_path", str(checkpoint))) / "predictions.csv"
    )
    assert len(rows) == 10_000  # in the test set's order
    _, labels = MNISTDataModule().read("t10k")
    assert [row["true"] for row in rows] == labels.tolist()
    for row in rows[:100]:
        p = [row[f"p_{digit}"] for digit in range(10)]
        assert sum(p) == pytest.approx(1.0, abs=1e-4)
        assert row["predicted"] == max(range(10), key=p.__getitem__)
    right = sum(row["predicted"] == row["true"] for row in rows) / len(rows)
    assert right == pytest.approx(one_epoch["fast"].test_acc, abs=1e-4)


def test_predict_a_folder_of_pngs(run_cli, one_epoch, tmp_path):
    images, _ = MNISTDataModule().read("t10k")
    folder = tmp_path / "digits"
    folder.mkdir()
    for name, index in (("b.png", 0), ("a.png", 1), ("c.PNG", 2)):
        Image.fromarray(images[index].numpy()).save(folder / name)
    checkpoint = one_epoch["fast"].folder / "checkpoints" / "last.ckpt"
    result = run_cli(
        "predict", "mnist", "--ckpt_path", str(checkpoint),
        "--data.init_args.predict_path", str(folder),
    )  # fmt: skip
    rows = read_predictions(run_folder(result) / "predictions.csv")
    assert "true" not in rows[0]
    model = SoftmaxClassifier.load_from_checkpoint(checkpoint)  # no config needed
    with torch.no_grad():
        expected = torch.softmax(model(normalise(images[[1, 0, 2]])), dim=1)  # sorted names
    written = torch.tensor([[row[f"p_{digit}"] for digit in range(10)] for row in rows])
    torch.testing.assert_close(written, expected, rtol=1e-5, atol=1e-6)


def test_sung_kims_net_from_its_config():
    init_args = yaml.safe_load(Path(config("mnist_sungkim")).read_text())["model"]["init_args"]
    model = SoftmaxClassifier(hidden_sizes=init_args["hidden_sizes"])
    linear = [layer for layer in model.net if isinstance(layer, torch.nn.Linear)]
    sizes = [linear[0].in_features] + [layer.out_features for layer in linear]
    assert sizes == [784, 520, 320, 240, 120, 10]


@pytest.mark.slow
def test_training_steps_do_not_wait_for_the_device(run_cli, monkeypatch):
    """Reading a tensor's value on the host makes the CPU wait for the GPU. Counted on CPU,
    such reads must not grow with the number of training and validation steps."""
    reads: Counter[str] = Counter()
    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)

        def counted(tensor, *args, _name=name, _original=original, **kwargs):
            reads[_name] += 1
            return _original(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    counts = []
    for steps in (5, 15):
        reads.clear()
        run_cli(
            "fit", "mnist", "--trainer.enable_progress_bar", "true",
            "--trainer.max_epochs", "2", "--trainer.num_sanity_val_steps", "0",
            "--trainer.limit_train_batches", str(steps), "--trainer.limit_val_batches", str(steps),
            # ranking checkpoints reads val_acc once an epoch, more often when it improves;
            # the loggers read the loss they write (every 50 updates in the config)
            "--checkpoint.monitor", "null", "--trainer.log_every_n_steps", "1000",
        )  # fmt: skip
        counts.append(dict(reads))
    assert counts[0] == counts[1]


@pytest.mark.slow
def test_holdout_preset_validates_and_keeps_the_best_checkpoint(run_cli):
    result = run_cli(
        "fit", "mnist", "--config", config("presets/holdout"), "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "5", "--trainer.limit_val_batches", "3",
        "--trainer.callbacks+=mnist_helpers.ImageCounter",
    )  # fmt: skip
    data = result.datamodule
    assert len(data.splits["train"][0]) == 54_000 and len(data.splits["val"][0]) == 6_000
    metrics = set(result.trainer.callback_metrics)
    assert {"val_acc", "val_loss"} <= metrics and "test_acc" not in metrics  # test: `test`'s
    checkpoints = sorted(path.name for path in (run_folder(result) / "checkpoints").iterdir())
    assert checkpoints[0].startswith("best-epoch=0-val_acc=") and checkpoints[1] == "last.ckpt"


@pytest.mark.slow
def test_print_every_0_prints_none_of_the_course_lines(run_cli, capsys):
    run_cli(
        "fit", "mnist", "--model.init_args.print_every", "0", "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "300", "--trainer.limit_val_batches", "2",
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "accuracy on test set" not in printed and "loss:" not in printed


@pytest.mark.slow
def test_course_settings_reach_97_percent_after_10_epochs(run_cli):
    start = time.perf_counter()
    result = run_cli("fit", "mnist")
    accuracy = float(result.trainer.callback_metrics["val_acc"])  # over the test set
    print(f"10 epochs: test accuracy {accuracy:.4f} in {time.perf_counter() - start:.0f} s")
    assert result.trainer.current_epoch == 10
    assert accuracy >= 0.97


# --- bad input: one line each, before any run folder exists ---


def test_missing_files_offline_say_which_where_and_how(run_cli, tmp_path, monkeypatch):
    attempts = []

    def offline(url, *args, **kwargs):
        attempts.append(url)
        raise OSError("network is off in this test")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    empty = tmp_path / "empty"
    with pytest.raises(DataError) as error:
        run_cli("fit", "mnist", "--data.init_args.data_dir", str(empty))
    message = str(error.value)
    assert "\n" not in message
    assert "train-images-idx3-ubyte.gz" in message and str(empty / "MNIST" / "raw") in message
    assert "LESSONS_DATA_DIR" in message
    # the first file's addresses, each tried once, and none reached the network
    assert attempts == list(MNIST_FILES["train-images-idx3-ubyte.gz"].sources())
    assert not (tmp_path / "runs" / "mnist").exists()  # no run folder


def test_corrupt_gz_names_the_md5_mismatch(run_cli, tmp_path):
    data_dir = tmp_path / "data"
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True)
    source = MNISTDataModule().data_dir / "MNIST" / "raw"
    for name in MNIST_FILES:
        (raw / name).symlink_to(source / name)
    broken = "train-labels-idx1-ubyte.gz"
    (raw / broken).unlink()
    (raw / broken).write_bytes((source / broken).read_bytes()[:10_000])
    with pytest.raises(DataError, match=f"{broken}: md5 is [0-9a-f]+, expected d53e105e") as error:
        run_cli("fit", "mnist", "--data.init_args.data_dir", str(data_dir))
    assert "\n" not in str(error.value)
    assert not (tmp_path / "runs" / "mnist").exists()  # no run folder


def test_truncated_gz_without_a_checksum_is_named(tmp_path):
    source = MNISTDataModule().data_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    truncated = tmp_path / "labels.gz"
    truncated.write_bytes(source.read_bytes()[:2_000])
    with pytest.raises(DataError, match="labels.gz: not a readable .gz file"):
        read_idx(truncated)
    wrong_count = tmp_path / "short.gz"
    wrong_count.write_bytes(gzip.compress(gzip.decompress(source.read_bytes())[:-1]))
    with pytest.raises(DataError, match=r"short.gz: holds 9999 bytes of data, its header says"):
        read_idx(wrong_count)


def test_wrong_size_png_is_named(tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    Image.new("L", (28, 28)).save(folder / "good.png")
    Image.new("L", (32, 28)).save(folder / "wide.png")
    data = MNISTDataModule(predict_path=str(folder))
    with pytest.raises(DataError, match=r"wide.png is 32×28 pixels; MNIST images are 28×28"):
        data.setup("predict")
    shutil.rmtree(folder)
    with pytest.raises(DataError, match="is not a folder"):
        data.setup("predict")


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("val_fraction", 1.0, "leaving 0 to train on"),
        ("val_fraction", 0.000001, "holds out 0 of the 60000"),
        ("val_fraction", -0.1, "holds out -6000 of the 60000"),
        ("batch_size", 0, "batch_size must be at least 1"),
        ("num_workers", -1, "num_workers must be 0 or more"),
        ("loader", "slow", "loader must be 'fast' or 'torchvision'"),
    ],
)
def test_bad_arguments_are_refused_up_front(argument, value, message):
    with pytest.raises(ValueError, match=message):
        MNISTDataModule(**{argument: value})
