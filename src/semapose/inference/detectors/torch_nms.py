"""Greedy non-maximum suppression in PyTorch, batched, on any device (no torchvision).

:func:`batched_nms` gives the same kept set as the classic loop (visit boxes by
descending score; keep one unless it overlaps an already kept box by more than the
IoU threshold) for every image of a batch at once. With the candidates sorted,
``M[i, j]`` says that box ``i`` (higher score) would suppress box ``j``; the kept set
is the fixed point of ``keep[j] = valid[j] and not any(keep[i] and M[i, j])``. Each
iteration settles at least one more box in score order, so at most ``K`` iterations
reach it (a handful in practice); the loop stops as soon as nothing changes.
IoU is ``intersection / union`` with no ``+1`` (OpenCV's ``DetectionOutput`` on
normalised boxes, and :func:`semapose.inference.detectors.boxops.box_iou`).
"""

from __future__ import annotations

import torch

__all__ = ["batched_nms", "pairwise_iou"]


def pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of ``a (..., N, 4)`` and ``b (..., M, 4)`` (x1, y1, x2, y2) -> ``(..., N, M)``."""
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:4], b[..., None, :, 2:4])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:4] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:4] - b[..., :2]).clamp(min=0).prod(-1)
    union = area_a[..., :, None] + area_b[..., None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(union))


def batched_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float,
    valid: torch.Tensor | None = None,
    top_k: int | None = None,
) -> torch.Tensor:
    """Indices of the kept boxes per image, best first: ``(B, k)`` long, ``-1`` padded.

    ``boxes (B, N, 4)``, ``scores (B, N)``; ``valid (B, N)`` bool marks candidates
    (default: all); ``top_k``: only the ``top_k`` best valid candidates of each image
    enter the suppression (OpenCV's ``top_k``). ``k`` = ``min(N, top_k)``. Ties in
    score keep their input order (stable sort).
    """
    b, n = scores.shape
    if valid is None:
        valid = torch.ones_like(scores, dtype=torch.bool)
    k = n if top_k is None else min(n, top_k)
    if n == 0 or k == 0:
        return torch.full((b, 0), -1, dtype=torch.long, device=scores.device)
    masked = torch.where(valid, scores, torch.full_like(scores, float("-inf")))
    order = torch.sort(masked, dim=1, descending=True, stable=True).indices[:, :k]
    cand_valid = torch.gather(valid, 1, order)
    cand = torch.gather(boxes, 1, order[..., None].expand(b, k, 4))
    upper = torch.ones(k, k, dtype=torch.bool, device=scores.device).triu(1)
    suppresses = (pairwise_iou(cand, cand) > iou_threshold) & upper
    suppresses &= cand_valid[:, :, None] & cand_valid[:, None, :]
    keep = cand_valid.clone()
    for _ in range(k):
        hit = (suppresses & keep[:, :, None]).any(dim=1)
        new = cand_valid & ~hit
        if torch.equal(new, keep):
            break
        keep = new
    # kept indices first, in score order; the rest -1
    rank = torch.arange(k, device=scores.device).expand(b, k)
    slot = torch.where(keep, rank, torch.full_like(rank, k))
    pos = torch.sort(slot, dim=1, stable=True).indices
    kept = torch.gather(order, 1, pos)
    return torch.where(torch.gather(keep, 1, pos), kept, torch.full_like(kept, -1))
