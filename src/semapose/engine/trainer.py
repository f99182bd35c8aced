"""``semapose train``: the one training loop (:mod:`.loop`) on labeled clips.

``Trainer(cfg, model, train_set, evaluate=...)`` runs :class:`~.loop.TrainLoop` on
:class:`LabeledClips` (the dataset through a resumable sampler and a DataLoader) and
adds what a run folder holds: rolling checkpoints (:mod:`.checkpoint`), the JSONL log,
progress bar and plot (:mod:`.logging`), periodic validation and the best checkpoint
by mAP, ``model.safetensors`` and ``summary.json``. The model only has to provide
``forward_train(images, targets, target_weights) -> dict[str, Tensor]`` (named,
unweighted loss terms), weighted and summed by :func:`combine_losses`.
``train.batch_size`` is the *global* batch: each of the ``W`` ranks loads
``batch_size / W`` samples, and DDP averages the gradients, so a run on ``W``
processes takes the same steps as a run on one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from semapose.config import Config, dump_config, to_dict
from semapose.engine import checkpoint as ckpt
from semapose.engine import distributed as du
from semapose.engine.checkpoint import weights_metadata
from semapose.engine.logging import RunLogger
from semapose.engine.loop import Batch, LoopSettings, TrainLoop
from semapose.engine.optim import optimizer_settings, train_schedule
from semapose.engine.seeding import (
    ResumableDistributedSampler,
    SeededDataset,
    derive_seed,
    seed_all,
    worker_init,
)
from semapose.engine.steps import (
    NonFiniteLossError,
    batch_tensors,
    combine_losses,
    freeze_backbone,
)
from semapose.errors import CheckpointError, ConfigError
from semapose.io.atomic import atomic_write_json, atomic_write_text

Evaluate = Callable[[nn.Module, int], dict[str, float]]
#: metric that selects the best checkpoint (higher is better)
BEST_METRIC = "mAP"


class LabeledClips:
    """Labeled clips as the loop's batches: ``train_set`` through a
    :class:`ResumableDistributedSampler` (this rank's share of each global batch) and a
    DataLoader; each sample's augmentation seeded by (seed, epoch, index)."""

    loss_method = "forward_train"

    def __init__(
        self,
        train_set: Any,
        cfg: Config,
        dist_info: du.DistInfo,
        local_batch: int,
        collate_fn: Callable | None = None,
    ) -> None:
        t = cfg.train
        self.seed = t.seed
        self.rank = dist_info.rank
        self.local_batch = local_batch
        self.workers = cfg.data.num_workers
        self.pin_memory = dist_info.device.type == "cuda"
        self.collate_fn = collate_fn
        self.train_set = SeededDataset(train_set, t.seed)
        self.sampler = ResumableDistributedSampler(
            len(train_set),
            num_replicas=dist_info.world_size,
            rank=dist_info.rank,
            local_batch=local_batch,
            seed=t.seed,
            shuffle=True,
            samples_per_epoch=t.samples_per_epoch,
        )
        self.steps_per_epoch = self.sampler.steps_per_epoch

    def batches(self, epoch: int, start: int) -> Iterator[Batch]:
        self.sampler.set_epoch(epoch)
        self.sampler.set_start(start * self.local_batch)
        self.train_set.set_epoch(epoch)
        g = torch.Generator()
        g.manual_seed(derive_seed(self.seed, "loader", epoch, start, self.rank))
        loader = DataLoader(
            self.train_set,
            batch_size=self.local_batch,
            sampler=self.sampler,
            num_workers=self.workers,
            worker_init_fn=worker_init if self.workers else None,
            generator=g,
            drop_last=True,
            pin_memory=self.pin_memory,
            collate_fn=self.collate_fn,
            persistent_workers=False,
        )
        for batch in loader:
            yield batch_tensors(batch)

    def step_seed(self, epoch: int, step: int, rank: int) -> int:
        return derive_seed(self.seed, "step", epoch, step, rank)


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
        if t.batch_size % self.dist.world_size:
            raise ConfigError(
                cfg.source,
                "train.batch_size",
                f"a global batch divisible by the {self.dist.world_size} processes",
                t.batch_size,
            )
        local_batch = t.batch_size // self.dist.world_size
        if t.cpu_threads and self.device.type == "cpu":
            torch.set_num_threads(t.cpu_threads)
        seed_all(derive_seed(t.seed, "init"))
        self.model = model
        if cfg.model.freeze_backbone:
            freeze_backbone(model)
        model.to(self.device)
        if self.dist.distributed and t.sync_bn and self.device.type == "cuda":
            self.model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.source = LabeledClips(train_set, cfg, self.dist, local_batch, collate_fn)
        self.steps_per_epoch = self.source.steps_per_epoch
        if self.steps_per_epoch == 0:
            raise ConfigError(
                cfg.source,
                "train.batch_size",
                f"at most the {len(train_set)} training samples per epoch",
                t.batch_size,
            )
        total_steps = t.epochs * self.steps_per_epoch
        if t.max_steps:
            total_steps = min(total_steps, t.max_steps)
        settings = LoopSettings(
            loss=cfg.loss,
            epochs=t.epochs,
            grad_clip=t.grad_clip,
            amp=t.amp,
            amp_dtype=t.amp_dtype,
            find_unused_parameters=t.find_unused_parameters,
            mask_warmup_epochs=cfg.loss.mask_warmup_epochs,
            frozen_backbone=cfg.model.freeze_backbone,
        )
        self.loop = TrainLoop(
            self.model,
            self.source,
            optimizer_settings(t),
            train_schedule(t, self.steps_per_epoch, total_steps),
            settings,
            self.dist,
        )
        self.best: float | None = None
        self.best_step = -1
        self.last_record: dict[str, Any] | None = None
        self._progress = progress
        self.logger: RunLogger | None = None
        self._notes: list[str] = []
        self._started = 0.0
        self._metrics: dict[str, float] = {}
        self._last_val_step = -1

    @property
    def step(self) -> int:
        return self.loop.step

    @property
    def total_steps(self) -> int:
        return self.loop.total_steps

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.loop.optimizer

    # ----------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        return {
            **self.loop.state(),
            "best": self.best,
            "best_step": self.best_step,
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
        state = ckpt.read_training_state(self.out / rec["state"])
        if state.get("batch_size") != self.cfg.train.batch_size:
            raise CheckpointError(
                f"{self.out / rec['state']}: run used train.batch_size={state.get('batch_size')}, "
                f"got {self.cfg.train.batch_size}; exact resume needs the same global batch"
            )
        try:
            self.loop.restore(state)
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

    # ----------------------------------------------------------------- hooks
    def train_step(self, batch: Batch) -> dict[str, float]:
        """One optimisation step on this rank's share of the global batch."""
        return self.loop.train_step(batch, self)

    def epoch_start(self, epoch: int) -> None:
        assert self.logger is not None
        self.logger.start_epoch(epoch, self.steps_per_epoch, self.loop.step_in_epoch)

    def after_step(self, values: dict[str, float]) -> None:
        t, log = self.cfg.train, self.logger
        assert log is not None
        log.count(t.batch_size)
        lrs = {g.get("name", str(i)): g["lr"] for i, g in enumerate(self.optimizer.param_groups)}
        values["lr"] = lrs.get("head", next(iter(lrs.values())))
        if "backbone" in lrs:
            values["backbone_lr"] = lrs["backbone"]
        log.bar_update(1, loss=f"{values['loss']:.4g}", lr=f"{values['lr']:.2e}")
        if self.step % t.log_every == 0 or self.step == self.total_steps:
            values["samples_per_s"] = round(log.throughput(), 2)
            log.log("train", self.step, self.step / self.steps_per_epoch, values)
        if t.checkpoint_every and self.step % t.checkpoint_every == 0:
            self.save(f"step_{self.step:08d}")
        if t.max_minutes and self._out_of_time(self._started):
            log.write(f"train.max_minutes={t.max_minutes} reached at step {self.step}")
            self.loop.total_steps = self.step

    def epoch_end(self, epoch: int) -> None:
        t, log = self.cfg.train, self.logger
        assert log is not None
        log.close_bar()
        validate = t.val_every_epochs and (epoch + 1) % t.val_every_epochs == 0
        if validate or self.step >= self.total_steps:
            self._metrics = self._validate(log)
            self._last_val_step = self.step
        self.save(f"step_{self.step:08d}_epoch_{self.loop.epoch:04d}")
        if t.plot:
            log.plot()

    def diverged(self, what: str, values: dict[str, float]) -> Exception:
        shown = " ".join(f"{k}={v:.6g}" for k, v in values.items())
        msg = (
            f"non-finite {what} at step {self.step} (epoch {self.loop.epoch}, batch "
            f"{self.loop.step_in_epoch}): {shown}; training stopped, last good checkpoint: "
            f"{self._last_name()}"
        )
        if self.logger is not None:
            self.logger.log("event", self.step, self.loop.epoch, {"event": "diverged", **values})
            self.logger.close()
        return NonFiniteLossError(msg)

    # ----------------------------------------------------------------- run
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
            self.loop.epoch,
            {
                "event": "resume" if resumed else "start",
                "world_size": self.dist.world_size,
                "device": str(self.device),
                "amp": self.loop.use_amp,
                "steps_per_epoch": self.steps_per_epoch,
                "total_steps": self.total_steps,
            },
        )
        for note in self._notes:
            log.write(note)
        vals = [r for r in log.records if r.get("kind") == "val" and r.get("step") == self.step]
        if vals:  # resumed right after a validation: do not repeat it
            skip = {"kind", "step", "epoch", "time"}
            self._metrics = {k: v for k, v in vals[-1].items() if k not in skip}
            self._last_val_step = self.step
        self._started = time.monotonic()
        try:
            self.loop.run(self)
            log.close_bar()
            if self._last_val_step != self.step and self.loop.step_in_epoch:
                self._metrics = self._validate(log)
                self.save(f"step_{self.step:08d}")
            if self.dist.is_main:
                ckpt.save_weights(self.model, self.out / "model.safetensors", self._metadata())
            summary = {
                "step": self.step,
                "epoch": self.loop.epoch,
                "final": self._metrics,
                "best": self.best,
                "best_step": self.best_step,
            }
            log.log("event", self.step, self.loop.epoch, {"event": "end"})
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
        with torch.no_grad(), self.loop.autocast():
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


__all__ = [
    "BEST_METRIC",
    "Evaluate",
    "LabeledClips",
    "NonFiniteLossError",
    "Trainer",
    "combine_losses",
]
