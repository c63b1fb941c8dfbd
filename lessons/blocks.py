"""Lesson 11's building blocks, written once and used by any net that wants them.

Both keep the height and width of their input (every convolution is padded to do so), so a
block can go after any convolution: the Inception-A block widens the channels to 88, the
residual block keeps them.

>>> InceptionA(10)(torch.zeros(2, 10, 12, 12)).shape
torch.Size([2, 88, 12, 12])
>>> ResidualBlock(16)(torch.zeros(2, 16, 12, 12)).shape
torch.Size([2, 16, 12, 12])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class InceptionA(nn.Module):
    """Four branches side by side, concatenated along the channels: the net need not choose a
    kernel size, it learns how much to use each (1×1, 5×5, two 3×3 and pooling).

    The 1×1 convolutions before the larger kernels cut the channels to 16 first, which makes
    those kernels cheap."""

    #: 16 (1×1) + 24 (5×5) + 24 (3×3 twice) + 24 (pooling), whatever comes in.
    out_channels = 88

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = nn.Conv2d(in_channels, 16, kernel_size=1)

        self.branch5x5_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_2 = nn.Conv2d(16, 24, kernel_size=5, padding=2)

        self.branch3x3_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch3x3_2 = nn.Conv2d(16, 24, kernel_size=3, padding=1)
        self.branch3x3_3 = nn.Conv2d(24, 24, kernel_size=3, padding=1)

        self.branch_pool = nn.Conv2d(in_channels, 24, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3 = self.branch3x3_3(self.branch3x3_2(self.branch3x3_1(x)))
        branch_pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([branch1x1, branch5x5, branch3x3, branch_pool], dim=1)


class ResidualBlock(nn.Module):
    """y = relu(x + F(x)), F two 3×3 convolutions: the block only learns what to add to its
    input, and the gradient reaches earlier layers through the sum undiminished."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv1(x))
        y = self.conv2(y)
        return F.relu(x + y)
