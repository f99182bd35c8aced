"""``train(cfg)``: from a config to a trained model (what ``semapose train`` runs).

Joins the torchrun group if there is one, generates the synthetic dataset when
``data.dataset=synthetic`` and ``data.root`` holds none yet (rank 0; fixed seeds;
the others wait), builds the model (``semapose.models.build.build_model``, which
also loads ``model.backbone_weights``: official or mmpose HRNet/ViTPose
checkpoints), the train set and the validator, and runs the :class:`Trainer`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

from semapose.config import Config
from semapose.engine import distributed as du
from semapose.errors import ConfigError
from semapose.io.atomic import atomic_write_json, remove_stale_temporaries

INCOMPLETE = ".semapose_synth_incomplete"


def synthetic_paths(root: Path) -> tuple[Path, Path]:
    return root / "annotations" / "train", root / "annotations" / "val"


def prepare_synthetic(cfg: Config, progress: bool = True) -> Config:
    """Generate ``data.root`` if needed and fill in empty annotation paths (synthetic only)."""
    d, t = cfg.data, cfg.train
    if d.dataset != "synthetic":
        return cfg
    if not d.root:
        raise ConfigError(cfg.source, "data.root", "a folder for the synthetic dataset", "")
    root = Path(d.root)
    train_dir, val_dir = synthetic_paths(root)
    marker = root / INCOMPLETE
    need = marker.exists() or (not d.train_annotations and not train_dir.is_dir())
    if need and _is_main():
        from semapose.data.synthetic import generate_dataset

        atomic_write_json(marker, {"note": "generation in progress or interrupted"})
        for split, videos in (("train", t.synth_train_videos), ("val", t.synth_val_videos)):
            generate_dataset(
                root,
                videos,
                t.synth_frames,
                t.synth_seed,
                size=(t.synth_size[0], t.synth_size[1]),
                people=(t.synth_people[0], t.synth_people[1]),
                degrade=t.synth_degrade,
                split=split,
                rate=t.synth_rate,
                write_video=False,
                progress=progress,
            )
        marker.unlink()
    du.barrier()
    data = dataclasses.replace(
        d,
        train_annotations=d.train_annotations or str(train_dir),
        val_annotations=d.val_annotations or (str(val_dir) if val_dir.is_dir() else ""),
    )
    return dataclasses.replace(cfg, data=data)


def _is_main() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def build_validator(cfg: Config) -> Any:
    """A :class:`~semapose.engine.validate.Validator` for ``data.val_annotations`` (or None)."""
    if not cfg.data.val_annotations or cfg.train.val_every_epochs == 0:
        return None
    from semapose.data.loader import build_dataset
    from semapose.engine.validate import Validator
    from semapose.evaluation.poseval_io import gt_files_in

    val_set = build_dataset(cfg, "val")
    protocol = "posetrack21" if cfg.data.dataset == "posetrack21" else "poseval"
    return Validator(
        cfg,
        val_set,
        gt_files_in(cfg.data.val_annotations),
        cfg.train.output_dir,
        by_degradation=cfg.data.dataset == "synthetic",
        protocol=protocol,
    )


def train(cfg: Config, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train as configured; returns the run summary (also in ``<output_dir>/summary.json``).

    Rank 0 holds the output folder's lock (:mod:`semapose.io.lock`) for the whole run:
    a second training in the same folder exits 2 naming this one.
    """
    info = du.init_distributed(cfg.train.device)
    try:
        with contextlib.ExitStack() as lock:
            if info.is_main:
                from semapose.io.lock import lock_file, output_lock

                out = Path(cfg.train.output_dir)
                lock.enter_context(output_lock(lock_file(out), "a training output folder"))
                remove_stale_temporaries(out, out / "checkpoints", out / "best")
            return _train(cfg, info, resume, progress)
    finally:
        du.cleanup()


def _train(cfg: Config, info: Any, resume: bool, progress: bool) -> dict[str, Any]:
    from semapose.data.loader import build_dataset
    from semapose.engine.seeding import derive_seed, seed_all
    from semapose.engine.trainer import Trainer
    from semapose.models.build import build_model

    cfg = prepare_synthetic(cfg, progress=progress and info.is_main)
    train_set = build_dataset(cfg, "train")
    if len(train_set) == 0:
        raise ConfigError(
            cfg.source,
            "data.train_annotations",
            "annotations with labeled people",
            cfg.data.train_annotations,
        )
    validator = build_validator(cfg)
    seed_all(derive_seed(cfg.train.seed, "init"))  # same initial weights on every rank
    model = build_model(cfg)
    trainer = Trainer(
        cfg,
        model,
        train_set,
        evaluate=validator,
        dist_info=info,
        progress=progress and info.is_main,
    )
    return trainer.fit(resume=resume)
