"""Models: backbones, heads, single-frame pose models, temporal estimators.

Exports are resolved lazily (PEP 562) so that ``import semapose.models`` does not
import torch-heavy submodules until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "DeconvHead": "semapose.models.heads",
    "FinalLayerHead": "semapose.models.heads",
    "HRNet": "semapose.models.backbones.hrnet",
    "ViT": "semapose.models.backbones.vit",
    "SingleFrameHRNet": "semapose.models.single_frame",
    "SingleFrameViTPose": "semapose.models.single_frame",
    "build_backbone": "semapose.models.backbones",
    "load_state_dict_file": "semapose.weights.read",
    "count_flops": "semapose.models.flops",
    "count_params": "semapose.models.flops",
    "flops_by_module": "semapose.models.flops",
    "params_by_module": "semapose.models.flops",
    "init_posetrack_from_coco": "semapose.models.single_frame",
    "Estimator": "semapose.models.estimator",
    "build_model": "semapose.models.build",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'semapose.models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
