"""Box arithmetic shared by detectors and the tracker (boxes are x1, y1, x2, y2[, score])."""

from __future__ import annotations

import numpy as np


def empty_boxes() -> np.ndarray:
    """A ``(0, 5)`` float32 array: no detections."""
    return np.zeros((0, 5), dtype=np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, >=4) and ``b`` (M, >=4) as an (N, M) array."""
    a, b = _as_boxes(a), _as_boxes(b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _as_boxes(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return np.zeros((0, 4))
    return x.reshape(-1, x.shape[-1])[:, :4]


def nms(boxes: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept rows sorted by descending score."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
    if len(boxes) == 0:
        return empty_boxes()
    order = np.argsort(-boxes[:, 4], kind="stable")
    boxes = boxes[order]
    iou = box_iou(boxes, boxes)
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), dtype=bool)
    for i in range(len(boxes)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return boxes[keep]


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip boxes to the image and drop those left with no area."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 5).copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    ok = (boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)
    return boxes[ok]


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """(..., >=4) x1, y1, x2, y2 -> x, y, w, h (extra columns kept)."""
    out = np.array(boxes, dtype=np.float64, copy=True)
    out[..., 2] = out[..., 2] - out[..., 0]
    out[..., 3] = out[..., 3] - out[..., 1]
    return out


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(..., >=4) x, y, w, h -> x1, y1, x2, y2 (extra columns kept)."""
    out = np.array(boxes, dtype=np.float64, copy=True)
    out[..., 2] = out[..., 0] + out[..., 2]
    out[..., 3] = out[..., 1] + out[..., 3]
    return out
