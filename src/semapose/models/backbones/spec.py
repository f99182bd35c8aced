"""The backbones semapose knows: one row each, and the only place their names are compared.

A row (:class:`BackboneSpec`) says, for one ``model.backbone`` name,

* how to build the network (``network``: a class in a module of this package, with
  fixed ``args``; ``sized`` networks also take the crop size) and its single-frame
  head (``head``: a hook, else the default rule of :meth:`BackboneSpec.make_head`);
* how to read every published layout of its weights (``pretrained``: a hook returning
  ``{"backbone": ..., "head": ...}`` state dicts and the layout's name -- official
  HRNet / mmpose 0.x / 1.x, ViTPose / mmpretrain, BlazePose's ``.tflite``, our own);
* how to recognise a bare official checkpoint of it (``recognise``: a hook naming the
  row from the tensors), and which files are its own format (``suffixes``: read by its
  converter, built as the ``bundled`` model with that file as backbone);
* its default weights (a weights value: a registry asset or a known checkpoint).

Hooks are ``"module:function"`` names inside :mod:`semapose.models.backbones`, imported
on first use. Adding a backbone: its module plus one row of :data:`BACKBONES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from semapose.errors import CheckpointError

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "Pretrained",
    "recognise_checkpoint",
    "spec_for_file",
    "spec_of",
]

StateDict = dict[str, Tensor]


@dataclass(frozen=True)
class Pretrained:
    """Published weights read into our names: ``parts`` (``backbone``, ``head``) and the
    key layout they came in (named in errors)."""

    parts: dict[str, StateDict]
    layout: str


def _hook(ref: str) -> Callable[..., Any]:
    module, name = ref.split(":")
    fn: Callable[..., Any] = getattr(
        importlib.import_module(f"semapose.models.backbones.{module}"), name
    )
    return fn


@dataclass(frozen=True)
class BackboneSpec:
    """One backbone (see the module docstring)."""

    name: str
    #: ``module:Class`` of the network; called with ``args`` (+ ``img_size`` if ``sized``)
    network: str
    #: ``module:function`` -> :class:`Pretrained` (``spec, path, tensors | None, image_size``)
    pretrained: str
    args: tuple[Any, ...] = ()
    sized: bool = False
    #: ``module:function`` ``(in_channels, num_joints, num_deconv) -> head | None``
    head: str = ""
    #: ``module:function`` ``(tensors, path) -> backbone name | None`` for bare checkpoints
    recognise: str = ""
    #: ``module:function`` ``(head tensors) -> {model config field: value}`` for a bare
    #: checkpoint's head (joints, channels)
    head_settings: str = ""
    #: a weights value of this backbone's published pose weights
    default_weights: str = ""
    #: file suffixes of its own format (read by ``pretrained``, not the state-dict reader)
    suffixes: tuple[str, ...] = ()
    #: bundled model that a file of its own format is the backbone of
    bundled: str = ""

    def build(self, image_size: tuple[int, int] | None = None, **kwargs: Any) -> nn.Module:
        """The network with random weights; ``kwargs`` go to its constructor."""
        if self.sized and image_size is not None:
            kwargs.setdefault("img_size", tuple(image_size))
        module: nn.Module = _hook(self.network)(*self.args, **kwargs)
        return module

    def make_head(
        self, in_channels: int, num_joints: int, num_deconv: int, head_channels: int
    ) -> nn.Module:
        """The single-frame head: the backbone's own (hook), else one 1x1 convolution at the
        heatmap stride, or ``num_deconv`` deconvolutions before it."""
        if self.head:
            own: nn.Module | None = _hook(self.head)(in_channels, num_joints, num_deconv)
            if own is not None:
                return own
        from semapose.models.heads import DeconvHead, FinalLayerHead

        if num_deconv == 0:
            return FinalLayerHead(in_channels, num_joints)
        return DeconvHead(in_channels, num_joints, num_deconv, deconv_channels=head_channels)

    def read_pretrained(
        self,
        path: str | Path,
        tensors: Mapping[str, Tensor] | None = None,
        image_size: tuple[int, int] = (256, 192),
    ) -> Pretrained:
        """Backbone (and head) tensors from a weights file in any layout this backbone reads;
        ``tensors``: the file's, when already read."""
        result: Pretrained = _hook(self.pretrained)(self, Path(path), tensors, image_size)
        return result

    def bare_settings(self, head: Mapping[str, Tensor]) -> dict[str, Any]:
        """Model config fields a bare checkpoint's head fixes (e.g. its number of joints)."""
        return dict(_hook(self.head_settings)(head)) if self.head_settings else {}


def _hrnet(name: str, width: int, default_weights: str) -> BackboneSpec:
    return BackboneSpec(
        name,
        "hrnet:HRNet",
        "hrnet:read_pretrained",
        args=(width,),
        recognise="hrnet:recognise",
        head_settings="hrnet:head_settings",
        default_weights=default_weights,
    )


def _vit(name: str, default_weights: str = "") -> BackboneSpec:
    return BackboneSpec(
        name,
        "vit:ViT",
        "vit:read_pretrained",
        args=(name,),
        sized=True,
        recognise="vit:recognise",
        head_settings="vit:head_settings",
        default_weights=default_weights,
    )


#: every backbone, by ``model.backbone`` name (the names are ``config.BACKBONE_NAMES``)
BACKBONES: dict[str, BackboneSpec] = {
    row.name: row
    for row in (
        BackboneSpec("tiny", "tiny:TinyBackbone", "tiny:read_pretrained"),
        _hrnet("hrnet_w32", 32, "hrnet-w32-coco-256x192"),
        _hrnet("hrnet_w48", 48, "hrnet-w48-coco-256x192"),
        _vit("vit_s"),
        _vit("vit_b", "vitpose-b-coco-256x192"),
        _vit("vit_l"),
        _vit("vit_h"),
        BackboneSpec(
            "blazepose",
            "blazepose:BlazePoseBackbone",
            "blazepose_head:read_pretrained",
            head="blazepose_head:make_head",
            default_weights="blazepose_full",
            suffixes=(".tflite",),
            bundled="blazepose",
        ),
    )
}


def spec_of(name: str) -> BackboneSpec:
    """The row of ``name``; ValueError naming the known ones."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {', '.join(BACKBONES)}")
    return BACKBONES[name]


def spec_for_file(path: str | Path) -> BackboneSpec | None:
    """The backbone whose own format ``path`` is (by suffix), if any."""
    suffix = Path(path).suffix.lower()
    return next((s for s in BACKBONES.values() if suffix in s.suffixes), None)


def recognise_checkpoint(tensors: Mapping[str, Tensor], path: str | Path) -> BackboneSpec:
    """The backbone of a bare (config-less) official checkpoint, from its tensors."""
    seen: set[str] = set()
    for spec in BACKBONES.values():
        if not spec.recognise or spec.recognise in seen:
            continue
        seen.add(spec.recognise)
        name = _hook(spec.recognise)(tensors, path)
        if name and name not in BACKBONES:
            raise CheckpointError(f"{path}: looks like {name}, which semapose does not build")
        if name:
            return BACKBONES[name]
    from semapose.models.checkpoints import detect_layout

    keys = list(tensors)
    raise CheckpointError(
        f"{path}: expected a semapose checkpoint or an official/mmpose HRNet or ViTPose "
        f"checkpoint, got {detect_layout(tensors)} keys ({', '.join(keys[:3])}, ...)"
    )
