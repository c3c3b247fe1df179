"""Factories for the public cases of ``reference/dla_ground_truth.json`` (``dla_cases:<factory>``), random weights.

Each rebuilds the case's model from its description in plain torch/torchvision (Ultralytics is not needed: its
blocks are written out below with the same layout, module names and forward code as the Ultralytics sources the
cases cite). ``CASES`` maps a case id to its factory; the scorer (``trtforge.placement.score``) reads the rest
(input, batch, target) from the JSON.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# ---------------------------------------------------------------------------------------------- jetson_dla_tutorial


class TutorialModel(nn.Module):
    """jetson_dla_tutorial ``models.py``: 4x (Conv 3x3/2 + norm + ReLU), AdaptiveAvgPool, view, Linear."""

    def __init__(self, norm: str, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in ((3, 64), (64, 128), (128, 256), (256, 512)):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                       nn.GroupNorm(8, c_out) if norm == "gn" else nn.BatchNorm2d(c_out), nn.ReLU()]
        self.cnn = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.cnn(x))
        x = x.view(x.shape[0], -1)
        return self.linear(x)


def jdt_model_gn() -> nn.Module:
    return TutorialModel("gn")


def jdt_model_bn() -> nn.Module:
    return TutorialModel("bn")


# ---------------------------------------------------------------------------------------------- DLA-SW recipes


class Resnet50Prepared(nn.Module):
    """torchvision resnet50 trunk; head rewritten as DLA-SW's resnet50.py does: AvgPool 7x7, then the FC as a
    1x1 conv (no Squeeze/MatMul); TopK cut off."""

    def __init__(self) -> None:
        import torchvision

        super().__init__()
        net = torchvision.models.resnet50(weights=None)
        self.trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3,
                                   net.layer4)
        self.pool = nn.AvgPool2d(7)
        self.fc = nn.Conv2d(2048, 1000, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.trunk(x)))


def dlasw_resnet50_prepared() -> nn.Module:
    return Resnet50Prepared()


def _dw_separable(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
                         nn.ReLU6(), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU6())


class SsdMobilenetV1(nn.Module):
    """SSD-MobileNetV1 cut at its box predictors (DLA-SW ssd_mobilenetv1.py): depthwise-separable trunk with ReLU6,
    4 extra blocks, 6 fused 1x1 box+class heads (the Mul/Add of TF batch-norm folded into the convs)."""

    PLAN = ((32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2),
            (512, 512, 1), (512, 512, 1), (512, 512, 1), (512, 512, 1), (512, 512, 1), (512, 1024, 2),
            (1024, 1024, 1))

    def __init__(self, classes: int = 91) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6())
        self.blocks = nn.ModuleList(_dw_separable(*p) for p in self.PLAN)
        self.extras = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c_in, mid, 1), nn.ReLU6(), nn.Conv2d(mid, c_out, 3, 2, 1), nn.ReLU6())
            for c_in, mid, c_out in ((1024, 256, 512), (512, 128, 256), (256, 128, 256), (256, 64, 128)))
        anchors = (3, 6, 6, 6, 6, 6)
        self.heads = nn.ModuleList(nn.Conv2d(c, a * (4 + classes), 1)
                                   for c, a in zip((512, 1024, 512, 256, 256, 128), anchors, strict=True))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x)
        maps = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in (10, 12):
                maps.append(x)
        for extra in self.extras:
            x = extra(x)
            maps.append(x)
        return tuple(head(m) for head, m in zip(self.heads, maps, strict=True))


def dlasw_ssd_mobilenet_v1_prepared() -> nn.Module:
    return SsdMobilenetV1()


class FrozenBN(nn.Module):
    """torchvision's FrozenBatchNorm2d arithmetic: exported as a Mul and an Add with constant operands."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.rand(1, channels, 1, 1) + 0.5)
        self.register_buffer("shift", torch.randn(1, channels, 1, 1) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class RetinaNetPrepared(nn.Module):
    """RetinaNet ResNeXt50-32x4d + FPN P3-P7 + 4-conv heads, cut at the 10 head convs (DLA-SW
    retinanet_resnext50.py): FrozenBN as Mul/Add, the FPN's Resize with scales (DLA-SW rewrites sizes->scales)."""

    def __init__(self, anchors: int = 9, classes: int = 264) -> None:
        import torchvision

        super().__init__()
        net = torchvision.models.resnext50_32x4d(weights=None, norm_layer=FrozenBN)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1)
        self.c3, self.c4, self.c5 = net.layer2, net.layer3, net.layer4
        self.lateral = nn.ModuleList(nn.Conv2d(c, 256, 1) for c in (512, 1024, 2048))
        self.output = nn.ModuleList(nn.Conv2d(256, 256, 3, padding=1) for _ in range(3))
        self.p6 = nn.Conv2d(2048, 256, 3, 2, 1)
        self.p7 = nn.Sequential(nn.ReLU(), nn.Conv2d(256, 256, 3, 2, 1))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

        def head(out: int) -> nn.Sequential:
            layers: list[nn.Module] = []
            for _ in range(4):
                layers += [nn.Conv2d(256, 256, 3, padding=1), nn.ReLU()]
            return nn.Sequential(*layers, nn.Conv2d(256, out, 3, padding=1))

        self.cls_head, self.box_head = head(anchors * classes), head(anchors * 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        c3 = self.c3(self.stem(x))
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        l3, l4, l5 = (lat(c) for lat, c in zip(self.lateral, (c3, c4, c5), strict=True))
        l4 = l4 + self.up(l5)
        l3 = l3 + self.up(l4)
        p3, p4, p5 = (out(lv) for out, lv in zip(self.output, (l3, l4, l5), strict=True))
        p6 = self.p6(c5)
        p7 = self.p7(p6)
        levels = (p3, p4, p5, p6, p7)
        return tuple(self.cls_head(p) for p in levels) + tuple(self.box_head(p) for p in levels)


def dlasw_retinanet_resnext50_prepared() -> nn.Module:
    return RetinaNetPrepared()


# ---------------------------------------------------------------------------------------------- YOLO blocks
# Ultralytics (and ultralytics/yolov5 v7.0) layouts: every block is a ``Conv`` (conv + BN + SiLU), and the SiLU is
# ONE module instance shared by every Conv (``Conv.default_act``), exactly as in Ultralytics.


def _pad(k: int, p: int | None = None) -> int:
    return k // 2 if p is None else p


class Conv(nn.Module):
    default_act = nn.SiLU()

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None, g: int = 1,
                 act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, _pad(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = self.default_act if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DWConv(Conv):
    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, act: bool = True) -> None:
        super().__init__(c1, c2, k, s, g=math.gcd(c1, c2), act=act)


class Bottleneck(nn.Module):
    def __init__(self, c1: int, c2: int, shortcut: bool = True, g: int = 1, k: tuple[int, int] = (3, 3),
                 e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, k[0], 1)
        self.cv2 = Conv(c_, c2, k[1], 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class C3(nn.Module):
    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1, self.cv2, self.cv3 = Conv(c1, c_, 1, 1), Conv(c1, c_, 1, 1), Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, g, k=(1, 3), e=1.0) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class C3k(C3):
    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5,
                 k: int = 3) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        c_ = int(c2 * e)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, g, k=(k, k), e=1.0) for _ in range(n)))


