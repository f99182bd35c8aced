"""The training loop: one code path for CPU, one GPU and torchrun (multi-GPU / multi-node).

``Trainer(cfg, model, train_set, evaluate=...)`` owns the optimiser, schedule,
AMP, DDP wrapping, checkpoints, logs and exact resume; the model only has to
provide ``forward_train(images, targets, target_weights) -> dict[str, Tensor]``
(named, unweighted loss terms). Terms are weighted and summed by
:func:`combine_losses` (the project's objective in :mod:`semapose.losses` when
present). ``train.batch_size`` is the *global* batch: each of the ``W`` ranks
loads ``batch_size / W`` samples, and DDP averages the gradients, so a run on
``W`` processes takes the same steps as a run on one.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from semapose.config import Config, dump_config, to_dict
from semapose.engine import checkpoint as ckpt
from semapose.engine import distributed as du
from semapose.engine.checkpoint import weights_metadata
from semapose.engine.logging import RunLogger
from semapose.engine.optim import build_optimizer, build_scheduler
from semapose.engine.seeding import (
    ResumableDistributedSampler,
    SeededDataset,
    derive_seed,
    rng_state,
    seed_all,
    seed_step,
    set_rng_state,
    worker_init,
)
from semapose.engine.steps import (
    NonFiniteLossError,
    TrainStep,
    batch_tensors,
    combine_losses,
    freeze_backbone,
)
from semapose.errors import CheckpointError, ConfigError
from semapose.io.atomic import atomic_write_json, atomic_write_text

Evaluate = Callable[[nn.Module, int], dict[str, float]]
#: metric that selects the best checkpoint (higher is better)
BEST_METRIC = "mAP"


class Trainer:
    """Train ``model`` on ``train_set`` as configured by ``cfg.train`` (see module doc)."""

    def __init__(
        self,
        cfg: Config,
        model: nn.Module,
        train_set: Any,
        *,
        evaluate: Evaluate | None = None,
        dist_info: du.DistInfo | None = None,
        progress: bool = True,
        collate_fn: Callable | None = None,
    ) -> None:
        self.cfg = cfg
        t = cfg.train
        self.dist = dist_info or du.init_distributed(t.device)
        self.device = self.dist.device
        self.out = Path(t.output_dir)
        self.evaluate = evaluate
        self.collate_fn = collate_fn
        if t.batch_size % self.dist.world_size:
            raise ConfigError(
                cfg.source,
                "train.batch_size",
                f"a global batch divisible by the {self.dist.world_size} processes",
                t.batch_size,
            )
        self.local_batch = t.batch_size // self.dist.world_size
        if t.cpu_threads and self.device.type == "cpu":
            torch.set_num_threads(t.cpu_threads)
        seed_all(derive_seed(t.seed, "init"))
        self.model = model
        if cfg.model.freeze_backbone:
            freeze_backbone(model)
        model.to(self.device)
        if self.dist.distributed and t.sync_bn and self.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            self.model = model
        step_module: nn.Module = TrainStep(self.model)
        if self.dist.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            step_module = DDP(
                step_module, device_ids=ids, find_unused_parameters=t.find_unused_parameters
            )
        self.step_module = step_module

        self.train_set = SeededDataset(train_set, t.seed)
        self.sampler = ResumableDistributedSampler(
            len(train_set),
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
            local_batch=self.local_batch,
            seed=t.seed,
            shuffle=True,
            samples_per_epoch=t.samples_per_epoch,
        )
        self.steps_per_epoch = self.sampler.steps_per_epoch
        if self.steps_per_epoch == 0:
            raise ConfigError(
                cfg.source,
                "train.batch_size",
                f"at most the {len(train_set)} training samples per epoch",
                t.batch_size,
            )
        self.total_steps = t.epochs * self.steps_per_epoch
        if t.max_steps:
            self.total_steps = min(self.total_steps, t.max_steps)
        self.optimizer = build_optimizer(self.model, t)
        self.scheduler = build_scheduler(self.optimizer, t, self.steps_per_epoch, self.total_steps)
        self.amp_dtype = torch.bfloat16 if t.amp_dtype == "bfloat16" else torch.float16
        self.use_amp = bool(t.amp and self.device.type == "cuda")
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.use_amp and self.amp_dtype == torch.float16
        )
        self.step = 0
        self.epoch = 0
        self.step_in_epoch = 0
        self.best: float | None = None
        self.best_step = -1
        self.last_record: dict[str, Any] | None = None
        self._progress = progress
        self.logger: RunLogger | None = None
        self._notes: list[str] = []

    # ----------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "best": self.best,
            "best_step": self.best_step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "world_size": self.dist.world_size,
            "batch_size": self.cfg.train.batch_size,
            "steps_per_epoch": self.steps_per_epoch,
        }

    def _metadata(self) -> dict[str, str]:
        return weights_metadata(to_dict(self.cfg), self.step)

    def save(self, name: str) -> None:
        """Checkpoint on rank 0 (after checking the weights are finite)."""
        if self.dist.is_main:
            bad = [
                n
                for n, p in self.model.state_dict().items()
                if p.is_floating_point() and not torch.isfinite(p).all()
            ]
            if bad:
                raise NonFiniteLossError(
                    f"non-finite weights at step {self.step} ({bad[0]}, {len(bad)} tensors); "
                    f"checkpoint not written, last good one kept: {self._last_name()}"
                )
            self.last_record = ckpt.save_checkpoint(
                self.out, name, self.model, self.state(), self._metadata()
            )
            ckpt.prune_checkpoints(self.out, self.cfg.train.keep_checkpoints, {name})
        du.barrier()

    def _last_name(self) -> str:
        rec = self.last_record or ckpt.last_checkpoint(self.out)
        return f"{self.out / rec['weights']} (step {rec['step']})" if rec else "none"

    def resume(self) -> bool:
        """Load the last checkpoint of ``output_dir`` if there is one; True if resumed."""
        rec = ckpt.last_checkpoint(self.out)
        if rec is None:
            return False
        ckpt.load_weights(self.model, self.out / rec["weights"])
        state = ckpt.load_state(self.out / rec["state"])
        if state.get("batch_size") != self.cfg.train.batch_size:
            raise CheckpointError(
                f"{self.out / rec['state']}: run used train.batch_size={state.get('batch_size')}, "
                f"got {self.cfg.train.batch_size}; exact resume needs the same global batch"
            )
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            set_rng_state(state["rng"])
            self.step = int(state["step"])
            self.epoch = int(state["epoch"])
            self.step_in_epoch = int(state["step_in_epoch"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(
                f"{self.out / rec['state']}: expected the optimizer, scheduler and RNG state "
                f"of this model and config, got {type(exc).__name__}: {exc}"
            ) from exc
        self.best = state.get("best")
        self.best_step = int(state.get("best_step", -1))
        self.last_record = rec
        if state.get("steps_per_epoch") != self.steps_per_epoch:
            self._notes.append(
                f"warning: the checkpoint's run had {state.get('steps_per_epoch')} steps per "
                f"epoch, this one has {self.steps_per_epoch} (data or samples_per_epoch "
                "changed): training continues, but not exactly as the original run would have"
            )
        return True

    # ----------------------------------------------------------------- loop
    def _loader(self, epoch: int) -> DataLoader:
        t = self.cfg.train
        self.sampler.set_epoch(epoch)
        self.sampler.set_start(self.step_in_epoch * self.local_batch)
        self.train_set.set_epoch(epoch)
        g = torch.Generator()
        g.manual_seed(derive_seed(t.seed, "loader", epoch, self.step_in_epoch, self.dist.rank))
        workers = self.cfg.data.num_workers
        return DataLoader(
            self.train_set,
            batch_size=self.local_batch,
            sampler=self.sampler,
            num_workers=workers,
            worker_init_fn=worker_init if workers else None,
            generator=g,
            drop_last=True,
            pin_memory=self.device.type == "cuda",
            collate_fn=self.collate_fn,
            persistent_workers=False,
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.use_amp:
            return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def _set_train_mode(self) -> None:
        self.model.train()
        backbone = getattr(self.model, "backbone", None)
        if self.cfg.model.freeze_backbone and isinstance(backbone, nn.Module):
            backbone.eval()  # frozen backbone keeps its BatchNorm statistics too
        warm = self.cfg.loss.mask_warmup_epochs
        setter = getattr(self.model, "set_mask_ratio_scale", None)
        if callable(setter):
            progress = self.step / self.steps_per_epoch
            setter(1.0 if warm <= 0 else min(1.0, progress / warm))

    def train_step(self, batch: Mapping[str, Any]) -> dict[str, float]:
        """One optimisation step on this rank's share of the global batch."""
        t = self.cfg.train
        images, targets, weights = (
            x.to(self.device, non_blocking=True) for x in batch_tensors(batch)
        )
        seed_step(t.seed, self.epoch, self.step, self.dist.rank)
        self._set_train_mode()
        with self._autocast():
            out = self.step_module(images, targets, weights)
        total = combine_losses(out, self.cfg.loss).float()
        terms = {k: v.float() for k, v in out.items() if isinstance(v, Tensor) and v.ndim == 0}
        names = ["loss", *terms]
        local = torch.stack([total.detach(), *(v.detach() for v in terms.values())])
        mean = du.all_reduce_mean(local).cpu()
        values = dict(zip(names, mean.tolist(), strict=True))
        if not torch.isfinite(mean).all():
            self._diverged("loss", values)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)
        params = [p for p in self.model.parameters() if p.grad is not None]
        clip = t.grad_clip if t.grad_clip > 0 else float("inf")
        gnorm = torch.nn.utils.clip_grad_norm_(params, clip) if params else torch.zeros(())
        values["grad_norm"] = float(gnorm)
        if not math.isfinite(values["grad_norm"]) and not self.scaler.is_enabled():
            self._diverged("gradient", values)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        self.step_in_epoch += 1
        return values

    def _diverged(self, what: str, values: dict[str, float]) -> None:
        shown = " ".join(f"{k}={v:.6g}" for k, v in values.items())
        msg = (
            f"non-finite {what} at step {self.step} (epoch {self.epoch}, batch "
            f"{self.step_in_epoch}): {shown}; training stopped, last good checkpoint: "
            f"{self._last_name()}"
        )
        if self.logger is not None:
            self.logger.log("event", self.step, self.epoch, {"event": "diverged", **values})
            self.logger.close()
        raise NonFiniteLossError(msg)

    def fit(self, resume: bool = False) -> dict[str, Any]:
        """Run (or continue) training; returns a summary with the final and best metrics."""
        t = self.cfg.train
        resumed = self.resume() if resume else False
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out / "config.yaml", dump_config(self.cfg))
        self.logger = log = RunLogger(
            self.out,
            active=self.dist.is_main,
            tensorboard=t.tensorboard,
            resume_step=self.step if resumed else None,
            progress=self._progress,
        )
        log.log(
            "event",
            self.step,
            self.epoch,
            {
                "event": "resume" if resumed else "start",
                "world_size": self.dist.world_size,
                "device": str(self.device),
                "amp": self.use_amp,
                "steps_per_epoch": self.steps_per_epoch,
                "total_steps": self.total_steps,
            },
        )
        for note in self._notes:
            log.write(note)
        metrics: dict[str, float] = {}
        last_val_step = -1
        vals = [r for r in log.records if r.get("kind") == "val" and r.get("step") == self.step]
        if vals:  # resumed right after a validation: do not repeat it
            skip = {"kind", "step", "epoch", "time"}
            metrics = {k: v for k, v in vals[-1].items() if k not in skip}
            last_val_step = self.step
        started = time.monotonic()
        try:
            while self.epoch < t.epochs and self.step < self.total_steps:
                epoch = self.epoch
                log.start_epoch(epoch, self.steps_per_epoch, self.step_in_epoch)
                for batch in self._loader(epoch):
                    values = self.train_step(batch)
                    log.count(t.batch_size)
                    lrs = {
                        g.get("name", str(i)): g["lr"]
                        for i, g in enumerate(self.optimizer.param_groups)
                    }
                    values["lr"] = lrs.get("head", next(iter(lrs.values())))
                    if "backbone" in lrs:
                        values["backbone_lr"] = lrs["backbone"]
                    log.bar_update(1, loss=f"{values['loss']:.4g}", lr=f"{values['lr']:.2e}")
                    if self.step % t.log_every == 0 or self.step == self.total_steps:
                        values["samples_per_s"] = round(log.throughput(), 2)
                        log.log("train", self.step, self.step / self.steps_per_epoch, values)
                    if t.checkpoint_every and self.step % t.checkpoint_every == 0:
                        self.save(f"step_{self.step:08d}")
                    if t.max_minutes and self._out_of_time(started):
                        log.write(f"train.max_minutes={t.max_minutes} reached at step {self.step}")
                        self.total_steps = self.step
                    if self.step >= self.total_steps:
                        break
                log.close_bar()
                if self.step_in_epoch < self.steps_per_epoch:
                    break  # stopped by max_steps inside the epoch
                validate = t.val_every_epochs and (epoch + 1) % t.val_every_epochs == 0
                if validate or self.step >= self.total_steps:
                    metrics = self._validate(log)
                    last_val_step = self.step
                self.epoch, self.step_in_epoch = epoch + 1, 0
                self.save(f"step_{self.step:08d}_epoch_{self.epoch:04d}")
                if t.plot:
                    log.plot()
            if last_val_step != self.step and self.step_in_epoch:
                metrics = self._validate(log)
                self.save(f"step_{self.step:08d}")
            if self.dist.is_main:
                ckpt.save_weights(self.model, self.out / "model.safetensors", self._metadata())
            summary = {
                "step": self.step,
                "epoch": self.epoch,
                "final": metrics,
                "best": self.best,
                "best_step": self.best_step,
            }
            log.log("event", self.step, self.epoch, {"event": "end"})
            if t.plot:
                log.plot()
            if self.dist.is_main:
                atomic_write_json(self.out / "summary.json", summary, indent=2)
            return summary
        finally:
            log.close()

    def _out_of_time(self, started: float) -> bool:
        """Same decision on every rank (rank 0's clock decides)."""
        late = torch.tensor(float(time.monotonic() - started > 60 * self.cfg.train.max_minutes))
        if du.is_dist():
            late = du.broadcast_object(late)
        return bool(late)

    def _validate(self, log: RunLogger) -> dict[str, float]:
        if self.evaluate is None or (self.cfg.train.val_every_epochs == 0):
            return {}
        self.model.eval()
        with torch.no_grad(), self._autocast():
            metrics = self.evaluate(self.model, self.step)
        log.log("val", self.step, self.step / self.steps_per_epoch, metrics)
        value = metrics.get(BEST_METRIC)
        if value is not None and (self.best is None or value > self.best):
            self.best, self.best_step = float(value), self.step
            if self.dist.is_main:
                ckpt.save_weights(self.model, self.out / "best.safetensors", self._metadata())
                atomic_write_json(
                    self.out / ckpt.BEST,
                    {
                        "metric": BEST_METRIC,
                        "value": self.best,
                        "step": self.step,
                        "epoch": self.step / self.steps_per_epoch,
                        "metrics": metrics,
                    },
                    indent=2,
                )
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float))
        log.write(f"validation at step {self.step}: {shown}")
        return metrics


__all__ = ["BEST_METRIC", "Evaluate", "NonFiniteLossError", "Trainer", "combine_losses"]
