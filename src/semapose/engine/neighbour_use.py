"""Does a trained temporal model use its neighbouring frames? Diagnostics on a feature cache.

Three figures, each computed on the rows of a :class:`~semapose.data.feature_store.FeatureStore`
against the targets the cache holds (the teacher's answer on the *clean* crop for real
video, the ground truth for synthetic video), as PCK at ``threshold`` heatmap pixels
over the joints whose target weight is >= ``min_weight``:

* **key-only gap** -- PCK of the model on its real clips minus PCK of the *same* model
  with every supporting frame replaced by the key frame. What a single-frame model with
  the same layers could also have learned is in the key-only figure; the gap is what the
  neighbours gave.
* **occluded-key recovery** -- the key frame lost (features of an all-black crop:
  ``blackout``) or degraded by the cache's own occluder / dropped-frame events
  (``occluded``), while the supporting frames are *clean*: PCK with the neighbours and
  key-only, and the share of the joints the key-only answer misses that the neighbours
  bring back (:func:`recovered_share` compares two models the same way).
* **neighbour sensitivity** -- how far the output heatmaps move when the neighbours are
  replaced by the key frame (mean over clips of the largest absolute change); a model
  that ignores its neighbours scores ~0 (the shipped model of issue 26 scored < 5e-7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "ClipFeed",
    "NeighbourReport",
    "feed_features",
    "predict",
    "hits",
    "neighbour_report",
    "recovered_share",
]

#: how the clips are fed: the cache as stored (``degraded``), the clean video
#: (``clean``), the key frame blacked out with clean neighbours (``blackout``), the
#: degraded key frame with clean neighbours (``occluded``)
ClipFeed = str
FEEDS = ("degraded", "clean", "blackout", "occluded")


@dataclass
class NeighbourReport:
    """The figures of :func:`neighbour_report` (PCK in %, None where no joint counts)."""

    rows: int
    joints: int
    degraded_frames: float | None
    degraded_frames_key_only: float | None
    blackout: float | None
    blackout_key_only: float | None
    occluded_rows: int
    occluded: float | None
    occluded_key_only: float | None
    recovered: float | None
    sensitivity: float

    @property
    def key_only_gap(self) -> float | None:
        if self.degraded_frames is None or self.degraded_frames_key_only is None:
            return None
        return self.degraded_frames - self.degraded_frames_key_only

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["key_only_gap"] = self.key_only_gap
        return d


def feed_features(
    model: Any,
    cache: Any,
    rows: np.ndarray,
    offsets: Sequence[int],
    feed: ClipFeed = "degraded",
    key_only: bool = False,
    blank: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, T, C, h, w) clips around ``rows`` as ``feed`` says; ``key_only`` copies the key."""
    if feed not in FEEDS:
        raise ValueError(f"feed must be one of {FEEDS}, got {feed!r}")
    k = int(model.key_index)
    feats = cache.batch(rows, offsets, clean=feed != "degraded")["feats"]
    if feed == "occluded":
        feats[:, k] = cache.batch(rows, offsets)["feats"][:, k]
    elif feed == "blackout":
        if blank is None:
            from semapose.engine.cache_fit import blank_features

            blank = blank_features(model)
        feats[:, k] = blank
    if key_only:
        feats = feats[:, k : k + 1].expand_as(feats).contiguous()
    return feats


@torch.no_grad()
def predict(
    model: Any,
    cache: Any,
    rows: np.ndarray,
    offsets: Sequence[int],
    feed: ClipFeed = "degraded",
    key_only: bool = False,
    blank: torch.Tensor | None = None,
    chunk: int = 16,
    sigma: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Key-frame heatmaps (N, J, h, w) and their keypoints (N, J, 2), heatmap pixels."""
    from semapose.data.codec import decode_heatmaps

    model.eval()
    device = next(model.parameters()).device
    heat, coords = [], []
    for i in range(0, len(rows), chunk):
        f = feed_features(model, cache, rows[i : i + chunk], offsets, feed, key_only, blank)
        h = model.decode_clip(f.to(device)).float().cpu().numpy()
        c, _ = decode_heatmaps(h, refine="dark", sigma=sigma)
        heat.append(h)
        coords.append(c)
    if not heat:
        return np.zeros((0, 0, 0, 0), np.float32), np.zeros((0, 0, 2), np.float32)
    return np.concatenate(heat), np.concatenate(coords)


def hits(coords: np.ndarray, cache: Any, rows: np.ndarray, threshold: float) -> np.ndarray:
    """(N, J) bool: keypoints within ``threshold`` heatmap px of the cache's targets."""
    target = cache.rows["keypoints"][rows]
    ok: np.ndarray = np.linalg.norm(coords - target, axis=-1) <= threshold
    return ok


def _pck(hit: np.ndarray, counted: np.ndarray) -> float | None:
    n = int(counted.sum())
    return 100.0 * float((hit & counted).sum()) / n if n else None


def recovered_share(ours: np.ndarray, reference: np.ndarray, counted: np.ndarray) -> float | None:
    """Share (%) of the counted joints ``reference`` misses that ``ours`` brings back."""
    lost = counted & ~reference
    n = int(lost.sum())
    return 100.0 * float((ours & lost).sum()) / n if n else None


def neighbour_report(
    model: Any,
    cache: Any,
    rows: np.ndarray,
    offsets: Sequence[int],
    threshold: float,
    min_weight: float = 0.2,
) -> tuple[NeighbourReport, dict[str, np.ndarray]]:
    """The three diagnostics on ``rows``; also the per-joint hits of every feed
    (``{feed}`` and ``{feed}_key_only``, plus ``counted``) for comparisons across models."""
    from semapose.engine.cache_fit import blank_features

    rows = np.asarray(rows, np.int64)
    counted = cache.rows["weights"][rows] >= min_weight
    events = np.array([str(e) for e in cache.rows["event"][rows]])
    degraded = events != ""
    occl = np.isin(events, ("occluder", "frame_drop"))
    blank = blank_features(model)
    out: dict[str, np.ndarray] = {"counted": counted}
    heat: dict[str, np.ndarray] = {}
    for feed, sel in (("degraded", degraded), ("blackout", None), ("occluded", occl)):
        r = rows if sel is None else rows[sel]
        for key_only in (False, True):
            name = feed + ("_key_only" if key_only else "")
            h, c = predict(model, cache, r, offsets, feed, key_only, blank)
            out[name] = hits(c, cache, r, threshold) if len(r) else np.zeros((0, 0), bool)
            heat[name] = h
    sens = (
        float(np.abs(heat["degraded"] - heat["degraded_key_only"]).max(axis=(1, 2, 3)).mean())
        if len(heat["degraded"])
        else 0.0
    )
    c_deg, c_occ = counted[degraded], counted[occl]
    report = NeighbourReport(
        rows=len(rows),
        joints=int(counted.sum()),
        degraded_frames=_pck(out["degraded"], c_deg),
        degraded_frames_key_only=_pck(out["degraded_key_only"], c_deg),
        blackout=_pck(out["blackout"], counted),
        blackout_key_only=_pck(out["blackout_key_only"], counted),
        occluded_rows=int(occl.sum()),
        occluded=_pck(out["occluded"], c_occ),
        occluded_key_only=_pck(out["occluded_key_only"], c_occ),
        recovered=recovered_share(out["blackout"], out["blackout_key_only"], counted),
        sensitivity=sens,
    )
    return report, out
