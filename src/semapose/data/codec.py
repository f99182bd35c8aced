"""Heatmap codec shared by the data pipeline and the heads.

Coordinate convention (used everywhere in semapose): a point at network-input
pixel ``(u, v)`` sits at heatmap coordinate ``(u / stride, v / stride)``; pixel
centres are at integer coordinates in both. Encoding places the Gaussian centre
at that real-valued position without rounding (the *unbiased* encoding of DARK,
Zhang et al. CVPR 2020), so decoding can recover sub-pixel positions.

Sub-pixel refinement after the argmax (``refine``):

* ``"dark"`` (default): smooth the heatmap with a Gaussian of the target sigma,
  take its log and do one Newton step of a second-order Taylor expansion around
  the argmax. For a Gaussian-shaped peak the log is exactly quadratic, so an
  encoded target decodes exactly up to float error (measured: < 0.01 input px for
  centres at least one heatmap pixel inside the map; on the outermost pixel the
  axis that leaves the map keeps the argmax, error <= 0.5 heatmap px). Within
  ``2.5 sigma`` of the border the unsmoothed log is used, because the blur would
  pull peaks inward there. With real predictions DARK is the most
  accurate of the three in the literature (the DARK paper reports about +1 AP over
  the quarter shift for HRNet-W32 at 256x192 on COCO val, more at lower input
  resolutions). It costs one small local blur per joint, negligible next to the
  network.
* ``"quarter"``: move 0.25 px toward the higher neighbour (HRNet / SimpleBaseline
  classic). Kept for comparison with older numbers.
* ``"none"``: integer argmax.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

if TYPE_CHECKING:
    import torch

REFINE_CHOICES = ("dark", "quarter", "none")


def to_numpy(x: Any) -> np.ndarray:
    """numpy view of an ndarray or a torch tensor (detached, on the CPU, float32)."""
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy()  # type: ignore[no-any-return]
    return np.asarray(x)


class HeatmapCodec:
    """Encode keypoints to Gaussian heatmaps and decode heatmaps to keypoints.

    ``input_size`` is the network input (H, W); heatmaps are (H/stride, W/stride).
    """

    def __init__(
        self,
        input_size: tuple[int, int] = (256, 192),
        stride: int = 4,
        sigma: float = 2.0,
        refine: str = "dark",
    ) -> None:
        if refine not in REFINE_CHOICES:
            raise ValueError(f"refine must be one of {REFINE_CHOICES}, got {refine!r}")
        h, w = int(input_size[0]), int(input_size[1])
        if h <= 0 or w <= 0 or h % stride or w % stride:
            raise ValueError(f"input_size {input_size} must be positive multiples of {stride}")
        self.input_size = (h, w)
        self.stride = int(stride)
        self.sigma = float(sigma)
        self.refine = refine
        self.heatmap_size = (h // stride, w // stride)
        hh, ww = self.heatmap_size
        self._ys = np.arange(hh, dtype=np.float32)[:, None]
        self._xs = np.arange(ww, dtype=np.float32)[None, :]

    # ------------------------------------------------------------------ encode

    def encode(
        self, keypoints: np.ndarray, visibility: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(J, 2) input-pixel keypoints + (J,) visibility -> heatmaps (J, h, w), weights (J,).

        A joint gets weight 1 when its visibility is > 0 and its centre lies inside
        the heatmap (``0 <= x <= w-1``, ``0 <= y <= h-1``); otherwise weight 0 and
        an all-zero heatmap. Heatmap peaks are 1 (unnormalised Gaussian).
        """
        kpts = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
        vis = np.asarray(visibility, dtype=np.float64).reshape(-1)
        hh, ww = self.heatmap_size
        mu = kpts / self.stride
        finite = np.asarray(np.isfinite(mu).all(axis=1), dtype=bool)
        mu = np.where(finite[:, None], mu, -1.0)
        inside = (mu[:, 0] >= 0) & (mu[:, 0] <= ww - 1) & (mu[:, 1] >= 0) & (mu[:, 1] <= hh - 1)
        weights = ((vis > 0) & inside & finite).astype(np.float32)
        mx = mu[:, 0].astype(np.float32)[:, None, None]
        my = mu[:, 1].astype(np.float32)[:, None, None]
        d2 = (self._xs[None] - mx) ** 2 + (self._ys[None] - my) ** 2
        heatmaps = np.exp(-d2 / np.float32(2 * self.sigma**2)).astype(np.float32)
        heatmaps *= weights[:, None, None]
        return heatmaps, weights

    # ------------------------------------------------------------------ decode

    def decode(self, heatmaps: Any, refine: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, J, h, w) (or (J, h, w)) -> coords (N, J, 2) input pixels, scores (N, J).

        Scores are the heatmap maxima. Accepts numpy arrays or torch tensors.
        """
        refine = self.refine if refine is None else refine
        if refine not in REFINE_CHOICES:
            raise ValueError(f"refine must be one of {REFINE_CHOICES}, got {refine!r}")
        hm = to_numpy(heatmaps).astype(np.float32, copy=False)
        squeeze = hm.ndim == 3
        if squeeze:
            hm = hm[None]
        if hm.ndim != 4:
            raise ValueError(f"heatmaps must be (N, J, h, w) or (J, h, w), got shape {hm.shape}")
        coords, scores = decode_heatmaps(hm, refine, self.sigma)
        coords = coords * self.stride
        if squeeze:
            return coords[0], scores[0]
        return coords, scores


def render_targets(
    keypoints: torch.Tensor, weights: torch.Tensor, size: tuple[int, int], sigma: float = 2.0
) -> torch.Tensor:
    """Gaussian heatmaps (..., J, h, w) peaking at 1 at ``keypoints`` (..., J, 2) heatmap px.

    The batched torch form of :meth:`HeatmapCodec.encode`'s Gaussian for targets already
    in heatmap pixels (the feature store's rows). Joints with weight 0 get empty maps
    (their loss weight is 0 too).
    """
    import torch

    h, w = size
    ys = torch.arange(h, dtype=torch.float32).view(h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, w)
    kx = keypoints[..., 0, None, None].float()
    ky = keypoints[..., 1, None, None].float()
    g = torch.exp(-((xs - kx) ** 2 + (ys - ky) ** 2) / (2 * sigma**2))
    return g * (weights[..., None, None] > 0).float()


def decode_heatmaps(
    heatmaps: np.ndarray, refine: str = "dark", sigma: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised argmax + refinement; coords in **heatmap** pixels (N, J, 2), scores (N, J)."""
    n, j, h, w = heatmaps.shape
    # non-finite values (a diverged model) must not poison the refinement
    if not np.isfinite(heatmaps).all():
        heatmaps = np.nan_to_num(heatmaps, nan=0.0, posinf=1e6, neginf=-1e6)
    flat = heatmaps.reshape(n, j, h * w)
    if h * w == 0:
        return np.zeros((n, j, 2)), np.zeros((n, j))
    idx = flat.argmax(axis=2)
    scores = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0].astype(np.float64)
    ys, xs = np.divmod(idx, w)
    coords = np.stack([xs, ys], axis=-1).astype(np.float64)
    if refine == "quarter":
        coords += _quarter_offsets(heatmaps, xs, ys)
    elif refine == "dark":
        coords += _dark_offsets(heatmaps, xs, ys, sigma)
    return coords, scores


