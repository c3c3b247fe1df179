"""Tiny models with several outputs, degenerate outputs or graph quirks (random weights), usable as
``output_models:<name>`` in configs: the cases the export, FP16 and compare fixes are about."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _Conv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)


class TupleOut(_Conv):
    """``(y, y * 2)``: the first graph output is also consumed inside the graph."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return y, y * 2


class DictOut(_Conv):
    """A dict of two outputs, like torchvision's segmentation models (``{"out": ..., "aux": ...}``)."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.conv(x)
        return {"out": y, "pooled": F.adaptive_avg_pool2d(y, 1).flatten(1)}


class ResizeOut(_Conv):
    """A ``Resize`` produces the graph output (DeepLabV3's last op); ``Resize`` is on the FP16 block list."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(x), scale_factor=2.0, mode="bilinear", align_corners=False)


class ConstantLogits(nn.Module):
    """Logits that do not depend on the input (a learned bias broadcast over the batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.randn(1, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias + 0.0 * x.flatten(1)[:, :10]


class ConvOnly(_Conv):
    """Ops that onnx's version converter can take from opset 18 down to 17."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)) + 1.0


def tuple_out() -> nn.Module:
    return TupleOut()


def dict_out() -> nn.Module:
    return DictOut()


def resize_out() -> nn.Module:
    return ResizeOut()


def constant_logits() -> nn.Module:
    return ConstantLogits()


def conv_only() -> nn.Module:
    return ConvOnly()
