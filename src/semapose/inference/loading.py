"""The one loader: ``load(value, device) -> LoadedModel``.

``semapose predict/demo/export --weights``, ``PoseEstimator.from_pretrained`` and the
tools all load here. The value is resolved once
(:func:`semapose.weights.resolve.resolve_weights`: a bundled name, a registry asset, a
known name, a URL, a file or a training folder), its file read once
(:func:`semapose.weights.file.read_weights`), then the model is built from a config
(:func:`semapose.models.build.build_model`, every backbone a row of
:mod:`semapose.models.backbones.spec`) and filled:

* a semapose checkpoint (``.safetensors`` with its config in the metadata or a ``.json``
  sidecar), or a config-only ``.json``: the file's tensors; those it leaves out (a
  frozen backbone) from the config's ``model.backbone_weights`` (or the metadata's
  ``init_backbone_weights``); every parameter must be covered. ``fit``'s temporal+head
  files (``semapose_parts``) go over that backbone;
* a backbone's own format (BlazePose's ``.tflite``): that backbone's bundled model with
  the file as its backbone;
* a bare official checkpoint (HRNet / ViTPose / mmpose ``.pth``, or ``.safetensors``
  without a config): the backbone its tensors show, with its head, single-frame.

Every model is an :class:`~semapose.models.estimator.Estimator`; without a temporal part
it has the single-frame temporal module (T = 1), and ``notes`` holds a one-line warning
that the commands print (not for the bundled models, single-frame by design). Loading
never unpickles code.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semapose.config import Config
from semapose.errors import CheckpointError
from semapose.weights.resolve import SYNTHETIC_NOTICE, bundled_path, resolve_weights


class SingleFrameWarning(UserWarning):
    """The checkpoint has no temporal part: prediction runs frame by frame."""


@dataclass
class LoadedModel:
    """A model ready for :class:`~semapose.inference.pipeline.TemporalRunner`."""

    model: Any
    cfg: Config
    #: False when the clip has one frame (single-frame checkpoint)
    temporal: bool
    #: where the weights came from (path or name), for logs and outputs
    source: str
    bundled: bool = False
    notes: list[str] = field(default_factory=list)
    #: why the model is single-frame, shown in the warning
    single_reason: str = ""


def load(weights: str | Path | None = None, device: Any = "cpu") -> LoadedModel:
    """Load weights (see the module docstring) onto ``device`` in eval mode."""
    import torch

    from semapose.models.backbones.spec import BACKBONES, spec_for_file
    from semapose.weights.file import read_weights

    source = resolve_weights(weights)
    own = [suffix for spec in BACKBONES.values() for suffix in spec.suffixes]
    file = read_weights(source, own)
    spec = spec_for_file(source.path)
    if file.config is not None:
        loaded = _from_config(file.config, file.tensors, file.meta, source.path)
    elif spec is not None:  # a backbone's own format: its bundled model over this file
        cfg = _config_of(bundled_path(spec.bundled))
        loaded = _from_config(cfg, {}, {}, source.path, backbone_file=source.path)
    else:
        loaded = _from_bare(file.tensors, source.path)
    loaded.bundled = source.kind == "bundled"
    if source.kind in ("bundled", "asset", "known"):
        loaded.source = source.value  # a name says more than a path into the package or cache
    if source.synthetic:
        loaded.notes.append(SYNTHETIC_NOTICE)
    loaded.model.to(torch.device(device))
    loaded.model.eval()
    if not loaded.temporal and not loaded.bundled:
        why = f" ({loaded.single_reason})" if loaded.single_reason else ""
        loaded.notes.append(
            f"warning: {loaded.source} has no temporal part{why}; predicting single-frame"
        )
    return loaded


#: the name the callers of other branches know
load_model = load


def warn_notes(loaded: LoadedModel) -> None:
    """Python-API form of the notes: a :class:`SingleFrameWarning` for single-frame weights."""
    if not loaded.temporal and not loaded.bundled:
        msg = f"{loaded.source} has no temporal part; predicting single-frame"
        warnings.warn(msg, SingleFrameWarning, stacklevel=3)


def _config_of(path: Path) -> Config:
    from semapose.weights.read import checkpoint_config

    return checkpoint_config(path, {})


def _from_config(
    cfg: Config,
    tensors: dict[str, Any],
    meta: dict[str, str],
    path: Path,
    backbone_file: Path | None = None,
) -> LoadedModel:
    """Build from the config; fill the parameters from ``tensors`` and, for those it leaves
    out, from the backbone's initial weights (``backbone_file``, else the config's value)."""
    from semapose.models.build import backbone_spec, build_model, fill_pretrained, load_pretrained
    from semapose.models.partial import fill_partial

    init = str(backbone_file or cfg.model.backbone_weights or meta.get("init_backbone_weights", ""))
    bare = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, backbone_weights=""))
    model = build_model(bare)

    def fill_backbone() -> list[str]:
        spec = backbone_spec(cfg)
        if backbone_file is None:
            return load_pretrained(model, spec, init)
        pretrained = spec.read_pretrained(backbone_file)
        return fill_pretrained(model, pretrained, backbone_file, spec.name)

    if meta.get("semapose_parts"):  # temporal + head only, over a backbone from its own weights
        cfg.model.backbone_weights = init
        if init:
            fill_backbone()
        fill_partial(model, tensors, path)
        return LoadedModel(model, cfg, _is_temporal(cfg), str(path))
    if backbone_file is not None:
        cfg.model.backbone_weights = init
    own = model.state_dict()
    unexpected = sorted(set(tensors) - set(own))
    missing = [k for k in own if k not in tensors and not k.endswith("num_batches_tracked")]
    if missing and init:
        parts = fill_backbone()
        missing = [k for k in missing if not k.startswith(tuple(f"{p}." for p in parts))]
    bad = [k for k in tensors if k in own and tuple(own[k].shape) != tuple(tensors[k].shape)]
    if missing or unexpected or bad:
        detail = (
            f"{bad[0]}: expected shape {tuple(own[bad[0]].shape)}, "
            f"got {tuple(tensors[bad[0]].shape)}"
            if bad
            else f"missing {_few(missing)}, unexpected {_few(unexpected)}"
        )
        raise CheckpointError(f"{path}: weights do not fit the model: {detail}")
    model.load_state_dict(tensors, strict=False)
    return LoadedModel(model, cfg, _is_temporal(cfg), str(path))


def _is_temporal(cfg: Config) -> bool:
    return cfg.model.temporal != "none" and len(cfg.data.offsets) > 0


def _few(keys: list[str]) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:4])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > 4 else ''})"


def _from_bare(tensors: dict[str, Any], path: Path) -> LoadedModel:
    """A bare official / mmpose checkpoint -> the single-frame model of the backbone its
    tensors show (T = 1), with the checkpoint's head (joints, channels).

    The input size comes from a ``HxW`` in the file name (``..._256x192...``), else
    256x192 (every published ViTPose, most HRNet releases).
    """
    from semapose.models.backbones.spec import recognise_checkpoint
    from semapose.models.build import build_model, fill_pretrained

    spec = recognise_checkpoint(tensors, path)
    m = re.search(r"(\d{3})x(\d{3})", path.name)
    size = (int(m.group(1)), int(m.group(2))) if m else (256, 192)
    pretrained = spec.read_pretrained(path, tensors, size)
    cfg = Config()
    cfg.data.image_size = size
    cfg.data.offsets = []
    cfg.model.backbone = spec.name
    cfg.model.temporal = "none"
    for key, value in spec.bare_settings(pretrained.parts["head"]).items():
        setattr(cfg.model, key, value)
    model = build_model(cfg)
    if "head" not in fill_pretrained(model, pretrained, path, spec.name):
        raise CheckpointError(f"{path}: the checkpoint's head does not fit {spec.name}'s head")
    loaded = LoadedModel(model, cfg, False, str(path))
    loaded.single_reason = f"{spec.name} checkpoint; slots 1-2 are COCO's eyes"
    return loaded


__all__ = [
    "LoadedModel",
    "SingleFrameWarning",
    "load",
    "load_model",
    "warn_notes",
]
