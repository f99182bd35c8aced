"""The one training loop: every optimisation step of ``semapose train`` and ``semapose fit``.

``TrainLoop(model, source, optimizer, schedule, settings)`` owns the optimiser and
schedule (:mod:`.optim`), the DDP wrapper (:func:`.distributed.wrap_ddp`), AMP and its
grad scaler, per-step seeding, the non-finite check (loss and gradient norm, the same
decision on every rank), gradient clipping, and the position in the run (step, epoch,
step in the epoch); :meth:`state` / :meth:`restore` are the resumable part of a
checkpoint (:mod:`.checkpoint`). What differs between trainings is the
:class:`BatchSource`: where a step's batch comes from (labeled clips through a
DataLoader, :class:`.trainer.LabeledClips`; clips of cached backbone features,
:class:`.cache_fit.CachedClips`), the model method that turns it into loss terms, and
the seed of the step's randomness. The caller's :class:`LoopHooks` log, checkpoint,
validate and stop (:class:`.trainer.Trainer` for a run folder, ``fit_on_cache``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from semapose.config import LossConfig
from semapose.engine import distributed as du
from semapose.engine.optim import OptimizerSettings, Schedule, build_optimizer, build_scheduler
from semapose.engine.seeding import rng_state, seed_all, set_rng_state
from semapose.engine.steps import NonFiniteLossError, TrainStep, combine_losses

Batch = tuple[Tensor, Tensor, Tensor]


class BatchSource(Protocol):
    """Where the loop's batches come from (the data side of a training)."""

    #: optimisation steps in one epoch
    steps_per_epoch: int
    #: the model method ``(inputs, heatmaps, target_weights) -> loss terms``
    loss_method: str

    def batches(self, epoch: int, start: int) -> Iterable[Batch]:
        """This rank's batches of ``epoch`` from step ``start`` of the epoch on."""
        ...

    def step_seed(self, epoch: int, step: int, rank: int) -> int:
        """The seed of the model's randomness (masking, drop-path) at ``step``."""
        ...


class LoopHooks(Protocol):
    """What the caller does around the steps; its ``train_step`` runs
    :meth:`TrainLoop.train_step` (where a test can stop a run as a kill would)."""

    def train_step(self, batch: Batch) -> dict[str, float]: ...

    def epoch_start(self, epoch: int) -> None: ...

    def after_step(self, values: dict[str, float]) -> None: ...

    def epoch_end(self, epoch: int) -> None: ...

    def diverged(self, what: str, values: dict[str, float]) -> Exception: ...


@dataclass(frozen=True)
class LoopSettings:
    """Everything of a step that is not the optimiser, the schedule or the data."""

    loss: LossConfig
    epochs: int = 1
    grad_clip: float = 0.0
    #: autocast (GPU only) with this dtype; float16 adds a GradScaler
    amp: bool = False
    amp_dtype: str = "bfloat16"
    find_unused_parameters: bool = True
    #: the masking ratios ramp up over this many epochs (0: full from the start)
    mask_warmup_epochs: float = 0.0
    #: the backbone stays in eval mode (fixed BatchNorm statistics) while training
    frozen_backbone: bool = False


