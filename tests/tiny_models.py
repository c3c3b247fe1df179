"""Tiny models for tests (random weights, small shapes): factories usable as `tiny_models:<name>` in configs."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _scale_shift(x: torch.Tensor) -> torch.Tensor:
    """A helper function called from several modules: its ops belong to whichever module calls it."""
    return x * 0.5 + 0.1


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn(self.conv(x)))
        return self.act(_scale_shift(y) + x)  # residual add, and `act` used twice


class Stage(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = Block(channels)
        self.second = Block(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))


class Nested(nn.Module):
    """stem -> stage1 (2 blocks) -> shared -> stage2 -> shared again -> pooled head (functional at the root)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stage1 = Stage(8)
        self.shared = nn.Conv2d(8, 8, 1)  # the same module instance is called twice
        self.stage2 = Stage(8)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage1(F.relu(self.stem(x)))
        x = self.stage2(self.shared(x))
        x = _scale_shift(self.shared(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def nested() -> nn.Module:
    return Nested()


def broken() -> nn.Module:
    """A model the exporter cannot handle (data-dependent control flow on a tensor value)."""

    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:
                return x * 2
            return x.nonzero().float()

    return Broken()
