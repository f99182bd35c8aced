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

:func:`convert_tflite` maps the tflite tensors onto this module's state dict
(conv OHWI -> OIHW, depthwise 1HWC -> C1HW, fp16 -> fp32) by walking the graph from
its input, checking every layer's kind, shape, stride, padding and activation.
:func:`load_blazepose` converts once into a safetensors file in the user cache
(keyed by the tflite's sha256) and loads that afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semapose.errors import CheckpointError

if TYPE_CHECKING:
    from semapose.weights.tflite import TFLiteModel, TFLiteOperator

__all__ = [
    "BlazePose",
    "BlazePoseBackbone",
    "convert_tflite",
    "load_blazepose",
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
        refined by the heatmaps, as MediaPipe does) and ``keypoint_scores`` (N, 17).
        Needs 256 x 256 crops."""
        out = self.forward_outputs(x)
        keypoints, scores = posetrack_keypoints(out["landmarks"], self.mixing, out["heatmaps"])
        return {
            "features": out["features"],
            "pose_score": out["pose_score"],
            "keypoints": keypoints,
            "keypoint_scores": scores,
        }


# ----------------------------------------------------------------------------- conversion


class _GraphWalker:
    """Follows the tflite graph from its input, handing out each layer's weights.

    Each call finds the one operator of the expected kind that consumes the given
    tensor, checks its options against the module's layer, and records the weights
    under the module's parameter names.
    """

    def __init__(self, model: TFLiteModel) -> None:
        self.m = model
        self.state: dict[str, Tensor] = {}
        self.used: set[int] = set()
        self.consumers: dict[int, list[int]] = {}
        for op in model.operators:
            for t in op.inputs:
                if t >= 0:
                    self.consumers.setdefault(t, []).append(op.index)

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(
            f"{self.m.path}: not the BlazePose GHUM full graph semapose knows ({what})"
        )

    def channels(self, tensor: int) -> int:
        return self.m.tensors[tensor].shape[-1]

    def consumer(self, tensor: int, opcode: str, out_channels: int | None = None) -> int:
        """The operator of kind ``opcode`` reading ``tensor`` (through a PAD, if any)."""
        found = []
        for i in self.consumers.get(tensor, []):
            op = self.m.operators[i]
            if op.opcode == "PAD" and opcode != "PAD":
                found += [j for j in self.consumers.get(op.outputs[0], [])]
            elif op.opcode == opcode:
                found.append(i)
        found = [
            i
            for i in found
            if self.m.operators[i].opcode == opcode
            and (
                out_channels is None
                or self.channels(self.m.operators[i].outputs[0]) == out_channels
            )
            and i not in self.used
        ]
        if len(found) != 1:
            raise self.fail(
                f"{len(found)} {opcode} layers with {out_channels} outputs read tensor {tensor}"
            )
        return found[0]

    def layer(
        self,
        name: str,
        conv: nn.Module,
        op_index: int,
        activation: str,
    ) -> int:
        """Store ``op_index``'s weights as ``name`` after checking them against ``conv``."""
        assert isinstance(conv, nn.Conv2d), name
        op = self.m.operators[op_index]
        depthwise = op.opcode == "DEPTHWISE_CONV_2D"
        weight = torch.from_numpy(np.ascontiguousarray(self.m.constant(op.inputs[1])))
        weight = weight.permute(3, 0, 1, 2) if depthwise else weight.permute(0, 3, 1, 2)
        bias = torch.from_numpy(np.ascontiguousarray(self.m.constant(op.inputs[2])))
        o = op.options
        expected = {
            "weight": tuple(conv.weight.shape),
            "stride": conv.stride[0],
            "activation": activation,
            "depthwise": conv.groups > 1,
        }
        got = {
            "weight": tuple(weight.shape),
            "stride": o["stride_h"],
            "activation": o["fused_activation"],
            "depthwise": depthwise,
        }
        if expected != got or o["stride_w"] != o["stride_h"] or o["dilation_h"] != 1:
            raise self.fail(f"layer {name}: expected {expected}, got {got} (operator {op.index})")
        self._check_padding(name, conv, op)
        self.state[f"{name}.weight"] = weight.float()
        self.state[f"{name}.bias"] = bias.float()
        self.used.add(op_index)
        return op.outputs[0]

    def _check_padding(self, name: str, conv: nn.Conv2d, op: TFLiteOperator) -> None:
        """Our padding must equal the graph's: SAME at stride 1 (symmetric for odd
        kernels), explicit symmetric PAD + VALID at stride 2, or SAME at stride 2 where
        we pad bottom/right (padding 0 here, ``F.pad`` in the forward)."""
        kernel, stride, ours = conv.kernel_size[0], conv.stride[0], conv.padding[0]
        graph = op.options["padding"]
        pad_op = next(
            (p for p in self.m.operators if p.opcode == "PAD" and p.outputs[0] == op.inputs[0]),
            None,
        )
        pads = None
        if pad_op is not None:
            pads = self.m.constant(pad_op.inputs[1]).astype(int).tolist()
            self.used.add(pad_op.index)
        if kernel == 1 or (ours == 0 and graph == "VALID" and pad_op is None and stride == 1):
            ok = kernel == 1 or graph == "VALID"
        elif stride == 1:
            ok = ours == kernel // 2 and graph == "SAME" and pad_op is None
        elif ours == 0:
            ok = graph == "SAME" and pad_op is None
        else:
            ok = graph == "VALID" and pads == [[0, 0], [ours, ours], [ours, ours], [0, 0]]
        if not ok:
            raise self.fail(
                f"layer {name}: padding {graph} {pads} where the module pads {ours} "
                f"(operator {op.index})"
            )

    def op_reading(self, tensor: int, opcode: str, *others: int) -> int:
        """The output of the ``opcode`` operator whose inputs are ``tensor`` (+ ``others``)."""
        want = {tensor, *others}
        for i in self.consumers.get(tensor, []):
            op = self.m.operators[i]
            if op.opcode == opcode and set(op.inputs[: len(want)]) == want and i not in self.used:
                self.used.add(i)
                return op.outputs[0]
        raise self.fail(f"no {opcode} reads tensors {sorted(want)}")

    def relu6_add(self, op_out: int) -> None:
        producer = next(op for op in self.m.operators if op_out in op.outputs)
        if producer.options.get("fused_activation") != "RELU6":
            raise self.fail(f"operator {producer.index} should end in ReLU6")


def convert_tflite(path: str | Path) -> dict[str, Tensor]:
    """The state dict of :class:`BlazePose` from ``pose_landmark_full.tflite``.

    Raises :class:`CheckpointError` naming the file when it is not a TFLite file or
    not this network (any layer of unexpected kind, shape, stride or activation).
    """
    from semapose.weights.tflite import read_tflite

    model = read_tflite(path)
    net = BlazePose()
    w = _GraphWalker(model)
    if len(model.inputs) != 1 or model.tensors[model.inputs[0]].shape != (1, 256, 256, 3):
        raise w.fail("expected one input of shape (1, 256, 256, 3)")
    x = model.inputs[0]
    x = w.layer("stem", net.stem, w.consumer(x, "CONV_2D", 24), "RELU6")
    taps: dict[int, int] = {}
    blocks = cast("list[InvertedResidual]", list(net.blocks))
    for i, (spec, block) in enumerate(zip(ENCODER_BLOCKS, blocks, strict=True)):
        name = f"blocks.{i}"
        y = x
        if block.expand is not None:
            y = w.layer(
                f"{name}.expand", block.expand, w.consumer(y, "CONV_2D", spec.hidden), "RELU6"
            )
        y = w.layer(
            f"{name}.depthwise", block.depthwise, w.consumer(y, "DEPTHWISE_CONV_2D"), "RELU6"
        )
        y = w.layer(f"{name}.project", block.project, w.consumer(y, "CONV_2D", spec.cout), "NONE")
        x = w.op_reading(y, "ADD", x) if block.residual else y
        for stride, index in SKIP_BLOCKS.items():
            if i == index:
                taps[stride] = x
    x = w.layer("neck.expand", net.neck.expand, w.consumer(x, "CONV_2D", NECK_CHANNELS), "RELU6")
    neck = w.layer(
        "neck.depthwise", net.neck.depthwise, w.consumer(x, "DEPTHWISE_CONV_2D"), "RELU6"
    )

    def separable(name: str, mod: SeparableConv, t: int, cout: int) -> int:
        dw_candidates = [
            i
            for i in w.consumers.get(t, [])
            if model.operators[i].opcode == "DEPTHWISE_CONV_2D" and i not in w.used
        ]
        for i in dw_candidates:
            out = model.operators[i].outputs[0]
            pw = [
                j
                for j in w.consumers.get(out, [])
                if model.operators[j].opcode == "CONV_2D"
                and w.channels(model.operators[j].outputs[0]) == cout
            ]
            if len(pw) == 1:
                d = w.layer(f"{name}.depthwise", mod.depthwise, i, "RELU6")
                return w.layer(
                    f"{name}.pointwise", mod.pointwise, w.consumer(d, "CONV_2D", cout), "RELU6"
                )
        raise w.fail(f"no depthwise + pointwise to {cout} channels for {name}")

    d = separable("top", net.top, neck, DECODER_CHANNELS)
    for stride, mod_name in ((16, "skip16"), (8, "skip8"), (4, "skip4")):
        s = separable(mod_name, getattr(net, mod_name), taps[stride], DECODER_CHANNELS)
        up = w.op_reading(d, "RESIZE_BILINEAR")
        op = next(o for o in model.operators if up in o.outputs)
        if op.options != {"align_corners": 0, "half_pixel_centers": True}:
            raise w.fail(f"resize operator {op.index}: {op.options}")
        d = w.op_reading(up, "ADD", s)
    features = d
    heat = w.layer("heatmap", net.heatmap, w.consumer(features, "CONV_2D", NUM_HEATMAPS), "NONE")

    r = net.regression
    x = separable("regression.entry", r.entry, neck, REGRESSION_CHANNELS)
    for stage_name, stage in (("stage1", r.stage1), ("stage2", r.stage2)):
        for k, blaze in enumerate(cast("list[BlazeBlock]", list(stage))):
            name = f"regression.{stage_name}.{k}"
            y = w.layer(
                f"{name}.depthwise", blaze.depthwise, w.consumer(x, "DEPTHWISE_CONV_2D"), "RELU6"
            )
            y = w.layer(f"{name}.pointwise", blaze.pointwise, w.consumer(y, "CONV_2D"), "NONE")
            if blaze.stride == 2:
                pooled = w.op_reading(x, "MAX_POOL_2D")
                pool_op = next(o for o in model.operators if pooled in o.outputs)
                if (pool_op.options["filter_h"], pool_op.options["stride_h"]) != (2, 2):
                    raise w.fail(f"max-pool operator {pool_op.index}: {pool_op.options}")
                x = w.op_reading(y, "ADD", pooled)
            else:
                x = w.op_reading(y, "ADD", x)
            w.relu6_add(x)
    lm = w.layer(
        "regression.landmarks", r.landmarks, w.consumer(x, "CONV_2D", NUM_LANDMARKS * 5), "NONE"
    )
    flag = w.layer("regression.pose_flag", r.pose_flag, w.consumer(x, "CONV_2D", 1), "NONE")
    outputs = [model.tensors[i].name for i in model.outputs]
    _check_output(w, lm, "RESHAPE", outputs)
    _check_output(w, heat, None, outputs)
    sig = w.op_reading(flag, "LOGISTIC")
    _check_output(w, sig, "RESHAPE", outputs)
    missing = set(net.state_dict()) - set(w.state)
    if missing:
        raise w.fail(f"layers without weights: {sorted(missing)[:3]}")
    return w.state


def _check_output(w: _GraphWalker, tensor: int, via: str | None, outputs: list[str]) -> None:
    t = w.op_reading(tensor, via) if via else tensor
    if t not in w.m.outputs:
        raise w.fail(f"tensor {w.m.tensors[t].name!r} should be a graph output ({outputs})")


def converted_path(tflite: str | Path) -> Path:
    """Where the safetensors conversion of ``tflite`` is cached (keyed by its sha256)."""
    from semapose.weights.download import cache_dir, sha256_file

    return cache_dir() / "converted" / f"blazepose_full-{sha256_file(tflite)[:16]}.safetensors"


def load_state(path: str | Path) -> dict[str, Tensor]:
    """BlazePose's state dict from a ``.tflite`` (converted once, cached) or a
    ``.safetensors`` file written by this module."""
    from semapose.weights.download import sha256_file
    from semapose.weights.read import check_finite, read_safetensors, save_state_dict_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: BlazePose weights not found")
    if path.suffix == ".safetensors":
        state = read_safetensors(path)[0]
        check_finite(state, path)
        return state
    from semapose.weights.tensor_digest import DIGEST_KEY, layout_mismatch, tensors_digest

    cached = converted_path(path)
    if cached.is_file():
        try:
            state, meta = read_safetensors(cached)
            check_finite(state, cached)
            # a cache entry is used only when its content checksum and layout hold (a zeroed
            # or wrong-shape entry is rebuilt, not blamed on the .tflite)
            if meta.get(DIGEST_KEY) == tensors_digest(state) and not layout_mismatch(
                state, BlazePose().state_dict()
            ):
                return state
        except CheckpointError:  # a damaged cache entry is rebuilt
            pass
    state = convert_tflite(path)
    check_finite(state, path)
    meta = {"converted_from_sha256": sha256_file(path), DIGEST_KEY: tensors_digest(state)}
    save_state_dict_file(cached, state, meta)
    return state


def load_blazepose(path: str | Path | None = None) -> BlazePose:
    """BlazePose GHUM full with its weights, in eval mode.

    ``path``: ``pose_landmark_full.tflite`` (or our safetensors conversion of it);
    ``None`` fetches it with :func:`semapose.weights.assets.fetch_asset`.
    """
    if path is None:
        from semapose.weights.assets import fetch_asset

        path = fetch_asset("blazepose_full")
    net = BlazePose()
    state = load_state(path)
    from semapose.models.checkpoints import check_and_load

    check_and_load(net, state, path=str(path), layout="semapose", what="blazepose")
    return net.eval()


def refine_landmarks_torch(
    landmarks: Tensor, heatmaps: Tensor, kernel: int = 7, min_confidence: float = 0.5
) -> tuple[Tensor, Tensor]:
    """:func:`refine_landmarks` in torch (same numbers, batched, runs on the model's
    device): refined (x, y) (N, J, 2) in crop pixels (corner convention), window
    maxima (N, J)."""
    n, j, h, w = heatmaps.shape
    off = (kernel - 1) // 2
    prob = F.pad(torch.sigmoid(heatmaps), (off, off, off, off))  # zero border
    col = torch.floor(landmarks[..., 0] / INPUT_SIZE * w).long()
    row = torch.floor(landmarks[..., 1] / INPUT_SIZE * h).long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    d = torch.arange(-off, off + 1, device=heatmaps.device)
    rr = row.clamp(0, h - 1)[..., None, None] + d[:, None]  # (n, j, k, 1)
    cc = col.clamp(0, w - 1)[..., None, None] + d[None, :]  # (n, j, 1, k)
    ni = torch.arange(n, device=heatmaps.device)[:, None, None, None]
    ji = torch.arange(j, device=heatmaps.device)[None, :, None, None]
    window = prob[ni, ji, rr + off, cc + off]  # (n, j, k, k)
    total = window.sum(dim=(-1, -2))
    peak = window.amax(dim=(-1, -2))
    ok = inside & (peak >= min_confidence) & (total > 0)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    mean_c = (window * cc.to(window.dtype)).sum(dim=(-1, -2)) / safe
    mean_r = (window * rr.to(window.dtype)).sum(dim=(-1, -2)) / safe
    x = torch.where(ok, mean_c / w * INPUT_SIZE, landmarks[..., 0])
    y = torch.where(ok, mean_r / h * INPUT_SIZE, landmarks[..., 1])
    return torch.stack([x, y], dim=-1), torch.where(inside, peak, torch.zeros_like(peak))


def posetrack_keypoints(
    landmarks: Tensor, mixing: Tensor, heatmaps: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """BlazePose landmarks (N, 39, 5) -> PoseTrack18 keypoints (N, 17, 2) and scores (N, 17).

    With ``heatmaps`` (N, 39, h, w) the landmarks are first refined as MediaPipe does
    (:func:`refine_landmarks_torch`; the default decoding, measured best on the
    PoseTrack18 sample). Points move from BlazePose's pixel-corner convention (0 = left
    edge of the crop) to semapose's pixel-centre one (0 = centre of the first pixel):
    minus half a pixel. ``mixing`` is :func:`semapose.keypoints.blazepose_mixing_matrix`
    (17, 33). A joint's score is its visibility (sigmoid of the visibility logit, capped
    by the refinement window's maximum as MediaPipe does); head_bottom/head_top take the
    lowest score of the landmarks their rule reads.
    """
    from semapose.keypoints import BLAZEPOSE_HEAD_LANDMARKS, BLAZEPOSE_TO_POSETRACK18

    body = landmarks[:, : mixing.shape[1]]
    xy = body[..., :2]
    vis = torch.sigmoid(body[..., 3])
    if heatmaps is not None:
        xy, peak = refine_landmarks_torch(body, heatmaps[:, : mixing.shape[1]])
        vis = torch.minimum(vis, peak)
    points = torch.einsum("kj,njd->nkd", mixing.to(xy.dtype), xy) - 0.5
    head = vis[:, list(BLAZEPOSE_HEAD_LANDMARKS)].amin(dim=1, keepdim=True)
    idx = [max(j, 0) for j in BLAZEPOSE_TO_POSETRACK18]
    scores = vis[:, idx]
    scores = torch.cat([scores[:, :1], head, head, scores[:, 3:]], dim=1)
    return points, scores


def refine_landmarks(
    landmarks: np.ndarray,
    heatmaps: np.ndarray,
    kernel: int = 7,
    min_confidence: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's heatmap refinement of the regressed landmarks (its pose graph's
    ``RefineLandmarksFromHeatmapCalculator``, kernel 7, threshold 0.5).

    ``landmarks`` (N, 39, 5) as the model outputs them (crop pixels, corner convention),
    ``heatmaps`` (N, 39, h, w) logits. For each landmark, the sigmoid of its heatmap in
    the ``kernel`` x ``kernel`` window around the landmark's heatmap cell weights the
    cells' indices; where the window's maximum reaches ``min_confidence`` the landmark
    moves to that weighted mean (MediaPipe maps cell index ``c`` to ``c / w`` of the
    crop, i.e. the cell's corner, which this keeps). Returns refined (x, y) (N, 39, 2)
    in crop pixels (corner convention) and the window maxima (N, 39), which MediaPipe
    uses to cap visibility and presence.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    hm = np.asarray(heatmaps, dtype=np.float64)
    n, j, h, w = hm.shape
    size = INPUT_SIZE
    xy = lm[..., :2].copy()
    col = np.floor(lm[..., 0] / size * w).astype(np.int64)
    row = np.floor(lm[..., 1] / size * h).astype(np.int64)
    off = (kernel - 1) // 2
    d = np.arange(-off, off + 1)
    rr = row[..., None, None] + d[:, None]  # (n, j, k, 1)
    cc = col[..., None, None] + d[None, :]  # (n, j, 1, k)
    valid = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    ni = np.arange(n)[:, None, None, None]
    ji = np.arange(j)[None, :, None, None]
    prob = 1.0 / (1.0 + np.exp(-hm[ni, ji, np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)]))
    prob = np.where(valid, prob, 0.0)
    total = prob.sum(axis=(-1, -2))
    peak = prob.max(axis=(-1, -2))
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    ok = inside & (peak >= min_confidence) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    mean_c = (prob * cc).sum(axis=(-1, -2)) / safe
    mean_r = (prob * rr).sum(axis=(-1, -2)) / safe
    xy[..., 0] = np.where(ok, mean_c / w * size, xy[..., 0])
    xy[..., 1] = np.where(ok, mean_r / h * size, xy[..., 1])
    return xy, np.where(inside, peak, 0.0)


# ----------------------------------------------------------------------------- PoseTrack head

#: Bundled 1x1 channels for head_bottom/head_top fitted on synthetic video
#: (benchmarks/blazepose_head_fit.py writes it).
HEAD_FIT_FILE = "blazepose_head.safetensors"
#: BlazePose heatmap channels whose mean initialises head_bottom / head_top when the
#: fitted channels are not available: the mouth corners / the six eye points.
_HEAD_FALLBACK_CHANNELS = {1: (9, 10), 2: (1, 2, 3, 4, 5, 6)}


class BlazePoseHead(nn.Module):
    """1x1 convolution (``final_layer``, as HRNet's head) + sigmoid: heatmaps in 0..1.

    BlazePose's heatmaps are logits; the sigmoid makes them probabilities, which the
    codec (argmax + DARK) decodes and which train against the codec's Gaussian targets.
    """

    def __init__(self, in_channels: int = DECODER_CHANNELS, num_joints: int = 17) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.upsample = 1
        self.final_layer = nn.Conv2d(in_channels, num_joints, 1)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        assert self.final_layer.bias is not None
        nn.init.zeros_(self.final_layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.final_layer(x))


def head_fit_path() -> Path:
    return Path(__file__).resolve().parents[2] / "weights" / HEAD_FIT_FILE


def posetrack_head_state(
    net_state: dict[str, Tensor], fitted: str | Path | None = None
) -> dict[str, Tensor]:
    """``final_layer`` weights of the 17-slot :class:`BlazePoseHead` from BlazePose's.

    The 13 shared joints and the ears copy BlazePose's heatmap channel of their landmark
    (so the head decodes to BlazePose's own heatmaps). head_bottom/head_top come from
    the fitted channels file (default: the bundled one, fitted on synthetic video with
    exact head points; else the mean of the mouth / eye channels, which sits lower).
    """
    from semapose.keypoints import BLAZEPOSE_TO_POSETRACK18
    from semapose.weights.read import read_safetensors

    w = net_state["heatmap.weight"]  # (39, 48, 1, 1)
    b = net_state["heatmap.bias"]
    weight = torch.zeros(17, w.shape[1], 1, 1, dtype=w.dtype)
    bias = torch.zeros(17, dtype=b.dtype)
    for slot, j in enumerate(BLAZEPOSE_TO_POSETRACK18):
        if j >= 0:
            weight[slot], bias[slot] = w[j], b[j]
    path = Path(fitted) if fitted is not None else head_fit_path()
    if path.is_file():
        fit = read_safetensors(path)[0]
        for slot, name in ((1, "head_bottom"), (2, "head_top")):
            weight[slot, :, 0, 0] = fit[f"{name}.weight"].to(w.dtype)
            bias[slot] = fit[f"{name}.bias"].to(b.dtype).reshape(())
    else:
        for slot, chans in _HEAD_FALLBACK_CHANNELS.items():
            weight[slot], bias[slot] = w[list(chans)].mean(0), b[list(chans)].mean()
    return {"final_layer.weight": weight, "final_layer.bias": bias}


def blazepose_posetrack_head(
    path: str | Path | None = None, fitted: str | Path | None = None
) -> BlazePoseHead:
    """The 17-slot PoseTrack18 head initialised from BlazePose (see
    :func:`posetrack_head_state`); ``path`` as in :func:`load_blazepose`."""
    if path is None:
        from semapose.weights.assets import fetch_asset

        path = fetch_asset("blazepose_full")
    head = BlazePoseHead()
    head.load_state_dict(posetrack_head_state(load_state(path), fitted))
    return head


def pretrained_parts(path: str | Path) -> dict[str, dict[str, Tensor]]:
    """``{"backbone": BlazePoseBackbone state, "head": BlazePoseHead state}`` from the
    ``.tflite`` (or our safetensors conversion) -- what ``models/build.py`` loads."""
    state = load_state(path)
    return {
        "backbone": {f"net.{k}": v for k, v in state.items()},
        "head": posetrack_head_state(state),
    }
