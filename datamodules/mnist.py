"""MNIST (lesson 9 on) as a LightningDataModule, fed either the course's way or a fast way.

The four ``.gz`` files are the ones ``torchvision.datasets.MNIST`` downloads and checks; they
are fetched and checked in ``prepare_data`` and decoded here, because torchvision's own
loader extracts them next to themselves, which fails on a read-only data folder.

Splits: ``val_fraction`` 0 (the default) trains on all 60 000 training images and validates
on the 10 000 test images after every epoch, as the course's ``test()``; otherwise a seeded
``val_fraction`` of the training images is held out and validated on, and the test images
are ``test``'s. Each loader yields plain ``(images, labels)`` batches, which any
LightningModule takes; predict reads the test images or a folder of PNGs.

Two ways to feed batches (``loader``), with the same numbers coming out:

- ``"torchvision"``, the course's way: a torchvision ``MNIST`` dataset, one PIL image at a
  time through ``ToTensor()`` and ``Normalize((0.1307,), (0.3081,))``, batched by a DataLoader.
- ``"fast"`` (the default): each split is one uint8 tensor held on the training device,
  batches are gathered from it by index and normalised as a whole - no per-image Python work.
  It is a DataLoader too (over a ``DeviceSplit``, whose ``__getitems__`` makes a whole batch),
  so whatever Lightning does to a DataLoader - its own sampler for ``overfit_batches`` or
  DDP, a user's batch sampler - it does to this one.

Both train in the order of one ``EpochShardSampler``: the permutation of
``torch.Generator().manual_seed(seed + epoch)``, dealt out rank by rank under DDP; they
validate and test in the files' order (dealt by Lightning's DistributedSampler under DDP). So
the first batches of the two ways are the same images, in the same order, with the same
values.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision import transforms
from torchvision.datasets import MNIST, VisionDataset

from datamodules.files import DataError, RemoteFile, fetch, resolve_data_dir

MEAN, STD = 0.1307, 0.3081
TRAIN_IMAGES = 60_000
IMAGE_SIZE = (28, 28)

#: The course's per-image transform.
COURSE_TRANSFORM = transforms.Compose(
    [transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]
)

#: The files torchvision downloads, from each mirror it lists in turn, with the md5 sums it
#: checks (``datamodules/files.py`` puts ``$LESSONS_MIRROR`` first).
MNIST_FILES = {
    name: RemoteFile(f"MNIST/raw/{name}", tuple(mirror + name for mirror in MNIST.mirrors), md5=md5)
    for name, md5 in MNIST.resources
}


def read_idx(path: Path) -> torch.Tensor:
    """Decode a gzipped IDX file (the MNIST format) of unsigned bytes into a uint8 tensor."""
    try:
        with gzip.open(path, "rb") as stream:
            data = stream.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable .gz file ({error})") from None
    dims = data[3] if len(data) > 4 else 0
    if data[:3] != b"\x00\x00\x08" or dims == 0:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (the MNIST format)")
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    body = data[4 + 4 * dims :]
    if len(body) != math.prod(shape):
        raise DataError(f"{path}: holds {len(body)} bytes of data, its header says {shape}")
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).view(shape)


def read_pngs(folder: Path) -> torch.Tensor:
    """The PNG files in ``folder``, sorted by name, as a uint8 tensor [N, 28, 28]."""
    from PIL import Image

    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; predict_path names a folder of 28×28 PNGs")
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() == ".png")
    if not files:
        raise DataError(f"{folder} holds no .png files; put 28×28 digit images there")
    images = []
    for file in files:
        try:
            with Image.open(file) as image:
                size, pixels = image.size, np.array(image.convert("L"))
        except OSError as error:
            raise DataError(f"{file}: not a readable image ({error})") from None
        if size != IMAGE_SIZE:
            raise DataError(
                f"{file} is {size[0]}×{size[1]} pixels; MNIST images are 28×28 "
                f"(a white digit on black), resize it"
            )
        images.append(torch.from_numpy(pixels))
    return torch.stack(images)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 28, 28] → float32 [B, 1, 28, 28], exactly as ToTensor then Normalize (in
    place on the new float tensor: each batch allocates once)."""
    return images.unsqueeze(1).to(torch.float32, copy=True).div_(255).sub_(MEAN).div_(STD)


