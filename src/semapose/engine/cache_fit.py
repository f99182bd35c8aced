"""Train the temporal module and head on a feature cache (frozen backbone), resumably.

The backbone never runs here: batches are clips of cached features
(:class:`semapose.data.feature_store.FeatureStore`). Batch ``s`` is drawn from
``numpy.random.default_rng([seed, s])`` and torch's RNG (masking, drop-path) is
seeded from ``(seed, s)`` too, so a run resumed from its checkpoint continues with
exactly the batches and masks an uninterrupted run would have used, and every
variant trained with the same seed sees the same batches.

Under ``torchrun`` each rank draws its own share of every batch (rank-strided keys)
and gradients are averaged (DistributedDataParallel).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from semapose.engine.fit_state import diverged, load_fit_state, save_fit_state
from semapose.engine.seeding import derive_seed
from semapose.io.signals import StopRequest
from semapose.losses import total_loss

__all__ = [
    "CacheFitConfig",
    "fit_on_cache",
    "STATE_FILE",
    "FIT_PRESET",
    "FIT_CURRICULUM",
    "blank_features",
    "draw_keys",
]

STATE_FILE = "fit_state.pt"

#: the model ``semapose fit`` trains and the benchmark measures: our temporal module on
#: frozen BlazePose features (256 x 256 crops, 48 x 64 x 64 features, 8 x 8 tokens of
#: 8 x 8 feature pixels per frame), 5 frames, SMML's output decoded at full resolution
#: and the pixel-wise fusion over the frames (docs/paper_notes.md §7, issue 26); config
#: overrides of the defaults
FIT_PRESET = [
    "data.image_size=[256,256]",
    "data.offsets=[-2,-1,1,2]",
    "model.backbone=blazepose",
    "model.backbone_weights=blazepose_full",
    "model.freeze_backbone=true",
    "model.temporal=mlsme_smml",
    "model.dim=32",
    "model.heads=4",
    "model.patch_depth=2",
    "model.frame_depth=1",
    "model.decoder_depth=1",
    "model.cube_size=8",
    "model.drop_path=0.0",
    "model.pixel_decoder=32",
    "model.frame_fusion=16",
]

#: the training curriculum ``semapose fit`` uses (CacheFitConfig fields): half of every
#: batch has a degraded key frame, 15 % of the key frames are blacked out
FIT_CURRICULUM: dict[str, float] = {"degraded_key_share": 0.5, "blackout": 0.15}


@dataclass
class CacheFitConfig:
    """Steps, batches and learning rates of training on a cache."""

    steps: int = 300
    batch_size: int = 8
    #: learning rate of the temporal module (AdamW); the head gets ``head_lr``
    lr: float = 1e-3
    head_lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    #: cosine decay from lr to lr * min_lr_factor over the steps, after warmup_steps
    warmup_steps: int = 20
    min_lr_factor: float = 0.1
    seed: int = 0
    sigma: float = 2.0
    checkpoint_every: int = 50
    log_every: int = 10
    #: the single-frame adapter of equal capacity: every supporting frame of every clip
    #: replaced by the key frame, in training (and, by the caller, in test)
    key_only: bool = False
    #: curriculum: this share of every batch is drawn from the rows whose key frame is
    #: degraded (the rest from all rows); 0 = uniform over the rows
    degraded_key_share: float = 0.0
    #: probability that a clip's key frame is replaced by the features of an all-black
    #: crop (the person lost in that frame; the targets stay the clean answer), so only
    #: the neighbours can give the answer
    blackout: float = 0.0


def _lr_factor(step: int, fc: CacheFitConfig) -> float:
    if step < fc.warmup_steps:
        return (step + 1) / fc.warmup_steps
    span = max(1, fc.steps - fc.warmup_steps)
    q = min(1.0, (step - fc.warmup_steps) / span)
    return fc.min_lr_factor + (1 - fc.min_lr_factor) * 0.5 * (1 + math.cos(math.pi * q))


def _optimizer(model: nn.Module, fc: CacheFitConfig) -> torch.optim.Optimizer:
    groups = []
    for part, lr in (("temporal", fc.lr), ("head", fc.head_lr)):
        params = [p for p in getattr(model, part).parameters() if p.requires_grad]
        if params and lr > 0:
            groups.append({"params": params, "lr": lr, "base_lr": lr})
        elif lr <= 0:
            for p in params:
                p.requires_grad_(False)
    if not groups:
        raise ValueError("nothing to train: the temporal module and the head are both frozen")
    return torch.optim.AdamW(groups, weight_decay=fc.weight_decay)


def fit_on_cache(
    model: Any,
    cfg: Any,
    cache: Any,
    rows: np.ndarray,
    fc: CacheFitConfig,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``model.temporal`` and ``model.head`` on clips around ``rows`` of ``cache``.

    ``cfg`` gives the clip (``data.offsets``) and the loss weights (``loss``). With
    ``out_dir`` the state is checkpointed atomically every ``fc.checkpoint_every``
    steps (``fit_state.pt``) and ``resume`` continues from it. Returns the log
    (one record per ``fc.log_every`` steps: step, loss terms, lr, seconds).
    """
    from semapose.engine import distributed as du

    if len(rows) == 0:
        raise ValueError("no training rows in the cache")
    device = next(model.parameters()).device
    model.train()
    opt = _optimizer(model, fc)
    start = 0
    log: list[dict[str, Any]] = []
    state_path = Path(out_dir) / STATE_FILE if out_dir is not None else None
    if resume and state_path is not None and state_path.is_file():
        start, log = load_fit_state(state_path, model, opt, fc)  # validated (engine/fit_state)
    rank, world = 0, 1
    net: nn.Module = model
    if du.is_dist():
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        net = nn.parallel.DistributedDataParallel(_LossModule(model), find_unused_parameters=True)
    else:
        net = _LossModule(model)
    offsets = list(cfg.data.offsets)
    kk = int(model.key_index)
    degraded = np.array([str(cache.rows["event"][r]) != "" for r in rows], bool)
    deg_rows = rows[degraded]
    blank = blank_features(model) if fc.blackout > 0 else None
    bar = _bar(fc.steps, start) if progress and rank == 0 else None
    # "seconds" in the log is training wall time summed over resumed sessions
    t0 = time.perf_counter() - (float(log[-1]["seconds"]) if log else 0.0)
    run: dict[str, float] = {}
    saved = start
    stop = StopRequest().__enter__()  # Ctrl-C / SIGTERM: finish the step, checkpoint, stop
    for step in range(start, fc.steps):
        rng = np.random.default_rng([fc.seed, step])
        keys = draw_keys(rng, rows, deg_rows, fc.batch_size * world, fc.degraded_key_share)
        lost = rng.random(len(keys)) < fc.blackout
        keys, lost = keys[rank::world], lost[rank::world]
        batch = cache.batch(keys, offsets, sigma=fc.sigma)
        feats = batch["feats"]
        if blank is not None and lost.any():
            feats[torch.from_numpy(lost), kk] = blank
        if fc.key_only:
            feats = feats[:, kk : kk + 1].expand_as(feats).contiguous()
        batch["feats"] = feats
        torch.manual_seed(derive_seed(fc.seed, "cache_fit", step, rank))
        factor = _lr_factor(step, fc)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * factor
        terms = net(
            batch["feats"].to(device), batch["heatmaps"].to(device), batch["weights"].to(device)
        )
        loss, weighted = total_loss(terms, cfg.loss)
        if not torch.isfinite(loss):
            stop.__exit__(None, None, None)
            raise diverged(step, terms, saved)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if fc.grad_clip > 0:
            nn.utils.clip_grad_norm_(
                [p for g in opt.param_groups for p in g["params"]], fc.grad_clip
            )
        opt.step()
        for k, v in terms.items():
            run[k] = run.get(k, 0.0) + float(v.detach())
        run["total"] = run.get("total", 0.0) + float(loss.detach())
        run["n"] = run.get("n", 0.0) + 1
        done = step + 1
        if done % fc.log_every == 0 or done == fc.steps:
            n = run.pop("n")
            rec = {
                "step": done,
                "lr": opt.param_groups[0]["lr"],
                "seconds": time.perf_counter() - t0,
            }
            rec.update({k: v / n for k, v in run.items()})
            log.append(rec)
            run = {}
            if on_log is not None:
                on_log(rec)
            if bar is not None:
                bar.set_postfix(loss=f"{rec['total']:.3g}")
        if bar is not None:
            bar.update(1)
        if (
            state_path is not None
            and rank == 0
            and (done % fc.checkpoint_every == 0 or done == fc.steps)
        ):
            save_fit_state(state_path, model, opt, done, log, fc)
            saved = done
        if stop.requested:
            if state_path is not None and rank == 0 and saved != done:
                save_fit_state(state_path, model, opt, done, log, fc)
            stop.__exit__(None, None, None)
            stop.stop()
    stop.__exit__(None, None, None)
    if bar is not None:
        bar.close()
    model.eval()
    return log


