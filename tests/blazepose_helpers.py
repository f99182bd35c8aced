"""Where the BlazePose tests find pose_landmark_full.tflite, and the numpy reference of
MediaPipe's landmark refinement that the torch version is checked against (no tests here).

test_tflite, test_blazepose and test_blazepose_head import it; without the file they skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from semapose.models.backbones.blazepose import INPUT_SIZE


def tflite_file() -> Path:
    """pose_landmark_full.tflite: $SEMAPOSE_BLAZEPOSE_TFLITE or the asset cache (never fetches)."""
    env = os.environ.get("SEMAPOSE_BLAZEPOSE_TFLITE")
    if env and Path(env).is_file():
        return Path(env)
    from semapose.weights.assets import cached_asset

    found = cached_asset("blazepose_full")
    if found is None:
        pytest.skip("BlazePose .tflite not cached (run `semapose fetch blazepose_full`)")
    return found


def refine_landmarks(
    landmarks: np.ndarray,
    heatmaps: np.ndarray,
    kernel: int = 7,
    min_confidence: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's heatmap refinement of the regressed landmarks (its pose graph's
    ``RefineLandmarksFromHeatmapCalculator``, kernel 7, threshold 0.5).

    ``landmarks`` (N, 39, 5) as the model outputs them (crop pixels, corner convention),
    ``heatmaps`` (N, 39, h, w) logits. For each landmark, the sigmoid of its heatmap in
    the ``kernel`` x ``kernel`` window around the landmark's heatmap cell weights the
    cells' indices; where the window's maximum reaches ``min_confidence`` the landmark
    moves to that weighted mean (MediaPipe maps cell index ``c`` to ``c / w`` of the
    crop, i.e. the cell's corner, which this keeps). Returns refined (x, y) (N, 39, 2)
    in crop pixels (corner convention) and the window maxima (N, 39), which MediaPipe
    uses to cap visibility and presence.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    hm = np.asarray(heatmaps, dtype=np.float64)
    n, j, h, w = hm.shape
    size = INPUT_SIZE
    xy = lm[..., :2].copy()
    col = np.floor(lm[..., 0] / size * w).astype(np.int64)
    row = np.floor(lm[..., 1] / size * h).astype(np.int64)
    off = (kernel - 1) // 2
    d = np.arange(-off, off + 1)
    rr = row[..., None, None] + d[:, None]  # (n, j, k, 1)
    cc = col[..., None, None] + d[None, :]  # (n, j, 1, k)
    valid = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    ni = np.arange(n)[:, None, None, None]
    ji = np.arange(j)[None, :, None, None]
    prob = 1.0 / (1.0 + np.exp(-hm[ni, ji, np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)]))
    prob = np.where(valid, prob, 0.0)
    total = prob.sum(axis=(-1, -2))
    peak = prob.max(axis=(-1, -2))
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    ok = inside & (peak >= min_confidence) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    mean_c = (prob * cc).sum(axis=(-1, -2)) / safe
    mean_r = (prob * rr).sum(axis=(-1, -2)) / safe
    xy[..., 0] = np.where(ok, mean_c / w * size, xy[..., 0])
    xy[..., 1] = np.where(ok, mean_r / h * size, xy[..., 1])
    return xy, np.where(inside, peak, 0.0)
