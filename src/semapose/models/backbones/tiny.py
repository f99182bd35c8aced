"""A tiny multi-scale CNN backbone for CPU training, tests, benchmarks and bundled weights.

Stride-4 output like HRNet, so it shares HRNet's head (one 1x1 convolution) and the
stride-4 code paths of the temporal modules. Two lower-resolution branches (stride 8
and 16) are fused back into the stride-4 branch to give a receptive field that covers
a person crop, which a plain stack of stride-4 blocks would not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from semapose.models.backbones.spec import Backbone, Pretrained
    from semapose.weights.read import WeightsFile

__all__ = ["TinyBackbone"]


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _Residual(nn.Module):
    """Basic residual block (two 3x3 convolutions)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class TinyBackbone(nn.Module):
    """(N, 3, H, W) -> (N, channels, H/4, W/4); about 0.42M parameters at 32 channels."""

    def __init__(self, channels: int = 32, blocks: int = 2) -> None:
        super().__init__()
        c = channels
        self.out_channels = c
        self.stride = 4
        self.stem = nn.Sequential(_conv_bn_relu(3, c // 2, 2), _conv_bn_relu(c // 2, c, 2))
        self.high = nn.Sequential(*[_Residual(c) for _ in range(blocks)])
        self.down8 = _conv_bn_relu(c, 2 * c, 2)
        self.mid = nn.Sequential(*[_Residual(2 * c) for _ in range(blocks)])
        self.down16 = _conv_bn_relu(2 * c, 2 * c, 2)
        self.low = nn.Sequential(*[_Residual(2 * c) for _ in range(blocks)])
        self.fuse_low = nn.Sequential(nn.Conv2d(2 * c, 2 * c, 1, bias=False), nn.BatchNorm2d(2 * c))
        self.fuse_mid = nn.Sequential(nn.Conv2d(2 * c, c, 1, bias=False), nn.BatchNorm2d(c))
        self.out = _Residual(c)

    def forward(self, x: Tensor) -> Tensor:
        h = self.high(self.stem(x))
        m = self.mid(self.down8(h))
        low = self.low(self.down16(m))
        m = F.relu(m + F.interpolate(self.fuse_low(low), size=m.shape[-2:], mode="nearest"))
        h = F.relu(h + F.interpolate(self.fuse_mid(m), size=h.shape[-2:], mode="nearest"))
        return self.out(h)


# ----------------------------------------------------------------------------- spec hooks


def read_pretrained(
    backbone: Backbone,
    file: WeightsFile,
    image_size: tuple[int, int],
) -> Pretrained:
    """A semapose checkpoint's ``backbone.*`` (and ``head.*``) tensors, else the whole file
    as the backbone's (layout ``unknown``)."""
    from semapose.models.backbones.spec import Pretrained

    sd = dict(file.tensors)
    parts: dict[str, dict[str, Tensor]] = {}
    for part in ("backbone", "head"):
        sub = {k[len(part) + 1 :]: v for k, v in sd.items() if k.startswith(part + ".")}
        if sub:
            parts[part] = sub
    if "backbone" not in parts:
        return Pretrained({"backbone": sd}, "unknown")
    return Pretrained(parts, "semapose")
