"""MLSME: the multi-level semantic motion encoder (Feng & Chen 2025), as we read it.

Backbone feature maps of T frames become patch-cube tokens (sine-cosine spatial and
learnable temporal encodings). A *patch-level* encoder (joint space-time attention)
sees the tokens with random **tube masking** (the same spatial cubes hidden in every
temporal slot, replaced by a learnable mask token plus its position encoding); a
*frame-level* encoder (divided space-time attention) sees the patch-level output with
random **whole-frame masking**. Masking happens only in training mode and draws from
torch's RNG on the model's device; in eval mode the encoder is a plain deterministic
transformer. The reconstruction decoders live in :mod:`semapose.models.temporal.mlsme_smml`.
See docs/paper_notes.md for every choice the paper leaves open.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from semapose.models.temporal.tokens import (
    CubeTokenizer,
    DividedBlock,
    JointBlock,
    drop_path_rates,
)

__all__ = ["MLSME", "LEVELS", "round_half_up"]

#: which encoder levels exist: both (ours), patch only, frame only (ablations)
LEVELS = ("both", "patch", "frame")


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


class MLSME(nn.Module):
    """Tokens of a clip -> motion tokens ``(B, T', N, d)``; masks in training mode only."""

    def __init__(
        self,
        in_channels: int,
        dim: int,
        grid: tuple[int, int],
        num_frames: int,
        key_index: int,
        *,
        cube_size: int = 2,
        cube_frames: int = 1,
        patch_depth: int = 2,
        frame_depth: int = 1,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.1,
        levels: str = "both",
        patch_masking: bool = True,
        frame_masking: bool = True,
        patch_mask_ratio: float = 0.5,
        frame_mask_ratio: float = 0.4,
        mask_key_frame: bool = False,
    ) -> None:
        super().__init__()
        if levels not in LEVELS:
            raise ValueError(f"levels must be one of {LEVELS}, got {levels!r}")
        if num_frames % cube_frames:
            raise ValueError(f"{num_frames} frames do not split into cubes of {cube_frames}")
        self.use_patch = levels in ("both", "patch")
        self.use_frame = levels in ("both", "frame")
        if self.use_patch and patch_depth < 1:
            raise ValueError("the patch-level encoder needs patch_depth >= 1")
        if self.use_frame and frame_depth < 1:
            raise ValueError("the frame-level encoder needs frame_depth >= 1")
        self.num_slots = num_frames // cube_frames
        self.key_slot = key_index // cube_frames
        self.num_tokens = grid[0] * grid[1]
        self.patch_mask_ratio = patch_mask_ratio
        self.frame_mask_ratio = frame_mask_ratio
        self.mask_key_frame = mask_key_frame
        #: multiplies both masking ratios (a warm-up schedule sets it, 1.0 = full ratio)
        self.mask_ratio_scale = 1.0
        self.tokenizer = CubeTokenizer(
            in_channels, dim, grid, self.num_slots, cube_size, cube_frames
        )
        p_depth = patch_depth if self.use_patch else 0
        f_depth = frame_depth if self.use_frame else 0
        rates = drop_path_rates(drop_path, p_depth + f_depth)
        self.patch_blocks = nn.ModuleList(
            JointBlock(dim, heads, mlp_ratio, rates[i]) for i in range(p_depth)
        )
        self.frame_blocks = nn.ModuleList(
            DividedBlock(dim, heads, mlp_ratio, rates[p_depth + i]) for i in range(f_depth)
        )
        self.norm = nn.LayerNorm(dim)
        # Mask tokens exist only where masking can happen, so that every parameter of a
        # variant receives gradients.
        self.patch_mask_token: nn.Parameter | None = None
        self.frame_mask_token: nn.Parameter | None = None
        if self.use_patch and patch_masking and patch_mask_ratio > 0:
            self.patch_mask_token = nn.Parameter(torch.zeros(1, 1, 1, dim))
            nn.init.trunc_normal_(self.patch_mask_token, std=0.02)
        eligible = self.num_slots - (0 if mask_key_frame else 1)
        if self.use_frame and frame_masking and frame_mask_ratio > 0 and eligible > 0:
            self.frame_mask_token = nn.Parameter(torch.zeros(1, 1, 1, dim))
            nn.init.trunc_normal_(self.frame_mask_token, std=0.02)

    @property
    def masks_anything(self) -> bool:
        """Whether training mode can mask tokens (False for the no-masking ablation)."""
        return self.patch_mask_token is not None or self.frame_mask_token is not None

    def num_masked_patches(self) -> int:
        ratio = self.patch_mask_ratio * self.mask_ratio_scale
        return min(self.num_tokens, round_half_up(ratio * self.num_tokens))

    def num_masked_frames(self) -> int:
        eligible = self.num_slots - (0 if self.mask_key_frame else 1)
        ratio = self.frame_mask_ratio * self.mask_ratio_scale
        return max(0, min(eligible, round_half_up(ratio * self.num_slots)))

    def tube_mask(self, batch: int, device: torch.device) -> Tensor:
        """(B, N) bool: ``num_masked_patches`` random spatial positions per sample."""
        rank = torch.rand(batch, self.num_tokens, device=device).argsort(1).argsort(1)
        return rank < self.num_masked_patches()

    def frame_mask(self, batch: int, device: torch.device) -> Tensor:
        """(B, T') bool: ``num_masked_frames`` random temporal slots per sample."""
        noise = torch.rand(batch, self.num_slots, device=device)
        if not self.mask_key_frame:
            noise[:, self.key_slot] = 2.0  # ranks last, never chosen
        rank = noise.argsort(1).argsort(1)
        return rank < self.num_masked_frames()

    def forward(self, feats: Tensor, masking: bool = True) -> tuple[Tensor, Tensor | None]:
        """(B, T, C, h, w) -> (motion tokens (B, T', N, d), mask (B, T', N) bool or None).

        Masks are drawn only in training mode and when ``masking`` is true. The mask
        marks the tokens hidden by either level; it is None when nothing was masked.
        """
        masking = masking and self.training
        pe = self.tokenizer.pos_embed()
        x = self.tokenizer(feats) + pe
        b, t, n, _ = x.shape
        mask: Tensor | None = None
        if self.use_patch:
            if masking and self.patch_mask_token is not None:
                tube = self.tube_mask(b, x.device)[:, None, :].expand(b, t, n)
                x = torch.where(tube[..., None], (self.patch_mask_token + pe).to(x.dtype), x)
                mask = tube
            for blk in self.patch_blocks:
                x = blk(x)
        if self.use_frame:
            if masking and self.frame_mask_token is not None:
                frames = self.frame_mask(b, x.device)[:, :, None].expand(b, t, n)
                x = torch.where(frames[..., None], (self.frame_mask_token + pe).to(x.dtype), x)
                mask = frames if mask is None else mask | frames
            for blk in self.frame_blocks:
                x = blk(x)
        return self.norm(x), mask
