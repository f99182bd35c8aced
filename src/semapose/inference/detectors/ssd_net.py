"""SSDLite-MobileNetV2 as a PyTorch module, built from a TensorFlow frozen graph.

The graph (TF Object Detection API export, read by :mod:`semapose.weights.tf_graph`)
is walked backwards from the box predictors' outputs
(``BoxPredictor_<i>/{BoxEncodingPredictor,ClassPredictor}/BiasAdd``) to the
preprocessed input; every op on the way becomes a step of :class:`SSDLiteNet`:

- ``Conv2D`` / ``DepthwiseConv2dNative`` (``groups = channels``): ``nn.Conv2d``,
  with the ``FusedBatchNorm`` that follows folded into it (``w * g / sqrt(v + eps)``,
  ``b = beta - mean * g / sqrt(v + eps)``) and ``BiasAdd`` taken as its bias;
- TF ``SAME`` padding: ``ceil(in / stride)`` outputs, the ``max((out - 1) * s + k - in, 0)``
  padding split with the extra row/column at the bottom/right (asymmetric for the
  stride-2 layers on even sizes). Sizes are fixed by the 300x300 input, so the pads
  are worked out once when the module is built;
- ``Relu6``: ``clamp(0, 6)``; ``Add``/``AddV2``: the residual sum; ``Identity``: nothing.

Anything else on that path is an error naming the node. The preprocessing the graph
does (``x * 2/255 - 1`` of RGB in 0..255) is the module's first operation, and the
resize to 300x300 is left to the caller (the detector uses ``cv2.resize``, bilinear,
as ``cv2.dnn.blobFromImages`` did).

Anchors (``ssd_anchor_generator``): the graph stores each feature map's aspect
ratios (``MultipleGridAnchorGenerator/Sqrt_<i>/x``) and scales (the ``RealDiv`` of
a constant by that ``Sqrt``, and the ``Mul`` for widths); an anchor of map ``i``,
cell ``(y, x)`` is centred at ``((y + 0.5) / H_i, (x + 0.5) / W_i)`` with height
``scale / sqrt(ratio)`` and width ``scale * sqrt(ratio)`` (base anchor 1x1, grid
offset half a stride; for ssdlite_mobilenet_v2: 6 maps 19,10,5,3,2,1, scales 0.2 to
0.95, ratios 1, 2, 1/2, 3, 1/3 plus the interpolated scale; the first map has 3
anchors: 0.1 at ratio 1, 0.2 at ratios 2 and 1/2). Order: map, row, column,
anchor, as the heads' NHWC outputs flatten.

Box decoding (``FasterRcnnBoxCoder``, scale factors 10, 10, 5, 5): the head gives
``(ty, tx, th, tw)``; ``cy = ty / 10 * ha + cya``, ``h = exp(th / 5) * ha`` (same for
x, w). Scores: ``sigmoid`` of the class logits; column 0 is the background, the
person score is column 1. :meth:`SSDLiteNet.forward` returns normalised
``x1, y1, x2, y2`` boxes and person scores for a batch, with no data-dependent
control flow, so it traces and exports to ONNX; selection (threshold, top-k, NMS)
is :func:`semapose.inference.detectors.torch_nms.batched_nms`, outside the graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semapose.errors import CheckpointError
from semapose.weights.tf_graph import TFGraph, TFNode

__all__ = ["SSDLiteNet", "build_ssdlite_net", "BOX_SCALES"]

#: FasterRcnnBoxCoder scale factors (y, x, h, w) of the TF OD API SSD configs.
BOX_SCALES = (10.0, 10.0, 5.0, 5.0)
_HEADS = ("BoxEncodingPredictor", "ClassPredictor")
_ANCHOR_SCOPE = "MultipleGridAnchorGenerator/"


@dataclass(frozen=True)
class _Step:
    """One operation: ``kind`` in conv / relu6 / relu6_ (in place) / add; reads ``inputs``."""

    kind: str
    inputs: tuple[int, ...]
    conv: int = -1
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, right, top, bottom (F.pad order)


class SSDLiteNet(nn.Module):
    """Backbone + SSD heads + anchors + box decoding (see the module docstring).

    ``forward(images)``: ``(B, 3, S, S)`` RGB in 0..255 (any float or uint8 dtype;
    ``S`` = :attr:`input_size`) -> ``boxes (B, A, 4)`` normalised x1, y1, x2, y2 and
    ``scores (B, A)`` person probabilities.
    """

    def __init__(
        self,
        convs: list[nn.Conv2d],
        steps: list[_Step],
        heads: list[tuple[int, int]],
        anchors: torch.Tensor,
        input_size: int,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.steps = steps
        self.heads = heads  # (box slot, class slot) per feature map
        self.input_size = input_size
        self.register_buffer("anchors", anchors, persistent=False)  # (A, 4) cy, cx, h, w

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a: torch.Tensor = self.anchors  # type: ignore[assignment]
        x = images.to(a.dtype) * (2.0 / 255.0) - 1.0
        slots: list[torch.Tensor] = [x]
        for step in self.steps:
            if step.kind == "conv":
                inp = slots[step.inputs[0]]
                if any(step.pad):
                    # F.pad returns NCHW-contiguous; keep a channels-last input channels-last
                    fmt = (
                        torch.channels_last
                        if inp.is_contiguous(memory_format=torch.channels_last)
                        else torch.contiguous_format
                    )
                    inp = F.pad(inp, step.pad).contiguous(memory_format=fmt)
                slots.append(self.convs[step.conv](inp))
            elif step.kind == "relu6":
                slots.append(slots[step.inputs[0]].clamp(0.0, 6.0))
            elif step.kind == "relu6_":  # its input feeds nothing else: in place
                slots.append(slots[step.inputs[0]].clamp_(0.0, 6.0))
            else:  # add
                slots.append(slots[step.inputs[0]] + slots[step.inputs[1]])
        b = images.shape[0]
        codes, logits = [], []
        for box_slot, cls_slot in self.heads:
            codes.append(slots[box_slot].permute(0, 2, 3, 1).reshape(b, -1, 4))
            cls = slots[cls_slot]
            logits.append(cls.permute(0, 2, 3, 1).reshape(b, -1, 2)[..., 1])
        rel = torch.cat(codes, dim=1)
        scores = torch.sigmoid(torch.cat(logits, dim=1))
        cy = rel[..., 0] / BOX_SCALES[0] * a[:, 2] + a[:, 0]
        cx = rel[..., 1] / BOX_SCALES[1] * a[:, 3] + a[:, 1]
        h = torch.exp(rel[..., 2] / BOX_SCALES[2]) * a[:, 2]
        w = torch.exp(rel[..., 3] / BOX_SCALES[3]) * a[:, 3]
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
        return boxes, scores


class _Builder:
    """Turns the graph's trunk into convs and steps, with shape inference for padding."""

    def __init__(self, graph: TFGraph, input_size: int) -> None:
        self.g = graph
        self.convs: list[nn.Conv2d] = []
        self.steps: list[_Step] = []
        self.slot_of: dict[str, int] = {}
        self.size_of: dict[int, tuple[int, int]] = {0: (input_size, 3)}  # slot -> (side, channels)

    def fail(self, node: TFNode, what: str) -> CheckpointError:
        return CheckpointError(f"{self.g.path}: node {node.name!r} ({node.op}): {what}")

    def slot(self, name: str) -> int:
        """The slot holding node ``name``'s output, building what it needs (iteratively)."""
        stack = [name]
        while stack:
            top = self.g.resolve(stack[-1])
            if top.name in self.slot_of:
                self.slot_of[stack.pop()] = self.slot_of[top.name]
                continue
            if top.name.startswith("Preprocessor/"):
                self.slot_of[top.name] = 0
                continue
            deps = [d for d in self._data_inputs(top) if self.g.resolve(d).name not in self.slot_of]
            deps = [d for d in deps if not self.g.resolve(d).name.startswith("Preprocessor/")]
            if deps:
                if len(stack) > 10 * len(self.g.nodes):
                    raise self.fail(top, "the graph has a cycle")
                stack.extend(deps)
                continue
            self.slot_of[top.name] = self._emit(top)
        return self.slot_of[name]

    def _data_inputs(self, node: TFNode) -> list[str]:
        if node.op in ("Conv2D", "DepthwiseConv2dNative", "Relu6", "Identity"):
            return [node.inputs[0]] if node.inputs else []
        if node.op in ("FusedBatchNorm", "FusedBatchNormV3", "BiasAdd"):
            # folded into the convolution before it: depends on that convolution's input
            conv = self.g.resolve(node.inputs[0]) if node.inputs else None
            if conv is None or conv.op not in ("Conv2D", "DepthwiseConv2dNative"):
                raise self.fail(node, "expected it to follow a convolution")
            return [conv.inputs[0]]
        if node.op in ("Add", "AddV2"):
            return list(node.inputs[:2])
        raise self.fail(node, "an op the SSDLite converter does not handle")

    def _emit(self, node: TFNode) -> int:
        ins = [self.slot(i) for i in self._data_inputs(node)]
        if node.op in ("Conv2D", "DepthwiseConv2dNative"):
            return self._conv(node, ins[0], None, None)
        if node.op in ("FusedBatchNorm", "FusedBatchNormV3", "BiasAdd"):
            conv_node = self.g.resolve(node.inputs[0])  # checked by _data_inputs
            bn = node if node.op != "BiasAdd" else None
            bias = node if node.op == "BiasAdd" else None
            return self._conv(conv_node, ins[0], bn, bias)
        if node.op == "Relu6":
            return self._push(_Step("relu6", (ins[0],)), self.size_of[ins[0]])
        if node.op in ("Add", "AddV2"):
            if self.size_of[ins[0]] != self.size_of[ins[1]]:
                raise self.fail(node, f"adds shapes {self.size_of[ins[0]]}, {self.size_of[ins[1]]}")
            return self._push(_Step("add", (ins[0], ins[1])), self.size_of[ins[0]])
        raise self.fail(node, "an op the SSDLite converter does not handle")

    def _push(self, step: _Step, size: tuple[int, int]) -> int:
        self.steps.append(step)
        slot = len(self.steps)
        self.size_of[slot] = size
        return slot

    def _conv(self, node: TFNode, src: int, bn: TFNode | None, bias: TFNode | None) -> int:
        w = np.asarray(self.g.constant(node.inputs[1]), dtype=np.float64)  # HWIO or HWC1
        if w.ndim != 4:
            raise self.fail(node, f"expected a 4-d kernel, got the shape {w.shape}")
        side, channels = self.size_of[src]
        depthwise = node.op == "DepthwiseConv2dNative"
        kh, kw, cin, mult = w.shape
        if cin != channels or (depthwise and mult != 1):
            raise self.fail(node, f"kernel {w.shape} for an input of {channels} channels")
        strides = node.attrs.get("strides") or [1, 1, 1, 1]
        dil = node.attrs.get("dilations") or [1, 1, 1, 1]
        if node.attrs.get("data_format", "NHWC") != "NHWC" or list(dil) != [1, 1, 1, 1]:
            raise self.fail(node, "expected NHWC without dilation")
        s = int(strides[1])
        if s != int(strides[2]) or s < 1 or kh != kw:
            raise self.fail(node, f"expected square kernels and strides, got {strides}")
        if depthwise:
            weight = w.transpose(2, 3, 0, 1)  # (C, 1, kh, kw)
            cout = cin
        else:
            weight = w.transpose(3, 2, 0, 1)  # (O, I, kh, kw)
            cout = mult
        b = np.zeros(cout)
        if bn is not None:
            gamma, beta, mean, var = (
                np.asarray(self.g.constant(i), np.float64).reshape(-1) for i in bn.inputs[1:5]
            )
            if gamma.size != cout:
                raise self.fail(bn, f"{gamma.size} channels after a conv of {cout}")
            k = gamma / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-3)))
            weight = weight * k[:, None, None, None]
            b = beta - mean * k
        if bias is not None:
            b = b + np.asarray(self.g.constant(bias.inputs[1]), np.float64).reshape(-1)
        if node.attrs.get("padding") == "SAME":
            out = math.ceil(side / s)
            total = max((out - 1) * s + kh - side, 0)
            pad = (total // 2, total - total // 2)
        elif node.attrs.get("padding") == "VALID":
            out, pad = (side - kh) // s + 1, (0, 0)
        else:
            raise self.fail(node, f"unsupported padding {node.attrs.get('padding')!r}")
        sym = pad[0] == pad[1]
        conv = nn.Conv2d(
            cin,
            cout,
            kh,
            stride=s,
            padding=pad[0] if sym else 0,
            groups=cin if depthwise else 1,
            bias=True,
        )
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(weight.astype(np.float32)))
            bias_t = torch.from_numpy(b.astype(np.float32))
            conv.bias.copy_(bias_t)  # type: ignore[union-attr]
        self.convs.append(conv)
        step_pad = (0, 0, 0, 0) if sym else (pad[0], pad[1], pad[0], pad[1])
        return self._push(_Step("conv", (src,), len(self.convs) - 1, step_pad), (out, cout))


