"""Box and pose arithmetic of the tracker (boxes are x1, y1, x2, y2[, score], image pixels)."""

from __future__ import annotations

import numpy as np


def keypoint_box(
    keypoints: np.ndarray,
    scores: np.ndarray,
    min_score: float = 0.3,
    enlarge: float = 0.15,
    min_keypoints: int = 4,
) -> np.ndarray | None:
    """Box (x1, y1, x2, y2) around confident keypoints, grown by ``enlarge`` of its size per side.

    Keypoint extents are tighter than a person box (no head top above the
    eyes' line, no feet below the ankles), hence the margin. ``None`` when fewer
    than ``min_keypoints`` joints score at least ``min_score``.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    sc = np.asarray(scores, dtype=np.float64).reshape(-1)
    ok = (sc >= min_score) & np.isfinite(kp).all(axis=1)
    if ok.sum() < min_keypoints:
        return None
    pts = kp[ok]
    x1, y1 = pts.min(axis=0)
    x2, y2 = pts.max(axis=0)
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    # people are taller than wide; keep a sensible minimum width for side views
    w = max(w, 0.3 * h)
    cx = (x1 + x2) / 2
    return np.array(
        [cx - w / 2 - enlarge * w, y1 - enlarge * h, cx + w / 2 + enlarge * w, y2 + enlarge * h]
    )


def pose_oks(
    kp_a: np.ndarray,
    sc_a: np.ndarray,
    kp_b: np.ndarray,
    sc_b: np.ndarray,
    min_score: float = 0.3,
    min_joints: int = 4,
) -> float:
    """Object keypoint similarity of two poses (17 PoseTrack18 slots, image pixels).

    COCO's formula with :data:`semapose.keypoints.OKS_SIGMAS`, over the joints
    confident in both poses; the scale is the larger of the two keypoint-box
    areas. 0 when fewer than ``min_joints`` joints are confident in both (no
    evidence that they are the same person).
    """
    from semapose.keypoints import OKS_SIGMAS

    a = np.asarray(kp_a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(kp_b, dtype=np.float64).reshape(-1, 2)
    if len(a) != len(OKS_SIGMAS) or len(b) != len(OKS_SIGMAS):
        return 0.0
    ok = (np.asarray(sc_a) >= min_score) & (np.asarray(sc_b) >= min_score)
    ok &= np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    if ok.sum() < min_joints:
        return 0.0
    area = max(_extent_area(a[ok]), _extent_area(b[ok]), 1.0)
    d2 = ((a[ok] - b[ok]) ** 2).sum(axis=1)
    var = (2 * OKS_SIGMAS[ok]) ** 2
    return float(np.exp(-d2 / (2 * area * var)).mean())


def _extent_area(pts: np.ndarray) -> float:
    w, h = pts.max(axis=0) - pts.min(axis=0)
    return float(w * h)


def inside(box: np.ndarray, others: np.ndarray) -> float:
    """The largest share of ``box``'s area that lies inside one of ``others`` (N, >=4)."""
    o = np.asarray(others, dtype=np.float64).reshape(-1, np.asarray(others).shape[-1])
    if len(o) == 0:
        return 0.0
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)
    ix = np.clip(np.minimum(box[2], o[:, 2]) - np.maximum(box[0], o[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], o[:, 3]) - np.maximum(box[1], o[:, 1]), 0, None)
    return float((ix * iy / area).max())


def hidden(box: np.ndarray, others: list[np.ndarray], share: float = 0.3) -> bool:
    """Whether more than ``share`` of ``box`` lies inside one of the ``others`` (occluded)."""
    return bool(others) and inside(box, np.asarray(others)) > share


def grow_boxes(boxes: np.ndarray, margin: float) -> np.ndarray:
    """Boxes (K, >=4) with ``margin`` of their width and height added on each side (a copy;
    columns after the fourth unchanged)."""
    out = np.array(boxes, copy=True)
    if margin == 0 or len(out) == 0:
        return out
    w = out[:, 2] - out[:, 0]
    h = out[:, 3] - out[:, 1]
    out[:, 0] -= margin * w
    out[:, 2] += margin * w
    out[:, 1] -= margin * h
    out[:, 3] += margin * h
    return out


def suppress_contained(dets: np.ndarray, ratio: float = 0.8) -> np.ndarray:
    """Drop detections (K, 5) with more than ``ratio`` of their area inside a higher-scored one.

    A weak detector adds half-body or face boxes on a person it already boxed; IoU-based
    NMS keeps them (their IoU with the full box is small). ``dets`` sorted by score.
    """
    keep = [i for i in range(len(dets)) if i == 0 or inside(dets[i], dets[:i]) <= ratio]
    return dets[keep]


def mean_confident(scores: np.ndarray | None, threshold: float) -> float:
    """Mean of the scores at least ``threshold`` (0 when none, or no scores)."""
    if scores is None:
        return 0.0
    s = scores[scores >= threshold]
    return float(s.mean()) if len(s) else 0.0
