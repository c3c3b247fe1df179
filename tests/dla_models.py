"""Models for the placement tests: ops DLA cannot run, placed on DLA (factories for `dla_models:<name>`)."""

from __future__ import annotations

import torch
from torch import nn


class Unfriendly(nn.Module):
    """stem (conv+relu) -> wide 9x9 max-pool -> body conv -> LayerNorm -> GELU -> Gather of 4 channels -> head.

    DLA can run the convs and relus; not the 9x9 window, LayerNorm, GELU's Erf, or Gather."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(9, stride=1, padding=4)
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.norm = nn.LayerNorm(16)
        self.act = nn.GELU()
        self.head = nn.Conv2d(4, 4, 1)
        self.register_buffer("keep", torch.tensor([0, 2, 4, 6]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(self.pool(self.stem(x)))
        x = self.act(self.norm(x))
        return self.head(torch.index_select(x, 1, self.keep))


def unfriendly() -> nn.Module:
    return Unfriendly()
