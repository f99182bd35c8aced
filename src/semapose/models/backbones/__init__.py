"""Backbones by name: ``tiny``, ``hrnet_w32``/``w48``, ``vit_s``/``vit_b``/``vit_l``/``vit_h``,
``blazepose`` (BlazePose GHUM full, weights from its tflite).

Every backbone maps (N,3,H,W) to features (N,C,h,w) and has ``out_channels`` and
``stride`` attributes. Submodules are imported only when a backbone is built.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from semapose.config import BACKBONE_NAMES

__all__ = ["BACKBONE_NAMES", "build_backbone"]


def build_backbone(name: str, **kwargs: Any) -> nn.Module:
    """A randomly initialised backbone. ``kwargs`` go to the backbone's constructor
    (e.g. ``img_size``/``depth``/``drop_path_rate`` for ViT)."""
    if name == "tiny":
        from semapose.models.backbones.tiny import TinyBackbone

        return TinyBackbone(**kwargs)
    if name in ("hrnet_w32", "hrnet_w48"):
        from semapose.models.backbones.hrnet import HRNet

        return HRNet(int(name[-2:]), **kwargs)
    if name == "blazepose":
        from semapose.models.backbones.blazepose import BlazePoseBackbone

        return BlazePoseBackbone(**kwargs)
    if name in ("vit_s", "vit_b", "vit_l", "vit_h"):
        from semapose.models.backbones.vit import ViT

        return ViT(name, **kwargs)
    raise ValueError(f"unknown backbone {name!r}; expected one of {', '.join(BACKBONE_NAMES)}")
