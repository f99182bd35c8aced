"""The video pose estimator: backbone + temporal module + heatmap head.

Split at the backbone so prediction can run the backbone once per (frame, person
crop) and reuse the features in every clip that needs them::

    feats = model.encode_frames(images)            # (N, 3, H, W) -> (N, C, h, w)
    heat = model.decode_clip(feats_of_clip)        # (B, T, C, h, w) -> (B, J, H/4, W/4)
    heat = model(clip)                             # (B, T, 3, H, W), the same thing

Training: ``model.forward_train(batch)`` returns the unweighted loss terms by name
(``heatmap`` always; ``context`` and ``pose`` where the temporal module has the
reconstruction decoders); :func:`semapose.losses.total_loss` weighs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from semapose.losses import joints_mse, masked_token_mse
from semapose.models.temporal.base import TemporalModule

__all__ = ["Estimator"]


class Estimator(nn.Module):
    """Backbone + temporal module + head; see the module docstring for the API."""

    def __init__(
        self,
        backbone: nn.Module,
        temporal: TemporalModule,
        head: nn.Module,
        *,
        image_size: tuple[int, int],
        freeze_backbone: bool = False,
        name: str = "",
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.temporal = temporal
        self.head = head
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.num_frames = temporal.num_frames
        self.key_index = temporal.key_index
        self.feature_channels = int(getattr(backbone, "out_channels"))  # noqa: B009
        self.feature_stride = int(getattr(backbone, "stride"))  # noqa: B009
        self.heatmap_stride = self.feature_stride // int(getattr(head, "upsample", 1))
        self.name = name
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            for p in self.backbone.parameters():
                p.requires_grad_(False)
            self.backbone.eval()

    # ------------------------------------------------------------------ modes

    def train(self, mode: bool = True) -> Estimator:
        """Like ``nn.Module.train``, but a frozen backbone stays in eval mode (fixed BN)."""
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def set_mask_ratio_scale(self, scale: float) -> None:
        """Scale the masking ratios of the temporal module (warm-up schedules)."""
        self.temporal.set_mask_ratio_scale(scale)

    # ------------------------------------------------------------------ inference

    def encode_frames(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) normalised crops -> (N, C, h, w) backbone features."""
        if self.freeze_backbone:
            with torch.no_grad():
                return self.backbone(images)
        out: Tensor = self.backbone(images)
        return out

    def encode_with_outputs(self, images: Tensor) -> dict[str, Tensor]:
        """:meth:`encode_frames` as ``"features"`` plus the backbone's single-frame outputs
        when it has them (BlazePose: ``pose_score``, ``keypoints`` in crop pixels,
        ``keypoint_scores``); the prediction pipeline's per-crop extras."""
        with_outputs = getattr(self.backbone, "forward_with_outputs", None)
        if with_outputs is None:
            return {"features": self.encode_frames(images)}
        if self.freeze_backbone:
            with torch.no_grad():
                return with_outputs(images)  # type: ignore[no-any-return]
        return with_outputs(images)  # type: ignore[no-any-return]

    def decode_clip(self, feats: Tensor) -> Tensor:
        """(B, T, C, h, w) features, ordered by offset -> (B, J, H/4, W/4) key-frame heatmaps."""
        out: Tensor = self.head(self.temporal(feats))
        return out

    def forward(self, clip: Tensor) -> Tensor:
        """(B, T, 3, H, W) clip -> (B, J, H/4, W/4) heatmaps of the key frame."""
        t = clip.shape[1]
        feats = self.encode_frames(clip.flatten(0, 1)).unflatten(0, (-1, t))
        return self.decode_clip(feats)

    # ------------------------------------------------------------------ training

    def forward_train(
        self,
        images: Tensor | Mapping[str, Any],
        heatmaps: Tensor | None = None,
        target_weights: Tensor | None = None,
        key_index: int | Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Unweighted loss terms for a batch.

        Accepts either tensors or a batch mapping with ``images`` (B, T, 3, H, W),
        ``heatmaps`` (B, T, J, h, w), ``target_weights`` (B, T, J) and optionally
        ``key_index`` (int or per-sample tensor; it must equal the model's).
        Returns ``heatmap`` (key frame) and, where the temporal module has them,
        ``context`` and ``pose``.
        """
        if isinstance(images, Mapping):
            batch = images
            clip: Tensor = batch["images"]
            heatmaps = batch["heatmaps"]
            target_weights = batch["target_weights"]
            key_index = batch.get("key_index")
        else:
            clip = images
        if heatmaps is None or target_weights is None:
            raise ValueError("forward_train needs heatmaps and target_weights")
        self._check_clip(clip, heatmaps, target_weights, key_index)
        b, t = clip.shape[:2]
        feats = self.encode_frames(clip.flatten(0, 1)).unflatten(0, (b, t))
        return self.feature_loss_terms(feats, heatmaps, target_weights)

    def feature_loss_terms(
        self, feats: Tensor, heatmaps: Tensor, target_weights: Tensor
    ) -> dict[str, Tensor]:
        """The loss terms of :meth:`forward_train` from backbone features ``(B, T, C, h, w)``.

        What training on a feature cache calls (frozen backbone, features computed once).
        """
        fused, aux = self.temporal.forward_train(feats)
        pred = self.head(fused)
        k = self.key_index
        terms = {"heatmap": joints_mse(pred, heatmaps[:, k], target_weights[:, k])}
        if "context_pred" in aux:
            terms["context"] = masked_token_mse(
                aux["context_pred"], aux["context_target"], aux["context_mask"]
            )
        if "pose_heatmaps" in aux:
            terms["pose"] = joints_mse(
                aux["pose_heatmaps"].flatten(0, 1),
                heatmaps.flatten(0, 1),
                target_weights.flatten(0, 1),
            )
        return terms

    def _check_clip(
        self,
        images: Tensor,
        heatmaps: Tensor,
        weights: Tensor,
        key_index: int | Tensor | None,
    ) -> None:
        t = self.num_frames
        if images.ndim != 5 or images.shape[1] != t or images.shape[2] != 3:
            raise ValueError(f"images must be (B, {t}, 3, H, W), got {tuple(images.shape)}")
        if tuple(images.shape[-2:]) != self.image_size:
            raise ValueError(
                f"images are {tuple(images.shape[-2:])} (H, W) but the model was built for "
                f"data.image_size {self.image_size}"
            )
        if heatmaps.ndim != 5 or heatmaps.shape[:2] != images.shape[:2]:
            raise ValueError(f"heatmaps must be (B, {t}, J, h, w), got {tuple(heatmaps.shape)}")
        if tuple(weights.shape) != tuple(heatmaps.shape[:3]):
            raise ValueError(f"target_weights must be (B, {t}, J), got {tuple(weights.shape)}")
        if key_index is not None:
            keys = torch.as_tensor(key_index).reshape(-1)
            if bool((keys != self.key_index).any()):
                raise ValueError(
                    f"batch key_index {keys.tolist()} differs from the model's {self.key_index}"
                )

    # ------------------------------------------------------------------ accounting

    def parts(self) -> dict[str, nn.Module]:
        return {"backbone": self.backbone, "temporal": self.temporal, "head": self.head}

    def param_count(self, inference_only: bool = False) -> dict[str, int]:
        """Parameters per part and in total.

        With ``inference_only`` the training-only reconstruction decoders of the
        temporal module are left out (what a deployed model carries).
        """
        counts: dict[str, int] = {}
        for name, part in self.parts().items():
            skip: set[int] = set()
            if inference_only and name == "temporal":
                skip = {id(p) for p in training_only_parameters(part)}
            counts[name] = sum(p.numel() for p in part.parameters() if id(p) not in skip)
        counts["total"] = sum(counts.values())
        return counts

    @torch.no_grad()
    def flops_per_clip(self, batch: int = 1) -> dict[str, int]:
        """Inference FLOPs of one clip (eval mode, masks off), per part.

        ``backbone`` counts all T frames; ``backbone_per_frame`` is the cost with
        ``predict``'s feature window, which encodes each frame once. Counted with
        :class:`torch.utils.flop_counter.FlopCounterMode` (one multiply-add = 2 FLOPs).
        """
        from torch.utils.flop_counter import FlopCounterMode

        was_training = self.training
        self.eval()
        try:
            p = next(self.parameters())
            h, w = self.image_size
            t = self.num_frames
            images = torch.zeros(batch * t, 3, h, w, device=p.device, dtype=p.dtype)

            def count(fn: Any, *args: Any) -> tuple[int, Any]:
                with FlopCounterMode(display=False) as fc:
                    out = fn(*args)
                return int(fc.get_total_flops()), out

            fb, feats = count(self.backbone, images)
            ft, fused = count(self.temporal, feats.unflatten(0, (batch, t)))
            fh, _ = count(self.head, fused)
        finally:
            self.train(was_training)
        result = {
            "backbone": fb // batch,
            "backbone_per_frame": fb // (batch * t),
            "temporal": ft // batch,
            "head": fh // batch,
        }
        result["total"] = result["backbone"] + result["temporal"] + result["head"]
        return result


def training_only_parameters(module: nn.Module) -> list[nn.Parameter]:
    """Parameters that only the training objective uses (reconstruction decoders, masks)."""
    names = ("context_decoder", "pose_head", "pose_proj", "pose_norm")
    params: list[nn.Parameter] = []
    for name in names:
        sub = getattr(module, name, None)
        if isinstance(sub, nn.Module):
            params.extend(sub.parameters())
    mlsme = getattr(module, "mlsme", None)
    for tok in ("patch_mask_token", "frame_mask_token"):
        p = getattr(mlsme, tok, None)
        if isinstance(p, nn.Parameter):
            params.append(p)
    return params
