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


class ChunkBlock(nn.Module):
    """A C2f-like block: ``cv1(x).chunk(2, 1)`` (the exporter gives the Split no scope), one branch through ``m``,
    concatenated and fused by ``cv2``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.cv1 = nn.Conv2d(channels, channels, 1)
        self.m = nn.Sequential(nn.Conv2d(channels // 2, channels // 2, 3, padding=1), nn.ReLU())
        self.cv2 = nn.Conv2d(channels + channels // 2, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SharedAct(nn.Module):
    """Conv + folded BN + one SiLU instance shared by every block (Ultralytics' ``Conv.default_act``)."""

    act = nn.SiLU()

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = SharedAct.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Deployed(nn.Module):
    """stem (shared-act conv) -> blk (chunk block) -> head (shared-act conv): the tagging defects users hit."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = SharedAct(3, 8)
        self.blk = ChunkBlock(8)
        self.head = SharedAct(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blk(self.stem(x)))


def deployed() -> nn.Module:
    return Deployed()
