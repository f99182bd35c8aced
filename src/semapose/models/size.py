"""How big a config's model would be, checked before anything is built (issue 24).

A config comes from a file, possibly the one embedded in a downloaded weights file:
``model.dim`` 8192 with depth 64 reached 5.5 GB before any error, ``data.image_size``
48000 x 36000 4.7 GB. :func:`check_model_size` estimates the parameter count from
the config alone (no tensor is allocated) and refuses sizes beyond
:data:`~semapose.limits.MAX_MODEL_INPUT_SIDE`,
:data:`~semapose.limits.MAX_TEMPORAL_PARAMETERS` and
:data:`~semapose.limits.MAX_MODEL_PARAMETERS`, naming the config and the key.
"""

from __future__ import annotations

from typing import Any

from semapose.errors import ConfigError
from semapose.limits import MAX_MODEL_INPUT_SIDE, MAX_MODEL_PARAMETERS, MAX_TEMPORAL_PARAMETERS

#: an unknown backbone name (refused later by the config check) counts as the largest
_UNKNOWN_CHANNELS = 1280


def _row(name: str) -> Any:
    """The backbone's row of :data:`~semapose.models.backbones.spec.BACKBONES` (its
    parameter and channel bounds), None for an unknown name."""
    from semapose.models.backbones.spec import BACKBONES

    return BACKBONES.get(name)


def temporal_parameters(cfg: Any) -> int:
    """An upper estimate of the temporal module's and the head's parameter count."""
    m = cfg.model
    row = _row(m.backbone)
    channels = row.channels if row is not None else _UNKNOWN_CHANNELS
    frames = 1 + len(cfg.data.offsets)
    head = channels * m.head_channels * 16 + m.head_channels**2 * 16 + m.head_channels * 1000
    head += m.pixel_decoder * (channels + m.dim) * 9
    if m.temporal == "none":
        return int(head)
    if m.temporal != "mlsme_smml":  # convolutional baselines over the feature channels
        return int(head + 9 * channels * channels * 8 * max(frames, 1))
    blocks = m.patch_depth + m.frame_depth + 2 * m.decoder_depth + 2 * m.smml_rounds + 2
    per_block = int((4 + 2 * m.mlp_ratio) * m.dim * m.dim)
    embed = 2 * channels * m.cube_size**2 * m.cube_frames * m.dim
    return int(head + blocks * per_block + embed)


def check_model_size(cfg: Any) -> None:
    """ConfigError when the model ``cfg`` describes would be beyond the bounds."""
    src, d = cfg.source, cfg.data
    h, w = (int(v) for v in d.image_size)
    if max(h, w) > MAX_MODEL_INPUT_SIDE:
        raise ConfigError(
            src,
            "data.image_size",
            f"a network input of at most {MAX_MODEL_INPUT_SIDE} pixels per side",
            [h, w],
        )
    temporal = temporal_parameters(cfg)
    if temporal > MAX_TEMPORAL_PARAMETERS:
        raise ConfigError(
            src,
            "model.dim",
            f"a temporal module of at most {MAX_TEMPORAL_PARAMETERS / 1e6:.0f} M parameters "
            "(model.dim, the depths and head sizes)",
            f"about {temporal / 1e6:,.0f} M parameters (dim {cfg.model.dim})",
        )
    row = _row(cfg.model.backbone)
    total = temporal + (row.parameters if row is not None else MAX_MODEL_PARAMETERS)
    if total > MAX_MODEL_PARAMETERS:
        raise ConfigError(
            src,
            "model",
            f"a model of at most {MAX_MODEL_PARAMETERS / 1e6:.0f} M parameters",
            f"about {total / 1e6:,.0f} M parameters",
        )


__all__ = ["check_model_size", "temporal_parameters"]