def read_anchor_config(graph: TFGraph) -> list[tuple[list[float], list[float]]]:
    """Per feature map: (heights, widths) of its anchors, normalised, from the graph."""
    out = []
    for i in range(64):
        sqrt = f"{_ANCHOR_SCOPE}Sqrt" + (f"_{i}" if i else "")
        if not graph.has(sqrt):
            break
        ratios = np.asarray(graph.constant(graph.node(sqrt).inputs[0]), np.float64).reshape(-1)
        hs = ws = None
        for n in graph.nodes:
            if n.name.startswith(_ANCHOR_SCOPE) and len(n.inputs) == 2 and n.inputs[1] == sqrt:
                scales = np.asarray(graph.constant(n.inputs[0]), np.float64).reshape(-1)
                if n.op == "RealDiv":
                    hs = scales / np.sqrt(ratios)
                elif n.op == "Mul":
                    ws = scales * np.sqrt(ratios)
        if hs is None or ws is None or len(hs) != len(ratios) or len(ws) != len(ratios):
            raise CheckpointError(f"{graph.path}: cannot read the anchor sizes of feature map {i}")
        out.append((hs.tolist(), ws.tolist()))
    if not out:
        raise CheckpointError(f"{graph.path}: no {_ANCHOR_SCOPE} anchors in the graph")
    return out


