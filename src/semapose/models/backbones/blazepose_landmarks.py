"""BlazePose landmarks -> PoseTrack18 keypoints, refined by the heatmaps as MediaPipe does.

:func:`refine_landmarks_torch` is MediaPipe's ``RefineLandmarksFromHeatmapCalculator``
(kernel 7, threshold 0.5) in torch, batched on the model's device; the numpy reference
it was checked against lives in the tests (``tests/blazepose_helpers.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from semapose.models.backbones.blazepose import INPUT_SIZE

__all__ = ["body_landmarks", "posetrack_keypoints", "refine_landmarks_torch"]


def refine_landmarks_torch(
    landmarks: Tensor, heatmaps: Tensor, kernel: int = 7, min_confidence: float = 0.5
) -> tuple[Tensor, Tensor]:
    """MediaPipe's heatmap refinement of the regressed landmarks.

    ``landmarks`` (N, J, >=2) as the model outputs them (crop pixels, corner
    convention), ``heatmaps`` (N, J, h, w) logits. For each landmark, the sigmoid of its
    heatmap in the ``kernel`` x ``kernel`` window around the landmark's heatmap cell
    weights the cells' indices; where the window's maximum reaches ``min_confidence``
    the landmark moves to that weighted mean (MediaPipe maps cell index ``c`` to
    ``c / w`` of the crop, i.e. the cell's corner, which this keeps). Returns refined
    (x, y) (N, J, 2) in crop pixels (corner convention) and the window maxima (N, J),
    which MediaPipe uses to cap visibility and presence."""
    n, j, h, w = heatmaps.shape
    off = (kernel - 1) // 2
    prob = F.pad(torch.sigmoid(heatmaps), (off, off, off, off))  # zero border
    col = torch.floor(landmarks[..., 0] / INPUT_SIZE * w).long()
    row = torch.floor(landmarks[..., 1] / INPUT_SIZE * h).long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    d = torch.arange(-off, off + 1, device=heatmaps.device)
    rr = row.clamp(0, h - 1)[..., None, None] + d[:, None]  # (n, j, k, 1)
    cc = col.clamp(0, w - 1)[..., None, None] + d[None, :]  # (n, j, 1, k)
    ni = torch.arange(n, device=heatmaps.device)[:, None, None, None]
    ji = torch.arange(j, device=heatmaps.device)[None, :, None, None]
    window = prob[ni, ji, rr + off, cc + off]  # (n, j, k, k)
    total = window.sum(dim=(-1, -2))
    peak = window.amax(dim=(-1, -2))
    ok = inside & (peak >= min_confidence) & (total > 0)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    mean_c = (window * cc.to(window.dtype)).sum(dim=(-1, -2)) / safe
    mean_r = (window * rr.to(window.dtype)).sum(dim=(-1, -2)) / safe
    x = torch.where(ok, mean_c / w * INPUT_SIZE, landmarks[..., 0])
    y = torch.where(ok, mean_r / h * INPUT_SIZE, landmarks[..., 1])
    return torch.stack([x, y], dim=-1), torch.where(inside, peak, torch.zeros_like(peak))


def posetrack_keypoints(
    landmarks: Tensor, mixing: Tensor, heatmaps: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """BlazePose landmarks (N, 39, 5) -> PoseTrack18 keypoints (N, 17, 2) and scores (N, 17).

    With ``heatmaps`` (N, 39, h, w) the landmarks are first refined as MediaPipe does
    (:func:`refine_landmarks_torch`; the default decoding, measured best on the
    PoseTrack18 sample). Points move from BlazePose's pixel-corner convention (0 = left
    edge of the crop) to semapose's pixel-centre one (0 = centre of the first pixel):
    minus half a pixel. ``mixing`` is :func:`semapose.keypoints.blazepose_mixing_matrix`
    (17, 33). A joint's score is its visibility (sigmoid of the visibility logit, capped
    by the refinement window's maximum as MediaPipe does); head_bottom/head_top take the
    lowest score of the landmarks their rule reads.
    """
    from semapose.keypoints import BLAZEPOSE_HEAD_LANDMARKS, BLAZEPOSE_TO_POSETRACK18

    body = landmarks[:, : mixing.shape[1]]
    xy = body[..., :2]
    vis = torch.sigmoid(body[..., 3])
    if heatmaps is not None:
        xy, peak = refine_landmarks_torch(body, heatmaps[:, : mixing.shape[1]])
        vis = torch.minimum(vis, peak)
    points = torch.einsum("kj,njd->nkd", mixing.to(xy.dtype), xy) - 0.5
    head = vis[:, list(BLAZEPOSE_HEAD_LANDMARKS)].amin(dim=1, keepdim=True)
    idx = [max(j, 0) for j in BLAZEPOSE_TO_POSETRACK18]
    scores = vis[:, idx]
    scores = torch.cat([scores[:, :1], head, head, scores[:, 3:]], dim=1)
    return points, scores


def body_landmarks(landmarks: Tensor, heatmaps: Tensor, count: int = 33) -> Tensor:
    """BlazePose's ``count`` body landmarks (N, count, 4): x, y in crop pixels (semapose's
    pixel-centre convention, refined by the heatmaps as in :func:`posetrack_keypoints`),
    visibility and presence (sigmoids of their logits, capped by the refinement window's
    maximum, as MediaPipe does)."""
    body = landmarks[:, :count]
    xy, peak = refine_landmarks_torch(body, heatmaps[:, :count])
    vis = torch.minimum(torch.sigmoid(body[..., 3]), peak)
    pres = torch.minimum(torch.sigmoid(body[..., 4]), peak)
    return torch.cat([xy - 0.5, vis[..., None], pres[..., None]], dim=-1)
