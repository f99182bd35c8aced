"""From SSD outputs over windows to person boxes per frame, batched in PyTorch.

``select_people`` takes the decoded boxes and scores of every window of every frame
(one network batch) and returns, per frame, the ``(K, 5)`` float32 array
``x1, y1, x2, y2, score`` in frame pixels, best first:

1. per window: candidates scoring at least ``score_threshold``; the best
   ``window_top_k`` of them suppressed at ``window_nms_iou`` (normalised boxes);
2. mapped into the frame (``x0 + x * width`` of the window), clipped to the frame;
   boxes no more than 1 px wide or high, or under ``min_size``, dropped;
3. per frame: the windows' boxes merged by NMS at ``nms_iou``.

Both suppressions run for the whole batch at once (:func:`batched_nms`), on the
device the network ran on; only the final boxes come back to the CPU.
"""

from __future__ import annotations

import numpy as np
import torch

from semapose.inference.detectors.boxops import empty_boxes
from semapose.inference.detectors.torch_nms import batched_nms

__all__ = ["select_people"]


def select_people(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    windows: list[list[tuple[int, int, int, int]]],
    frame_sizes: list[tuple[int, int]],
    *,
    score_threshold: float,
    min_size: float,
    nms_iou: float,
    window_nms_iou: float,
    window_top_k: int,
) -> list[np.ndarray]:
    """Person boxes per frame (see the module docstring); ``frame_sizes``: (height, width)."""
    device = boxes.device
    valid = (scores >= score_threshold) & torch.isfinite(scores) & torch.isfinite(boxes).all(-1)
    idx = batched_nms(boxes, scores, window_nms_iou, valid=valid, top_k=window_top_k)  # (N, k)
    ok = idx >= 0
    safe = idx.clamp(min=0)
    k = idx.shape[1]
    win_boxes = torch.gather(boxes, 1, safe[..., None].expand(-1, k, 4))
    win_scores = torch.gather(scores, 1, safe)

    flat = [w for wins in windows for w in wins]
    geom = torch.tensor(
        [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in flat], dtype=boxes.dtype, device=device
    )
    origin = geom[:, None, :2].repeat(1, 1, 2)  # x0, y0, x0, y0
    extent = geom[:, None, 2:].repeat(1, 1, 2)  # w, h, w, h
    pix = win_boxes * extent + origin

    # group the windows of each frame: (F, max windows * k)
    counts = [len(w) for w in windows]
    n_frames, most = len(windows), max(counts)
    per_frame = torch.zeros(n_frames, most * k, 4, dtype=boxes.dtype, device=device)
    per_score = torch.zeros(n_frames, most * k, dtype=scores.dtype, device=device)
    per_ok = torch.zeros(n_frames, most * k, dtype=torch.bool, device=device)
    start = 0
    for f, c in enumerate(counts):
        per_frame[f, : c * k] = pix[start : start + c].reshape(-1, 4)
        per_score[f, : c * k] = win_scores[start : start + c].reshape(-1)
        per_ok[f, : c * k] = ok[start : start + c].reshape(-1)
        start += c
    size = torch.tensor([[w, h, w, h] for h, w in frame_sizes], dtype=boxes.dtype, device=device)[
        :, None, :
    ]
    per_frame = torch.minimum(per_frame.clamp(min=0), size)
    bw = per_frame[..., 2] - per_frame[..., 0]
    bh = per_frame[..., 3] - per_frame[..., 1]
    per_ok &= (bw > 1) & (bh > 1) & (bw >= min_size) & (bh >= min_size)
    keep = batched_nms(per_frame, per_score, nms_iou, valid=per_ok).cpu().numpy()
    out_boxes = torch.cat([per_frame, per_score[..., None]], dim=-1).cpu().numpy()
    result = []
    for f in range(n_frames):
        rows = keep[f][keep[f] >= 0]
        result.append(out_boxes[f, rows].astype(np.float32) if len(rows) else empty_boxes())
    return result
