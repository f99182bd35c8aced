"""Train the temporal module and head on a feature cache (frozen backbone), resumably.

The training loop is the engine's one loop (:class:`semapose.engine.loop.TrainLoop`:
its optimiser builder, schedule, DDP wrapper, non-finite check); what is specific to
cached features is the data source, :class:`CachedClips`: the backbone never runs,
batches are clips of cached features (:class:`semapose.data.feature_store.FeatureStore`)
and become loss terms through the model's ``feature_loss_terms``. Batch ``s`` is drawn
from ``numpy.random.default_rng([seed, s])`` and torch's RNG (masking, drop-path) is
seeded from ``(seed, s)`` too, so a run resumed from its checkpoint continues with
exactly the batches and masks an uninterrupted run would have used, and every
variant trained with the same seed sees the same batches.

Under ``torchrun`` each rank draws its own share of every batch (rank-strided keys)
and gradients are averaged (DistributedDataParallel).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semapose.engine import distributed as du
from semapose.engine.fit_state import diverged, load_fit_state, save_fit_state
from semapose.engine.loop import Batch, BatchSource, LoopSettings, TrainLoop
from semapose.engine.optim import OptimizerSettings, Schedule
from semapose.engine.seeding import derive_seed
from semapose.io.signals import StopRequest

__all__ = [
    "CacheFitConfig",
    "CachedClips",
    "fit_on_cache",
    "STATE_FILE",
    "FIT_PRESET",
    "FIT_CURRICULUM",
    "blank_features",
    "draw_keys",
    "fit_loop",
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
    #: learning rate of the temporal module (AdamW); the head gets ``head_lr``; a part
    #: with learning rate 0 is frozen
    lr: float = 1e-3
    head_lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    #: linear warmup, then cosine decay from lr to lr * min_lr_factor over the remaining
    #: steps (the schedule ``warmup_cosine`` of :mod:`semapose.engine.optim`)
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


class CachedClips:
    """Clips of cached backbone features as the loop's batches (see the module doc).

    Step ``s`` draws ``batch_size * world`` key rows (``degraded_key_share`` of them from
    the rows whose key frame is degraded) and the blackouts from
    ``default_rng([seed, s])``; this rank takes every ``world``-th of them."""

    loss_method = "feature_loss_terms"

    def __init__(
        self,
        model: Any,
        cache: Any,
        rows: np.ndarray,
        fc: CacheFitConfig,
        offsets: list[int],
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if len(rows) == 0:
            raise ValueError("no training rows in the cache")
        self.cache, self.rows, self.fc, self.offsets = cache, rows, fc, offsets
        self.rank, self.world = rank, world
        self.key_index = int(model.key_index)
        degraded = np.array([str(cache.rows["event"][r]) != "" for r in rows], bool)
        self.deg_rows = rows[degraded]
        self.blank = blank_features(model) if fc.blackout > 0 else None
        self.steps_per_epoch = fc.steps

    def batch(self, step: int) -> Batch:
        """This rank's (features, heatmaps, target weights) of step ``step``."""
        fc, kk = self.fc, self.key_index
        rng = np.random.default_rng([fc.seed, step])
        keys = draw_keys(
            rng, self.rows, self.deg_rows, fc.batch_size * self.world, fc.degraded_key_share
        )
        lost = rng.random(len(keys)) < fc.blackout
        keys, lost = keys[self.rank :: self.world], lost[self.rank :: self.world]
        batch = self.cache.batch(keys, self.offsets, sigma=fc.sigma)
        feats = batch["feats"]
        if self.blank is not None and lost.any():
            feats[torch.from_numpy(lost), kk] = self.blank
        if fc.key_only:
            feats = feats[:, kk : kk + 1].expand_as(feats).contiguous()
        return feats, batch["heatmaps"], batch["weights"]

    def batches(self, epoch: int, start: int) -> Iterator[Batch]:
        for step in range(start, self.fc.steps):
            yield self.batch(step)

    def step_seed(self, epoch: int, step: int, rank: int) -> int:
        return derive_seed(self.fc.seed, "cache_fit", step, rank)


