"""Find and load prediction weights: bundled, our checkpoints, official HRNet/ViTPose/mmpose.

``load_model(weights)`` accepts

* ``None`` / ``"bundled"``: the tiny model trained on **synthetic** video that ships
  in ``semapose/weights/`` (fine for the demo and for trying the tool, not for
  real footage: train on PoseTrack with the recipe in docs/training.md);
* a semapose checkpoint: ``NAME.safetensors`` whose metadata (or a ``NAME.json``
  sidecar) holds the config, or a training output folder (its ``last.json``);
* an official HRNet / ViTPose / mmpose checkpoint (``.pth``), loaded by
  :mod:`semapose.models.checkpoints` as a single-frame model;
* a name from the table of known checkpoints (:mod:`semapose.inference.weights`),
  downloaded on first use into the cache.

A model without a temporal part runs single-frame (T = 1); ``notes`` then holds
a one-line warning that the commands print. Loading never unpickles: safetensors,
or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semapose.config import Config, from_dict
from semapose.errors import CheckpointError

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "weights"
BUNDLED_TEMPORAL = "tiny_synthetic"
BUNDLED_SINGLE = "tiny_synthetic_single"

#: Shown wherever the bundled weights are used.
SYNTHETIC_NOTICE = (
    "note: the bundled weights are trained on synthetic video only; for real footage train "
    "on PoseTrack with the recipe in docs/training.md and pass --weights runs/<name>"
)


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


def bundled_path(name: str = BUNDLED_TEMPORAL) -> Path:
    """Path of a bundled weights file; CheckpointError when the package has none."""
    path = BUNDLED_DIR / f"{name}.safetensors"
    if not path.is_file():
        raise CheckpointError(
            f"{path}: the bundled weights '{name}' are not installed in this package; "
            "pass --weights PATH (a semapose checkpoint or an official HRNet/ViTPose file)"
        )
    return path


def load_model(weights: str | Path | None = None, device: Any = "cpu") -> LoadedModel:
    """Load weights (see the module docstring) onto ``device`` in eval mode."""
    import torch

    bundled = weights is None or str(weights) in ("bundled", BUNDLED_TEMPORAL, BUNDLED_SINGLE)
    if bundled:
        name = BUNDLED_SINGLE if str(weights) == BUNDLED_SINGLE else BUNDLED_TEMPORAL
        path = bundled_path(name)
    else:
        path = _resolve(str(weights))
    if path.is_dir():
        path = _from_run_dir(path)
    if path.suffix == ".safetensors":
        loaded = _load_semapose(path)
    else:
        loaded = _load_official(path)
    loaded.bundled = bundled
    if bundled:
        loaded.notes.append(SYNTHETIC_NOTICE)
    model = loaded.model
    if hasattr(model, "to"):
        model.to(torch.device(device))
    elif hasattr(model, "model"):
        model.model.to(torch.device(device))
    model.eval()
    if not loaded.temporal:
        why = f" ({loaded.single_reason})" if loaded.single_reason else ""
        loaded.notes.append(
            f"warning: {loaded.source} has no temporal part{why}; predicting single-frame"
        )
    return loaded


def warn_notes(loaded: LoadedModel) -> None:
    """Python-API form of the notes: a :class:`SingleFrameWarning` for single-frame weights."""
    if not loaded.temporal:
        msg = f"{loaded.source} has no temporal part; predicting single-frame"
        warnings.warn(msg, SingleFrameWarning, stacklevel=3)


def _resolve(weights: str) -> Path:
    """An existing file or folder as is; otherwise a known name, fetched into the cache."""
    path = Path(weights).expanduser()
    if path.exists():
        return path
    from semapose.inference.weights import resolve_weights

    return resolve_weights(weights)


def _from_run_dir(path: Path) -> Path:
    """Weights of a training output folder: best, else final, else the last checkpoint."""
    for name in ("best.safetensors", "model.safetensors"):
        if (path / name).is_file():
            return path / name
    pointer = path / "last.json"
    if pointer.is_file():
        try:
            record = json.loads(pointer.read_text(encoding="utf-8"))
            return path / str(record["weights"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{pointer}: expected a checkpoint pointer, got {exc}") from exc
    files = sorted(path.glob("*.safetensors"))
    if len(files) == 1:
        return files[0]
    raise CheckpointError(
        f"{path}: expected a training output folder (model.safetensors, best.safetensors or "
        "last.json) or a folder with one .safetensors file"
    )


def checkpoint_config(path: Path) -> Config:
    """The config stored with a semapose checkpoint: its safetensors metadata
    (``semapose_config``), else a ``NAME.json`` sidecar (the config, or ``{"config": ...}``)."""
    from semapose.engine.checkpoint import read_weights

    _, meta = read_weights(path)
    text = meta.get("semapose_config", meta.get("config"))
    sidecar = path.with_suffix(".json")
    source = str(path)
    if text is None:
        if not sidecar.is_file():
            raise CheckpointError(
                f"{path}: expected a config in the safetensors metadata or a {sidecar.name} "
                "sidecar, got neither"
            )
        source = str(sidecar)
        try:
            text = sidecar.read_text(encoding="utf-8")
        except OSError as exc:
            raise CheckpointError(f"{sidecar}: cannot read the checkpoint's config: {exc}") from exc
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise CheckpointError(f"{source}: the checkpoint's config is not JSON: {exc}") from exc
    if isinstance(raw, dict) and isinstance(raw.get("config"), dict):
        raw = raw["config"]
    return from_dict(Config, raw, source)  # type: ignore[no-any-return]


def _load_semapose(path: Path) -> LoadedModel:
    from semapose.engine.checkpoint import load_weights
    from semapose.models.build import build_model

    cfg = checkpoint_config(path)
    model: Any = build_model(cfg)
    load_weights(model, path, strict=True)
    temporal = cfg.model.temporal != "none" and len(cfg.data.offsets) > 0
    if not hasattr(model, "encode_frames"):
        model = SingleFrameAdapter(model)
        temporal = False
    return LoadedModel(model, cfg, temporal, str(path))


def _load_official(path: Path) -> LoadedModel:
    """Official / mmpose HRNet or ViTPose checkpoint -> single-frame model (T = 1).

    The architecture is read from the weights (HRNet width, ViT width and depth);
    the input size from a ``HxW`` in the file name (``..._256x192...``), else
    256x192 (every published ViTPose, most HRNet releases).
    """
    import re

    from semapose.models.checkpoints import detect_layout, load_state_dict_file

    sd = load_state_dict_file(path)
    keys = list(sd)
    layout = detect_layout(sd)
    m = re.search(r"(\d{3})x(\d{3})", path.name)
    size = (int(m.group(1)), int(m.group(2))) if m else (256, 192)
    if any("transition1" in k or "stage4" in k for k in keys):
        from semapose.models.single_frame import SingleFrameHRNet

        conv, layout = SingleFrameHRNet.convert_state_dict(sd)
        t1 = conv.get("backbone.transition1.0.0.weight")
        width = int(t1.shape[0]) if t1 is not None else 32
        final = conv.get("head.final_layer.weight")
        model: Any = SingleFrameHRNet(width, int(final.shape[0]) if final is not None else 17)
        model.load_converted(conv, path=path, layout=layout)
        backbone = f"hrnet_w{width}"
    elif any("patch_embed" in k for k in keys):
        from semapose.models.backbones.vit import VIT_ARCHS
        from semapose.models.single_frame import SingleFrameViTPose

        qkv = next((sd[k] for k in keys if k.endswith("blocks.0.attn.qkv.weight")), None)
        depth = len({k.split("blocks.")[1].split(".")[0] for k in keys if "blocks." in k})
        dim = int(qkv.shape[1]) if qkv is not None else -1
        arch = next((n for n, a in VIT_ARCHS.items() if (a.embed_dim, a.depth) == (dim, depth)), "")
        if not arch:
            raise CheckpointError(f"{path}: a ViT of width {dim} and depth {depth} is not known")
        model = SingleFrameViTPose.from_checkpoint(path, arch=arch, img_size=size)
        backbone = arch
    else:
        raise CheckpointError(
            f"{path}: expected a semapose .safetensors checkpoint or an official/mmpose HRNet or "
            f"ViTPose checkpoint, got {layout} keys ({', '.join(keys[:3])}, ...)"
        )
    cfg = Config()
    cfg.data.image_size = size
    cfg.data.offsets = []
    cfg.model.backbone = backbone
    cfg.model.temporal = "none"
    loaded = LoadedModel(SingleFrameAdapter(model), cfg, False, str(path))
    loaded.single_reason = f"{backbone} {layout} checkpoint; slots 1-2 are COCO's eyes"
    return loaded


__all__ = [
    "BUNDLED_DIR",
    "SYNTHETIC_NOTICE",
    "LoadedModel",
    "SingleFrameAdapter",
    "SingleFrameWarning",
    "bundled_path",
    "checkpoint_config",
    "load_model",
    "warn_notes",
]
