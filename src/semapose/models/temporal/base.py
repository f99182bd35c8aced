"""The interface every temporal module implements (ours and the baselines).

A temporal module maps backbone feature maps of a clip ``(B, T, C, h, w)`` to one
feature map of the key frame ``(B, C, h, w)`` in the *backbone's* feature space, so
that every variant is decoded by the same heatmap head (the backbone's own
single-frame head, which can therefore keep its pretrained weights).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["TemporalModule", "zero_init_"]


class TemporalModule(nn.Module):
    """Base class: ``forward(feats) -> key features``; ``forward_train`` adds auxiliaries."""

    num_frames: int
    key_index: int

    def __init__(self, num_frames: int, key_index: int) -> None:
        super().__init__()
        if not 0 <= key_index < num_frames:
            raise ValueError(f"key_index {key_index} is outside 0..{num_frames - 1}")
        self.num_frames = num_frames
        self.key_index = key_index

    def forward_train(self, feats: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Key-frame features plus named auxiliary outputs (none for plain modules).

        Auxiliary keys understood by the estimator: ``context_pred``,
        ``context_target`` (B, T', N, D), ``context_mask`` (B, T', N) bool, and
        ``pose_heatmaps`` (B, T, J, h', w').
        """
        return self(feats), {}

    def set_mask_ratio_scale(self, scale: float) -> None:
        """Scale the masking ratios (modules without masking ignore it)."""


def zero_init_(layer: nn.Module) -> None:
    """Zero a layer's weight and bias, so the residual it ends contributes exactly 0 at first.

    Gradients still reach it (and, from the next step on, everything before it).
    """
    weight = getattr(layer, "weight", None)
    bias = getattr(layer, "bias", None)
    for p in (weight, bias):
        if isinstance(p, nn.Parameter):
            nn.init.zeros_(p)
