"""The 17-slot PoseTrack18 head over BlazePose, and BlazePose's pretrained parts.

:class:`BlazePoseHead` is a 1x1 convolution + sigmoid; :func:`posetrack_head_state`
initialises it from BlazePose's own heatmap layer (13 shared joints and the ears copy
their landmark's channel; head_bottom/head_top come from the bundled fitted channels,
``tools/fit_blazepose_head.py``). :func:`pretrained_parts` is what the backbone spec
loads: backbone and head from the ``.tflite`` (or our safetensors conversion).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from semapose.models.backbones.blazepose import DECODER_CHANNELS
from semapose.models.backbones.blazepose_tflite import converted, converted_state

if TYPE_CHECKING:
    from semapose.models.backbones.spec import Backbone, Pretrained
    from semapose.weights.read import WeightsFile

__all__ = [
    "BlazePoseHead",
    "HEAD_FIT_FILE",
    "blazepose_posetrack_head",
    "head_fit_path",
    "posetrack_head_state",
    "make_head",
    "pretrained_parts",
    "read_pretrained",
]

#: Bundled 1x1 channels for head_bottom/head_top fitted on synthetic video
#: (tools/fit_blazepose_head.py writes it).
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
    """The bundled fitted head_bottom/head_top channels (in ``semapose/weights``)."""
    return Path(__file__).resolve().parents[2] / "weights" / HEAD_FIT_FILE


def posetrack_head_state(
    net_state: Mapping[str, Tensor], fitted: str | Path | Mapping[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """``final_layer`` weights of the 17-slot :class:`BlazePoseHead` from BlazePose's.

    The 13 shared joints and the ears copy BlazePose's heatmap channel of their landmark
    (so the head decodes to BlazePose's own heatmaps). head_bottom/head_top come from
    the fitted channels file (default: the bundled one, fitted on synthetic video with
    exact head points; else the mean of the mouth / eye channels, which sits lower);
    ``fitted`` may also be that file's tensors, already read.
    """
    from semapose.keypoints import BLAZEPOSE_TO_POSETRACK18

    w = net_state["heatmap.weight"]  # (39, 48, 1, 1)
    b = net_state["heatmap.bias"]
    weight = torch.zeros(17, w.shape[1], 1, 1, dtype=w.dtype)
    bias = torch.zeros(17, dtype=b.dtype)
    for slot, j in enumerate(BLAZEPOSE_TO_POSETRACK18):
        if j >= 0:
            weight[slot], bias[slot] = w[j], b[j]
    fit: Mapping[str, Tensor] | None = None
    if isinstance(fitted, Mapping):
        fit = fitted
    else:
        path = Path(fitted) if fitted is not None else head_fit_path()
        if path.is_file():
            from semapose.weights.read import read_safetensors

            fit = read_safetensors(path)[0]
    if fit is not None:
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
    :func:`posetrack_head_state`); ``path`` as in :func:`.blazepose_tflite.load_blazepose`."""
    if path is None:
        from semapose.weights.assets import fetch_asset

        path = fetch_asset("blazepose_full")
    head = BlazePoseHead()
    head.load_state_dict(posetrack_head_state(converted_state(path), fitted))
    return head


def pretrained_parts(path: str | Path) -> dict[str, dict[str, Tensor]]:
    """``{"backbone": BlazePoseBackbone state, "head": BlazePoseHead state}`` from the
    ``.tflite`` (or our safetensors conversion) -- what ``models/build.py`` loads."""
    return _parts(converted_state(path))


def _parts(
    state: Mapping[str, Tensor], fitted: Mapping[str, Tensor] | None = None
) -> dict[str, dict[str, Tensor]]:
    return {
        "backbone": {f"net.{k}": v for k, v in state.items()},
        "head": posetrack_head_state(state, fitted),
    }


# ----------------------------------------------------------------------------- spec hooks


def make_head(in_channels: int, num_joints: int, num_deconv: int) -> BlazePoseHead | None:
    """BlazePose's sigmoid head at its own stride (heatmaps 0..1); else the default rule."""
    return BlazePoseHead(in_channels, num_joints) if num_deconv == 0 else None


def read_pretrained(
    backbone: Backbone, file: WeightsFile, image_size: tuple[int, int]
) -> Pretrained:
    """:func:`pretrained_parts` of the loader's read of a ``.tflite`` (its cached
    conversion, the bundled fitted head channels) or of our safetensors conversion."""
    from semapose.models.backbones.spec import Pretrained

    state = converted(file) if file.own is not None else file.tensors
    return Pretrained(_parts(state, file.companions.get(HEAD_FIT_FILE)), "semapose")
