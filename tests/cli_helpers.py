"""Shared builders for the CLI-level reliability tests (issue 18).

No tests here; the test_reliability_* files import it: a tiny ``predict`` setup and its
argv, a one-video training set and the argv of a one-step ``train``, tiny
``fit`` and small temporal-module settings, and the check
that no temporary file of an atomic write is left.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "configs" / "synthetic_cpu_tiny.yaml"
#: ``semapose fit``'s ``--set`` for a tiny model on 64x64 crops (no backbone weights)
FIT_TINY_SET = [
    "--set",
    "data.image_size=[64,64]",
    "model.backbone=tiny",
    "model.backbone_weights=",
    "model.cube_size=4",
    "model.dim=16",
    "model.heads=2",
]
#: config overrides of a small temporal module (one layer per level, frozen backbone)
SMALL_TEMPORAL = [
    "data.image_size=[64,64]",
    "model.dim=16",
    "model.heads=2",
    "model.patch_depth=1",
    "model.frame_depth=1",
    "model.cube_size=4",
    "model.drop_path=0.0",
    "model.freeze_backbone=true",
]


def predict_inputs(root: Path, frames: int, persons: int = 1) -> dict[str, Path]:
    """A tiny checkpoint, a ``frames``-frame video and its box file under ``root``."""
    from test_predict_helpers import (
        make_video,
        moving_boxes,
        save_checkpoint,
        tiny_cfg,
        write_box_file,
    )

    return {
        "ckpt": save_checkpoint(root / "tiny.safetensors", tiny_cfg()),
        "video": make_video(root / "walk.mp4", frames),
        "boxes": write_box_file(root / "walk.json", moving_boxes(frames, persons)),
    }


def predict_argv(source: Path, out: Path, weights: Path, *extra: str) -> list[str]:
    """``semapose predict`` quiet and without overlay video."""
    return [
        "predict",
        str(source),
        "--out",
        str(out),
        "--weights",
        str(weights),
        "--quiet",
        "--no-video",
        *extra,
    ]


def train_set(ds: Path, split: str = "train") -> Path:
    """One synthetic 4-frame video of one person (96x96) as a PoseTrack18 split."""
    from semapose.data.synthetic import generate_dataset

    generate_dataset(ds, 1, 4, 0, size=(96, 96), people=(1, 1), degrade="none", split=split)
    return ds


def train_argv(ds: Path, run: Path, *overrides: str) -> list[str]:
    """``semapose train`` of the tiny config for one step on ``ds``'s train split."""
    return [
        "train",
        str(TINY_CONFIG),
        "data.dataset=posetrack18",
        f"data.root={ds}",
        f"data.train_annotations={ds / 'annotations' / 'train'}",
        "data.num_workers=0",
        "train.val_every_epochs=0",
        "train.max_steps=1",
        "train.batch_size=2",
        *overrides,
        "--no-progress",
        "--output-dir",
        str(run),
    ]


def no_temporaries(folder: Path) -> bool:
    """No file of an atomic write's temporaries (``*.tmp*``) is left under ``folder``."""
    return not [p for p in folder.rglob("*") if ".tmp" in p.name]


def torchrun_env(*paths: Path) -> dict[str, str]:
    """The environment for a ``torch.distributed.run`` child: ``paths`` first on
    PYTHONPATH, one thread per process, no rank variables inherited from this process."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in paths), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env
