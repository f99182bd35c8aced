"""BlazePose GHUM full from MediaPipe's ``pose_landmark_full.tflite``, and its cache.

:func:`convert_tflite` maps the tflite tensors onto
:class:`~semapose.models.backbones.blazepose.BlazePose`'s state dict (conv OHWI -> OIHW,
depthwise 1HWC -> C1HW, fp16 -> fp32) by walking the graph from its input, checking
every layer's kind, shape, stride, padding and activation. The conversion is kept in
the user cache (:mod:`semapose.weights.conversion`, keyed by the tflite's sha256):
:func:`converted` takes the loader's read of a ``.tflite`` (its cache entry, if sound),
checks the entry's layout and converts when it is absent or wrong;
:func:`converted_state` does the same from a path; :func:`load_blazepose` gives the
network with its weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
from torch import Tensor, nn

from semapose.errors import CheckpointError
from semapose.models.backbones.blazepose import (
    DECODER_CHANNELS,
    ENCODER_BLOCKS,
    NECK_CHANNELS,
    NUM_HEATMAPS,
    NUM_LANDMARKS,
    REGRESSION_CHANNELS,
    SKIP_BLOCKS,
    BlazeBlock,
    BlazePose,
    InvertedResidual,
    SeparableConv,
)

if TYPE_CHECKING:
    from semapose.weights.read import WeightsFile
    from semapose.weights.tflite import TFLiteModel, TFLiteOperator

__all__ = [
    "convert_tflite",
    "converted",
    "converted_path",
    "converted_state",
    "load_blazepose",
]


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
    from semapose.weights.conversion import conversion_path

    return conversion_path(tflite, _conversion_name())


def _conversion_name() -> str:
    """The name of BlazePose's conversion in the cache: its spec row's ``conversion``."""
    from semapose.models.backbones.spec import BACKBONES

    return BACKBONES["blazepose"].conversion


def converted(file: WeightsFile) -> dict[str, Tensor]:
    """BlazePose's state dict from the loader's read of a ``.tflite``: its cache entry
    when it has BlazePose's layout, else converted now (and cached)."""
    assert file.conversion is not None
    return _checked(file.path, file.conversion, file.tensors)


def converted_state(path: str | Path) -> dict[str, Tensor]:
    """BlazePose's state dict from a ``.tflite`` (converted once, cached) or a
    ``.safetensors`` file written by this module."""
    from semapose.weights.conversion import cached_conversion

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: BlazePose weights not found")
    if path.suffix == ".safetensors":
        from semapose.weights.read import load_state_dict_file

        return load_state_dict_file(path)  # read, checked finite
    return _checked(path, *cached_conversion(path, _conversion_name()))


def _checked(path: Path, cached: Path, state: dict[str, Tensor]) -> dict[str, Tensor]:
    """``state`` (a sound cache entry, or {}) when it has BlazePose's layout; else the
    ``.tflite`` converted now and cached: a wrong-shape entry is rebuilt, not loaded nor
    blamed on the ``.tflite`` (issue 24)."""
    from semapose.models.checkpoints import layout_mismatch

    if state and not layout_mismatch(state, BlazePose().state_dict()):
        return state
    import sys

    from semapose.weights.conversion import save_conversion

    # first use only (~2 s): say so, a silent pause looks like a hang
    print(f"converting {path.name} once into {cached} ...", file=sys.stderr, flush=True)
    state = convert_tflite(path)
    save_conversion(cached, state, path)
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
    state = converted_state(path)
    from semapose.models.checkpoints import check_and_load

    check_and_load(net, state, path=str(path), layout="semapose", what="blazepose")
    return net.eval()
