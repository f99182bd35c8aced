"""A TFLite graph of convolutional layers as a PyTorch module (MediaPipe's pose detector).

:func:`build_tflite_net` turns the operators of a model read by
:mod:`semapose.weights.tflite` into the steps of :class:`TFLiteNet`, in the file's
order (TFLite stores operators topologically sorted). Constants are followed through
``DEQUANTIZE`` (fp16) and ``DENSIFY`` (block-sparse) once, at build time. Layers,
NHWC in the file and NCHW here:

- ``CONV_2D`` (OHWI kernels), ``DEPTHWISE_CONV_2D`` (1HWC, multiplier 1): ``nn.Conv2d``;
  ``VALID`` or ``SAME`` at stride 1 (symmetric); fused ``RELU``/``RELU6``;
- ``PAD`` (constant zero, the spatial paddings), ``ADD`` (with its fused activation);
- ``RESIZE_BILINEAR`` (``half_pixel_centers``, not ``align_corners``): ``F.interpolate``;
- ``DEPTH_TO_SPACE``: TensorFlow's channel order (DCR), not ``pixel_shuffle``'s;
- ``RESHAPE`` to ``(1, N, K)`` of an NHWC map (the heads), ``CONCATENATION``.

Anything else is a :class:`CheckpointError` naming the operator. ``forward`` takes
the model's input as ``(B, 3, H, W)`` and returns its outputs in file order; it has
no data-dependent control flow (traceable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semapose.errors import CheckpointError
from semapose.weights.tflite import TFLiteModel

__all__ = ["TFLiteNet", "build_tflite_net"]

_CONSTANT_OPS = ("DEQUANTIZE", "DENSIFY")


@dataclass(frozen=True)
class _Step:
    op: str
    inputs: tuple[int, ...]  # slots
    module: int = -1
    act: str = "NONE"
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)
    size: tuple[int, ...] = ()
    axis: int = 0


class TFLiteNet(nn.Module):
    """The steps of a TFLite graph (see the module docstring)."""

    def __init__(self, convs: list[nn.Conv2d], steps: list[_Step], outputs: list[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.steps = steps
        self.outputs = outputs

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        slots: list[torch.Tensor] = [x]
        for s in self.steps:
            a = slots[s.inputs[0]]
            if s.op == "CONV":
                y = self.convs[s.module](F.pad(a, s.pad) if any(s.pad) else a)
            elif s.op == "PAD":
                y = F.pad(a, s.pad)
            elif s.op == "ADD":
                y = a + slots[s.inputs[1]]
            elif s.op == "RESIZE":
                y = F.interpolate(a, size=s.size, mode="bilinear", align_corners=False)
            elif s.op == "D2S":
                b, c, h, w = a.shape
                bs = s.size[0]
                y = a.reshape(b, bs, bs, c // (bs * bs), h, w).permute(0, 3, 4, 1, 5, 2)
                y = y.reshape(b, c // (bs * bs), h * bs, w * bs)
            elif s.op == "RESHAPE":
                y = a.permute(0, 2, 3, 1).reshape(a.shape[0], -1, s.size[-1])
            else:  # CONCAT
                y = torch.cat([slots[i] for i in s.inputs], dim=s.axis)
            if s.act == "RELU6":
                y = y.clamp(0.0, 6.0)
            elif s.act == "RELU":
                y = y.clamp(min=0.0)
            slots.append(y)
        return [slots[i] for i in self.outputs]


def build_tflite_net(model: TFLiteModel) -> TFLiteNet:
    """The :class:`TFLiteNet` of ``model`` (one input, NHWC float)."""
    path = model.path
    if len(model.inputs) != 1:
        raise CheckpointError(f"{path}: expected one input, got {len(model.inputs)}")
    slot_of = {model.inputs[0]: 0}
    convs: list[nn.Conv2d] = []
    steps: list[_Step] = []
    for op in model.operators:
        if op.opcode in _CONSTANT_OPS:
            continue

        def fail(what: str, op: object = op) -> CheckpointError:
            return CheckpointError(f"{path}: operator {op.index} ({op.opcode}): {what}")  # type: ignore[attr-defined]

        data = [i for i in op.inputs if i >= 0 and i in slot_of]
        out_shape = model.tensors[op.outputs[0]].shape
        act = op.options.get("fused_activation", "NONE")
        if act not in ("NONE", "RELU", "RELU6"):
            raise fail(f"fused activation {act}")
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            convs.append(_conv(model, op.opcode, op.inputs, op.options, fail))
            k = convs[-1].kernel_size[0]
            if op.options["padding"] == "SAME" and (op.options["stride_h"] != 1 or k % 2 == 0):
                raise fail("SAME padding only at stride 1 with odd kernels")
            step = _Step("CONV", (slot_of[op.inputs[0]],), len(convs) - 1, act)
        elif op.opcode == "PAD":
            p = np.asarray(model.constant(op.inputs[1])).astype(int).reshape(4, 2)
            if p[0].any() or p[3].any():
                raise fail("padding of the batch or channel axis")
            pad = (int(p[2, 0]), int(p[2, 1]), int(p[1, 0]), int(p[1, 1]))
            step = _Step("PAD", (slot_of[op.inputs[0]],), pad=pad)
        elif op.opcode == "ADD" and len(data) == 2:
            step = _Step("ADD", (slot_of[data[0]], slot_of[data[1]]), act=act)
        elif op.opcode == "RESIZE_BILINEAR":
            if op.options.get("align_corners") or not op.options.get("half_pixel_centers"):
                raise fail("expected half-pixel centres without aligned corners")
            step = _Step("RESIZE", (slot_of[op.inputs[0]],), size=tuple(out_shape[1:3]))
        elif op.opcode == "DEPTH_TO_SPACE":
            step = _Step("D2S", (slot_of[op.inputs[0]],), size=(int(op.options["block_size"]),))
        elif op.opcode == "RESHAPE" and len(out_shape) == 3:
            step = _Step("RESHAPE", (slot_of[op.inputs[0]],), size=tuple(out_shape))
        elif op.opcode == "CONCATENATION" and len(data) == len(op.inputs):
            rank = len(model.tensors[op.inputs[0]].shape)
            axis = int(op.options["axis"]) % rank
            axis = (0, 2, 3, 1)[axis] if rank == 4 else axis
            step = _Step("CONCAT", tuple(slot_of[i] for i in op.inputs), act=act, axis=axis)
        else:
            raise fail("an operator the converter does not handle")
        steps.append(step)
        slot_of[op.outputs[0]] = len(steps)
    missing = [i for i in model.outputs if i not in slot_of]
    if missing:
        raise CheckpointError(f"{path}: outputs {missing} are not computed by the graph")
    return TFLiteNet(convs, steps, [slot_of[i] for i in model.outputs]).eval()


def _conv(model: TFLiteModel, opcode: str, inputs: tuple[int, ...], options: dict, fail):  # type: ignore[no-untyped-def]
    w = np.asarray(model.constant(inputs[1]), dtype=np.float32)
    if w.ndim != 4 or w.shape[1] != w.shape[2]:
        raise fail(f"kernel of shape {w.shape}")
    if options.get("dilation_h", 1) != 1 or options["stride_h"] != options["stride_w"]:
        raise fail("dilated or non-square strides")
    depthwise = opcode == "DEPTHWISE_CONV_2D"
    if depthwise:
        if options.get("depth_multiplier", 1) != 1 or w.shape[0] != 1:
            raise fail("depth multiplier other than 1")
        weight, cin, cout, groups = w.transpose(3, 0, 1, 2), w.shape[3], w.shape[3], w.shape[3]
    else:
        weight, cin, cout, groups = w.transpose(0, 3, 1, 2), w.shape[3], w.shape[0], 1
    k = w.shape[1]
    pad = k // 2 if options["padding"] == "SAME" else 0
    conv = nn.Conv2d(cin, cout, k, stride=options["stride_h"], padding=pad, groups=groups)
    bias = np.zeros(cout, np.float32)
    if len(inputs) > 2 and inputs[2] >= 0:
        bias = np.asarray(model.constant(inputs[2]), dtype=np.float32).reshape(-1)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)).reshape(conv.weight.shape))
        conv.bias.copy_(torch.from_numpy(bias))  # type: ignore[union-attr]
    return conv
