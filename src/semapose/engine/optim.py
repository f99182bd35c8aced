"""Optimiser with a separate backbone learning rate, and a step-based lr schedule.

Parameter groups: backbone vs. the rest (temporal module, heads), each split into
"decay" and "no decay" (biases, norm weights, positional embeddings, mask tokens:
every parameter with fewer than 2 dimensions or an ``embed``/``token`` name).
Frozen parameters are left out.

The schedule is a pure function of the global optimisation step, so resuming
needs only the step: linear warmup over ``warmup_steps`` (from 0.1 % of the lr),
then either ``multistep`` (×``gamma`` at each epoch in ``milestones``) or
``cosine`` (to ``min_lr_factor`` × lr at the last step).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from semapose.config import TrainConfig
from semapose.errors import ConfigError


def is_backbone_param(name: str) -> bool:
    """Parameters of the image backbone (named ``backbone.*`` in the estimator)."""
    return name.startswith("backbone.") or ".backbone." in name


def _no_decay(name: str, p: torch.nn.Parameter) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return p.ndim < 2 or "embed" in leaf or "token" in leaf or "pos" in leaf


def param_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        groups.setdefault((is_backbone_param(name), _no_decay(name, p)), []).append(p)
    out = []
    for (backbone, no_decay), params in sorted(groups.items()):
        out.append(
            {
                "params": params,
                "lr": cfg.backbone_lr if backbone else cfg.lr,
                "weight_decay": 0.0 if no_decay else cfg.weight_decay,
                "name": f"{'backbone' if backbone else 'head'}{'_no_decay' if no_decay else ''}",
            }
        )
    if not out:
        raise ConfigError("<config>", "model", "at least one trainable parameter", "all frozen")
    return out


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        # Adam's weight decay is L2 on the gradient (the DCPose recipe uses plain Adam)
        return torch.optim.Adam(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


def lr_factor_fn(
    cfg: TrainConfig, steps_per_epoch: int, total_steps: int
) -> Callable[[int], float]:
    """Multiplier of the base lr at global step ``step`` (0-based, before the update)."""
    warm = cfg.warmup_steps
    milestones = sorted(m * steps_per_epoch for m in cfg.milestones)
    total = max(1, total_steps)

    def factor(step: int) -> float:
        if cfg.schedule == "cosine":
            progress = min(1.0, step / total)
            f = cfg.min_lr_factor + (1 - cfg.min_lr_factor) * 0.5 * (
                1 + math.cos(math.pi * progress)
            )
        else:
            f = cfg.gamma ** sum(1 for m in milestones if step >= m)
        if warm > 0 and step < warm:
            f *= 0.001 + (1 - 0.001) * step / warm
        return f

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_factor_fn(cfg, steps_per_epoch, total_steps)
    )
