"""A weights value -> a model ready to predict (``load_model``).

The value is resolved once by :func:`semapose.weights.resolve.resolve_weights` (a
bundled name, a registry asset, a known name, a URL, a file or a training folder;
see there) and the file it names is then read by :mod:`semapose.weights.read`:

* a semapose checkpoint (``.safetensors`` with its config in the metadata or a
  ``.json`` sidecar), or a config-only ``.json``: the model is built from the
  config; tensors the file does not hold (e.g. a frozen backbone left out) come
  from the config's ``model.backbone_weights`` (or the metadata's
  ``init_backbone_weights``) and every parameter must be covered;
* a ``.tflite`` (BlazePose GHUM full): the bundled ``blazepose`` model with that
  file as its backbone;
* an official HRNet / ViTPose / mmpose checkpoint (``.pth``, or ``.safetensors``
  without a config): a single-frame model recognised from its tensors.

A model without a temporal part runs single-frame (T = 1); ``notes`` then holds a
one-line warning that the commands print (not for the bundled models, which are
single-frame by design). Loading never unpickles code.
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


class SingleFrameAdapter:
    """Gives a ``(N,3,H,W) -> heatmaps`` model the encode/decode split with T = 1.

    The "features" cached by the pipeline are then the heatmaps themselves.
    """

    def __init__(self, model: Any) -> None:
        self.model = model

    def encode_frames(self, images: Any) -> Any:
        return self.model(images)

    def decode_clip(self, features: Any) -> Any:
        return features[:, features.shape[1] // 2]

    def eval(self) -> SingleFrameAdapter:
        self.model.eval()
        return self


def load_model(weights: str | Path | None = None, device: Any = "cpu") -> LoadedModel:
    """Load weights (see the module docstring) onto ``device`` in eval mode."""
    import torch

    source = resolve_weights(weights)
    path = source.path
    if path.suffix in (".safetensors", ".json") and _has_config(path):
        loaded = _load_semapose(path)
    elif path.suffix == ".tflite":
        loaded = _load_semapose(bundled_path("blazepose"), backbone_weights=str(path))
        loaded.source = str(path)
    else:
        loaded = _load_official(path)
    loaded.bundled = source.kind == "bundled"
    if source.kind in ("bundled", "asset", "known"):
        loaded.source = source.value  # a name says more than a path into the package or cache
    if source.synthetic:
        loaded.notes.append(SYNTHETIC_NOTICE)
    model = loaded.model
    target = model.model if isinstance(model, SingleFrameAdapter) else model
    target.to(torch.device(device))
    model.eval()
    if not loaded.temporal and not loaded.bundled:
        why = f" ({loaded.single_reason})" if loaded.single_reason else ""
        loaded.notes.append(
            f"warning: {loaded.source} has no temporal part{why}; predicting single-frame"
        )
    return loaded


def warn_notes(loaded: LoadedModel) -> None:
    """Python-API form of the notes: a :class:`SingleFrameWarning` for single-frame weights."""
    if not loaded.temporal and not loaded.bundled:
        msg = f"{loaded.source} has no temporal part; predicting single-frame"
        warnings.warn(msg, SingleFrameWarning, stacklevel=3)


def _has_config(path: Path) -> bool:
    """A semapose checkpoint: config in the safetensors metadata or a JSON (sidecar) file."""
    if path.suffix == ".json" or path.with_suffix(".json").is_file():
        return True
    from semapose.weights.read import safetensors_metadata

    meta = safetensors_metadata(path)
    return "semapose_config" in meta or "config" in meta


def _load_semapose(path: Path, backbone_weights: str | None = None) -> LoadedModel:
    """Build from the checkpoint's config; fill the parameters from its tensors and, for those
    it leaves out, from the config's initial backbone weights (all must be covered)."""
    import torch

    from semapose.models.build import build_model, load_pretrained
    from semapose.weights.read import checkpoint_config, read_safetensors

    model: Any
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, str] = {}
    if path.suffix == ".safetensors":
        from semapose.weights.read import check_finite

        tensors, meta = read_safetensors(path)
        check_finite(tensors, path)
    cfg = checkpoint_config(path, meta)
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
    if backbone_weights is not None:
        cfg.model.backbone_weights = backbone_weights
    init = cfg.model.backbone_weights or allowed_reference(named["init_backbone_weights"], path)
    if _is_partial(meta):  # temporal + head only, over a backbone from its own weights
        from semapose.models.partial import load_partial_weights

        if not init:
            refuse_addresses()
        cfg.model.backbone_weights = init
        model = build_model(cfg)
        load_partial_weights(model, path)
        return LoadedModel(model, cfg, _is_temporal(cfg), str(path))
    bare = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, backbone_weights=""))
    model = build_model(bare)
    own = model.state_dict()
    unexpected = sorted(set(tensors) - set(own))
    missing = [k for k in own if k not in tensors and not k.endswith("num_batches_tracked")]
    if missing and init:
        parts = load_pretrained(model, cfg.model.backbone, init)
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
    temporal = _is_temporal(cfg)
    if not hasattr(model, "encode_frames"):
        model = SingleFrameAdapter(model)
        temporal = False
    return LoadedModel(model, cfg, temporal, str(path))


def _is_temporal(cfg: Config) -> bool:
    return cfg.model.temporal != "none" and len(cfg.data.offsets) > 0


def _is_partial(meta: dict[str, str]) -> bool:
    """A file of the parts trained over a frozen backbone (see :mod:`semapose.models.partial`)."""
    return bool(meta.get("semapose_parts"))


def _few(keys: list[str]) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:4])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > 4 else ''})"


def _load_official(path: Path) -> LoadedModel:
    """Official / mmpose HRNet or ViTPose checkpoint -> single-frame model (T = 1).

    The input size comes from a ``HxW`` in the file name (``..._256x192...``), else
    256x192 (every published ViTPose, most HRNet releases).
    """
    from semapose.models.single_frame import single_frame_from_state_dict
    from semapose.weights.read import load_state_dict_file

    m = re.search(r"(\d{3})x(\d{3})", path.name)
    size = (int(m.group(1)), int(m.group(2))) if m else (256, 192)
    model, backbone = single_frame_from_state_dict(load_state_dict_file(path), path, size)
    cfg = Config()
    cfg.data.image_size = size
    cfg.data.offsets = []
    cfg.model.backbone = backbone
    cfg.model.temporal = "none"
    loaded = LoadedModel(SingleFrameAdapter(model), cfg, False, str(path))
    loaded.single_reason = f"{backbone} checkpoint; slots 1-2 are COCO's eyes"
    return loaded


__all__ = [
    "LoadedModel",
    "SingleFrameAdapter",
    "SingleFrameWarning",
    "load_model",
    "warn_notes",
]
