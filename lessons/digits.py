"""What the MNIST lessons (9 on) share: ten digits, predictions, example figures.

``predict`` writes one row per image - its index, the predicted digit, the ten
probabilities p_0…p_9 and, when known, its true label - as lesson 9 does. After ``fit`` the
run folder also gets the first test batch with its predictions (``test_images.png``) and,
for a net whose first layer is the convolution ``conv1``, its learned filters
(``filters.png``): what the net looks for in the image before anything else.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from lessons import figures
from lessons.classifier import ClassifierLesson


class DigitClassifier(ClassifierLesson):
    def __init__(self, optimizer: OptimizerCallable = torch.optim.SGD) -> None:
        super().__init__(num_classes=10, optimizer=optimizer)

    def predict_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Softmax only here: training takes the raw scores (CrossEntropyLoss)."""
        p = torch.softmax(self(batch["image"]).float(), dim=1)
        row = {"index": batch["index"], "digit": p.argmax(dim=1), "p": p}
        return row | ({"label": batch["label"]} if "label" in batch else {})

    def draw_figures(self, folder: Path) -> None:
        super().draw_figures(folder)
        if self.examples is not None:
            images, predicted, true = (tensor.cpu() for tensor in self.examples)
            pairs = list(zip(predicted.tolist(), true.tolist()))
            figures.plot_image_grid(
                folder / "test_images.png",
                images.squeeze(1).float(),
                [str(p) if p == t else f"{p} (true {t})" for p, t in pairs],
                [p != t for p, t in pairs],
            )
        conv = getattr(self, "conv1", None)
        if isinstance(conv, nn.Conv2d) and conv.in_channels == 1:
            filters = conv.weight.detach().float().cpu().squeeze(1)  # [out, k, k]
            figures.plot_image_grid(
                folder / "filters.png",
                filters,
                [f"filter {i}" for i in range(len(filters))],
                [False] * len(filters),
            )