def fit_loop(model: Any, cfg: Any, source: BatchSource, fc: CacheFitConfig) -> TrainLoop:
    """The engine's loop for ``fit``: AdamW on the temporal module (``lr``) and the head
    (``head_lr``; a part with learning rate 0 is frozen), weight decay on every
    parameter, the ``warmup_cosine`` schedule, no AMP."""
    for part, lr in (("temporal", fc.lr), ("head", fc.head_lr)):
        if lr <= 0:
            for p in getattr(model, part).parameters():
                p.requires_grad_(False)
    optimizer = OptimizerSettings(
        kind="adamw",
        lrs=tuple((part, lr) for part, lr in (("temporal", fc.lr), ("head", fc.head_lr)) if lr > 0),
        weight_decay=fc.weight_decay,
        by="module",
        split_no_decay=False,
    )
    schedule = Schedule(
        kind="warmup_cosine",
        total_steps=fc.steps,
        warmup_steps=fc.warmup_steps,
        min_lr_factor=fc.min_lr_factor,
    )
    settings = LoopSettings(loss=cfg.loss, epochs=1, grad_clip=fc.grad_clip)
    device = next(model.parameters()).device
    info = du.current_dist_info(device)
    return TrainLoop(model, source, optimizer, schedule, settings, info)


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
    (one record per ``fc.log_every`` steps: step, loss terms averaged over those
    steps, total, lr, seconds).
    """
    info = du.current_dist_info(next(model.parameters()).device)
    model.train()  # the black crop's features too are encoded in training mode
    source = CachedClips(model, cache, rows, fc, list(cfg.data.offsets), info.rank, info.world_size)
    loop = fit_loop(model, cfg, source, fc)
    path = Path(out_dir) / STATE_FILE if out_dir is not None else None
    log: list[dict[str, Any]] = []
    if resume and path is not None and path.is_file():
        log = load_fit_state(path, model, loop, fc)  # validated (engine/fit_state)
    bar = _bar(fc.steps, loop.step) if progress and info.is_main else None
    with StopRequest() as stop:  # Ctrl-C / SIGTERM: finish the step, checkpoint, stop
        run = _FitRun(loop, model, fc, path, log, bar, stop, on_log)
        loop.run(run)
    if bar is not None:
        bar.close()
    model.eval()
    return run.log


class _FitRun:
    """``fit_on_cache``'s hooks: the log of averaged records, ``fit_state.pt`` every
    ``checkpoint_every`` steps and at the end (rank 0), Ctrl-C."""

    def __init__(
        self,
        loop: TrainLoop,
        model: Any,
        fc: CacheFitConfig,
        path: Path | None,
        log: list[dict[str, Any]],
        bar: Any,
        stop: StopRequest,
        on_log: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        self.loop, self.model, self.fc, self.path = loop, model, fc, path
        self.log, self.bar, self.stop, self.on_log = log, bar, stop, on_log
        self.sums: dict[str, float] = {}
        self.saved = loop.step
        # "seconds" in the log is training wall time summed over resumed sessions
        self.t0 = time.perf_counter() - (float(log[-1]["seconds"]) if log else 0.0)

    def train_step(self, batch: Batch) -> dict[str, float]:
        return self.loop.train_step(batch, self)

    def epoch_start(self, epoch: int) -> None:
        pass

    def epoch_end(self, epoch: int) -> None:
        pass

    def diverged(self, what: str, values: dict[str, float]) -> Exception:
        return diverged(self.loop.step, what, values, self.saved)

    def _save(self) -> None:
        if self.path is not None and self.loop.dist.is_main:
            save_fit_state(self.path, self.loop, self.model, self.log, self.fc)
        self.saved = self.loop.step

    def after_step(self, values: dict[str, float]) -> None:
        fc, done = self.fc, self.loop.step
        for k, v in values.items():
            if k not in ("loss", "grad_norm"):
                self.sums[k] = self.sums.get(k, 0.0) + v
        self.sums["total"] = self.sums.get("total", 0.0) + values["loss"]
        self.sums["n"] = self.sums.get("n", 0.0) + 1
        if done % fc.log_every == 0 or done == fc.steps:
            n = self.sums.pop("n")
            rec = {
                "step": done,
                "lr": next(iter(self.loop.used_lrs.values())),
                "seconds": time.perf_counter() - self.t0,
            }
            rec.update({k: v / n for k, v in self.sums.items()})
            self.log.append(rec)
            self.sums = {}
            if self.on_log is not None:
                self.on_log(rec)
            if self.bar is not None:
                self.bar.set_postfix(loss=f"{rec['total']:.3g}")
        if self.bar is not None:
            self.bar.update(1)
        if done % fc.checkpoint_every == 0 or done == fc.steps:
            self._save()
        if self.stop.requested:
            if self.saved != done:
                self._save()
            self.stop.stop()


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


def _bar(total: int, initial: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="fit", unit="step", dynamic_ncols=True)