class CourseMNIST(MNIST):
    """torchvision's MNIST dataset around images decoded here.

    Its ``__getitem__`` - tensor → PIL image → transform, one image at a time - is the
    course's path and is kept; its ``__init__``, which finds or extracts the raw files
    itself, is skipped.
    """

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, train: bool, transform: Any
    ) -> None:
        VisionDataset.__init__(self, root=None, transform=transform)
        self.train = train
        self.data, self.targets = images, labels


class EpochShardSampler(DistributedSampler):
    """The order both ways train in: torch's DistributedSampler, drawn as one tensor.

    Each epoch: ``randperm(n, generator=Generator().manual_seed(seed + epoch))`` when
    shuffling (what ``DataLoader(shuffle=True, generator=g)`` draws), else 0 … n-1; padded
    by repeating its start to a multiple of the number of ranks and dealt ``rank::ranks``,
    so each rank gets its own equal shard and every image comes once (more only to pad).
    Lightning keeps a DistributedSampler as it is and calls ``set_epoch`` on it every epoch.

    >>> [EpochShardSampler(range(5), num_replicas=2, rank=r, shuffle=False).indices().tolist()
    ...  for r in (0, 1)]
    [[0, 2, 4], [1, 3, 0]]
    """

    def indices(self) -> torch.Tensor:
        """This rank's indices for the current epoch, as ``list(self)`` but one tensor."""
        count = len(self.dataset)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(count, generator=generator)
        else:
            order = torch.arange(count)
        order = order.repeat(math.ceil(self.total_size / count))[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        """The indices a DataLoader batches: ``indices()``, the same as DistributedSampler's."""
        return iter(self.indices().tolist())


class DeviceSplit(Dataset):
    """The fast way: a split held whole on one device, read a batch at a time.

    A DataLoader with auto-batching hands ``__getitems__`` a whole batch of indices; the
    images are gathered with one index and normalised as one tensor. The batch it returns is
    complete, so its DataLoader passes it through (``collate_fn=as_batch``, what
    ``fast_loader`` sets).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.__getitems__([index])
        return images[0], labels[0]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        # non_blocking: a GPU keeps working on the last step while the indices follow it
        index = torch.as_tensor(indices).to(self.images.device, non_blocking=True)
        return normalise(self.images[index]), self.labels[index]


def as_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The collate_fn of a ``DeviceSplit``'s DataLoader: its batches come already made."""
    return batch


def fast_loader(
    images: torch.Tensor, labels: torch.Tensor, batch_size: int, sampler: Sampler | None = None
) -> DataLoader:
    """The fast way's DataLoader over ``images`` and ``labels`` (already where training runs)."""
    return DataLoader(
        DeviceSplit(images, labels), batch_size=batch_size, sampler=sampler, collate_fn=as_batch
    )


class PredictSet(Dataset):
    """Images to predict, normalised once: ``image``, or ``(image, label)`` when known."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None) -> None:
        self.images, self.labels = normalise(images), labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Any:
        if self.labels is None:
            return self.images[index]
        return self.images[index], self.labels[index]


class MNISTDataModule(L.LightningDataModule):
    """``data_dir``: where ``MNIST/raw/*.gz`` are (default ``$LESSONS_DATA_DIR``, else
    ``./data``); ``val_fraction``: the training images held out for validation (0, the
    course: none, the test set is validated on); ``seed``: the validation split and the
    shuffling; ``num_workers``: DataLoader workers of the torchvision way; ``predict_path``: a
    folder of 28×28 PNGs to predict instead of the test images (rows in the files' sorted
    names)."""

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 64,
        val_fraction: float = 0.0,
        seed: int = 0,
        loader: Literal["fast", "torchvision"] = "fast",
        num_workers: int = 0,
        predict_path: str | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if loader not in ("fast", "torchvision"):
            raise ValueError(f"loader must be 'fast' or 'torchvision', got {loader!r}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be 0 or more, got {num_workers}")
        if seed < 0:
            raise ValueError(f"seed must be 0 or more, got {seed}")
        held_out = round(TRAIN_IMAGES * val_fraction)
        if not (val_fraction == 0 or 0 < held_out < TRAIN_IMAGES):
            raise ValueError(
                f"val_fraction {val_fraction} holds out {held_out} of the {TRAIN_IMAGES} "
                f"training images, leaving {TRAIN_IMAGES - held_out} to train on; "
                f"choose 0 (the course: train on all, test every epoch) or a fraction "
                f"such as 0.1"
            )
        self.save_hyperparameters()  # the settings are read from self.hparams, nowhere else
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self.device_splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def data_dir(self) -> Path:
        return resolve_data_dir(self.hparams.data_dir)

    @property
    def val_split(self) -> Literal["val", "test"]:
        """What ``val_dataloader`` serves: the held-out images, or the test set (the course)."""
        return "val" if self.hparams.val_fraction else "test"

    @property
    def predict_path(self) -> Path | None:
        return Path(self.hparams.predict_path) if self.hparams.predict_path else None

    def prepare_data(self) -> None:
        """Fetch and check the files now, before the Trainer makes a run folder."""
        for remote in MNIST_FILES.values():
            fetch(remote, self.data_dir)

    def setup(self, stage: str) -> None:
        if stage in ("fit", "validate"):
            images, labels = self.read("train")
            generator = torch.Generator().manual_seed(self.hparams.seed)
            order = torch.randperm(len(images), generator=generator)
            held_out = round(len(images) * self.hparams.val_fraction)
            val, train = order[:held_out].sort().values, order[held_out:].sort().values
            self.splits["train"] = images[train], labels[train]
            if held_out:
                self.splits["val"] = images[val], labels[val]
        if stage in ("fit", "validate", "test") or (stage == "predict" and not self.predict_path):
            self.splits["test"] = self.read("t10k")
        if stage == "predict":
            self.splits["predict"] = (
                (read_pngs(self.predict_path), None) if self.predict_path else self.splits["test"]
            )

    def read(self, split: Literal["train", "t10k"]) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels of one file pair, as uint8 [N, 28, 28] and int64 [N]."""
        images_path = self.data_dir / MNIST_FILES[f"{split}-images-idx3-ubyte.gz"].name
        images = read_idx(images_path)
        labels = read_idx(self.data_dir / MNIST_FILES[f"{split}-labels-idx1-ubyte.gz"].name)
        if images.shape[1:] != IMAGE_SIZE or len(images) != len(labels):
            raise DataError(
                f"{images_path}: {len(images)} images of {tuple(images.shape[1:])} for "
                f"{len(labels)} labels, expected one 28×28 image per label"
            )
        return images, labels.long()

    def train_dataloader(self) -> DataLoader:
        return self.batches("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """The held-out images, or, with none held out, the test set: the course prints the
        test accuracy after every epoch."""
        return self.batches(self.val_split)

    def test_dataloader(self) -> DataLoader:
        return self.batches("test")

    def predict_dataloader(self) -> DataLoader:
        """A plain DataLoader, whichever the way: Lightning then tracks each image's index,
        and under DDP shards the images and the prediction writer gathers them back."""
        return DataLoader(PredictSet(*self.splits["predict"]), batch_size=self.hparams.batch_size)

    def batches(self, split: str, shuffle: bool = False) -> DataLoader:
        """The loader of ``split``, the configured way: shuffled, this rank's shard of the
        epoch's order; else the files' order, which Lightning deals out under DDP."""
        images, labels = self.splits[split]
        sampler = None
        if shuffle:
            rank, ranks = (
                (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
            )
            sampler = EpochShardSampler(
                images, num_replicas=ranks, rank=rank, shuffle=True, seed=self.hparams.seed
            )
        if self.hparams.loader == "fast":
            return fast_loader(*self.on_device(split), self.hparams.batch_size, sampler)
        return DataLoader(
            CourseMNIST(images, labels, train=split != "test", transform=COURSE_TRANSFORM),
            batch_size=self.hparams.batch_size,
            sampler=sampler,
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )

    def on_device(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels of ``split`` on the training device, moved there once, so
        that each device holds one copy of the data however many loaders read it (on the
        CPU, the split itself: no copy at all)."""
        device = self.training_device()
        if split not in self.device_splits or self.device_splits[split][0].device != device:
            images, labels = self.splits[split]
            self.device_splits[split] = images.to(device), labels.to(device)
        return self.device_splits[split]

    def training_device(self) -> torch.device:
        """Where the model trains: the fast way keeps its tensors there."""
        return self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
