"""PoseTrack scoring the benchmarks share: prediction files laid out like their ground
truth, and mAP over the frames of each degradation severity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def write_like_gt(gt_file: Path, dest: Path, per_image: dict[Any, list[dict[str, Any]]]) -> None:
    """A PoseTrack18 prediction file at ``dest`` with the images of ``gt_file`` and, per
    image id, the people of ``per_image`` (keypoints, scores, score, track_id; none where
    the image has no entry)."""
    from semapose.io.posetrack_json import gt_images, write_posetrack18_predictions

    images = gt_images(gt_file)
    mine = {int(im["id"]): per_image.get(int(im["id"]), []) for im in images}
    write_posetrack18_predictions(dest, images, mine)


def clean_degraded(labels: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the labelled frames without and with a degradation event."""
    clean = np.array([lab is not None and len(lab) == 0 for lab in labels])
    degraded = np.array([lab is not None and len(lab) > 0 for lab in labels])
    return clean, degraded


def map_by_severity(es: Any, matching: Any) -> tuple[dict[str, Any], dict[str, int]]:
    """mAP over the frames carrying a degradation of each severity 1..5 (all types pooled),
    and those frames' counts; severities without frames are left out."""
    from semapose.evaluation.posetrack_map import compute_map

    by_sev: dict[str, Any] = {}
    frames: dict[str, int] = {}
    events = [lab if isinstance(lab, list) else [] for lab in es.frame_labels]
    for s in range(1, 6):
        mask = np.array([any(int(e.get("severity", 0)) == s for e in lab) for lab in events])
        if mask.any():
            by_sev[str(s)] = compute_map(es, matching, mask).to_dict()["Mean"]
            frames[str(s)] = int(mask.sum())
    return by_sev, frames