class TrainLoop:
    """Steps of one training run on this rank (see the module doc)."""

    def __init__(
        self,
        model: nn.Module,
        source: BatchSource,
        optimizer: OptimizerSettings,
        schedule: Schedule,
        settings: LoopSettings,
        dist_info: du.DistInfo,
    ) -> None:
        self.model = model
        self.source = source
        self.settings = settings
        self.dist = dist_info
        self.device = dist_info.device
        self.step_module = du.wrap_ddp(
            TrainStep(model, source.loss_method), dist_info, settings.find_unused_parameters
        )
        self.optimizer = build_optimizer(model, optimizer)
        self.scheduler = build_scheduler(self.optimizer, schedule)
        self.total_steps = schedule.total_steps
        self.amp_dtype = torch.bfloat16 if settings.amp_dtype == "bfloat16" else torch.float16
        self.use_amp = bool(settings.amp and self.device.type == "cuda")
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.use_amp and self.amp_dtype == torch.float16
        )
        self.step = 0
        self.epoch = 0
        self.step_in_epoch = 0
        #: learning rate of each parameter group in the last step
        self.used_lrs: dict[str, float] = {}

    # ----------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        """The resumable state (the entries :data:`.checkpoint.STATE_KEYS` names)."""
        return {
            "step": self.step,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "world_size": self.dist.world_size,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state` (raises KeyError/ValueError/TypeError/RuntimeError)."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.step_in_epoch = int(state["step_in_epoch"])

    # ----------------------------------------------------------------- steps
    def autocast(self) -> contextlib.AbstractContextManager:
        if self.use_amp:
            return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def _set_train_mode(self) -> None:
        self.model.train()
        backbone = getattr(self.model, "backbone", None)
        if self.settings.frozen_backbone and isinstance(backbone, nn.Module):
            backbone.eval()  # frozen backbone keeps its BatchNorm statistics too
        warm = self.settings.mask_warmup_epochs
        setter = getattr(self.model, "set_mask_ratio_scale", None)
        if callable(setter):
            progress = self.step / self.source.steps_per_epoch
            setter(1.0 if warm <= 0 else min(1.0, progress / warm))

    def train_step(self, batch: Batch, hooks: LoopHooks) -> dict[str, float]:
        """One optimisation step on this rank's share of the global batch."""
        inputs, targets, weights = (x.to(self.device, non_blocking=True) for x in batch)
        seed_all(self.source.step_seed(self.epoch, self.step, self.dist.rank))
        self._set_train_mode()
        with self.autocast():
            out = self.step_module(inputs, targets, weights)
        total = combine_losses(out, self.settings.loss).float()
        terms = {k: v.float() for k, v in out.items() if isinstance(v, Tensor) and v.ndim == 0}
        names = ["loss", *terms]
        local = torch.stack([total.detach(), *(v.detach() for v in terms.values())])
        mean = du.all_reduce_mean(local).cpu()
        values = dict(zip(names, mean.tolist(), strict=True))
        if not torch.isfinite(mean).all():
            raise hooks.diverged("loss", values)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)
        params = [p for p in self.model.parameters() if p.grad is not None]
        clip = self.settings.grad_clip if self.settings.grad_clip > 0 else float("inf")
        gnorm = torch.nn.utils.clip_grad_norm_(params, clip) if params else torch.zeros(())
        values["grad_norm"] = float(gnorm)
        if not math.isfinite(values["grad_norm"]) and not self.scaler.is_enabled():
            raise hooks.diverged("gradient", values)
        self.used_lrs = {
            g.get("name", str(i)): g["lr"] for i, g in enumerate(self.optimizer.param_groups)
        }
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        self.step_in_epoch += 1
        return values

    # ----------------------------------------------------------------- run
    def run(self, hooks: LoopHooks) -> None:
        """Step until ``settings.epochs`` epochs or ``total_steps`` steps are done (a hook
        may lower ``total_steps`` to stop early)."""
        while self.epoch < self.settings.epochs and self.step < self.total_steps:
            epoch = self.epoch
            hooks.epoch_start(epoch)
            for batch in self.source.batches(epoch, self.step_in_epoch):
                hooks.after_step(hooks.train_step(batch))
                if self.step >= self.total_steps:
                    break
            if self.step_in_epoch < self.source.steps_per_epoch:
                return  # stopped inside the epoch
            self.epoch, self.step_in_epoch = epoch + 1, 0
            hooks.epoch_end(epoch)


__all__ = ["Batch", "BatchSource", "LoopHooks", "LoopSettings", "NonFiniteLossError", "TrainLoop"]
