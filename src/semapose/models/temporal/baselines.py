"""Baseline temporal modules, on the same backbone, head and data as ours.

* :class:`SingleFrame` -- the key frame's features, unchanged (``temporal: none``).
* :class:`TemporalDifference` -- TDMI-style (Feng et al., CVPR 2023) multi-stage
  encoding of feature differences between consecutive frames, fused with the key
  frame's features.
* :class:`DeformableWarping` -- PoseWarper / DCPose-style (``temporal:
  heatmap_warping``): offsets predicted from feature differences drive deformable
  sampling (``grid_sample``, no compiled ops) of each supporting frame at several
  dilations; the warped supporting features are aggregated onto the key frame.

Both temporal baselines add their result to the key frame's features through a
per-channel gate (as ours does with ``key_skip``); the last convolution of that
residual starts at zero, so every untrained variant returns the key frame's
features exactly (the single-frame model, bit for bit). These are our
re-implementations of the ideas, written from the papers' descriptions; they are not
the authors' code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semapose.models.temporal.base import TemporalModule, zero_init_

__all__ = ["SingleFrame", "TemporalDifference", "DeformableWarping", "deform_sample"]

_GATE_INIT = 1.0


def _cbr(cin: int, cout: int, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SingleFrame(TemporalModule):
    """No temporal modelling: the head sees the key frame's backbone features."""

    def forward(self, feats: Tensor) -> Tensor:
        return feats[:, self.key_index]


class TemporalDifference(TemporalModule):
    """Multi-stage temporal-difference motion encoder fused with the key frame.

    Features are reduced to ``dim`` channels; the T-1 differences of consecutive
    frames are stacked; ``stages`` cascaded conv blocks with growing dilation each see
    the differences plus the previous stage's output (incremental cascade); the stage
    outputs are concatenated into a motion feature, fused with the key frame.
    """

    def __init__(
        self,
        in_channels: int,
        num_frames: int,
        key_index: int,
        dim: int = 64,
        stages: int = 3,
        gate_init: float = _GATE_INIT,
    ) -> None:
        super().__init__(num_frames, key_index)
        self.reduce = _cbr(in_channels, dim, kernel=1)
        self.num_diffs = max(1, num_frames - 1)
        diff_ch = self.num_diffs * dim
        self.stages = nn.ModuleList(
            _cbr(diff_ch + (dim if s > 0 else 0), dim, dilation=2**s) for s in range(stages)
        )
        self.motion = _cbr(stages * dim, dim, kernel=1)
        self.fuse = nn.Sequential(_cbr(2 * dim, dim), nn.Conv2d(dim, in_channels, 1))
        zero_init_(self.fuse[-1])
        self.gate = nn.Parameter(torch.full((in_channels,), float(gate_init)))

    def forward(self, feats: Tensor) -> Tensor:
        t = feats.shape[1]
        x = self.reduce(feats.flatten(0, 1)).unflatten(0, (-1, t))
        if t > 1:
            diffs = (x[:, 1:] - x[:, :-1]).flatten(1, 2)
        else:  # a single frame has no motion: zero differences
            diffs = torch.zeros_like(x[:, 0])
        outs: list[Tensor] = []
        prev: Tensor | None = None
        for stage in self.stages:
            prev = stage(diffs if prev is None else torch.cat([diffs, prev], dim=1))
            outs.append(prev)
        motion = self.motion(torch.cat(outs, dim=1))
        y = self.fuse(torch.cat([x[:, self.key_index], motion], dim=1))
        return feats[:, self.key_index] + self.gate.view(1, -1, 1, 1).to(y.dtype) * y


