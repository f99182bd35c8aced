"""The training objective, in one place.

``L = w_heatmap * L_hm + w_context * L_ctx + w_pose * L_pose`` with the weights of
:class:`semapose.config.LossConfig`:

* ``heatmap`` -- key-frame heatmap MSE with per-joint target weights, as HRNet's
  ``JointsMSELoss`` (``0.5 * mean((w * (pred - gt))**2)`` over batch, joints, pixels).
* ``context`` -- MSE between the context decoder's output and the LayerNorm-normalised
  stop-gradient backbone cubes, averaged over *masked* tokens only (0 when none).
* ``pose`` -- the same weighted heatmap MSE over every frame of the clip (frames
  without ground truth carry weight 0).

Models return the unweighted terms by name; :func:`total_loss` weighs and sums them.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from semapose.config import LossConfig

__all__ = ["joints_mse", "masked_token_mse", "total_loss", "mask_ratio_scale", "TERMS"]

#: loss terms a model may return, in logging order
TERMS = ("heatmap", "context", "pose")


def joints_mse(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Target-weighted heatmap MSE: pred/target (N, J, h, w), weight (N, J).

    Equals HRNet's ``JointsMSELoss(use_target_weight=True)``:
    ``0.5 * mean_j mean_{n,pixels} (w_nj * (pred - gt))**2``. Computed in float32.
    """
    if pred.shape != target.shape:
        raise ValueError(f"heatmap shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    w = weight.float()[..., None, None]
    diff = (pred.float() - target.float()) * w
    return 0.5 * diff.pow(2).mean()


def masked_token_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean over masked tokens of the per-token mean squared error (0 if nothing is masked).

    pred/target (..., D), mask (...) bool.
    """
    per_token = (pred.float() - target.float()).pow(2).mean(dim=-1)
    m = mask.to(per_token.dtype)
    return (per_token * m).sum() / m.sum().clamp(min=1.0)


def total_loss(terms: Mapping[str, Tensor], cfg: LossConfig) -> tuple[Tensor, dict[str, Tensor]]:
    """Weighted sum of the named terms -> (total, {name: weighted term}).

    Unknown names are an error, so a model cannot silently add an unweighted term.
    """
    weights = {"heatmap": cfg.heatmap, "context": cfg.context, "pose": cfg.pose}
    if not terms:
        raise ValueError("no loss terms to sum")
    weighted: dict[str, Tensor] = {}
    for name, value in terms.items():
        if name not in weights:
            raise ValueError(f"unknown loss term {name!r}; known terms: {', '.join(TERMS)}")
        weighted[name] = value * weights[name]
    total = torch.stack([v.float() for v in weighted.values()]).sum()
    return total, weighted


def mask_ratio_scale(epoch: float, warmup_epochs: float) -> float:
    """Linear masking-ratio warm-up: 0 at epoch 0, 1 from ``warmup_epochs`` on.

    ``epoch`` may be fractional (``step / steps_per_epoch``); ``warmup_epochs <= 0``
    means no warm-up. Feed the result to ``model.set_mask_ratio_scale``.
    """
    if warmup_epochs <= 0:
        return 1.0
    return float(min(1.0, max(0.0, epoch / warmup_epochs)))
