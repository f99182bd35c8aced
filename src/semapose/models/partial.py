"""Weights of the parts trained on top of a frozen backbone (temporal module + head).

A frozen backbone comes from its own asset (BlazePose: the fetched ``.tflite``), so a
trained temporal model only needs to ship what changed: ``temporal.*`` (without the
training-only reconstruction decoders) and ``head.*``. The file is a safetensors with
the config that rebuilds the model in its metadata (``semapose_config``) and
``semapose_parts = "temporal,head"``. Loading builds the model from the config (which
loads the backbone and the single-frame head from ``model.backbone_weights``) and puts
the file's tensors over it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from semapose.errors import CheckpointError

__all__ = [
    "PARTS",
    "deploy_state",
    "fill_partial",
    "is_partial",
    "load_partial_weights",
    "save_partial_weights",
]

PARTS = ("temporal", "head")


#: tensors of the temporal module that only the training objective reads
TRAINING_ONLY = (
    "context_decoder.",
    "pose_head.",
    "pose_proj.",
    "pose_norm.",
    "mlsme.patch_mask_token",
    "mlsme.frame_mask_token",
)


def deploy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``temporal.*`` and ``head.*`` tensors that inference uses (decoders left out)."""
    out: dict[str, torch.Tensor] = {}
    for part in PARTS:
        module: nn.Module = getattr(model, part)
        for name, value in module.state_dict().items():
            if part == "temporal" and name.startswith(TRAINING_ONLY):
                continue
            out[f"{part}.{name}"] = value.detach().cpu().contiguous().clone()
    return out


def save_partial_weights(model: nn.Module, cfg: Any, path: str | Path, **extra: str) -> Path:
    """Write the deploy tensors of ``temporal`` and ``head`` with the rebuilding config."""
    from semapose.weights.read import save_state_dict_file

    path = Path(path)
    from semapose.config import to_dict

    raw = to_dict(cfg) if not isinstance(cfg, dict) else dict(cfg)  # file keys only (no .source)
    meta = {
        "format": "pt",
        "semapose_config": json.dumps(raw),
        "semapose_parts": ",".join(PARTS),
        **extra,
    }
    save_state_dict_file(path, deploy_state(model), meta)
    return path


def is_partial(meta: dict[str, str]) -> bool:
    """Whether safetensors metadata marks a temporal+head-only file."""
    return bool(meta.get("semapose_parts"))


def load_partial_weights(model: nn.Module, path: str | Path) -> dict[str, str]:
    """Load a :func:`save_partial_weights` file over ``model``; returns its metadata
    (checked as :func:`fill_partial` does)."""
    from semapose.weights.read import check_finite, read_safetensors

    path = Path(path)
    tensors, meta = read_safetensors(path)
    check_finite(tensors, path)
    if not is_partial(meta):
        raise CheckpointError(f"{path}: semapose_parts: expected 'temporal,head', got nothing")
    fill_partial(model, tensors, path)
    return meta


def fill_partial(model: nn.Module, tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """Put the (already read) tensors of a temporal+head file over ``model``.

    Every tensor of the file must exist in the model with the same shape, and every
    deploy tensor of the model's temporal module and head must be in the file.
    """
    own = model.state_dict()
    need = set(deploy_state(model))
    for key, value in tensors.items():
        if key not in own:
            raise CheckpointError(f"{path}: {key}: not a tensor of this model ({_name(model)})")
        if tuple(own[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{path}: {key}: expected shape {tuple(own[key].shape)}, got {tuple(value.shape)}"
            )
    missing = sorted(need - set(tensors))
    if missing:
        # (before: "PATH: temporal.x.weight: missing", which read as a field of the file)
        raise CheckpointError(
            f"{path}: expected every tensor of the temporal module and head, got a file "
            f"without {len(missing)} of them (the first: tensor {missing[0]!r})"
        )
    model.load_state_dict(tensors, strict=False)


def _name(model: nn.Module) -> str:
    return str(getattr(model, "name", type(model).__name__))
