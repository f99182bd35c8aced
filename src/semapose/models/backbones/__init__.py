"""Backbones by name: ``tiny``, ``hrnet_w32``/``w48``, ``vit_s``/``vit_b``/``vit_l``/``vit_h``,
``blazepose`` (BlazePose GHUM full, weights from its tflite). The names, and what each
means, are the rows of :mod:`semapose.models.backbones.spec`.

Every backbone maps (N,3,H,W) to features (N,C,h,w) and has ``out_channels`` and
``stride`` attributes. Submodules are imported only when a backbone is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from semapose.config import BACKBONE_NAMES

if TYPE_CHECKING:
    from semapose.models.backbones.spec import Backbone

__all__ = ["BACKBONE_NAMES", "build_backbone"]


def build_backbone(name: str | Backbone, **kwargs: Any) -> nn.Module:
    """A randomly initialised backbone network: the one place one is built (by name, or
    from a looked-up :class:`~semapose.models.backbones.spec.Backbone`). ``kwargs`` go
    to its constructor (e.g. ``img_size``/``depth``/``drop_path_rate`` for ViT)."""
    if isinstance(name, str):
        from semapose.models.backbones.spec import backbone

        name = backbone(name)
    module: nn.Module = name.network(*name.row.args, **kwargs)
    return module
