"""The course's toy tensors (lessons 2-6) as a LightningDataModule.

The whole data set is one batch: a training step sees all of it, as the course's
full-batch loops do. ``predict_x`` holds the inputs the course asks about after training
(x = 4 for linear regression, hours studied for logistic regression).

>>> data = ToyDataModule(x=[1.0, 2.0, 3.0], y=[2.0, 4.0, 6.0], predict_x=[4.0])
>>> data.setup("fit")
>>> x, y = next(iter(data.train_dataloader()))
>>> x.shape, y.tolist()
(torch.Size([3, 1]), [[2.0], [4.0], [6.0]])
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset


class ToyDataModule(L.LightningDataModule):
    def __init__(
        self,
        x: list[float] = [1.0, 2.0, 3.0],  # noqa: B006 (jsonargparse shows list defaults)
        y: list[float] = [2.0, 4.0, 6.0],  # noqa: B006
        predict_x: list[float] = [4.0],  # noqa: B006
    ) -> None:
        super().__init__()
        if len(x) != len(y) or not x:
            raise ValueError(f"x and y need the same, non-zero length; got {len(x)} and {len(y)}")
        self.save_hyperparameters()
        self.x = torch.tensor(x).view(-1, 1)
        self.y = torch.tensor(y).view(-1, 1)
        self.predict_x = torch.tensor(predict_x).view(-1, 1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=len(self.x))

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.predict_x), batch_size=len(self.predict_x))
