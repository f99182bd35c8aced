"""Pieces of one training step: the loss sum, the DDP-friendly forward, batch unpacking."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from semapose.config import LossConfig
from semapose.engine.optim import is_backbone_param
from semapose.errors import SemaposeError


class NonFiniteLossError(SemaposeError):
    """Training produced NaN or inf; the message names the step and every loss term."""


def combine_losses(terms: Mapping[str, Tensor], weights: LossConfig) -> Tensor:
    """Weighted sum of the named loss terms (the objective of :mod:`semapose.losses`)."""
    from semapose.losses import total_loss

    return total_loss(dict(terms), weights)[0]


class TrainStep(nn.Module):
    """Routes DDP's forward to the model's loss method (DDP only syncs gradients through
    forward): ``forward_train`` on images, ``feature_loss_terms`` on cached features."""

    def __init__(self, model: nn.Module, method: str = "forward_train") -> None:
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, inputs: Tensor, targets: Tensor, weights: Tensor) -> dict[str, Tensor]:
        out: dict[str, Tensor] = getattr(self.model, self.method)(inputs, targets, weights)
        return out


def freeze_backbone(model: nn.Module) -> int:
    """Stop gradients into ``backbone.*`` parameters; returns how many were frozen."""
    n = 0
    for name, p in model.named_parameters():
        if is_backbone_param(name):
            p.requires_grad_(False)
            n += 1
    return n


def batch_tensors(batch: Mapping[str, Any]) -> tuple[Tensor, Tensor, Tensor]:
    for names in (
        ("images", "heatmaps", "target_weights"),
        ("images", "targets", "target_weights"),
    ):
        if all(k in batch for k in names):
            return batch[names[0]], batch[names[1]], batch[names[2]]
    raise SemaposeError(f"a training batch needs images/targets/target_weights, got {list(batch)}")


__all__ = ["NonFiniteLossError", "TrainStep", "batch_tensors", "combine_losses", "freeze_backbone"]
