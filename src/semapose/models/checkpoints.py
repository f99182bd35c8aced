"""Fitting converted checkpoint tensors into our modules, and naming key layouts.

Reading files is :mod:`semapose.weights.read` (never unpickles code); converting a
published layout to our names is done beside each backbone
(:func:`semapose.models.backbones.hrnet.convert_hrnet_checkpoint`,
:func:`semapose.models.backbones.vit.convert_vit_checkpoint`, BlazePose's tflite
converter in :mod:`semapose.models.backbones.blazepose_tflite`; each backbone's spec row
names its reader, :mod:`semapose.models.backbones.spec`). Our models keep
``backbone.*`` and ``head.*`` sub-modules. Layouts recognised by :func:`detect_layout`:

================  ===========================================================
``official``      deep-high-resolution-net HRNet: ``conv1.*`` ... ``final_layer.*``
``mmpose0``       mmpose 0.x top-down: ``backbone.*``, ``keypoint_head.*``; the official
                  ViTPose checkpoints have this layout (``backbone.blocks.*``)
``mmpose1``       mmpose 1.x / semapose: ``backbone.*``, ``head.*``; for ViT the
                  mmpretrain names (``backbone.layers.N.ln1``, ``ffn.layers.0.0``, ...)
================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from semapose.errors import CheckpointError
from semapose.weights.read import StateDict

__all__ = ["StateDict", "check_and_load", "detect_layout", "layout_mismatch"]

_SHOWN = 5


def detect_layout(sd: Mapping[str, Tensor]) -> str:
    """``official`` | ``mmpose0`` | ``mmpose1`` | ``unknown`` (see the module docstring)."""
    keys = list(sd)
    has = lambda prefix: any(k.startswith(prefix) for k in keys)  # noqa: E731
    if has("keypoint_head."):
        return "mmpose0"
    if has("backbone.") or has("head."):
        return "mmpose1"
    if "conv1.weight" in sd or "final_layer.weight" in sd or "patch_embed.proj.weight" in sd:
        return "official"
    return "unknown"


def layout_mismatch(state: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> str | None:
    """The first key missing, unexpected or of another shape than in ``expected``; None
    when the layouts agree."""
    for name, t in expected.items():
        if name not in state:
            return f"missing {name}"
        if tuple(state[name].shape) != tuple(t.shape):
            return f"{name}: shape {tuple(state[name].shape)}, expected {tuple(t.shape)}"
    extra = sorted(set(state) - set(expected))
    return f"unexpected {extra[0]}" if extra else None


def _preview(keys: Iterable[str]) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:_SHOWN])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > _SHOWN else shown


def check_and_load(
    model: nn.Module,
    sd: Mapping[str, Tensor],
    *,
    path: str | Path,
    layout: str,
    what: str,
    hint: str = "",
) -> None:
    """Strict ``model.load_state_dict(sd)``, or :class:`CheckpointError` naming the problem.

    BatchNorm ``num_batches_tracked`` counters (absent from checkpoints saved by very
    old PyTorch) are not required. Floating tensors are cast to the model's dtype. A
    model built on the meta device gets the checkpoint's tensors assigned.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in sd and sd[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = [
            f"{path}: does not fit {what} (layout looked like {layout!r}; "
            "keys named as mapped to semapose's backbone./head. layout)"
        ]
        if missing:
            parts.append(f"{len(missing)} missing keys: {_preview(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {_preview(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches: {_preview(shapes)}")
        if hint:
            parts.append(hint)
        raise CheckpointError("; ".join(parts))
    full: StateDict = {}
    for k, v in own.items():
        if k not in sd:  # only num_batches_tracked can get here
            full[k] = torch.zeros_like(v, device="cpu") if v.is_meta else v
        elif v.is_floating_point() and sd[k].dtype != v.dtype:
            full[k] = sd[k].to(v.dtype)  # e.g. fp16 checkpoints into an fp32 model
        else:
            full[k] = sd[k]
    # a model built on the meta device (no wasted initialisation) takes the tensors as is
    assign = any(t.is_meta for t in own.values())
    model.load_state_dict(full, strict=True, assign=assign)
