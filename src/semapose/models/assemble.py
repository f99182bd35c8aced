"""A read weights file -> a built and filled model (``assemble``), for the one loader.

:func:`semapose.inference.loading.load` resolves a weights value and reads its file
(:func:`semapose.weights.file.read_weights`); this builds the model the file describes
(:func:`semapose.models.build.build_model`, every backbone a row of
:mod:`semapose.models.backbones.spec`) and fills it:

* a semapose checkpoint or config-only ``.json``: the file's tensors; those it leaves
  out (a frozen backbone) from the config's ``model.backbone_weights`` (or the
  metadata's ``init_backbone_weights``); every parameter must be covered. ``fit``'s
  temporal+head files (``semapose_parts``) go over that backbone;
* a backbone's own format (BlazePose's ``.tflite``): that backbone's bundled model with
  the file as its backbone;
* a bare official checkpoint (HRNet / ViTPose / mmpose): the backbone its tensors show,
  with its head, single-frame.

Every model is an :class:`~semapose.models.estimator.Estimator`; without a temporal
part it has the single-frame temporal module (T = 1).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semapose.config import Config
from semapose.errors import CheckpointError
from semapose.models.estimator import Estimator
from semapose.weights.file import WeightsFile

__all__ = ["Assembled", "assemble"]


@dataclass
class Assembled:
    """The model of a weights file, its config, and whether it is temporal."""

    model: Estimator
    cfg: Config
    temporal: bool
    #: why a bare checkpoint is single-frame
    single_reason: str = ""


def assemble(file: WeightsFile) -> Assembled:
    """Build and fill the model ``file`` describes (see the module docstring)."""
    from semapose.models.backbones.spec import spec_for_file
    from semapose.weights.read import checkpoint_config
    from semapose.weights.resolve import bundled_path

    if file.config is not None:
        return _from_config(file.config, file.tensors, file.meta, file.path)
    spec = spec_for_file(file.path)
    if spec is not None:  # a backbone's own format: its bundled model over this file
        cfg = checkpoint_config(bundled_path(spec.bundled), {})
        return _from_config(cfg, {}, {}, file.path, backbone_file=file.path)
    return _from_bare(file.tensors, file.path)


def _from_config(
    cfg: Config,
    tensors: dict[str, Any],
    meta: dict[str, str],
    path: Path,
    backbone_file: Path | None = None,
) -> Assembled:
    """Build from the config; fill the parameters from ``tensors`` and, for those it leaves
    out, from the backbone's initial weights (``backbone_file``, else the config's value)."""
    from semapose.models.build import backbone_spec, build_model, fill_pretrained, load_pretrained
    from semapose.models.partial import fill_partial

    # a weights file carries data, never addresses: a URL or a path it names is not followed
    from semapose.weights.embedded import allowed_reference, check_embedded_reference

    named = {
        "model.backbone_weights": cfg.model.backbone_weights,
        "init_backbone_weights": meta.get("init_backbone_weights", ""),
    }

    def refuse_addresses() -> None:
        for key, value in named.items():
            check_embedded_reference(value, path, key)

    cfg.model.backbone_weights = allowed_reference(cfg.model.backbone_weights, path)
    init_meta = allowed_reference(named["init_backbone_weights"], path)
    init = str(backbone_file or cfg.model.backbone_weights or init_meta)
    bare = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, backbone_weights=""))
    model = build_model(bare)

    def fill_backbone() -> list[str]:
        spec = backbone_spec(cfg)
        if backbone_file is None:
            return load_pretrained(model, spec, init)
        pretrained = spec.read_pretrained(backbone_file)
        return fill_pretrained(model, pretrained, backbone_file, spec.name)

    if meta.get("semapose_parts"):  # temporal + head only, over a backbone from its own weights
        if not init:
            refuse_addresses()
        cfg.model.backbone_weights = init
        if init:
            fill_backbone()
        fill_partial(model, tensors, path)
        return Assembled(model, cfg, _is_temporal(cfg))
    if backbone_file is not None:
        cfg.model.backbone_weights = init
    own = model.state_dict()
    unexpected = sorted(set(tensors) - set(own))
    missing = [k for k in own if k not in tensors and not k.endswith("num_batches_tracked")]
    if missing and init:
        parts = fill_backbone()
        missing = [k for k in missing if not k.startswith(tuple(f"{p}." for p in parts))]
    if missing:
        refuse_addresses()  # the tensors it leaves out would have come from an address
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
    return Assembled(model, cfg, _is_temporal(cfg))


def _is_temporal(cfg: Config) -> bool:
    return cfg.model.temporal != "none" and len(cfg.data.offsets) > 0


def _few(keys: list[str]) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:4])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > 4 else ''})"


def _from_bare(tensors: dict[str, Any], path: Path) -> Assembled:
    """A bare official / mmpose checkpoint -> the single-frame model of the backbone its
    tensors show (T = 1), with the checkpoint's head (joints, channels).

    The input size comes from a ``HxW`` in the file name (``..._256x192...``), else
    256x192 (every published ViTPose, most HRNet releases).
    """
    import torch

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
    with torch.device("meta"):  # no random init: every tensor comes from the checkpoint
        model = build_model(cfg)
    if "head" not in fill_pretrained(model, pretrained, path, spec.name):
        raise CheckpointError(f"{path}: the checkpoint's head does not fit {spec.name}'s head")
    left = [k for k, t in model.state_dict().items() if t.is_meta]
    if left:
        raise CheckpointError(f"{path}: {spec.name}: no weights for {_few(left)}")
    return Assembled(model, cfg, False, f"{spec.name} checkpoint; slots 1-2 are COCO's eyes")
