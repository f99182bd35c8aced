"""COCO-style OKS keypoint AP on PoseTrack data, computed by pycocotools.

The frames, people and joints are those poseval scores (after its clean-up:
labeled frames only, ignore-region points removed), in poseval's 15-joint
order, with the COCO OKS sigmas of the matching PoseTrack18 slots
(:data:`semapose.keypoints.OKS_SIGMAS`; head_bottom/head_top use the eye
sigmas). A GT person's area is its ``bbox`` area (w x h), or the area of its
keypoints' box when the file has no person box; GT people without joints are
ignored (pycocotools' ``num_keypoints == 0`` rule). A prediction's score is the
mean of its joint scores.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from semapose.evaluation.poseval_io import NUM_JOINTS, EvalSet
from semapose.keypoints import OKS_SIGMAS, POSETRACK15_FROM_POSETRACK18

#: OKS sigmas in poseval's 15-joint order.
OKS_SIGMAS_15 = OKS_SIGMAS[list(POSETRACK15_FROM_POSETRACK18)]


def _gt_area(es: EvalSet, g: int) -> float:
    box = es.gt_box[g]
    if np.isfinite(box).all() and box[2] > 0 and box[3] > 0:
        return float(box[2] * box[3])
    pts = es.gt_xy[g][es.gt_has[g]]
    if len(pts) == 0:
        return 1.0
    w, h = pts.max(axis=0) - pts.min(axis=0)
    return float(max(w * h, 1.0))


def coco_datasets(es: EvalSet) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The COCO GT dict and the COCO results list of an :class:`EvalSet`."""
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for f in range(es.num_frames):
        images.append({"id": f + 1, "file_name": es.frame_names[f]})
        for g in range(int(es.gt_start[f]), int(es.gt_start[f + 1])):
            has = es.gt_has[g]
            kp = np.zeros((NUM_JOINTS, 3))
            kp[has, :2] = es.gt_xy[g][has]
            kp[has, 2] = 2
            pts = es.gt_xy[g][has]
            if len(pts):
                lo, hi = pts.min(axis=0), pts.max(axis=0)
                bbox = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
            else:
                bbox = [0.0, 0.0, 0.0, 0.0]
            box = es.gt_box[g]
            if np.isfinite(box).all():
                bbox = [float(v) for v in box]
            anns.append({
                "id": len(anns) + 1, "image_id": f + 1, "category_id": 1, "iscrowd": 0,
                "keypoints": kp.ravel().tolist(), "num_keypoints": int(has.sum()),
                "area": _gt_area(es, g), "bbox": bbox,
            })  # fmt: skip
        for p in range(int(es.pr_start[f]), int(es.pr_start[f + 1])):
            has = es.pr_has[p]
            if not has.any():
                continue
            kp = np.zeros((NUM_JOINTS, 3))
            kp[has, :2] = es.pr_xy[p][has]
            kp[has, 2] = 1
            dets.append({
                "image_id": f + 1, "category_id": 1, "keypoints": kp.ravel().tolist(),
                "score": float(np.mean(es.pr_score[p][has])),
            })  # fmt: skip
    gt = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }
    return gt, dets


def evaluate_coco(es: EvalSet) -> dict[str, float]:
    """OKS AP, AP50, AP75 and AR (percent, NaN if undefined) through pycocotools' COCOeval."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_dict, dets = coco_datasets(es)
    keys = ("AP", "AP50", "AP75", "AR")
    if not dets or not any(a["num_keypoints"] for a in gt_dict["annotations"]):
        return dict.fromkeys(keys, 0.0 if gt_dict["annotations"] else float("nan"))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt_dict
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = OKS_SIGMAS_15
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = ev.stats
    # pycocotools reports -1 where a value is undefined (no GT): NaN here
    return {
        k: float(stats[i] * 100) if stats[i] >= 0 else float("nan")
        for k, i in zip(keys, (0, 1, 2, 5), strict=True)
    }
