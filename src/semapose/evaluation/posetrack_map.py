"""PoseTrack multi-person mAP, numerically identical to poseval's ``evaluateAP``.

poseval's rules, reproduced here with vectorised numpy (see docs/evaluation.md):

* per frame, every (prediction, GT person) pair gets per-joint distances
  ``|p - g| / head_size`` (head size = 0.6 x head-box diagonal) where both have
  the joint; a joint matches when the distance is <= 0.5; the pair's PCKh is the
  number of matched joints over the GT person's number of annotated joints;
* each prediction keeps only its best GT person (first on ties); each GT person
  then takes, among the predictions that kept it, the one with the highest PCKh
  (first on ties) if that PCKh is > 0. Other predictions are unmatched;
* every predicted joint is a detection with its score: a true positive when its
  prediction is matched and the joint matches that GT person, else a false
  positive (also when the GT person lacks the joint);
* per joint, detections of all frames of all sequences are pooled, ranked by
  score (``np.argsort(...)[::-1]`` as poseval, so ties break identically) and
  scored with the all-point interpolated VOC AP; recall is over all annotated GT
  joints (per frame after clean-up);
* Head = mean(head_top, head_bottom, nose), Mean = mean of the 15 joint APs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.evaluation.poseval_io import NUM_JOINTS, EvalSet, load_eval_set
from semapose.keypoints import POSETRACK15_GROUPS, POSETRACK15_KEYPOINTS

#: PCKh threshold: a joint matches within this fraction of the head size
DIST_THRESHOLD = 0.5
#: head size = this factor times the diagonal of the GT head box (poseval)
HEAD_SIZE_FACTOR = 0.6


@dataclass
class Matching:
    """Per-prediction outcome of poseval's greedy assignment over an :class:`EvalSet`."""

    pr_to_gt: np.ndarray  # (P,) matched GT row, -1 if unmatched
    labels: np.ndarray  # (P, 15) bool: true positive per predicted joint
    pair_pr: np.ndarray  # (K,) prediction row of each (prediction, GT) pair in a frame
    pair_gt: np.ndarray  # (K,) GT row of each pair
    pair_dist: np.ndarray  # (K, 15) normalised distance (inf where a side lacks the joint)


@dataclass
class MapResult:
    """Per-joint AP / precision / recall in percent, poseval's 15-joint order."""

    ap: np.ndarray  # (15,)
    precision: np.ndarray  # (15,)
    recall: np.ndarray  # (15,)
    num_gt: np.ndarray  # (15,) annotated GT joints
    num_frames: int

    @property
    def mean(self) -> float:
        return _nanmean_like_poseval(self.ap)

    def groups(self) -> dict[str, float]:
        return {name: float(self.ap[list(idx)].mean()) for name, idx in POSETRACK15_GROUPS.items()}

    def to_dict(self) -> dict[str, Any]:
        """The RESULT.json layout: per-joint AP, the table's groups and Mean (percent)."""
        out: dict[str, Any] = {
            "per_joint": {
                n: _json_num(v) for n, v in zip(POSETRACK15_KEYPOINTS, self.ap, strict=True)
            }
        }
        for name, value in self.groups().items():
            out[name] = _json_num(value)
        out["Mean"] = _json_num(self.mean)
        return out


def _json_num(v: float) -> float | None:
    """NaN (a joint never annotated in the GT) has no JSON form: written as null."""
    v = float(v)
    return v if np.isfinite(v) else None


def _nanmean_like_poseval(values: np.ndarray) -> float:
    col = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    idxs = np.argwhere(~np.isnan(col[:, 0]))
    return float(col[idxs, 0].mean()) if len(idxs) else float("nan")


def _pairs(es: EvalSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (prediction, GT) pairs within each frame, prediction-major as poseval loops."""
    n_pr = np.diff(es.pr_start)
    n_gt = np.diff(es.gt_start)
    per = n_pr * n_gt
    frame = np.repeat(np.arange(len(per)), per)
    k = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    ng = n_gt[frame]
    pr = es.pr_start[frame] + k // np.maximum(ng, 1)
    gt = es.gt_start[frame] + k % np.maximum(ng, 1)
    return frame, pr, gt


def head_sizes(es: EvalSet, rows: np.ndarray) -> np.ndarray:
    """poseval's reference distance 0.6 * |(x2, y2) - (x1, y1)| of the GT head boxes."""
    h = es.gt_head[rows]
    if np.isnan(h).any():
        bad = int(rows[np.flatnonzero(np.isnan(h).any(axis=1))[0]])
        f = int(np.searchsorted(es.gt_start, bad, side="right") - 1)
        raise InputError(
            es.gt_files[int(es.frame_seq[f])],
            f"frame {es.frame_names[f]!r}",
            "a head box (bbox_head / x1,y1,x2,y2) for every GT person",
            "a person without one",
        )
    dx, dy = h[:, 2] - h[:, 0], h[:, 3] - h[:, 1]
    return HEAD_SIZE_FACTOR * np.sqrt(dx * dx + dy * dy)


def match(es: EvalSet, threshold: float = DIST_THRESHOLD) -> Matching:
    """poseval's ``assignGTmulti`` for all frames at once."""
    n_pred = len(es.pr_has)
    _, pp, gg = _pairs(es)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = es.gt_xy[gg] - es.pr_xy[pp]
        dist = np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1])
        dist = dist / head_sizes(es, gg)[:, None] if len(gg) else dist
    both = es.pr_has[pp] & es.gt_has[gg]
    dist = np.where(both, dist, np.inf)
    ok = dist <= threshold
    n_gt_joints = es.gt_has.sum(axis=1)[gg]
    pck = ok.sum(axis=1).astype(np.float64)
    pos = n_gt_joints > 0
    pck[pos] = pck[pos] / n_gt_joints[pos]
    pr_to_gt = np.full(n_pred, -1, dtype=np.int64)
    if len(pp):
        # each prediction keeps its best GT (first maximum); the pairs of a
        # prediction are contiguous with GT rows ascending
        order = np.lexsort((gg, -pck, pp))
        first = np.ones(len(order), dtype=bool)
        first[1:] = pp[order][1:] != pp[order][:-1]
        keep = order[first]
        kp, kg, kv = pp[keep], gg[keep], pck[keep]
        # each GT takes the kept prediction with the highest PCKh (first on ties), if > 0
        pos = kv > 0
        kp, kg, kv = kp[pos], kg[pos], kv[pos]
        order = np.lexsort((kp, -kv, kg))
        first = np.ones(len(order), dtype=bool)
        first[1:] = kg[order][1:] != kg[order][:-1]
        win = order[first]
        pr_to_gt[kp[win]] = kg[win]
    labels = np.zeros((n_pred, NUM_JOINTS), dtype=bool)
    matched = np.flatnonzero(pr_to_gt >= 0)
    if len(matched):
        # the pair (p, g) sits at index base(p) + local GT index of g
        pair_of = _pair_index(es, matched, pr_to_gt[matched])
        labels[matched] = ok[pair_of] & es.pr_has[matched]
    return Matching(pr_to_gt, labels, pp, gg, dist)


