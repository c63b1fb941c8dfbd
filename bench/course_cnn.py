"""The course's own code for lessons 9, 10 and 11, in plain PyTorch, as the course writes it.

What the lessons' 10-epoch results are held to: the same recipe on the same data (all 60 000
training images, the 10 000 test images, test accuracy after every epoch), run here with a
seed, so that its spread over seeds says how far a lesson may land from it.

    python bench/course_cnn.py cnn --seed 0          # lesson 10
    python bench/course_cnn.py inception --seed 1    # lesson 11, Inception-A
    python bench/course_cnn.py resnet --seed 0       # lesson 11, residual
    python bench/course_cnn.py softmax --seed 0      # lesson 9
    python bench/course_cnn.py resnet --epochs 1 --batches 100 --test-batches 20

The short runs (the first ``--batches`` training batches, then ``test()`` on the first
``--test-batches`` test batches) are what the default tests' short runs are held to.

It prints the course's lines and, last, {"net", "seed", "accuracy", "train_s"} as JSON.
The one change from the course: the images are read from ``$LESSONS_DATA_DIR`` (or
``--data``) through the project's decoder, because torchvision's MNIST extracts its files
next to themselves, which a read-only data folder refuses; they then go through the course's
``ToTensor`` and ``Normalize`` in a torchvision dataset, one image at a time, as the course.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from datamodules.mnist import CourseMNIST, MNISTDataModule  # noqa: E402

# --- the nets, as the course writes them


class SoftmaxNet(torch.nn.Module):  # lesson 9
    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(784, 512)
        self.l2 = torch.nn.Linear(512, 256)
        self.l3 = torch.nn.Linear(256, 128)
        self.l4 = torch.nn.Linear(128, 64)
        self.l5 = torch.nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, 784)
        x = F.relu(self.l1(x))
        x = F.relu(self.l2(x))
        x = F.relu(self.l3(x))
        x = F.relu(self.l4(x))
        return self.l5(x)


class CNNNet(torch.nn.Module):  # lesson 10
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = torch.nn.Conv2d(10, 20, kernel_size=5)
        self.pooling = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(320, 10)

    def forward(self, x):
        batch_size = x.size(0)
        x = F.relu(self.pooling(self.conv1(x)))
        x = F.relu(self.pooling(self.conv2(x)))
        x = x.view(batch_size, -1)
        x = self.fc(x)
        return x


class InceptionA(nn.Module):  # lesson 11
    def __init__(self, in_channels):
        super().__init__()
        self.branch1x1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_2 = nn.Conv2d(16, 24, kernel_size=5, padding=2)
        self.branch3x3_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch3x3_2 = nn.Conv2d(16, 24, kernel_size=3, padding=1)
        self.branch3x3_3 = nn.Conv2d(24, 24, kernel_size=3, padding=1)
        self.branch_pool = nn.Conv2d(in_channels, 24, kernel_size=1)

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_1(x)
        branch5x5 = self.branch5x5_2(branch5x5)
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = self.branch3x3_2(branch3x3)
        branch3x3 = self.branch3x3_3(branch3x3)
        branch_pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
        branch_pool = self.branch_pool(branch_pool)
        outputs = [branch1x1, branch5x5, branch3x3, branch_pool]
        return torch.cat(outputs, dim=1)


class InceptionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(88, 20, kernel_size=5)
        self.incep1 = InceptionA(in_channels=10)
        self.incep2 = InceptionA(in_channels=20)
        self.mp = nn.MaxPool2d(2)
        self.fc = nn.Linear(1408, 10)

    def forward(self, x):
        in_size = x.size(0)
        x = F.relu(self.mp(self.conv1(x)))
        x = self.incep1(x)
        x = F.relu(self.mp(self.conv2(x)))
        x = self.incep2(x)
        x = x.view(in_size, -1)
        x = self.fc(x)
        return x


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x):
        y = F.relu(self.conv1(x))
        y = self.conv2(y)
        return F.relu(x + y)


class ResidualNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=5)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=5)
        self.mp = nn.MaxPool2d(2)
        self.rblock1 = ResidualBlock(16)
        self.rblock2 = ResidualBlock(32)
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        in_size = x.size(0)
        x = self.mp(F.relu(self.conv1(x)))
        x = self.rblock1(x)
        x = self.mp(F.relu(self.conv2(x)))
        x = self.rblock2(x)
        x = x.view(in_size, -1)
        x = self.fc(x)
        return x


NETS = {"softmax": SoftmaxNet, "cnn": CNNNet, "inception": InceptionNet, "resnet": ResidualNet}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("net", choices=NETS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batches", type=int, default=0, help="train only the first N batches")
    parser.add_argument("--test-batches", type=int, default=0, help="test on the first N batches")
    parser.add_argument("--data", default=None, help="folder holding MNIST/raw/*.gz")
    args = parser.parse_args()
    torch.manual_seed(args.seed)  # the one line the course leaves out: a seed

    # --- the course's data
    batch_size = 64
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    files = MNISTDataModule(data_dir=args.data)
    files.prepare_data()
    train_dataset = CourseMNIST(*files.read("train"), train=True, transform=transform)
    train_loader = DataLoader(train_dataset, shuffle=True, batch_size=batch_size)
    test_dataset = CourseMNIST(*files.read("t10k"), train=False, transform=transform)
    test_loader = DataLoader(test_dataset, shuffle=False, batch_size=batch_size)

    # --- the course's model, loss and optimizer
    model = NETS[args.net]()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)

    def train(epoch):
        running_loss = 0.0
        for batch_idx, data in enumerate(train_loader, 0):
            if batch_idx == args.batches > 0:
                break  # not in the course: a short run (--batches)
            inputs, target = data
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, target)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if batch_idx % 300 == 299:
                print("[%d, %5d] loss: %.3f" % (epoch + 1, batch_idx + 1, running_loss / 300))  # noqa: UP031
                running_loss = 0.0

    def test():
        correct = 0
        total = 0
        with torch.no_grad():
            for batch_idx, data in enumerate(test_loader):
                if batch_idx == args.test_batches > 0:
                    break  # not in the course: a short run (--test-batches)
                images, labels = data
                outputs = model(images)
                _, predicted = torch.max(outputs.data, dim=1)
                total += labels.size(0)
                correct += (predicted == labels).sum().item()
        print("accuracy on test set: %d %% [%d/%d]" % (100 * correct / total, correct, total))  # noqa: UP031
        return correct / total

    start = time.perf_counter()
    for epoch in range(args.epochs):
        train(epoch)
        accuracy = test()
    summary = {
        "net": args.net,
        "seed": args.seed,
        "batches": args.batches,
        "test_batches": args.test_batches,
        "accuracy": accuracy,
    }
    print(json.dumps(summary | {"train_s": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
