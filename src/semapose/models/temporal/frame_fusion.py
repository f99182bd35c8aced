"""Pixel-wise fusion over the frames of the clip: where the key frame lost evidence,
take it from the supporting frames at full feature resolution.

SMML's pixel-wise fusion weights choose, per pixel, between the key frame's spatial
features and its motion features. :class:`FrameFusion` extends those weights over the
*frames*: for each feature pixel, a small scorer reads the frame's own features, their
difference to the key frame's, and that frame's MLSME motion token (coarse, upsampled),
and a softmax over the T frames gives the weight of each frame there. The weighted sum
of the frames' backbone features is the *support* map (B, C, h, w): at a pixel where the
key frame is clean the scorer can keep it; where it is occluded, dropped or blurred the
neighbours' features (aligned by the per-frame person boxes) can be copied.

The map enters the key frame's features through a per-channel ``mix`` that starts at
exactly zero (``key + mix * (support - key)``), so an untrained module still returns the
key frame's features bit for bit, and fed the key frame alone (every supporting frame
replaced by it) the support map *is* the key frame: the term vanishes and no capacity is
left that a single-frame model would not have. This is our addition, within the paper's
"pixel-wise fusion weights" (docs/paper_notes.md §7); the paper fuses two modalities, not
frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FrameFusion"]


class FrameFusion(nn.Module):
    """(feats (B,T,C,h,w), motion tokens (B,T,N,d)) -> support map (B,C,h,w), weights."""

    def __init__(
        self,
        in_channels: int,
        dim: int,
        channels: int,
        grid: tuple[int, int],
        key_index: int,
        cube_frames: int = 1,
    ) -> None:
        super().__init__()
        p = channels
        self.grid = grid
        self.cube_frames = cube_frames
        self.key_index = key_index
        self.reduce = nn.Conv2d(in_channels, p, 1)
        self.motion = nn.Linear(dim, p)
        self.score = nn.Sequential(
            nn.Conv2d(3 * p, p, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(p, 1, 1),
        )

    def forward(self, feats: Tensor, motion: Tensor) -> tuple[Tensor, Tensor]:
        b, t, c, h, w = feats.shape
        r = self.reduce(feats.flatten(0, 1)).unflatten(0, (b, t))  # (B,T,p,h,w)
        gh, gw = self.grid
        m = self.motion(motion).repeat_interleave(self.cube_frames, dim=1)  # (B,T,N,p)
        m = m.transpose(2, 3).reshape(b * t, -1, gh, gw)
        m = F.interpolate(m, size=(h, w), mode="nearest").unflatten(0, (b, t))
        diff = r - r[:, self.key_index : self.key_index + 1]
        x = torch.cat([r, diff, m], dim=2).flatten(0, 1)
        logits = self.score(x).view(b, t, h, w)
        weights = torch.softmax(logits.float(), dim=1).to(feats.dtype)
        support = (weights[:, :, None] * feats).sum(dim=1)
        return support, weights