def _pair_index(es: EvalSet, pr_rows: np.ndarray, gt_rows: np.ndarray) -> np.ndarray:
    n_pr = np.diff(es.pr_start)
    n_gt = np.diff(es.gt_start)
    pair_start = np.concatenate([[0], np.cumsum(n_pr * n_gt)])
    frame = np.searchsorted(es.pr_start, pr_rows, side="right") - 1
    local_p = pr_rows - es.pr_start[frame]
    local_g = gt_rows - es.gt_start[frame]
    return pair_start[frame] + local_p * n_gt[frame] + local_g


def rank_ap(
    scores: np.ndarray, labels: np.ndarray, total_pos: float, protocol: str = "poseval"
) -> tuple[float, float, float]:
    """AP, final precision and final recall (fractions) as poseval's computeRPC + VOCap."""
    n = len(scores)
    if n == 0:
        return 0.0, 0.0, 0.0
    order = np.asarray(scores, dtype=np.float64).argsort()[::-1]
    tp = np.cumsum(np.asarray(labels)[order] == 1)
    denom = max(total_pos, 1) if protocol == "posetrack21" else np.float64(total_pos)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp / denom
    precision = tp / np.arange(1, n + 1)
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    mrec = np.concatenate([[0.0], recall, [1.0]])
    i = np.argwhere(~np.equal(mrec[1:], mrec[:-1])).flatten() + 1
    with np.errstate(invalid="ignore"):
        ap = np.sum(np.multiply(np.subtract(mrec[i], mrec[i - 1]), mpre[i]))
    return float(ap), float(precision[-1]), float(recall[-1])


def compute_map(
    es: EvalSet,
    matching: Matching | None = None,
    frames: np.ndarray | None = None,
    protocol: str = "poseval",
) -> MapResult:
    """Pooled per-joint AP over all frames, or over the frames selected by a bool mask."""
    if matching is None:
        matching = match(es)
    pr_sel = np.ones(len(es.pr_has), dtype=bool)
    gt_sel = np.ones(len(es.gt_has), dtype=bool)
    n_frames = es.num_frames
    if frames is not None:
        frames = np.asarray(frames, dtype=bool)
        pr_sel = np.repeat(frames, np.diff(es.pr_start))
        gt_sel = np.repeat(frames, np.diff(es.gt_start))
        n_frames = int(frames.sum())
    ap = np.zeros(NUM_JOINTS)
    pre = np.zeros(NUM_JOINTS)
    rec = np.zeros(NUM_JOINTS)
    num_gt = es.gt_has[gt_sel].sum(axis=0).astype(np.float64)
    for j in range(NUM_JOINTS):
        sel = pr_sel & es.pr_has[:, j]
        a, p, r = rank_ap(es.pr_score[sel, j], matching.labels[sel, j], num_gt[j], protocol)
        ap[j], pre[j], rec[j] = a * 100, p * 100, r * 100
    return MapResult(ap, pre, rec, num_gt, n_frames)


def evaluate_posetrack(
    gt: str | Path | Sequence[str | Path],
    pred: str | Path | Sequence[str | Path],
    protocol: str = "poseval",
) -> dict[str, Any]:
    """Score PoseTrack predictions like poseval: the RESULT.json dict (AP in percent).

    ``gt``: a folder of per-sequence GT files (PoseTrack2018 or 2017), one file,
    or a list of files; ``pred``: the prediction folder (same file names), one
    file, or a list parallel to ``gt``. ``protocol="posetrack21"`` uses the
    PoseTrack21 evaluator's joint-presence rule (x > 0 and y > 0).
    """
    es = load_eval_set(gt, pred, protocol)
    return compute_map(es, protocol=protocol).to_dict()
