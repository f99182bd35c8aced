"""``build_model(cfg) -> Estimator``: the one place a config becomes a model.

Backbones come from the fixed table :data:`semapose.models.backbones.spec.BACKBONES`
(no registry; networks imported lazily). The head is the backbone's own single-frame
head (HRNet, tiny: one 1x1 convolution; ViT: the classic two-deconvolution decoder;
BlazePose: its sigmoid head), chosen from the backbone's stride so that the heatmaps
come out at ``cfg.data.heatmap_stride``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from torch import Tensor, nn

from semapose.config import Config, ModelConfig
from semapose.errors import ConfigError
from semapose.models.estimator import Estimator
from semapose.models.temporal.base import TemporalModule
from semapose.models.temporal.tokens import log2_int

if TYPE_CHECKING:
    from semapose.models.backbones.spec import Backbone, BackboneSpec, Pretrained
    from semapose.weights.read import WeightsFile

__all__ = [
    "backbone_of",
    "build_model",
    "check_model",
    "build_temporal",
    "key_index_of",
    "fill_pretrained",
    "load_pretrained",
]


def key_index_of(offsets: list[int]) -> int:
    """Position of the key frame in a clip ordered by offset: the number of negative offsets."""
    return sum(1 for o in offsets if o < 0)


def backbone_of(cfg: Config) -> Backbone:
    """The row of ``cfg.model.backbone`` in :data:`semapose.models.backbones.spec.BACKBONES`,
    its hooks imported; ConfigError naming the config file for an unknown name."""
    from semapose.models.backbones.spec import backbone

    try:
        return backbone(cfg.model.backbone)
    except ValueError as exc:
        raise ConfigError(
            cfg.source, "model.backbone", "a known backbone", cfg.model.backbone
        ) from exc


def build_temporal(
    m: ModelConfig,
    in_channels: int,
    feat_size: tuple[int, int],
    num_frames: int,
    key_index: int,
    make_head: Callable[[int], nn.Module],
) -> TemporalModule:
    """The temporal module named by ``m.temporal`` (sizes checked by :func:`check_model`)."""
    from semapose.models.temporal import (
        MLSMESMML,
        DeformableWarping,
        SingleFrame,
        TemporalDifference,
    )

    if m.temporal == "temporal_difference":
        return TemporalDifference(
            in_channels, num_frames, key_index, dim=m.dim, gate_init=m.skip_gate_init
        )
    if m.temporal == "heatmap_warping":
        return DeformableWarping(
            in_channels,
            num_frames,
            key_index,
            dim=m.dim,
            dilations=tuple(m.warp_dilations),
            gate_init=m.skip_gate_init,
        )
    if m.temporal == "mlsme_smml":
        return MLSMESMML(in_channels, feat_size, num_frames, key_index, make_head, m)
    return SingleFrame(num_frames, key_index)


TEMPORAL_MODULES = ("none", "mlsme_smml", "temporal_difference", "heatmap_warping")


def check_model(cfg: Config, stride: int) -> tuple[int, int]:
    """Every constraint between the model sections and the backbone (of output ``stride``),
    in one place; errors name the config file (``cfg.source``). Returns the feature size.

    Starts with the single-key ranges and choices of :mod:`semapose.config` (again: a
    config may have been changed in code since it was read).
    """
    from semapose.config import check_config
    from semapose.models.size import check_model_size

    check_config(cfg)
    check_model_size(cfg)
    src, m, d = cfg.source, cfg.model, cfg.data
    h, w = (int(v) for v in d.image_size)
    if h % stride or w % stride:
        raise ConfigError(
            src, "data.image_size", f"sizes divisible by the backbone stride {stride}", [h, w]
        )
    up = stride // d.heatmap_stride if stride % d.heatmap_stride == 0 else 0
    if up < 1 or up & (up - 1):
        raise ConfigError(
            src,
            "data.heatmap_stride",
            f"the backbone stride {stride} divided by a power of two",
            d.heatmap_stride,
        )
    feat = (h // stride, w // stride)
    if m.temporal not in TEMPORAL_MODULES:
        raise ConfigError(
            src, "model.temporal", "one of " + ", ".join(TEMPORAL_MODULES), m.temporal
        )
    if m.temporal == "heatmap_warping" and (not m.warp_dilations or min(m.warp_dilations) < 1):
        raise ConfigError(src, "model.warp_dilations", "positive integers", m.warp_dilations)
    if m.temporal == "mlsme_smml":
        if feat[0] % m.cube_size or feat[1] % m.cube_size:
            raise ConfigError(
                src,
                "model.cube_size",
                f"a divisor of the feature map size {feat[0]}x{feat[1]}",
                m.cube_size,
            )
        if cfg.num_frames % m.cube_frames:
            raise ConfigError(
                src,
                "model.cube_frames",
                f"a divisor of the clip length {cfg.num_frames}",
                m.cube_frames,
            )
        if m.dim % m.heads or m.dim % 4:
            raise ConfigError(src, "model.dim", "a multiple of 4 and of model.heads", m.dim)
        for depth_name, level in (("patch_depth", "patch"), ("frame_depth", "frame")):
            if m.mlsme_levels in ("both", level) and getattr(m, depth_name) < 1:
                raise ConfigError(
                    src,
                    f"model.{depth_name}",
                    f">= 1 when mlsme_levels uses the {level} level",
                    getattr(m, depth_name),
                )
    return feat


def build_model(cfg: Config, given: Mapping[str, nn.Module] | None = None) -> Estimator:
    """Backbone + temporal module + head from ``cfg.model`` and the clip/input of ``cfg.data``.

    The backbone and its single-frame head are its spec row's (``given``: a ``backbone``
    and ``head`` already built and filled, used as they are); loads
    ``cfg.model.backbone_weights`` (backbone and, where the checkpoint has it, the
    single-frame head) when set.
    """
    from semapose.models.backbones import build_backbone
    from semapose.models.size import check_model_size

    check_model_size(cfg)  # before any tensor is allocated: the config may be a file's
    m = cfg.model
    row = backbone_of(cfg)
    h, w = (int(v) for v in cfg.data.image_size)
    given = given or {}
    backbone = given.get("backbone")
    if backbone is None:
        backbone = build_backbone(row, **({"img_size": (h, w)} if row.row.sized else {}))
    stride = int(getattr(backbone, "stride"))  # noqa: B009
    feat_size = check_model(cfg, stride)
    num_deconv = log2_int(stride // cfg.data.heatmap_stride, "backbone stride / heatmap stride")

    def make_head(in_channels: int) -> nn.Module:
        """The backbone's own single-frame head (its row's hook), else one 1x1 convolution
        at the heatmap stride, or ``num_deconv`` deconvolutions before it."""
        own = row.head(in_channels, m.num_joints, num_deconv) if row.head else None
        if own is not None:
            return own
        from semapose.models.heads import DeconvHead, FinalLayerHead

        if num_deconv == 0:
            return FinalLayerHead(in_channels, m.num_joints)
        return DeconvHead(in_channels, m.num_joints, num_deconv, deconv_channels=m.head_channels)

    channels = int(getattr(backbone, "out_channels"))  # noqa: B009
    key_index = key_index_of(cfg.data.offsets)
    temporal = build_temporal(m, channels, feat_size, cfg.num_frames, key_index, make_head)
    model = Estimator(
        backbone,
        temporal,
        head if (head := given.get("head")) is not None else make_head(channels),
        image_size=(h, w),
        freeze_backbone=m.freeze_backbone,
        name=f"{m.backbone}+{m.temporal}",
    )
    if m.backbone_weights:
        load_pretrained(model, row, m.backbone_weights)
    return model


def load_pretrained(
    model: Estimator, backbone: str | BackboneSpec | Backbone, weights: str | WeightsFile
) -> list[str]:
    """Initialise the backbone, and where shapes fit the head(s), from pose weights.

    ``weights`` is any weights value (:func:`semapose.weights.resolve.resolve_weights`:
    a file, a training folder, a known name, a URL, a registry asset), or its file
    already read (:func:`semapose.weights.read.read_weights`), in any layout the
    backbone's row reads (:mod:`semapose.models.backbones.spec`). See
    :func:`fill_pretrained`; returns the names of the parts that were loaded.
    """
    from semapose.models.backbones.spec import OWN_FORMATS, Backbone
    from semapose.models.backbones.spec import backbone as look_up
    from semapose.weights.read import read_weights
    from semapose.weights.resolve import resolve_weights

    row = backbone if isinstance(backbone, Backbone) else look_up(backbone)
    if isinstance(weights, str):
        source = resolve_weights(weights, option="model.backbone_weights")
        weights = read_weights(source, OWN_FORMATS, backbone=row.name)
    pretrained = row.pretrained(row, weights, model.image_size)
    return fill_pretrained(model, pretrained, weights.path, row.name)


def fill_pretrained(model: Estimator, pretrained: Pretrained, path: Path, what: str) -> list[str]:
    """Put a backbone's published weights into ``model``: the backbone strictly; the
    single-frame head initialises both the main head and the pose-reconstruction head of
    the temporal module (same design) when its joints and channels match, otherwise they
    keep their random initialisation (with a warning). Returns the parts loaded."""
    from semapose.models.checkpoints import check_and_load

    source = pretrained.parts
    loaded: list[str] = []
    if "backbone" in source:
        check_and_load(
            model.backbone, source["backbone"], path=path, layout=pretrained.layout, what=what
        )
        loaded.append("backbone")
    head_sd = source.get("head")
    targets = {"head": model.head, "temporal.pose_head": getattr(model.temporal, "pose_head", None)}
    for name, head in targets.items():
        if head_sd is not None and isinstance(head, nn.Module) and _fits(head, head_sd):
            on_meta = any(t.is_meta for t in head.state_dict().values())  # built without init
            head.load_state_dict(head_sd, strict=False, assign=on_meta)
            loaded.append(name)
    if head_sd is not None and "head" not in loaded:
        warnings.warn(
            f"{path}: the checkpoint's head does not fit this model's head (joints or "
            "model.head_channels differ); the head keeps its random initialisation",
            stacklevel=2,
        )
    return loaded


def _fits(module: nn.Module, sd: dict[str, Tensor]) -> bool:
    own = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    return set(own) <= set(sd) and all(sd[k].shape == v.shape for k, v in own.items())
