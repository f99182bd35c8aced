"""The models and configurations several benchmark scripts build (random weights unless
a script loads some): the named model table of the speed benchmarks, the random tiny
model, the cache-fit preset the temporal benchmarks vary, and the key-only view."""

from __future__ import annotations

from typing import Any

from harness.paths import ROOT

CONFIGS_DIR = ROOT / "configs"
TINY = "synthetic_cpu_tiny.yaml"
PAPER = "posetrack18_paper.yaml"

#: name -> (preset file, overrides); the temporal module keeps the preset's sizes
MODELS: dict[str, tuple[str, list[str]]] = {
    "tiny 128x96": (
        TINY,
        [
            "data.image_size=[128,96]",
            "data.offsets=[-2,-1,1,2]",
            "model.cube_size=4",
            "model.frame_mask_ratio=0.4",
        ],
    ),
    "HRNet-W32 256x192": (
        PAPER,
        [
            "model.backbone=hrnet_w32",
            "model.backbone_weights=",
            "data.image_size=[256,192]",
            "model.cube_size=4",
        ],
    ),
    "HRNet-W48 384x288": (
        PAPER,
        [
            "model.backbone=hrnet_w48",
            "model.backbone_weights=",
            "data.image_size=[384,288]",
            "model.cube_size=4",
        ],
    ),
    "ViT-B 256x192": (PAPER, ["model.backbone_weights="]),
}
W48 = "HRNet-W48 384x288"
#: counted in ``speed.py``'s sizes only: the project's own HRNet-W48 preset file, as it is
SIZE_ONLY: dict[str, tuple[str, list[str]]] = {
    "HRNet-W48 384x288, posetrack18_hrnet_w48.yaml as is": (
        "posetrack18_hrnet_w48.yaml",
        ["model.backbone_weights="],
    ),
}


def load_cfg(name: str, extra: list[str] | None = None) -> Any:
    """The configuration of the named model of :data:`MODELS` (or :data:`SIZE_ONLY`)."""
    from semapose.config import load_config

    preset, over = MODELS[name] if name in MODELS else SIZE_ONLY[name]
    return load_config(CONFIGS_DIR / preset, over + (extra or []))


def build_named(name: str, weights: str | None = None) -> tuple[Any, Any]:
    """The named model (seed 0, eval mode; ``weights``: a checkpoint to load) and its config."""
    import torch

    from semapose.models.build import build_model

    torch.manual_seed(0)
    cfg = load_cfg(name)
    model = build_model(cfg).eval()
    if weights:
        from semapose.engine.checkpoint import load_weights

        load_weights(model, weights)
    return model, cfg


def tiny_cfg() -> Any:
    """64x48 crops, T = 5 (offsets -2..2), MLSME+SMML of width 32, two heads."""
    from semapose.config import Config

    cfg = Config()
    cfg.data.image_size = (64, 48)
    cfg.data.offsets = [-2, -1, 1, 2]
    cfg.model.temporal = "mlsme_smml"
    cfg.model.dim = 32
    cfg.model.heads = 2
    cfg.test.batch_size = 8
    return cfg


def tiny_model(cfg: Any, seed: int = 0) -> Any:
    """A random model of ``cfg`` (eval mode) with random BatchNorm means: its heatmaps are
    more peaked than a fresh initialisation's."""
    import torch

    from semapose.models.build import build_model

    torch.manual_seed(seed)
    model = build_model(cfg).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
    return model


#: option prefixes a temporal benchmark's variant sets itself (``fit``'s preset chooses them
#: for the shipped variant)
VARIANT_OPTIONS = ("model.temporal=", "model.pixel_decoder=", "model.frame_fusion=")


def fit_preset(backbone: bool = False) -> list[str]:
    """``fit``'s preset (``FIT_PRESET``) without the options each variant names itself
    (:data:`VARIANT_OPTIONS`; ``backbone``: the backbone's too, for a script that picks it)."""
    from semapose.engine.cache_fit import FIT_PRESET

    own = VARIANT_OPTIONS + (("model.backbone",) if backbone else ())
    return [o for o in FIT_PRESET if not o.startswith(own)]


def key_only(model: Any) -> Any:
    """Feed ``model`` its key frame alone from now on (every supporting frame replaced by
    the key frame); returns the original ``decode_clip`` (assign it back to undo)."""
    k = model.key_index
    decode = model.decode_clip
    model.decode_clip = lambda f: decode(f[:, k : k + 1].expand_as(f).contiguous())
    return decode


def build_fit_variant(options: list[str], seed: int = 0) -> tuple[Any, Any]:
    """The config of :func:`fit_preset` + ``options`` (a variant's own, then overrides) with
    ``train.seed``, and its model built after ``torch.manual_seed(seed)`` (eval mode)."""
    import torch

    from semapose.config import load_config
    from semapose.models.build import build_model

    cfg = load_config(None, fit_preset() + options + [f"train.seed={seed}"])
    torch.manual_seed(seed)
    return cfg, build_model(cfg).eval()
