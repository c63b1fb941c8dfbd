"""Lesson 9 - softmax classifier: MNIST digits through five linear layers with ReLU between.

A 28×28 image is flattened to 784 numbers; the last layer gives 10 scores with no activation,
because ``CrossEntropyLoss`` = LogSoftmax + NLLLoss takes the raw scores. Softmax turns them
into probabilities that are positive and sum to 1 only when they are asked for (predict).
The course trains with ``SGD(lr=0.01, momentum=0.5)``, batch 64, for 10 epochs: ≈ 97 %.

>>> SoftmaxClassifier().net
Sequential(
  (0): Linear(in_features=784, out_features=512, bias=True)
  (1): ReLU()
  (2): Linear(in_features=512, out_features=256, bias=True)
  (3): ReLU()
  (4): Linear(in_features=256, out_features=128, bias=True)
  (5): ReLU()
  (6): Linear(in_features=128, out_features=64, bias=True)
  (7): ReLU()
  (8): Linear(in_features=64, out_features=10, bias=True)
)
"""

from __future__ import annotations

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from lessons.classifier import ClassifierLesson
from lessons.common import layer_stack


class SoftmaxClassifier(ClassifierLesson):
    data_class = "datamodules.mnist.MNISTDataModule"
    config = "configs/mnist.yaml"

    def __init__(
        self,
        hidden_sizes: list[int] = [512, 256, 128, 64],  # noqa: B006 (jsonargparse shows list defaults)
        optimizer: OptimizerCallable = torch.optim.SGD,
        print_every: int = 1,
    ) -> None:
        super().__init__(optimizer=optimizer, print_every=print_every)
        if not all(size >= 1 for size in hidden_sizes):
            raise ValueError(f"hidden_sizes must all be at least 1, got {hidden_sizes}")
        self.save_hyperparameters()
        self.net = layer_stack([28 * 28, *hidden_sizes, 10], nn.ReLU)  # raw scores last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.view(-1, 28 * 28))
