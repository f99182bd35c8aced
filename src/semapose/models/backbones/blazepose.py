"""BlazePose GHUM "full" (MediaPipe's pose landmark model) as a PyTorch module.

The network of ``pose_landmark_full.tflite`` (mediapipe 0.10.21, Apache-2.0), written
as named layers:

* **encoder** -- a MobileNetV2-like stack: a 3x3 stride-2 stem and 15 inverted
  residual ``blocks`` (expand 1x1, depthwise, project 1x1, ReLU6) down to stride 32,
  then a ``neck`` (expand + depthwise, 864 channels);
* **heatmap decoder** -- separable convolutions to 48 channels at strides 32/16/8/4,
  added after 2x bilinear upsampling (half-pixel centres): the stride-4 ``features``
  (48 x 64 x 64 for a 256 x 256 crop), and ``heatmap`` (1x1 conv) gives 39 heatmap
  logits;
* **regression** -- BlazeBlocks on the neck down to 2 x 2, then 2 x 2 convolutions
  giving the 39 x 5 landmarks (x, y in crop pixels, z, visibility logit, presence
  logit) and the pose-present score (sigmoid applied, as in the graph).

The segmentation decoder and the world-landmark output of the graph are not computed
(their weights are skipped by the converter). Input: (B, 3, 256, 256) RGB in 0..1,
no normalisation (the graph has none).


The tflite converter and its cache are :mod:`.blazepose_tflite`, the 17-slot PoseTrack
head :mod:`.blazepose_head`, MediaPipe's landmark refinement :mod:`.blazepose_landmarks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "BlazePose",
    "BlazePoseBackbone",
    "NUM_LANDMARKS",
    "NUM_HEATMAPS",
    "INPUT_SIZE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

#: Landmark rows of the 195-value output: 33 body points + 6 auxiliary points.
NUM_LANDMARKS = 39
#: Heatmap channels (one per landmark row).
NUM_HEATMAPS = 39
#: The model's square input size (the landmark convolution needs a 2 x 2 map).
INPUT_SIZE = 256
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class _BlockSpec:
    cin: int
    cout: int
    hidden: int  # 0 = no expansion convolution
    kernel: int
    stride: int


#: The 15 inverted residual blocks of the encoder (residual when cin == cout, stride 1).
ENCODER_BLOCKS: tuple[_BlockSpec, ...] = (
    _BlockSpec(24, 16, 0, 3, 1),
    _BlockSpec(16, 24, 64, 3, 2),
    _BlockSpec(24, 24, 144, 3, 1),
    _BlockSpec(24, 32, 144, 5, 2),
    _BlockSpec(32, 32, 192, 5, 1),
    _BlockSpec(32, 64, 192, 3, 2),
    _BlockSpec(64, 64, 384, 3, 1),
    _BlockSpec(64, 64, 384, 3, 1),
    _BlockSpec(64, 88, 384, 5, 1),
    _BlockSpec(88, 88, 528, 5, 1),
    _BlockSpec(88, 88, 528, 5, 1),
    _BlockSpec(88, 144, 528, 5, 2),
    _BlockSpec(144, 144, 864, 5, 1),
    _BlockSpec(144, 144, 864, 5, 1),
    _BlockSpec(144, 144, 864, 5, 1),
)
#: Encoder block whose output feeds the decoder at stride 4, 8 and 16.
SKIP_BLOCKS = {4: 2, 8: 4, 16: 10}
DECODER_CHANNELS = 48
REGRESSION_CHANNELS = 288
NECK_CHANNELS = 864


def _relu6(x: Tensor) -> Tensor:
    """In place: every input here is a fresh convolution output or sum (saves a copy)."""
    return F.relu6(x, inplace=True)


def _depthwise(
    channels: int, kernel: int, stride: int = 1, padding: int | None = None
) -> nn.Conv2d:
    pad = kernel // 2 if padding is None else padding
    return nn.Conv2d(channels, channels, kernel, stride=stride, padding=pad, groups=channels)


class InvertedResidual(nn.Module):
    """[expand 1x1 + ReLU6] -> depthwise kxk + ReLU6 -> project 1x1 (linear) [+ input].

    Stride-2 blocks pad symmetrically by k // 2, as the graph's explicit PAD does.
    """

    def __init__(self, spec: _BlockSpec) -> None:
        super().__init__()
        hidden = spec.hidden or spec.cin
        self.expand = nn.Conv2d(spec.cin, hidden, 1) if spec.hidden else None
        self.depthwise = _depthwise(hidden, spec.kernel, spec.stride)
        self.project = nn.Conv2d(hidden, spec.cout, 1)
        self.residual = spec.cin == spec.cout and spec.stride == 1

    def forward(self, x: Tensor) -> Tensor:
        y = _relu6(self.expand(x)) if self.expand is not None else x
        y = self.project(_relu6(self.depthwise(y)))
        return x + y if self.residual else y


class Neck(nn.Module):
    """Expand 1x1 + ReLU6, depthwise 3x3 + ReLU6 (864 channels, stride 32)."""

    def __init__(self, cin: int, hidden: int) -> None:
        super().__init__()
        self.expand = nn.Conv2d(cin, hidden, 1)
        self.depthwise = _depthwise(hidden, 3)

    def forward(self, x: Tensor) -> Tensor:
        return _relu6(self.depthwise(_relu6(self.expand(x))))


class SeparableConv(nn.Module):
    """Depthwise 3x3 + ReLU6, pointwise 1x1 + ReLU6."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = _depthwise(cin, 3)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return _relu6(self.pointwise(_relu6(self.depthwise(x))))


