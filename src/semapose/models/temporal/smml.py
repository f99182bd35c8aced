"""SMML: spatial-motion mutual learning, and the concatenation ablation.

Inputs are token sequences on the same grid: ``spatial`` (B, N, d), the key frame's
unmasked backbone features projected to d, and ``motion`` (B, N, d), the key frame's
slice of the MLSME output. Each round is a two-way multi-head cross-attention (each
modality queries the other; both updates use the previous round's values) followed by
an FFN per modality, all pre-LN with residuals. Learned *pixel-wise fusion weights*
then combine the two: a 1x1 convolution on the channel concatenation gives two logits
per pixel, a softmax over the two modalities turns them into weights (implemented as
a Linear on tokens, which is the same operation as a 1x1 convolution on the grid).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semapose.models.temporal.tokens import CrossAttention, Mlp

__all__ = ["SMML", "ConcatFusion"]


class _MutualRound(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm_s = nn.LayerNorm(dim)
        self.norm_m = nn.LayerNorm(dim)
        self.s_from_m = CrossAttention(dim, heads)
        self.m_from_s = CrossAttention(dim, heads)
        self.ffn_norm_s = nn.LayerNorm(dim)
        self.ffn_norm_m = nn.LayerNorm(dim)
        self.ffn_s = Mlp(dim, mlp_ratio)
        self.ffn_m = Mlp(dim, mlp_ratio)

    def forward(self, s: Tensor, m: Tensor) -> tuple[Tensor, Tensor]:
        sn, mn = self.norm_s(s), self.norm_m(m)
        s = s + self.s_from_m(sn, mn)
        m = m + self.m_from_s(mn, sn)
        s = s + self.ffn_s(self.ffn_norm_s(s))
        m = m + self.ffn_m(self.ffn_norm_m(m))
        return s, m


class SMML(nn.Module):
    """``rounds`` x mutual cross-attention, then pixel-wise softmax fusion -> (B, N, d)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, rounds: int = 1) -> None:
        super().__init__()
        self.rounds = nn.ModuleList(_MutualRound(dim, heads, mlp_ratio) for _ in range(rounds))
        self.norm_s = nn.LayerNorm(dim)
        self.norm_m = nn.LayerNorm(dim)
        self.weights = nn.Linear(2 * dim, 2)

    def fusion_weights(self, spatial: Tensor, motion: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Mutual rounds, then (weights (B, N, 2), spatial' (B,N,d), motion' (B,N,d))."""
        s, m = spatial, motion
        for rnd in self.rounds:
            s, m = rnd(s, m)
        s, m = self.norm_s(s), self.norm_m(m)
        w = torch.softmax(self.weights(torch.cat([s, m], dim=-1)), dim=-1)
        return w, s, m

    def forward(self, spatial: Tensor, motion: Tensor) -> Tensor:
        w, s, m = self.fusion_weights(spatial, motion)
        return w[..., 0:1] * s + w[..., 1:2] * m


class ConcatFusion(nn.Module):
    """Ablation: concatenate the two modalities and project back to d (no mutual learning)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm_s = nn.LayerNorm(dim)
        self.norm_m = nn.LayerNorm(dim)
        self.proj = nn.Linear(2 * dim, dim)

    def forward(self, spatial: Tensor, motion: Tensor) -> Tensor:
        return self.proj(torch.cat([self.norm_s(spatial), self.norm_m(motion)], dim=-1))
