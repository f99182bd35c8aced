"""A read weights file -> a built and filled model (``assemble``), for the one loader.

:func:`semapose.inference.loading.load` resolves a weights value and reads its file
(:func:`semapose.weights.read.read_weights`: the file, the config it holds, the vetted
backbone weights it names and, when it cannot do without them, their file -- all read
before anything is built); this builds the model the file describes
(:func:`semapose.models.build.build_model`, every backbone a row of
:mod:`semapose.models.backbones.spec`), fills it and puts it on the device in eval mode:

* a semapose checkpoint or config-only ``.json``: the file's tensors; those it leaves
  out (a frozen backbone) from the config's ``model.backbone_weights`` (or the
  metadata's ``init_backbone_weights``); every parameter must be covered. ``fit``'s
  temporal+head files (``semapose_parts``) go over that backbone;
* a backbone's own format (BlazePose's ``.tflite``): that backbone's bundled model with
  the file as its backbone;
* a bare official checkpoint (HRNet / ViTPose / mmpose): the backbone its tensors show,
  with its head, single-frame.

Every model is an :class:`~semapose.models.estimator.Estimator`; without a temporal
part it has the single-frame temporal module (T = 1). Nothing here calls back into
``weights/`` except for backbone weights a complete-looking checkpoint turns out to
need (read then, by :func:`~semapose.models.build.load_pretrained`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from semapose.config import Config
from semapose.errors import CheckpointError
from semapose.models.estimator import Estimator
from semapose.weights.read import WeightsFile

__all__ = ["Assembled", "assemble"]


@dataclass
class Assembled:
    """The model of a weights file, its config, and whether it is temporal."""

    model: Estimator
    cfg: Config
    temporal: bool
    #: why a bare checkpoint is single-frame
    single_reason: str = ""


def assemble(file: WeightsFile, device: Any = "cpu") -> Assembled:
    """Build and fill the model ``file`` describes (see the module docstring), on
    ``device`` in eval mode."""
    import torch

    built = _from_config(file) if file.config is not None else _from_bare(file)
    built.model.to(torch.device(device))
    built.model.eval()
    return built


def _from_config(file: WeightsFile) -> Assembled:
    """Build from the file's config; fill the parameters from its tensors and, for those it
    leaves out, from the backbone's initial weights (the file itself for an own format,
    else the followable value its config or metadata names)."""
    from semapose.models.build import build_model, load_pretrained
    from semapose.models.partial import fill_partial

    cfg, path, refs = file.config, file.path, file.references
    assert cfg is not None
    tensors: dict[str, Any] = {} if file.own is not None else file.tensors
    init_file: WeightsFile | None
    if file.own is not None:  # its bundled model (ours: the names it holds are trusted)
        init_file, init = file, str(path)
    else:  # a weights file carries data, never addresses: only vetted values are followed
        assert refs is not None
        cfg.model.backbone_weights = refs.config_value
        init_file, init = file.backbone, refs.value

    def refuse_addresses() -> None:
        if refs is not None:
            refs.refuse()

    bare = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, backbone_weights=""))
    model = build_model(bare)

    def fill_backbone() -> list[str]:
        return load_pretrained(model, cfg.model.backbone, init_file or init)

    if file.meta.get("semapose_parts"):  # temporal + head only, over its backbone's weights
        if not init:
            refuse_addresses()
        cfg.model.backbone_weights = init
        if init:
            fill_backbone()
        fill_partial(model, tensors, path)
        return Assembled(model, cfg, _is_temporal(cfg))
    if file.own is not None:
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


def _from_bare(file: WeightsFile) -> Assembled:
    """A bare official / mmpose checkpoint -> the single-frame model of the backbone its
    tensors show (T = 1), with the checkpoint's head (joints, channels).

    The input size comes from a ``HxW`` in the file name (``..._256x192...``), else
    256x192 (every published ViTPose, most HRNet releases).
    """
    import torch

    from semapose.models.backbones.spec import recognise_checkpoint
    from semapose.models.build import build_model, fill_pretrained

    path = file.path
    row = recognise_checkpoint(file.tensors, path)
    m = re.search(r"(\d{3})x(\d{3})", path.name)
    size = (int(m.group(1)), int(m.group(2))) if m else (256, 192)
    pretrained = row.pretrained(row, file, size)
    cfg = Config()
    cfg.data.image_size = size
    cfg.data.offsets = []
    cfg.model.backbone = row.name
    cfg.model.temporal = "none"
    for key, value in (pretrained.settings or {}).items():
        setattr(cfg.model, key, value)
    if pretrained.modules:  # converting built and filled them: used as they are
        model = build_model(cfg, pretrained.modules)
    else:
        with torch.device("meta"):  # no random init: every tensor comes from the checkpoint
            model = build_model(cfg)
        if "head" not in fill_pretrained(model, pretrained, path, row.name):
            raise CheckpointError(f"{path}: the checkpoint's head does not fit {row.name}'s head")
    left = [k for k, t in model.state_dict().items() if t.is_meta]
    if left:
        raise CheckpointError(f"{path}: {row.name}: no weights for {_few(left)}")
    return Assembled(model, cfg, False, f"{row.name} checkpoint; slots 1-2 are COCO's eyes")
