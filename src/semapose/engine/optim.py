"""The one optimiser builder and the one learning-rate schedule of every training run.

Parameter groups: each trainable parameter belongs to a *part* -- with
``by="backbone"`` the image backbone (``backbone.*``) or the rest (named ``head``:
temporal module and heads; ``semapose train``), with ``by="module"`` its top-level
module (``temporal``, ``head``; ``semapose fit``) -- and each part has its own
learning rate. With ``split_no_decay`` a part is split into "decay" and "no decay"
(biases, norm weights, positional embeddings, mask tokens: every parameter with fewer
than 2 dimensions or an ``embed``/``token``/``pos`` name). Frozen parameters, and
parameters of parts without a learning rate, are left out.

The schedule is a pure function of the global optimisation step, so resuming needs
only the step: ``multistep`` (x ``gamma`` at each milestone) or ``cosine`` (to
``min_lr_factor`` x lr at the last step), both times a linear warmup from 0.1 % of the
lr over ``warmup_steps``; or ``warmup_cosine``: a linear warmup reaching the full lr
at step ``warmup_steps - 1``, then the cosine over the remaining steps (``fit``'s).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from semapose.config import TrainConfig
from semapose.errors import ConfigError


@dataclass(frozen=True)
class OptimizerSettings:
    """Which optimiser, and the learning rate and weight decay of each part."""

    #: adamw | adam (weight decay as L2 on the gradient) | sgd (momentum 0.9)
    kind: str
    #: (part, learning rate) in group order
    lrs: tuple[tuple[str, float], ...]
    weight_decay: float
    #: how a parameter's part is named: "backbone" (backbone vs head) or "module"
    by: str = "backbone"
    split_no_decay: bool = True


@dataclass(frozen=True)
class Schedule:
    """The learning-rate multiplier over a run (see the module doc)."""

    #: multistep | cosine | warmup_cosine
    kind: str
    total_steps: int
    warmup_steps: int = 0
    min_lr_factor: float = 0.0
    #: steps at which multistep multiplies by ``gamma``
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1


def is_backbone_param(name: str) -> bool:
    """Parameters of the image backbone (named ``backbone.*`` in the estimator)."""
    return name.startswith("backbone.") or ".backbone." in name


def _no_decay(name: str, p: torch.nn.Parameter) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return p.ndim < 2 or "embed" in leaf or "token" in leaf or "pos" in leaf


def _part(name: str, by: str) -> str:
    if by == "backbone":
        return "backbone" if is_backbone_param(name) else "head"
    return name.split(".", 1)[0]


def optimizer_settings(cfg: TrainConfig) -> OptimizerSettings:
    """``semapose train``'s optimiser: ``train.lr`` for the head, ``train.backbone_lr``."""
    return OptimizerSettings(
        kind=cfg.optimizer,
        lrs=(("head", cfg.lr), ("backbone", cfg.backbone_lr)),
        weight_decay=cfg.weight_decay,
    )


def param_groups(model: torch.nn.Module, settings: OptimizerSettings) -> list[dict]:
    """The optimiser's parameter groups, named ``PART`` / ``PART_no_decay``."""
    order = [part for part, _ in settings.lrs]
    lrs = dict(settings.lrs)
    groups: dict[tuple[int, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        part = _part(name, settings.by)
        if not p.requires_grad or part not in lrs:
            continue
        no_decay = settings.split_no_decay and _no_decay(name, p)
        groups.setdefault((order.index(part), no_decay), []).append(p)
    out = []
    for (index, no_decay), params in sorted(groups.items()):
        part = order[index]
        out.append(
            {
                "params": params,
                "lr": lrs[part],
                "weight_decay": 0.0 if no_decay else settings.weight_decay,
                "name": f"{part}{'_no_decay' if no_decay else ''}",
            }
        )
    if not out:
        raise ConfigError("<config>", "model", "at least one trainable parameter", "all frozen")
    return out


def build_optimizer(
    model: torch.nn.Module, settings: OptimizerSettings | TrainConfig
) -> torch.optim.Optimizer:
    """The optimiser of ``model``'s trainable parameters (``TrainConfig``: ``train``'s)."""
    if isinstance(settings, TrainConfig):
        settings = optimizer_settings(settings)
    groups = param_groups(model, settings)
    lr = settings.lrs[0][1]
    if settings.kind == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=settings.weight_decay)
    if settings.kind == "adam":
        # Adam's weight decay is L2 on the gradient (the DCPose recipe uses plain Adam)
        return torch.optim.Adam(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=settings.weight_decay)


def train_schedule(cfg: TrainConfig, steps_per_epoch: int, total_steps: int) -> Schedule:
    """``semapose train``'s schedule (milestones in epochs become steps)."""
    return Schedule(
        kind=cfg.schedule,
        total_steps=total_steps,
        warmup_steps=cfg.warmup_steps,
        min_lr_factor=cfg.min_lr_factor,
        milestones=tuple(sorted(m * steps_per_epoch for m in cfg.milestones)),
        gamma=cfg.gamma,
    )


def lr_factor(step: int, s: Schedule) -> float:
    """Multiplier of the base lr at global step ``step`` (0-based, before the update)."""
    warm = s.warmup_steps
    if s.kind == "warmup_cosine":
        if step < warm:
            return (step + 1) / warm
        q = min(1.0, (step - warm) / max(1, s.total_steps - warm))
        return s.min_lr_factor + (1 - s.min_lr_factor) * 0.5 * (1 + math.cos(math.pi * q))
    if s.kind == "cosine":
        progress = min(1.0, step / max(1, s.total_steps))
        f = s.min_lr_factor + (1 - s.min_lr_factor) * 0.5 * (1 + math.cos(math.pi * progress))
    else:
        f = s.gamma ** sum(1 for m in s.milestones if step >= m)
    if warm > 0 and step < warm:
        f *= 0.001 + (1 - 0.001) * step / warm
    return f


def lr_factor_fn(
    cfg: TrainConfig, steps_per_epoch: int, total_steps: int
) -> Callable[[int], float]:
    """``train``'s :func:`lr_factor` as a function of the step."""
    schedule = train_schedule(cfg, steps_per_epoch, total_steps)
    return lambda step: lr_factor(step, schedule)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    schedule: Schedule | TrainConfig,
    steps_per_epoch: int = 1,
    total_steps: int = 1,
) -> torch.optim.lr_scheduler.LambdaLR:
    """The step-wise scheduler of ``schedule`` (``TrainConfig``: ``train``'s, which needs
    the steps per epoch and in all)."""
    if isinstance(schedule, TrainConfig):
        schedule = train_schedule(schedule, steps_per_epoch, total_steps)
    fixed = schedule
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, fixed))