def _quarter_offsets(hm: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    n, j, h, w = hm.shape
    ni, ji = np.meshgrid(np.arange(n), np.arange(j), indexing="ij")
    xl, xr = np.clip(xs - 1, 0, w - 1), np.clip(xs + 1, 0, w - 1)
    yu, yd = np.clip(ys - 1, 0, h - 1), np.clip(ys + 1, 0, h - 1)
    dx = hm[ni, ji, ys, xr] - hm[ni, ji, ys, xl]
    dy = hm[ni, ji, yd, xs] - hm[ni, ji, yu, xs]
    inner_x = (xs > 0) & (xs < w - 1)
    inner_y = (ys > 0) & (ys < h - 1)
    off = np.zeros(xs.shape + (2,), dtype=np.float64)
    off[..., 0] = np.where(inner_x, 0.25 * np.sign(dx), 0.0)
    off[..., 1] = np.where(inner_y, 0.25 * np.sign(dy), 0.0)
    return off


def _dark_offsets(hm: np.ndarray, xs: np.ndarray, ys: np.ndarray, sigma: float) -> np.ndarray:
    n, j, h, w = hm.shape
    # DARK smooths the heatmap with a Gaussian of the target sigma before the log. Only the
    # 3x3 neighbourhood of each argmax is needed, so the blur is evaluated on a local
    # (2r+3)^2 patch (r = ceil(2.5 sigma), DARK's 11-px kernel at sigma 2). Outside the map
    # counts as zero (measured: less border bias than reflecting or normalised convolution).
    r = max(1, int(np.ceil(2.5 * sigma)))
    taps = np.arange(-r, r + 1, dtype=np.float64)
    kern = np.exp(-(taps**2) / (2 * sigma**2))
    size = 2 * r + 3
    offs = np.arange(size) - (r + 1)
    ni = np.arange(n)[:, None, None, None]
    ji = np.arange(j)[None, :, None, None]
    yy = ys[..., None, None] + offs[:, None]
    xx = xs[..., None, None] + offs[None, :]
    valid = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    patch = np.where(valid, hm[ni, ji, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], 0.0)
    patch = np.maximum(patch.astype(np.float64), 0.0)

    def blur(a: np.ndarray) -> np.ndarray:
        # separable 'valid' correlation: (.., size, size) -> (.., 3, 3)
        rows = np.einsum("...iwk,k->...iw", sliding_window_view(a, 2 * r + 1, axis=-2), kern)
        return np.einsum("...ijk,k->...ij", sliding_window_view(rows, 2 * r + 1, axis=-1), kern)

    logm = np.log(np.maximum(blur(patch), 1e-10))
    # Near the border the blur's kernel leaves the map and biases the peak inward (up to
    # ~0.5 px for a peak 1 px from the edge), so there the raw heatmap's log is used: exact
    # for Gaussian peaks, only less smoothed.
    near = (xs <= r) | (xs >= w - 1 - r) | (ys <= r) | (ys >= h - 1 - r)
    raw = np.log(np.maximum(patch[..., r : r + 3, r : r + 3], 1e-10))
    # a neighbour outside the map mirrors the one inside: no sub-pixel shift along that axis
    left, right = raw[..., :, 0:1], raw[..., :, 2:3]
    at_l, at_r = (xs == 0)[..., None, None], (xs == w - 1)[..., None, None]
    raw = np.concatenate(
        [np.where(at_l, right, left), raw[..., :, 1:2], np.where(at_r, left, right)], axis=-1
    )
    top, bottom = raw[..., 0:1, :], raw[..., 2:3, :]
    at_t, at_b = (ys == 0)[..., None, None], (ys == h - 1)[..., None, None]
    raw = np.concatenate(
        [np.where(at_t, bottom, top), raw[..., 1:2, :], np.where(at_b, top, bottom)], axis=-2
    )
    logm = np.where(near[..., None, None], raw, logm)
    c = logm[..., 1, 1]
    gx = 0.5 * (logm[..., 1, 2] - logm[..., 1, 0])
    gy = 0.5 * (logm[..., 2, 1] - logm[..., 0, 1])
    hxx = logm[..., 1, 2] - 2 * c + logm[..., 1, 0]
    hyy = logm[..., 2, 1] - 2 * c + logm[..., 0, 1]
    hxy = 0.25 * (logm[..., 2, 2] - logm[..., 0, 2] - logm[..., 2, 0] + logm[..., 0, 0])
    det = hxx * hyy - hxy * hxy
    # A maximum has a negative-definite Hessian; anything else (flat, saddle) keeps the argmax.
    ok = (det > 1e-12) & (hxx < 0) & (hyy < 0)
    safe = np.where(ok, det, 1.0)
    ox = -(hyy * gx - hxy * gy) / safe
    oy = -(-hxy * gx + hxx * gy) / safe
    off = np.stack([np.where(ok, ox, 0.0), np.where(ok, oy, 0.0)], axis=-1)
    # One Newton step is trusted within one heatmap pixel (the argmax is within 0.5 px).
    return np.clip(off, -1.0, 1.0)  # type: ignore[no-any-return]


__all__ = ["HeatmapCodec", "decode_heatmaps", "render_targets", "to_numpy", "REFINE_CHOICES"]
