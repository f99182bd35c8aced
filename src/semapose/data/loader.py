"""Reading a configured dataset.

``load_records(dataset, annotations, root)`` dispatches to the right reader;
``build_dataset(cfg, split)`` makes a :class:`PoseTrackClipDataset` (validation uses
``cfg.data.val_boxes`` detections when set). The training DataLoader (resumable
sampler, seeded workers) is the trainer's (:mod:`semapose.engine.trainer`);
validation runs the prediction road, not a DataLoader (:mod:`semapose.engine.validate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semapose.config import Config
from semapose.data.records import FrameRecord
from semapose.errors import ConfigError


def load_records(
    dataset: str, annotations: str | Path, root: str | Path | None = None
) -> list[FrameRecord]:
    """Records of ``dataset`` (posetrack17/18/21, coco, synthetic) from an annotation
    file or folder; ``root`` is the folder image paths are relative to (guessed if empty)."""
    from semapose.data import coco, posetrack

    root = root or None
    if dataset in ("posetrack18", "synthetic"):
        return posetrack.load_posetrack18(annotations, root)
    if dataset == "posetrack21":
        return posetrack.load_posetrack21(annotations, root)
    if dataset == "posetrack17":
        return posetrack.load_posetrack17(annotations, root)
    if dataset == "coco":
        return coco.load_coco(annotations, root)
    raise ConfigError(
        "<config>", "data.dataset", "posetrack17|posetrack18|posetrack21|coco|synthetic", dataset
    )


def build_dataset(cfg: Config, split: str = "train") -> Any:
    """PoseTrackClipDataset for ``split`` ('train' or 'val') from ``cfg.data``."""
    from semapose.data.boxes import attach_boxes, load_boxes
    from semapose.data.clips import PoseTrackClipDataset

    d = cfg.data
    ann = d.train_annotations if split == "train" else d.val_annotations
    if not ann:
        raise ConfigError(
            cfg.source, f"data.{split}_annotations", "an annotation file or folder", ""
        )
    records = load_records(d.dataset, ann, d.root or None)
    detections = None
    if split != "train" and d.val_boxes:
        detections = attach_boxes(records, load_boxes(d.val_boxes, d.box_score_threshold))
    return PoseTrackClipDataset(records, cfg, train=split == "train", detections=detections)


__all__ = [
    "load_records",
    "build_dataset",
]
