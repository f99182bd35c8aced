"""HRNet (Sun et al., CVPR 2019) as the pose backbone of deep-high-resolution-net.

The module tree reproduces the parameter names of the official implementation
(``leoxiaobin/deep-high-resolution-net.pytorch``, ``lib/models/pose_hrnet.py``):
``conv1``, ``bn1``, ``conv2``, ``bn2``, ``layer1``, ``transition1..3``,
``stage2..4`` (each a sequence of modules with ``branches`` and ``fuse_layers``).
mmpose 0.x / 1.x use the same backbone names, so all three load by prefix only.
Only ``final_layer`` lives in the head (:class:`semapose.models.heads.FinalLayerHead`).

The backbone returns the highest-resolution branch of the last stage: the input of
``final_layer``, ``width`` channels at stride 4.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from semapose.models.backbones.spec import Backbone, Pretrained
    from semapose.weights.read import WeightsFile

__all__ = [
    "HRNET_PRETRAINED_LAYERS",
    "HRNet",
    "convert_hrnet_checkpoint",
    "hrnet_w32",
    "hrnet_w48",
]

#: top-level module names of the backbone (the official ``PRETRAINED_LAYERS``)
HRNET_PRETRAINED_LAYERS: tuple[str, ...] = (
    "conv1",
    "bn1",
    "conv2",
    "bn2",
    "layer1",
    "transition1",
    "stage2",
    "transition2",
    "stage3",
    "transition3",
    "stage4",
)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    """Conv (no bias) + BN [+ ReLU] as an ``nn.Sequential`` (indices 0, 1[, 2])."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (expansion 1)."""

    expansion = 1

    def __init__(self, cin: int, planes: int, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 - 3x3 - 1x1 bottleneck with a residual connection (expansion 4)."""

    expansion = 4

    def __init__(self, cin: int, planes: int, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _residual_stack(
    block: type[BasicBlock] | type[Bottleneck], cin: int, planes: int, num_blocks: int
) -> nn.Sequential:
    """``num_blocks`` blocks; the first gets a 1x1 projection if the width changes."""
    cout = planes * block.expansion
    downsample = None
    if cin != cout:
        downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
    blocks: list[nn.Module] = [block(cin, planes, downsample)]
    blocks += [block(cout, planes) for _ in range(1, num_blocks)]
    return nn.Sequential(*blocks)


class _Upsample(nn.Module):
    """1x1 conv + BN, then nearest upsampling to the target branch's size.

    Parameter-free part of the official ``nn.Upsample(scale_factor=2**k)``; we
    resize to the exact target size, which is the same map whenever the input
    size is a multiple of 32 and also works when it is not.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.add_module("0", nn.Conv2d(cin, cout, 1, 1, 0, bias=False))
        self.add_module("1", nn.BatchNorm2d(cout))

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        for module in self._modules.values():
            assert module is not None
            x = module(x)
        return F.interpolate(x, size=size, mode="nearest")


class HRModule(nn.Module):
    """One multi-resolution module: parallel branches, then exchange across them.

    ``fuse_layers[i][j]`` brings branch ``j`` to branch ``i``'s resolution (1x1 conv +
    upsampling for coarser ``j``, strided 3x3 convs for finer ``j``; ``None`` for
    ``i == j``). With ``multi_scale_output=False`` only branch 0 is produced.
    """

    def __init__(self, widths: list[int], num_blocks: int, multi_scale_output: bool) -> None:
        super().__init__()
        n = len(widths)
        self.num_branches = n
        self.branches = nn.ModuleList(
            [_residual_stack(BasicBlock, w, w, num_blocks) for w in widths]
        )
        self.fuse_layers: nn.ModuleList | None = None
        if n > 1:
            fuse: list[nn.Module] = []
            for i in range(n if multi_scale_output else 1):
                row: list[nn.Module | None] = []
                for j in range(n):
                    if j > i:
                        row.append(_Upsample(widths[j], widths[i]))
                    elif j == i:
                        row.append(None)
                    else:
                        steps = [
                            _conv_bn(widths[j], widths[j], 3, 2, relu=True)
                            for _ in range(i - j - 1)
                        ]
                        steps.append(_conv_bn(widths[j], widths[i], 3, 2, relu=False))
                        row.append(nn.Sequential(*steps))
                fuse.append(nn.ModuleList(row))  # type: ignore[arg-type]
            self.fuse_layers = nn.ModuleList(fuse)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        if self.fuse_layers is None:
            return xs
        out: list[Tensor] = []
        for i, row in enumerate(self.fuse_layers):
            size = (xs[i].shape[-2], xs[i].shape[-1])
            # summed in branch order like the official code (bit-identical results)
            terms: list[Tensor] = []
            for j, layer in enumerate(row):  # type: ignore[arg-type, var-annotated]
                if j == i:
                    terms.append(xs[j])
                else:
                    terms.append(layer(xs[j], size) if j > i else layer(xs[j]))
            y = terms[0]
            for term in terms[1:]:
                y = y + term
            out.append(self.relu(y))
        return out


def _transition(pre: list[int], cur: list[int]) -> nn.ModuleList:
    """Adapt the previous stage's branches to the next stage's (adds one branch)."""
    layers: list[nn.Module | None] = []
    for i, width in enumerate(cur):
        if i < len(pre):
            layers.append(None if pre[i] == width else _conv_bn(pre[i], width, 3, 1, relu=True))
        else:
            steps = []
            for k in range(i + 1 - len(pre)):
                cout = width if k == i - len(pre) else pre[-1]
                steps.append(_conv_bn(pre[-1], cout, 3, 2, relu=True))
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)  # type: ignore[arg-type]