def build_ssdlite_net(graph: TFGraph, input_size: int = 300) -> SSDLiteNet:
    """The :class:`SSDLiteNet` of a TF OD API SSD frozen graph (one class plus background)."""
    builder = _Builder(graph, input_size)
    layers = read_anchor_config(graph)
    heads: list[tuple[int, int]] = []
    anchors: list[np.ndarray] = []
    for i, (hs, ws) in enumerate(layers):
        slots = []
        for head, per in zip(_HEADS, (4, 2), strict=True):
            name = f"BoxPredictor_{i}/{head}/BiasAdd"
            if not graph.has(name):
                raise CheckpointError(f"{graph.path}: the graph has no node {name!r}")
            slot = builder.slot(name)
            side, channels = builder.size_of[slot]
            if channels != per * len(hs):
                raise CheckpointError(
                    f"{graph.path}: {name}: {channels} channels for {len(hs)} anchors "
                    f"(expected {per * len(hs)}; a detector with one class plus background)"
                )
            slots.append(slot)
        heads.append((slots[0], slots[1]))
        centres = (np.arange(side) + 0.5) / side
        cy, cx = np.meshgrid(centres, centres, indexing="ij")
        grid = np.zeros((side, side, len(hs), 4))
        grid[..., 0] = cy[..., None]
        grid[..., 1] = cx[..., None]
        grid[..., 2] = np.asarray(hs)
        grid[..., 3] = np.asarray(ws)
        anchors.append(grid.reshape(-1, 4))
    table = torch.from_numpy(np.concatenate(anchors).astype(np.float32))
    uses = [0] * (len(builder.steps) + 1)
    for step in builder.steps:
        for i in step.inputs:
            uses[i] += 1
    for box_slot, cls_slot in heads:
        uses[box_slot] += 1
        uses[cls_slot] += 1
    steps = [
        _Step("relu6_", s.inputs)
        if s.kind == "relu6" and uses[s.inputs[0]] == 1 and s.inputs[0]
        else s
        for s in builder.steps
    ]
    net = SSDLiteNet(builder.convs, steps, heads, table, input_size)
    return net.eval()