def deform_sample(x: Tensor, offsets: Tensor, dilation: int) -> Tensor:
    """Deformable 3x3 sampling with ``grid_sample`` (bilinear, zero padding).

    ``x`` (B, C, h, w); ``offsets`` (B, 18, h, w) as (dy, dx) pairs per tap in row-major
    tap order, in feature pixels. Returns (B, 9*C, h, w): the nine samples of every
    pixel, ordered (tap, channel); a 1x1 convolution on them is a deformable convolution.
    """
    c, h, w = x.shape[1:]
    dtype = offsets.dtype
    ys = torch.arange(h, device=x.device, dtype=dtype).view(1, 1, h, 1)
    xs = torch.arange(w, device=x.device, dtype=dtype).view(1, 1, 1, w)
    taps = torch.tensor([-1.0, 0.0, 1.0], device=x.device, dtype=dtype) * dilation
    ty = taps.view(3, 1).expand(3, 3).reshape(1, 9, 1, 1)
    tx = taps.view(1, 3).expand(3, 3).reshape(1, 9, 1, 1)
    off = offsets.view(-1, 9, 2, h, w)
    py = ys + ty + off[:, :, 0]
    px = xs + tx + off[:, :, 1]
    gx = 2.0 * px / max(w - 1, 1) - 1.0
    gy = 2.0 * py / max(h - 1, 1) - 1.0
    grid = torch.stack([gx, gy], dim=-1).reshape(-1, 9 * h, w, 2)
    out = F.grid_sample(x, grid.to(x.dtype), mode="bilinear", align_corners=True)
    return out.view(-1, c, 9, h, w).transpose(1, 2).reshape(-1, 9 * c, h, w)


class DeformableWarping(TemporalModule):
    """Warp every supporting frame onto the key frame at several dilations, aggregate."""

    def __init__(
        self,
        in_channels: int,
        num_frames: int,
        key_index: int,
        dim: int = 64,
        dilations: tuple[int, ...] = (1, 3, 6),
        gate_init: float = _GATE_INIT,
    ) -> None:
        super().__init__(num_frames, key_index)
        if not dilations or min(dilations) < 1:
            raise ValueError(f"dilations must be positive integers, got {dilations}")
        self.dilations = tuple(int(d) for d in dilations)
        self.support = [i for i in range(num_frames) if i != key_index] or [key_index]
        self.reduce = _cbr(in_channels, dim, kernel=1)
        self.offset_trunk = nn.Sequential(_cbr(2 * dim, dim), _cbr(dim, dim))
        offsets = [nn.Conv2d(dim, 18, 3, padding=d, dilation=d) for d in self.dilations]
        for conv in offsets:  # start near the regular grid, but let gradients flow
            nn.init.normal_(conv.weight, std=1e-3)
            nn.init.zeros_(conv.bias)  # type: ignore[arg-type]
        self.offsets = nn.ModuleList(offsets)
        self.deform = nn.ModuleList(nn.Conv2d(9 * dim, dim, 1) for _ in self.dilations)
        self.fuse = nn.Sequential(_cbr(2 * dim, dim), nn.Conv2d(dim, in_channels, 1))
        zero_init_(self.fuse[-1])
        self.gate = nn.Parameter(torch.full((in_channels,), float(gate_init)))

    def forward(self, feats: Tensor) -> Tensor:
        t = feats.shape[1]
        x = self.reduce(feats.flatten(0, 1)).unflatten(0, (-1, t))
        key = x[:, self.key_index]
        s = len(self.support)
        sup = x[:, self.support].flatten(0, 1)  # (B*S, dim, h, w)
        key_rep = key[:, None].expand(-1, s, -1, -1, -1).flatten(0, 1)
        trunk = self.offset_trunk(torch.cat([key_rep, sup - key_rep], dim=1))
        warped = [
            deform(deform_sample(sup, off_conv(trunk), dil))
            for off_conv, deform, dil in zip(self.offsets, self.deform, self.dilations, strict=True)
        ]
        agg = torch.stack(warped).mean(dim=0).unflatten(0, (-1, s)).mean(dim=1)
        y = self.fuse(torch.cat([key, agg], dim=1))
        return feats[:, self.key_index] + self.gate.view(1, -1, 1, 1).to(y.dtype) * y