class HRNet(nn.Module):
    """HRNet-W``width`` pose backbone: (N,3,H,W) -> (N, width, H/4, W/4).

    Stages as in the official COCO configs (w32_256x192, w48_384x288): stem of two
    stride-2 3x3 convs, ``layer1`` = 4 bottlenecks (256 ch), then stages 2/3/4 with
    1/4/3 modules of 2/3/4 branches (widths w, 2w, 4w, 8w), 4 basic blocks each.
    """

    def __init__(
        self,
        width: int = 32,
        stage_modules: tuple[int, int, int] = (1, 4, 3),
        num_blocks: int = 4,
    ) -> None:
        super().__init__()
        self.width = width
        self.out_channels = width
        self.stride = 4
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _residual_stack(Bottleneck, 64, 64, 4)

        pre = [256]
        for s, num_modules in zip((2, 3, 4), stage_modules, strict=True):
            widths = [width * 2**b for b in range(s)]
            setattr(self, f"transition{s - 1}", _transition(pre, widths))
            modules = [
                HRModule(
                    widths, num_blocks, multi_scale_output=not (s == 4 and m == num_modules - 1)
                )
                for m in range(num_modules)
            ]
            setattr(self, f"stage{s}", nn.Sequential(*modules))
            pre = widths
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official random initialisation: conv N(0, 0.001), BN (1, 0)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _run_stage(stage: nn.Sequential, xs: list[Tensor]) -> list[Tensor]:
        for module in stage:
            xs = module(xs)
        return xs

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)
        xs = [x]
        for s in (2, 3, 4):
            transition: nn.ModuleList = getattr(self, f"transition{s - 1}")
            inputs = []
            for i, layer in enumerate(transition):
                if layer is None:
                    inputs.append(xs[i])
                else:  # new branches start from the lowest resolution so far
                    inputs.append(layer(xs[min(i, len(xs) - 1)]))
            xs = self._run_stage(getattr(self, f"stage{s}"), inputs)
        return xs[0]


def hrnet_w32() -> HRNet:
    return HRNet(32)


def hrnet_w48() -> HRNet:
    return HRNet(48)


# ----------------------------------------------------------------------------- checkpoints


def convert_hrnet_checkpoint(sd: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], str]:
    """Any published HRNet layout -> ``backbone.<official name>`` / ``head.final_layer.*``,
    and the layout's name (see :func:`semapose.models.checkpoints.detect_layout`).

    mmpose 0.x and 1.x HRNet backbones use the official module names (their
    ``build_norm_layer`` names are ``bn1``/``bn2``/...), so only prefixes change.
    """
    from semapose.models.checkpoints import detect_layout

    layout = detect_layout(sd)
    out: dict[str, Tensor] = {}
    for k, v in sd.items():
        if layout == "official":
            out[("head." if k.startswith("final_layer.") else "backbone.") + k] = v
        elif layout == "mmpose0" and k.startswith("keypoint_head."):
            out["head." + k[len("keypoint_head.") :]] = v
        else:
            out[k] = v
    return out, layout


# ----------------------------------------------------------------------------- spec hooks


def read_pretrained(
    backbone: Backbone,
    file: WeightsFile,
    image_size: tuple[int, int],
) -> Pretrained:
    """Backbone and head of an official / mmpose 0.x / 1.x / semapose HRNet checkpoint,
    converted and loaded once (the modules come with it) and its head's settings."""
    from semapose.models.backbones.spec import Pretrained
    from semapose.models.single_frame import SingleFrameHRNet

    conv, layout = convert_hrnet_checkpoint(file.tensors)
    width = int(backbone.row.args[0])
    pose = SingleFrameHRNet.from_converted(conv, layout, file.path, width)
    head = pose.head.state_dict()
    return Pretrained(
        {"backbone": pose.backbone.state_dict(), "head": head},
        "semapose",
        backbone.head_settings(head) if backbone.head_settings else None,
        {"backbone": pose.backbone, "head": pose.head},
    )


def recognise(sd: Mapping[str, Tensor], path: Path) -> str | None:
    """``hrnet_wNN`` for a checkpoint with HRNet's transition/stage-4 tensors (width read
    from them)."""
    keys = list(sd)
    if not any("transition1" in k or "stage4" in k for k in keys):
        return None
    t1 = next((sd[k] for k in keys if k.endswith("transition1.0.0.weight")), None)
    return f"hrnet_w{int(t1.shape[0]) if t1 is not None else 32}"


def head_settings(head: Mapping[str, Tensor]) -> dict[str, int]:
    """The number of joints of a checkpoint's ``final_layer``."""
    return {"num_joints": int(head["final_layer.weight"].shape[0])}
