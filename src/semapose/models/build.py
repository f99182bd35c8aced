"""``build_model(cfg) -> Estimator``: the one place a config becomes a model.

Backbones come from a fixed name table (no registry): ``tiny`` here, HRNet and ViT
from :mod:`semapose.models.backbones` (imported lazily). The head is the backbone's
own single-frame head (HRNet: one 1x1 convolution; ViT: the classic two-deconvolution
decoder), chosen from the backbone's stride so that the heatmaps come out at
``cfg.data.heatmap_stride``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable

from torch import Tensor, nn

from semapose.config import Config, ModelConfig
from semapose.errors import ConfigError
from semapose.models.estimator import Estimator
from semapose.models.temporal.base import TemporalModule
from semapose.models.temporal.tokens import log2_int

__all__ = [
    "build_model",
    "check_model",
    "build_backbone",
    "make_head_factory",
    "build_temporal",
    "key_index_of",
    "load_pretrained",
]


def key_index_of(offsets: list[int]) -> int:
    """Position of the key frame in a clip ordered by offset: the number of negative offsets."""
    return sum(1 for o in offsets if o < 0)


def build_backbone(
    name: str, image_size: tuple[int, int] = (256, 192), source: str = "<config>"
) -> nn.Module:
    """A randomly initialised backbone by name (``tiny``, ``hrnet_w32``, ..., ``vit_h``).

    ``image_size`` sizes the ViT position embedding (other backbones ignore it);
    ``source`` is the config file named in errors.
    """
    try:
        module = importlib.import_module("semapose.models.backbones")
        factory = module.build_backbone
    except (ImportError, AttributeError) as exc:  # pragma: no cover - broken install
        raise ConfigError(
            source,
            "model.backbone",
            "a backbone whose implementation is installed (semapose.models.backbones)",
            f"{name} ({exc})",
        ) from exc
    kwargs = {"img_size": tuple(image_size)} if name.startswith("vit_") else {}
    try:
        backbone: nn.Module = factory(name, **kwargs)
    except ValueError as exc:
        raise ConfigError(source, "model.backbone", "a known backbone", name) from exc
    return backbone


def make_head_factory(
    backbone: nn.Module, model_cfg: ModelConfig, heatmap_stride: int
) -> Callable[[int], nn.Module]:
    """``in_channels -> head`` producing heatmaps at ``heatmap_stride`` from backbone features
    (the sizes are those :func:`check_model` accepts)."""
    from semapose.models.heads import DeconvHead, FinalLayerHead

    stride = int(getattr(backbone, "stride"))  # noqa: B009
    num_deconv = log2_int(stride // heatmap_stride, "backbone stride / heatmap stride")

    def make(in_channels: int) -> nn.Module:
        if model_cfg.backbone == "blazepose" and num_deconv == 0:
            from semapose.models.backbones.blazepose import BlazePoseHead

            return BlazePoseHead(in_channels, model_cfg.num_joints)  # sigmoid: heatmaps 0..1
        if num_deconv == 0:
            return FinalLayerHead(in_channels, model_cfg.num_joints)
        return DeconvHead(
            in_channels, model_cfg.num_joints, num_deconv, deconv_channels=model_cfg.head_channels
        )

    return make


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


def build_model(cfg: Config) -> Estimator:
    """Backbone + temporal module + head from ``cfg.model`` and the clip/input of ``cfg.data``.

    Loads ``cfg.model.backbone_weights`` (backbone and, where the checkpoint has it,
    the single-frame head) when set.
    """
    from semapose.models.size import check_model_size

    check_model_size(cfg)  # before any tensor is allocated: the config may be a file's
    m = cfg.model
    backbone = build_backbone(m.backbone, cfg.data.image_size, cfg.source)
    feat_size = check_model(cfg, int(getattr(backbone, "stride")))  # noqa: B009
    h, w = cfg.data.image_size
    num_frames = cfg.num_frames
    key_index = key_index_of(cfg.data.offsets)
    make_head = make_head_factory(backbone, m, cfg.data.heatmap_stride)
    channels = int(getattr(backbone, "out_channels"))  # noqa: B009
    temporal = build_temporal(m, channels, feat_size, num_frames, key_index, make_head)
    head = make_head(channels)
    model = Estimator(
        backbone,
        temporal,
        head,
        image_size=(h, w),
        freeze_backbone=m.freeze_backbone,
        name=f"{m.backbone}+{m.temporal}",
    )
    if m.backbone_weights:
        load_pretrained(model, m.backbone, m.backbone_weights)
    return model


def load_pretrained(model: Estimator, backbone: str, weights: str) -> list[str]:
    """Initialise the backbone, and where shapes fit the head(s), from pose weights.

    ``weights`` is any weights value (:func:`semapose.weights.resolve.resolve_weights`:
    a file, a training folder, a known name, a URL, a registry asset). HRNet / ViTPose
    checkpoints in any layout their backbone module converts (official, mmpose 0.x,
    mmpose 1.x); BlazePose from its tflite (or our conversion); ``tiny`` from a semapose
    checkpoint with ``backbone.*`` (and optionally ``head.*``) keys. The single-frame
    head initialises both the main head and the pose-reconstruction head of the temporal
    module (same design) when its joints and channels match; otherwise they keep their
    random initialisation. Returns the names of the parts that were loaded.
    """
    from semapose.models.checkpoints import check_and_load
    from semapose.weights.read import load_state_dict_file
    from semapose.weights.resolve import resolve_weights

    path = resolve_weights(weights, option="model.backbone_weights").path
    source: dict[str, dict[str, Tensor]] = {}
    if backbone == "blazepose":
        from semapose.models.backbones.blazepose import pretrained_parts

        source = pretrained_parts(path)
    elif backbone.startswith(("hrnet_w", "vit_")):
        from semapose.models.single_frame import SingleFrameHRNet, SingleFrameViTPose

        sd = load_state_dict_file(path)
        pose: nn.Module
        if backbone.startswith("hrnet_w"):
            pose = SingleFrameHRNet.from_state_dict(sd, path, width=int(backbone[-2:]))
        else:
            pose = SingleFrameViTPose.from_state_dict(
                sd, path, arch=backbone, img_size=model.image_size
            )
        source = {"backbone": pose.backbone.state_dict(), "head": pose.head.state_dict()}
    else:
        sd = load_state_dict_file(path)
        for part in ("backbone", "head"):
            sub = {k[len(part) + 1 :]: v for k, v in sd.items() if k.startswith(part + ".")}
            if sub:
                source[part] = sub
        if "backbone" not in source:
            check_and_load(model.backbone, sd, path=path, layout="unknown", what=backbone)
    loaded: list[str] = []
    if "backbone" in source:
        check_and_load(
            model.backbone, source["backbone"], path=path, layout="semapose", what=backbone
        )
        loaded.append("backbone")
    head_sd = source.get("head")
    targets = {"head": model.head, "temporal.pose_head": getattr(model.temporal, "pose_head", None)}
    for name, head in targets.items():
        if head_sd is not None and isinstance(head, nn.Module) and _fits(head, head_sd):
            head.load_state_dict(head_sd, strict=False)
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