def draw_keys(
    rng: np.random.Generator, rows: np.ndarray, deg_rows: np.ndarray, n: int, share: float
) -> np.ndarray:
    """``n`` key rows: ``round(share * n)`` of them from ``deg_rows``, the rest from ``rows``."""
    n_deg = int(round(share * n)) if len(deg_rows) else 0
    parts = [rng.choice(rows, size=n - n_deg, replace=len(rows) < n - n_deg)]
    if n_deg:
        parts.append(rng.choice(deg_rows, size=n_deg, replace=len(deg_rows) < n_deg))
    return np.concatenate(parts)


def blank_features(model: Any) -> torch.Tensor:
    """The backbone's features of an all-black crop (C, h, w): a frame that shows nobody."""
    from semapose.data.transforms import normalize_image

    h, w = (int(v) for v in model.image_size)
    x = torch.from_numpy(normalize_image(np.zeros((h, w, 3), np.uint8)))[None]
    device = next(model.parameters()).device
    with torch.no_grad():
        return model.encode_frames(x.to(device)).float().cpu()[0]


class _LossModule(nn.Module):
    """Wraps the estimator so DDP sees one forward returning the loss terms."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, feats: torch.Tensor, heatmaps: torch.Tensor, weights: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = self.model.feature_loss_terms(feats, heatmaps, weights)
        return out


def _bar(total: int, initial: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="fit", unit="step", dynamic_ncols=True)
