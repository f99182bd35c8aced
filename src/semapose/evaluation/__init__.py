"""Evaluation: poseval-exact PoseTrack mAP, COCO OKS AP, robustness, tracking.

``evaluate_posetrack(gt, pred)`` is the one call most code needs: it returns
the RESULT.json dict (AP per joint, per table column and Mean, in percent).
"""

from __future__ import annotations

from semapose.evaluation.posetrack_map import (
    MapResult,
    compute_map,
    evaluate_posetrack,
    match,
)
from semapose.evaluation.poseval_io import EvalSet, load_eval_set

__all__ = [
    "EvalSet",
    "MapResult",
    "compute_map",
    "evaluate_posetrack",
    "load_eval_set",
    "match",
]
