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
  converter, built as the ``bundled`` model with that file as backbone; the converter's
  cache name and companion files: :data:`OWN_FORMATS`, what the weights reader needs);
* its default weights (a weights value: a registry asset or a known checkpoint).

Hooks are ``"module:function"`` names inside :mod:`semapose.models.backbones`, imported
when a row is looked up (:func:`backbone`, :func:`recognise_checkpoint`): the
:class:`Backbone` they give holds the hooks themselves, so the builder and the loader
call them without coming back here. Adding a backbone: its module plus one row of
:data:`BACKBONES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from semapose.errors import CheckpointError
from semapose.weights.read import OwnFormat

__all__ = [
    "BACKBONES",
    "OWN_FORMATS",
    "Backbone",
    "BackboneSpec",
    "Pretrained",
    "backbone",
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
    #: model config fields a bare checkpoint's head fixes (its joints, channels: the
    #: row's ``head_settings``)
    settings: dict[str, Any] | None = None
    #: the backbone and head modules, when converting built and filled them (a bare
    #: checkpoint's model uses them as they are: one network, filled once)
    modules: dict[str, nn.Module] | None = None


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
    #: ``module:function`` -> :class:`Pretrained` (``Backbone, weights file, image_size``)
    pretrained: str
    args: tuple[Any, ...] = ()
    sized: bool = False
    #: ``module:function`` ``(in_channels, num_joints, num_deconv) -> head | None``
    head: str = ""
    #: ``module:function`` ``(tensors, path) -> backbone name | None`` for bare checkpoints
    recognise: str = ""
    #: ``module:function`` ``(head tensors) -> {model config field: value}`` for a bare
    #: checkpoint's head (joints, channels), reported by ``pretrained`` in its answer
    head_settings: str = ""
    #: a weights value of this backbone's published pose weights
    default_weights: str = ""
    #: file suffixes of its own format (read by ``pretrained``, not the state-dict reader)
    suffixes: tuple[str, ...] = ()
    #: bundled model that a file of its own format is the backbone of
    bundled: str = ""
    #: name of its converted weights in the cache (own format)
    conversion: str = ""
    #: files of ``semapose/weights`` its converter reads too (own format)
    companions: tuple[str, ...] = ()
    #: upper bounds for the size check before anything is built (:mod:`semapose.models.size`):
    #: the network's parameters (rounded up) and its output channels
    parameters: int = 0
    channels: int = 1280


@dataclass(frozen=True)
class Backbone:
    """A row with its hooks imported (see the module docstring)."""

    name: str
    row: BackboneSpec
    #: the network class (called with ``row.args``, + ``img_size`` if ``row.sized``)
    network: Callable[..., nn.Module]
    #: ``(this, weights file, image_size) -> Pretrained``
    pretrained: Callable[..., Pretrained]
    #: ``(in_channels, num_joints, num_deconv) -> head | None`` (None: the default head)
    head: Callable[..., nn.Module | None] | None
    #: ``(head tensors) -> {model config field: value}`` of a bare checkpoint
    head_settings: Callable[..., dict[str, Any]] | None


def backbone(name: str | BackboneSpec) -> Backbone:
    """The row of ``name`` (or the row given) with its hooks imported; ValueError naming
    the known ones."""
    row = name if isinstance(name, BackboneSpec) else spec_of(name)
    return Backbone(
        row.name,
        row,
        _hook(row.network),
        _hook(row.pretrained),
        _hook(row.head) if row.head else None,
        _hook(row.head_settings) if row.head_settings else None,
    )


def _hrnet(name: str, width: int, default_weights: str, parameters: int) -> BackboneSpec:
    return BackboneSpec(
        name,
        "hrnet:HRNet",
        "hrnet:read_pretrained",
        args=(width,),
        recognise="hrnet:recognise",
        head_settings="hrnet:head_settings",
        default_weights=default_weights,
        parameters=parameters,
        channels=width,
    )


def _vit(name: str, parameters: int, default_weights: str = "") -> BackboneSpec:
    return BackboneSpec(
        name,
        "vit:ViT",
        "vit:read_pretrained",
        args=(name,),
        sized=True,
        recognise="vit:recognise",
        head_settings="vit:head_settings",
        default_weights=default_weights,
        parameters=parameters,
    )


#: every backbone, by ``model.backbone`` name (the names are ``config.BACKBONE_NAMES``)
BACKBONES: dict[str, BackboneSpec] = {
    row.name: row
    for row in (
        BackboneSpec(
            "tiny", "tiny:TinyBackbone", "tiny:read_pretrained", parameters=1_000_000, channels=64
        ),
        _hrnet("hrnet_w32", 32, "hrnet-w32-coco-256x192", 29_000_000),
        _hrnet("hrnet_w48", 48, "hrnet-w48-coco-256x192", 64_000_000),
        _vit("vit_s", 23_000_000),
        _vit("vit_b", 87_000_000, "vitpose-b-coco-256x192"),
        _vit("vit_l", 305_000_000),
        _vit("vit_h", 633_000_000),  # the largest published ViT
        BackboneSpec(
            "blazepose",
            "blazepose:BlazePoseBackbone",
            "blazepose_head:read_pretrained",
            head="blazepose_head:make_head",
            default_weights="blazepose_full",
            suffixes=(".tflite",),
            bundled="blazepose",
            conversion="blazepose_full",
            companions=("blazepose_head.safetensors",),
            parameters=4_000_000,
            channels=48,
        ),
    )
}

#: every backbone's own formats by suffix, as the weights reader takes them
OWN_FORMATS: dict[str, OwnFormat] = {
    suffix: OwnFormat(row.name, row.bundled, row.conversion, row.companions)
    for row in BACKBONES.values()
    for suffix in row.suffixes
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


def recognise_checkpoint(tensors: Mapping[str, Tensor], path: str | Path) -> Backbone:
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
            return backbone(name)
    from semapose.models.checkpoints import detect_layout

    keys = list(tensors)
    raise CheckpointError(
        f"{path}: expected a semapose checkpoint or an official/mmpose HRNet or ViTPose "
        f"checkpoint, got {detect_layout(tensors)} keys ({', '.join(keys[:3])}, ...)"
    )