class BlazeBlock(nn.Module):
    """ReLU6(x' + pointwise(ReLU6(depthwise(x)))) where x' = x, or for stride 2 the 2x2
    max-pool of x. Stride 2 uses TensorFlow 'SAME' padding: for an even input size
    that is one row/column at the bottom/right only."""

    def __init__(self, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.depthwise = _depthwise(channels, 3, stride, padding=1 if stride == 1 else 0)
        self.pointwise = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            y, skip = self.depthwise(x), x
        else:
            y, skip = self.depthwise(F.pad(x, (0, 1, 0, 1))), F.max_pool2d(x, 2, 2)
        return _relu6(skip + self.pointwise(_relu6(y)))


class Regression(nn.Module):
    """From the neck (8 x 8 x 864) to landmarks (B, 39, 5) and the pose-present logit."""

    def __init__(self) -> None:
        super().__init__()
        c = REGRESSION_CHANNELS
        self.entry = SeparableConv(NECK_CHANNELS, c)
        self.stage1 = nn.Sequential(BlazeBlock(c, 2), *[BlazeBlock(c) for _ in range(4)])
        self.stage2 = nn.Sequential(BlazeBlock(c, 2), *[BlazeBlock(c) for _ in range(5)])
        self.landmarks = nn.Conv2d(c, NUM_LANDMARKS * 5, 2)
        self.pose_flag = nn.Conv2d(c, 1, 2)

    def forward(self, neck: Tensor) -> tuple[Tensor, Tensor]:
        x = self.stage2(self.stage1(self.entry(neck)))
        landmarks = self.landmarks(x).flatten(1).unflatten(1, (NUM_LANDMARKS, 5))
        return landmarks, self.pose_flag(x).flatten(1)[:, 0]


def _upsample_add(x: Tensor, skip: Tensor) -> Tensor:
    """2x bilinear with half-pixel centres (TF ``half_pixel_centers``) plus the skip."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False) + skip


class BlazePose(nn.Module):
    """BlazePose GHUM full without the segmentation branch.

    ``forward(x)`` with ``x`` (B, 3, 256, 256) RGB in 0..1 returns ``landmarks``
    (B, 39, 5), ``heatmaps`` (B, 39, 64, 64) logits, ``pose_score`` (B,) in 0..1 and
    ``features`` (B, 48, 64, 64).
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 24, 3, stride=2, padding=1)
        self.blocks = nn.ModuleList(InvertedResidual(s) for s in ENCODER_BLOCKS)
        self.neck = Neck(ENCODER_BLOCKS[-1].cout, NECK_CHANNELS)
        d = DECODER_CHANNELS
        self.top = SeparableConv(NECK_CHANNELS, d)
        self.skip16 = SeparableConv(ENCODER_BLOCKS[SKIP_BLOCKS[16]].cout, d)
        self.skip8 = SeparableConv(ENCODER_BLOCKS[SKIP_BLOCKS[8]].cout, d)
        self.skip4 = SeparableConv(ENCODER_BLOCKS[SKIP_BLOCKS[4]].cout, d)
        self.heatmap = nn.Conv2d(d, NUM_HEATMAPS, 1)
        self.regression = Regression()
        # channels-last weights and activations: ~3x faster depthwise convolutions on CPU
        for p in self.parameters():
            if p.dim() == 4:
                p.data = p.data.contiguous(memory_format=torch.channels_last)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B,3,H,W) in 0..1 -> (stride-4 features (B,48,H/4,W/4), neck (B,864,H/32,W/32)).

        Runs channels-last (measured 3x faster on CPU: depthwise convolutions); the
        returned tensors are contiguous again.
        """
        x = _relu6(self.stem(x.contiguous(memory_format=torch.channels_last)))
        taps: dict[int, Tensor] = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            for stride, index in SKIP_BLOCKS.items():
                if i == index:
                    taps[stride] = x
        neck = self.neck(x)
        d = _upsample_add(self.top(neck), self.skip16(taps[16]))
        d = _upsample_add(d, self.skip8(taps[8]))
        d = _upsample_add(d, self.skip4(taps[4]))
        return d.contiguous(), neck

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        features, neck = self.encode(x)
        landmarks, flag = self.regression(neck)
        return {
            "landmarks": landmarks,
            "heatmaps": self.heatmap(features).contiguous(),
            "pose_score": torch.sigmoid(flag),
            "features": features,
        }


class BlazePoseBackbone(nn.Module):
    """BlazePose as a semapose backbone: ImageNet-normalised crops -> (B, 48, H/4, W/4).

    Undoes :func:`semapose.data.transforms.normalize_image` (the model wants RGB in
    0..1). :meth:`forward_outputs` also returns BlazePose's own outputs (landmarks,
    heatmaps, pose score) for the same crops.
    """

    out_channels = DECODER_CHANNELS
    stride = 4
    mean: Tensor
    std: Tensor
    mixing: Tensor

    def __init__(self) -> None:
        super().__init__()
        from semapose.keypoints import blazepose_mixing_matrix

        self.net = BlazePose()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)
        mixing = torch.from_numpy(blazepose_mixing_matrix()).float()
        self.register_buffer("mixing", mixing, False)

    def unnormalize(self, x: Tensor) -> Tensor:
        return x * self.std + self.mean

    def forward(self, x: Tensor) -> Tensor:
        return self.net.encode(self.unnormalize(x))[0]

    def forward_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """BlazePose's own output dict for ImageNet-normalised 256 x 256 crops."""
        return self.net(self.unnormalize(x))

    def forward_with_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """``features`` plus the per-crop extras of the pipeline: ``pose_score`` (N,),
        ``keypoints`` (N, 17, 2) PoseTrack18 slots in crop pixels (regression output
        refined by the heatmaps, as MediaPipe does), ``keypoint_scores`` (N, 17) and
        ``landmarks`` (N, 33, 4): all 33 body landmarks, refined the same way, as crop-pixel
        x, y, visibility, presence (:func:`body_landmarks`). Needs 256 x 256 crops."""
        from semapose.models.backbones.blazepose_landmarks import (
            body_landmarks,
            posetrack_keypoints,
        )

        out = self.forward_outputs(x)
        keypoints, scores = posetrack_keypoints(out["landmarks"], self.mixing, out["heatmaps"])
        return {
            "features": out["features"],
            "pose_score": out["pose_score"],
            "keypoints": keypoints,
            "keypoint_scores": scores,
            "landmarks": body_landmarks(out["landmarks"], out["heatmaps"]),
        }