class C2f(nn.Module):
    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1, e: float = 0.5) -> None:
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut, g, k=(3, 3), e=1.0) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class C3k2(C2f):
    def __init__(self, c1: int, c2: int, n: int = 1, c3k: bool = False, e: float = 0.5, g: int = 1,
                 shortcut: bool = True) -> None:
        super().__init__(c1, c2, n, shortcut, g, e)
        self.m = nn.ModuleList(C3k(self.c, self.c, 2, shortcut, g) if c3k else
                               Bottleneck(self.c, self.c, shortcut, g) for _ in range(n))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1, self.cv2 = Conv(c1, c_, 1, 1), Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int = 8, attn_ratio: float = 0.5) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        self.scale = self.key_dim ** -0.5
        h = dim + self.key_dim * num_heads * 2
        self.qkv = Conv(dim, h, 1, act=False)
        self.proj = Conv(dim, dim, 1, act=False)
        self.pe = Conv(dim, dim, 3, 1, g=dim, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n = h * w
        qkv = self.qkv(x)
        q, k, v = qkv.view(b, self.num_heads, self.key_dim * 2 + self.head_dim, n).split(
            [self.key_dim, self.key_dim, self.head_dim], dim=2)
        attn = (q.transpose(-2, -1) @ k) * self.scale
        attn = attn.softmax(dim=-1)
        x = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + self.pe(v.reshape(b, c, h, w))
        return self.proj(x)


class PSABlock(nn.Module):
    def __init__(self, c: int, attn_ratio: float = 0.5, num_heads: int = 4) -> None:
        super().__init__()
        self.attn = Attention(c, attn_ratio=attn_ratio, num_heads=num_heads)
        self.ffn = nn.Sequential(Conv(c, c * 2, 1), Conv(c * 2, c, 1, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.ffn(x)


class C2PSA(nn.Module):
    def __init__(self, c1: int, c2: int, n: int = 1, e: float = 0.5) -> None:
        super().__init__()
        self.c = int(c1 * e)
        self.cv1, self.cv2 = Conv(c1, 2 * self.c, 1, 1), Conv(2 * self.c, c1, 1)
        self.m = nn.Sequential(*(PSABlock(self.c, attn_ratio=0.5, num_heads=self.c // 64) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.cv1(x).split((self.c, self.c), dim=1)
        return self.cv2(torch.cat((a, self.m(b)), 1))


class Concat(nn.Module):
    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs, 1)


class DFL(nn.Module):
    def __init__(self, c1: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


def _anchors(shapes: list[tuple[int, int]], strides: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    points, stride_rows = [], []
    for (h, w), stride in zip(shapes, strides, strict=True):
        sy, sx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
        points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_rows.append(torch.full((h * w, 1), float(stride)))
    return torch.cat(points).transpose(0, 1), torch.cat(stride_rows).transpose(0, 1)


class Detect(nn.Module):
    """Ultralytics Detect (v8 layout; ``v11=True``: the depthwise class branch of YOLO11), export path: DFL and
    dist2bbox (with its Div), anchors as constants (static shapes)."""

    def __init__(self, nc: int, ch: tuple[int, ...], v11: bool = False) -> None:
        super().__init__()
        self.nc, self.nl, self.reg_max = nc, len(ch), 16
        self.no = nc + self.reg_max * 4
        c2, c3 = max(16, ch[0] // 4, self.reg_max * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1))
                                 for x in ch)
        if v11:
            self.cv3 = nn.ModuleList(nn.Sequential(nn.Sequential(DWConv(x, x, 3), Conv(x, c3, 1)),
                                                   nn.Sequential(DWConv(c3, c3, 3), Conv(c3, c3, 1)),
                                                   nn.Conv2d(c3, nc, 1)) for x in ch)
        else:
            self.cv3 = nn.ModuleList(nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1))
                                     for x in ch)
        self.dfl = DFL(self.reg_max)
        self.stride = [8, 16, 32]

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        x = [torch.cat((self.cv2[i](x[i]), self.cv3[i](x[i])), 1) for i in range(self.nl)]
        b = x[0].shape[0]
        anchors, strides = _anchors([tuple(xi.shape[2:]) for xi in x], self.stride)
        x_cat = torch.cat([xi.view(b, self.no, -1) for xi in x], 2)
        box, cls = x_cat.split((self.reg_max * 4, self.nc), 1)
        lt, rb = self.dfl(box).chunk(2, 1)
        anchor = anchors.unsqueeze(0)
        x1y1, x2y2 = anchor - lt, anchor + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
        return torch.cat((dbox, cls.sigmoid()), 1)


class Yolo(nn.Module):
    """An Ultralytics-style ``model.<i>`` list: each entry (from, module); from -1 is the previous output."""

    def __init__(self, layers: list[tuple[int | list[int], nn.Module]]) -> None:
        super().__init__()
        self.froms = [f for f, _ in layers]
        self.model = nn.Sequential(*(m for _, m in layers))

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs: list[torch.Tensor] = []
        for source, module in zip(self.froms, self.model, strict=True):
            if isinstance(source, list):
                inputs = [x if s == -1 else outputs[s] for s in source]
                x = module(inputs)
            else:
                x = module(x if source == -1 else outputs[source])
            outputs.append(x)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)[-1]


def _yolov5s_layers() -> list[tuple[int | list[int], nn.Module]]:
    """ultralytics/yolov5 v7.0 yolov5s.yaml (depth 0.33, width 0.50), backbone and neck: model.0 .. model.23."""
    up = nn.Upsample(None, 2, "nearest")
    return [(-1, Conv(3, 32, 6, 2, 2)), (-1, Conv(32, 64, 3, 2)), (-1, C3(64, 64, 1)), (-1, Conv(64, 128, 3, 2)),
            (-1, C3(128, 128, 2)), (-1, Conv(128, 256, 3, 2)), (-1, C3(256, 256, 3)), (-1, Conv(256, 512, 3, 2)),
            (-1, C3(512, 512, 1)), (-1, SPPF(512, 512, 5)),
            (-1, Conv(512, 256, 1, 1)), (-1, up), ([-1, 6], Concat()), (-1, C3(512, 256, 1, False)),
            (-1, Conv(256, 128, 1, 1)), (-1, nn.Upsample(None, 2, "nearest")), ([-1, 4], Concat()),
            (-1, C3(256, 128, 1, False)), (-1, Conv(128, 128, 3, 2)), ([-1, 14], Concat()),
            (-1, C3(256, 256, 1, False)), (-1, Conv(256, 256, 3, 2)), ([-1, 10], Concat()),
            (-1, C3(512, 512, 1, False))]


class Yolov5Heads(nn.Module):
    """The three 1x1 convs of YOLOv5's Detect (the cuDLA sample's --noanchor export stops there)."""

    def __init__(self, ch: tuple[int, ...] = (128, 256, 512), no: int = 85, na: int = 3) -> None:
        super().__init__()
        self.m = nn.ModuleList(nn.Conv2d(c, no * na, 1) for c in ch)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [m(x) for m, x in zip(self.m, xs, strict=True)]


class Yolov5Trimmed(Yolo):
    def __init__(self) -> None:
        super().__init__([*_yolov5s_layers(), ([17, 20, 23], Yolov5Heads())])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.run(x)[-1])


def cudla_yolov5s_trimmed_fp16() -> nn.Module:
    return Yolov5Trimmed()


class Yolov5Full(Yolo):
    """YOLOv5s v7.0 with the anchor-decoding Detect export path (view/permute/sigmoid/split/grid/Pow). The decode
    is written in this root module's forward (the Detect convs are ``model.24.m``), so its ops are the root's, as
    the case's matchers (owner ``^$``) expect; the grids are constants as in the real export."""

    def __init__(self, nc: int = 80, size: int = 640) -> None:
        super().__init__([*_yolov5s_layers(), ([17, 20, 23], Yolov5Heads(no=nc + 5))])
        self.no, self.na = nc + 5, 3
        anchors = torch.tensor([[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119],
                                [116, 90, 156, 198, 373, 326]], dtype=torch.float).view(3, 3, 2)
        self.strides = (8, 16, 32)
        for i, stride in enumerate(self.strides):
            ny = nx = size // stride
            yv, xv = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
            grid = torch.stack((xv, yv), 2).expand(1, self.na, ny, nx, 2).float() - 0.5
            self.register_buffer(f"grid{i}", grid)
            self.register_buffer(f"anchor_grid{i}", anchors[i].view(1, self.na, 1, 1, 2).expand(1, self.na, ny, nx, 2)
                                 .clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = []
        for i, xi in enumerate(self.run(x)[-1]):
            bs, _, ny, nx = xi.shape
            xi = xi.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            xy, wh, conf = xi.sigmoid().split((2, 2, self.no - 4), 4)
            xy = (xy * 2 + getattr(self, f"grid{i}")) * self.strides[i]
            wh = (wh * 2) ** 2 * getattr(self, f"anchor_grid{i}")
            z.append(torch.cat((xy, wh, conf), 4).view(bs, self.na * nx * ny, self.no))
        return torch.cat(z, 1)


def yolov5s_v7_full_detect() -> nn.Module:
    return Yolov5Full()


def _yolov8m() -> Yolo:
    """Ultralytics yolov8m.yaml (depth 0.67, width 0.75, max channels 768)."""
    return Yolo([
        (-1, Conv(3, 48, 3, 2)), (-1, Conv(48, 96, 3, 2)), (-1, C2f(96, 96, 2, True)), (-1, Conv(96, 192, 3, 2)),
        (-1, C2f(192, 192, 4, True)), (-1, Conv(192, 384, 3, 2)), (-1, C2f(384, 384, 4, True)),
        (-1, Conv(384, 576, 3, 2)), (-1, C2f(576, 576, 2, True)), (-1, SPPF(576, 576, 5)),
        (-1, nn.Upsample(None, 2, "nearest")), ([-1, 6], Concat()), (-1, C2f(960, 384, 2)),
        (-1, nn.Upsample(None, 2, "nearest")), ([-1, 4], Concat()), (-1, C2f(576, 192, 2)),
        (-1, Conv(192, 192, 3, 2)), ([-1, 12], Concat()), (-1, C2f(576, 384, 2)),
        (-1, Conv(384, 384, 3, 2)), ([-1, 9], Concat()), (-1, C2f(960, 576, 2)),
        ([15, 18, 21], Detect(80, (192, 384, 576)))])


def ultralytics_yolov8m() -> nn.Module:
    return _yolov8m()


def _yolo11n() -> Yolo:
    """Ultralytics yolo11n.yaml (depth 0.50, width 0.25, max channels 1024): C3k2, SPPF, C2PSA, Detect."""
    return Yolo([
        (-1, Conv(3, 16, 3, 2)), (-1, Conv(16, 32, 3, 2)), (-1, C3k2(32, 64, 1, False, 0.25)),
        (-1, Conv(64, 64, 3, 2)), (-1, C3k2(64, 128, 1, False, 0.25)), (-1, Conv(128, 128, 3, 2)),
        (-1, C3k2(128, 128, 1, True)), (-1, Conv(128, 256, 3, 2)), (-1, C3k2(256, 256, 1, True)),
        (-1, SPPF(256, 256, 5)), (-1, C2PSA(256, 256, 1)),
        (-1, nn.Upsample(None, 2, "nearest")), ([-1, 6], Concat()), (-1, C3k2(384, 128, 1, False)),
        (-1, nn.Upsample(None, 2, "nearest")), ([-1, 4], Concat()), (-1, C3k2(256, 64, 1, False)),
        (-1, Conv(64, 64, 3, 2)), ([-1, 13], Concat()), (-1, C3k2(192, 128, 1, False)),
        (-1, Conv(128, 128, 3, 2)), ([-1, 10], Concat()), (-1, C3k2(384, 256, 1, True)),
        ([16, 19, 22], Detect(80, (64, 128, 256), v11=True))])


def ultralytics_yolo11n() -> nn.Module:
    return _yolo11n()


# ---------------------------------------------------------------------------------------------- torchvision


class UNetDeconv(nn.Module):
    """A UNet-like encoder/decoder whose ups are ConvTranspose2d(k=3, s=2, padding=1, output_padding=1), the
    PyTorch form of Keras Conv2DTranspose(padding='same') (TensorRT#3365)."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
        self.enc3 = nn.Sequential(nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU())
        self.dec_deconv1 = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1)
        self.dec_deconv2 = nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1)
        self.out = nn.Conv2d(16, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        d1 = self.dec_deconv1(self.enc3(e2)) + e2
        return self.out(self.dec_deconv2(d1) + e1)


def trt3365_unet_deconv_k3s2() -> nn.Module:
    return UNetDeconv()


def faq_mobilenet_v2_features() -> nn.Module:
    import torchvision

    return torchvision.models.mobilenet_v2(weights=None).features


class GoogLeNetTrunk(nn.Module):
    """torchvision googlenet, modules conv1 .. inception5b (no aux heads, no avgpool/fc)."""

    def __init__(self) -> None:
        import torchvision

        super().__init__()
        net = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
        names = ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                 "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
                 "inception5a", "inception5b")
        for name in names:
            setattr(self, name, getattr(net, name))
        self.names = names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.names:
            x = getattr(self, name)(x)
        return x


def faq_googlenet_features() -> nn.Module:
    return GoogLeNetTrunk()


def faq_efficientnet_lite0_features() -> nn.Module:
    """EfficientNet-Lite0 approximated as the case says: torchvision efficientnet_b0 blocks, squeeze-excitation
    removed, SiLU -> ReLU6."""
    import torchvision
    from torchvision.ops.misc import SqueezeExcitation

    features = torchvision.models.efficientnet_b0(weights=None).features

    def lite(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, SqueezeExcitation):
                setattr(module, name, nn.Identity())
            elif isinstance(child, nn.SiLU):
                setattr(module, name, nn.ReLU6())
            else:
                lite(child)

    lite(features)
    return features


def opsmatrix_efficientnet_b0_features() -> nn.Module:
    import torchvision

    return torchvision.models.efficientnet_b0(weights=None).features


def derived_resnet18_full() -> nn.Module:
    import torchvision

    return torchvision.models.resnet18(weights=None)


def mmdeploy2376_dynamic_shapes() -> nn.Module:
    return derived_resnet18_full()


CASES = {
    "jdt_model_gn": jdt_model_gn, "jdt_model_bn": jdt_model_bn,
    "dlasw_resnet50_prepared": dlasw_resnet50_prepared,
    "dlasw_ssd_mobilenet_v1_prepared": dlasw_ssd_mobilenet_v1_prepared,
    "dlasw_retinanet_resnext50_prepared": dlasw_retinanet_resnext50_prepared,
    "cudla_yolov5s_trimmed_fp16": cudla_yolov5s_trimmed_fp16, "yolov5s_v7_full_detect": yolov5s_v7_full_detect,
    "ultralytics_yolov8m": ultralytics_yolov8m, "ultralytics_yolo11n": ultralytics_yolo11n,
    "trt3365_unet_deconv_k3s2": trt3365_unet_deconv_k3s2, "mmdeploy2376_dynamic_shapes": mmdeploy2376_dynamic_shapes,
    "faq_mobilenet_v2_features": faq_mobilenet_v2_features, "faq_googlenet_features": faq_googlenet_features,
    "faq_efficientnet_lite0_features": faq_efficientnet_lite0_features,
    "opsmatrix_efficientnet_b0_features": opsmatrix_efficientnet_b0_features,
    "derived_resnet18_full": derived_resnet18_full,
}

OUTPUTS = {"dlasw_ssd_mobilenet_v1_prepared": 6, "dlasw_retinanet_resnext50_prepared": 10,
           "cudla_yolov5s_trimmed_fp16": 3}  # outputs the model returns (1 where not listed)

# Public cases that contradict another piece of evidence, with the exact nodes where they do: the scorer reports
# them as "documented" (and only while missed/false are exactly these nodes), and the suite asserts why.
CONTRADICTIONS = {
    "jdt_model_gn": {
        "contradicts": "jdt_model_bn",
        "why": "the same head (AdaptiveAvgPool -> x.view(N, -1) -> Linear, batch 32, INT8, TensorRT 8.4, Orin) ran on "
               "DLA in ModelBN's complete log ({Gemm_15 + linear.bias + ...} on DLA, the view absorbed); ModelGN's "
               "GPU list is truncated and its Gemm is only absent from the DLA list. The plan follows the log that "
               "shows the head.",
        "missed": ("/Reshape", "linear/Gemm"), "false": ()},
    "ultralytics_yolo11n": {
        "contradicts": "cudla_yolov5s_trimmed_fp16",
        "why": "the matcher Concat@model.23 also takes Detect's three per-level channel concats of 4-D maps "
               "(cat(cv2, cv3), dim 1), which the log does not name (it names Concat_3/4/5, the 3-D ones); 4-D "
               "channel concats run on DLA in the trimmed YOLOv5s standalone loadable (every layer on DLA).",
        "missed": ("model.23/Concat", "model.23/Concat.1", "model.23/Concat.2"), "false": ()},
    "opsmatrix_efficientnet_b0_features": {
        "contradicts": "limits general.loadables (16 DLA loadables per core, TensorRT 8.5 guide / latest)",
        "why": "derived from the per-op matrix, which does not count loadables: the 16 squeeze-excitation global "
               "pools on GPU cut the trunk into 17 DLA islands, one more than a core holds, so TensorRT puts the "
               "last one (features.7.0's SE branch onwards) on GPU.",
        "missed": (), "false": ("7.0.block.2.fc1/Conv", "7.0.block.2.activation/Sigmoid", "7.0.block.2.fc2/Conv",
                                "7.0.block.2.scale_activation/Sigmoid", "7.0.block.3.1/Conv", "8.1/Conv",
                                "8.2/Sigmoid")},
}
