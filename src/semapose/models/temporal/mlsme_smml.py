"""The paper's temporal module: MLSME + SMML, with its training-only reconstruction decoders.

Forward (train and eval)::

    feats (B,T,C,h,w) --MLSME--> motion tokens (B,T',N,d) --key slot--> M_key (B,N,d)
    key feats --cubes, Linear, sin-cos PE--> S (B,N,d)
    SMML(S, M_key) (or concatenation) -> fused (B,N,d) --Linear, unpatchify--> (B,C,h,w)
    out = key feats + gamma * that            (key_skip=True, our default; the last
                                              Linear starts at zero, so an untrained
                                              module returns the key features exactly)
    out = that                                (key_skip=False)

Training adds two decoders on the motion tokens: the *context* decoder (light
transformer + Linear to the cube size) predicts the LayerNorm-normalised,
stop-gradient backbone cubes, scored on masked tokens only; the *pose* decoder
(Linear + unpatchify + a heatmap head of the main head's design with its own weights)
predicts the heatmaps of every frame.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semapose.config import ModelConfig
from semapose.models.temporal.base import TemporalModule, zero_init_
from semapose.models.temporal.frame_fusion import FrameFusion
from semapose.models.temporal.mlsme import MLSME
from semapose.models.temporal.smml import SMML, ConcatFusion
from semapose.models.temporal.tokens import JointBlock, patchify, unpatchify

__all__ = ["MLSMESMML", "ContextDecoder"]


class ContextDecoder(nn.Module):
    """Light transformer (joint attention) + Linear: motion tokens -> feature cubes."""

    def __init__(self, dim: int, out_dim: int, depth: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(JointBlock(dim, heads, mlp_ratio, 0.0) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        for blk in self.blocks:
            x = blk(x)
        return self.proj(self.norm(x))


class MLSMESMML(TemporalModule):
    """Backbone features of a clip -> key-frame features (see the module docstring)."""

    def __init__(
        self,
        in_channels: int,
        feat_size: tuple[int, int],
        num_frames: int,
        key_index: int,
        make_head: Callable[[int], nn.Module] | None,
        m: ModelConfig,
    ) -> None:
        """Sizes and switches come from the model section ``m`` of the config (its keys,
        defaults and ranges are documented in :class:`semapose.config.ModelConfig`; the
        constraints between them and the feature map in
        :func:`semapose.models.build.check_model`)."""
        super().__init__(num_frames, key_index)
        h, w = feat_size
        cube_size, cube_frames, dim, heads = m.cube_size, m.cube_frames, m.dim, m.heads
        self.cube_size = cube_size
        self.cube_frames = cube_frames
        self.grid = (h // cube_size, w // cube_size)
        self.key_skip = m.key_skip
        self.main_pass = m.main_pass
        self.mlsme = MLSME(
            in_channels,
            dim,
            self.grid,
            num_frames,
            key_index,
            cube_size=cube_size,
            cube_frames=cube_frames,
            patch_depth=m.patch_depth,
            frame_depth=m.frame_depth,
            heads=heads,
            mlp_ratio=m.mlp_ratio,
            drop_path=m.drop_path,
            levels=m.mlsme_levels,
            patch_masking=m.patch_masking,
            frame_masking=m.frame_masking,
            patch_mask_ratio=m.patch_mask_ratio,
            frame_mask_ratio=m.frame_mask_ratio,
            mask_key_frame=m.mask_key_frame,
        )
        self.key_slot = self.mlsme.key_slot
        flat = in_channels * cube_size * cube_size
        self.spatial_proj = nn.Linear(flat, dim)
        self.fusion: nn.Module
        if m.fusion == "smml":
            self.fusion = SMML(dim, heads, m.mlp_ratio, m.smml_rounds)
        else:
            self.fusion = ConcatFusion(dim)
        self.out_norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, flat)
        key_skip, gate_init, mlp_ratio, decoder_depth = (
            m.key_skip,
            m.skip_gate_init,
            m.mlp_ratio,
            m.decoder_depth,
        )
        self.gate = nn.Parameter(torch.full((in_channels,), float(gate_init))) if key_skip else None
        # SMML's output re-enters at full resolution through a conv on [key; output]
        self.pixel: nn.Sequential | None = None
        if m.pixel_decoder > 0:
            p = m.pixel_decoder
            self.pixel = nn.Sequential(
                nn.Conv2d(2 * in_channels, p, 3, padding=1, bias=False),
                nn.BatchNorm2d(p),
                nn.ReLU(inplace=True),
                nn.Conv2d(p, in_channels, 1),
            )
        # pixel-wise fusion over the clip's frames (docs/paper_notes.md §7); its map enters
        # through a per-channel mix that starts at zero
        self.frames: FrameFusion | None = None
        self.mix: nn.Parameter | None = None
        if m.frame_fusion > 0:
            self.frames = FrameFusion(
                in_channels, dim, m.frame_fusion, self.grid, key_index, cube_frames
            )
            self.mix = nn.Parameter(torch.zeros(in_channels))
        # training-only decoders
        self.context_decoder = (
            ContextDecoder(dim, self.mlsme.tokenizer.cube_dim, decoder_depth, heads, mlp_ratio)
            if self.mlsme.masks_anything
            else None
        )
        self.pose_norm: nn.Module | None = None
        self.pose_proj: nn.Module | None = None
        self.pose_head: nn.Module | None = None
        if make_head is not None:
            self.pose_norm = nn.LayerNorm(dim)
            self.pose_proj = nn.Linear(dim, flat * cube_frames)
            self.pose_head = make_head(in_channels)
        self.apply(_init_linear)
        if key_skip:  # zero residual at the start: untrained == single-frame, bit for bit
            zero_init_(self.out if self.pixel is None else self.pixel[-1])

    def set_mask_ratio_scale(self, scale: float) -> None:
        if not 0.0 <= scale <= 1.0:
            raise ValueError(f"mask ratio scale must be in [0, 1], got {scale}")
        self.mlsme.mask_ratio_scale = float(scale)

    def _fuse(self, feats: Tensor, motion: Tensor) -> Tensor:
        key = feats[:, self.key_index]
        cubes = patchify(key[:, None], self.cube_size, 1)[:, 0]
        spatial = self.spatial_proj(cubes) + self.mlsme.tokenizer.spatial_pe_tensor()[0]
        fused = self.fusion(spatial, motion[:, self.key_slot])
        y = self.out(self.out_norm(fused))[:, None]
        y = unpatchify(y, self.grid, self.cube_size, 1)[:, 0]
        if self.frames is not None and self.mix is not None:
            support, _ = self.frames(feats, motion)
            key = key + self.mix.view(1, -1, 1, 1).to(key.dtype) * (support - key)
        if self.pixel is not None:
            y = self.pixel(torch.cat([key, y], dim=1))
        if self.gate is not None:
            return key + self.gate.view(1, -1, 1, 1).to(y.dtype) * y
        return y

    def frame_weights(self, feats: Tensor) -> Tensor | None:
        """(B, T, h, w) per-pixel weight of each frame in the support map (eval), or None."""
        if self.frames is None:
            return None
        motion, _ = self.mlsme(feats, masking=False)
        return self.frames(feats, motion)[1]

    def forward(self, feats: Tensor) -> Tensor:
        """(B, T, C, h, w) -> (B, C, h, w) key-frame features; masks only in training mode."""
        motion, _ = self.mlsme(feats)
        return self._fuse(feats, motion)

    def forward_train(self, feats: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Key-frame features for the main loss, plus the reconstruction outputs.

        ``main_pass='clean'``: the main output comes from a second, unmasked MLSME pass
        (what inference sees); the decoders read the masked pass. ``'masked'``: one
        masked pass feeds both (cheaper; the main loss then trains on masked motion).
        """
        motion, mask = self.mlsme(feats)
        main_motion = motion
        if self.training and self.main_pass == "clean" and self.mlsme.masks_anything:
            main_motion, _ = self.mlsme(feats, masking=False)
        aux: dict[str, Tensor] = {}
        if self.context_decoder is not None:
            target = self.mlsme.tokenizer.cubes(feats.detach()).float()
            aux["context_target"] = F.layer_norm(target, target.shape[-1:])
            aux["context_pred"] = self.context_decoder(motion)
            if mask is None:  # eval mode: nothing hidden, nothing to score
                mask = torch.zeros(motion.shape[:3], dtype=torch.bool, device=motion.device)
            aux["context_mask"] = mask
        if self.pose_head is not None and self.pose_proj is not None and self.pose_norm is not None:
            b = feats.shape[0]
            y = self.pose_proj(self.pose_norm(motion))
            maps = unpatchify(y, self.grid, self.cube_size, self.cube_frames)
            heat = self.pose_head(maps.flatten(0, 1))
            aux["pose_heatmaps"] = heat.unflatten(0, (b, maps.shape[1]))
        return self._fuse(feats, main_motion), aux


def _init_linear(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
