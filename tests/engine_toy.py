"""A throwaway model and dataset for the engine tests (not collected by pytest).

The model follows the estimator's training interface
(``forward_train(images, targets, target_weights) -> dict of loss terms``) with
no BatchNorm, so a 2-process run with the same global batch matches 1 process.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

J = 3
SIZE = 16


class ToyPose(nn.Module):
    def __init__(self, stochastic: bool = True, nan_at_call: int = -1) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1)
        )
        self.temporal = nn.Conv2d(16, 8, 1)
        self.head = nn.Conv2d(8, J, 1)
        self.mask_token = nn.Parameter(torch.zeros(8))
        self.stochastic = stochastic
        self.nan_at_call = nan_at_call
        self.calls = 0
        self.mask_scale = 1.0

    def set_mask_ratio_scale(self, scale: float) -> None:
        self.mask_scale = scale

    def forward_train(self, images: Tensor, targets: Tensor, weights: Tensor) -> dict[str, Tensor]:
        self.calls += 1
        b, t = images.shape[:2]
        k = t // 2
        feats = self.backbone(images.flatten(0, 1)).unflatten(0, (b, t))
        ctx = feats.mean(1)
        if self.stochastic:  # random "masking" of the context, drawn from torch's generator
            keep = torch.rand(b, 1, *ctx.shape[-2:], device=ctx.device) > 0.5 * self.mask_scale
            ctx = torch.where(keep, ctx, self.mask_token[None, :, None, None])
        fused = self.temporal(torch.cat([feats[:, k], ctx], 1))
        hm = self.head(fused)
        w = weights[:, k, :, None, None]
        heatmap = ((hm - targets[:, k]) ** 2 * w).mean()
        context = ((fused - feats[:, k].detach()) ** 2).mean()
        if self.calls == self.nan_at_call:
            context = context * float("nan")
        return {"heatmap": heatmap, "context": context}


class ToyClips(torch.utils.data.Dataset):
    """Clips whose content depends on the index and whose 'augmentation' uses np.random."""

    def __init__(self, n: int = 24, frames: int = 3) -> None:
        self.n = n
        self.frames = frames

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        g = np.random.default_rng(i)
        img = g.normal(size=(self.frames, 3, SIZE, SIZE)).astype(np.float32)
        img += np.random.normal(scale=0.1, size=img.shape).astype(np.float32)  # augmentation
        tgt = np.abs(g.normal(size=(self.frames, J, SIZE // 4, SIZE // 4))).astype(np.float32)
        w = (g.random((self.frames, J)) > 0.2).astype(np.float32)
        return {
            "images": torch.from_numpy(img),
            "targets": torch.from_numpy(tgt),
            "target_weights": torch.from_numpy(w),
        }
