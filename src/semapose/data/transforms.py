"""Affine crops around a person box, their inverse, and clip-level augmentation.

Conventions (shared with :mod:`semapose.data.codec`):

* image and crop pixel centres are at integer coordinates (cv2.warpAffine's);
* a crop is described by ``center`` (x, y) and ``scale`` (w, h) **in image pixels**
  (the image region that fills the crop before rotation) and ``rotation`` in degrees
  (positive = the person appears rotated counter-clockwise in the crop);
* ``output_size`` is (H, W), like ``cfg.data.image_size``;
* a horizontal flip is part of the affine matrix (``u -> W - 1 - u`` in the crop), so
  flipped crops are exact mirror images of unflipped ones and every frame of a clip
  is warped exactly once with one shared matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from semapose.keypoints import LOWER_BODY, POSETRACK_FLIP_PAIRS, UPPER_BODY, flip_permutation

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def box_to_center_scale(
    box: np.ndarray, output_size: tuple[int, int], enlarge: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """xywh box -> (center (2,), scale (2,) = (w, h)) with the crop's aspect, enlarged.

    The shorter side is grown so that ``w / h == W / H`` (the box is never shrunk),
    then both sides are multiplied by ``enlarge``. Degenerate boxes get 1 px sides.
    """
    x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    w, h = max(w, 1.0), max(h, 1.0)
    center = np.array([x + 0.5 * w, y + 0.5 * h], dtype=np.float64)
    aspect = output_size[1] / output_size[0]
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h], dtype=np.float64) * enlarge


def get_affine_matrix(
    center: np.ndarray,
    scale: np.ndarray,
    rotation: float,
    output_size: tuple[int, int],
    flip: bool = False,
) -> np.ndarray:
    """2x3 matrix mapping image coordinates to crop coordinates."""
    out_h, out_w = output_size
    s = out_w / float(scale[0])
    theta = np.deg2rad(rotation)
    cos, sin = np.cos(theta) * s, np.sin(theta) * s
    cx, cy = float(center[0]), float(center[1])
    # rotate+scale about the centre, then move the centre to the crop centre
    m = np.array(
        [
            [cos, sin, out_w * 0.5 - cos * cx - sin * cy],
            [-sin, cos, out_h * 0.5 + sin * cx - cos * cy],
        ],
        dtype=np.float64,
    )
    if flip:
        m[0] = -m[0]
        m[0, 2] += out_w - 1
    return m


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix (batched over leading axes)."""
    m = np.asarray(matrix, dtype=np.float64)
    a = m[..., :2]
    inv_a = np.linalg.inv(a)
    t = -np.einsum("...ij,...j->...i", inv_a, m[..., 2])
    return np.concatenate([inv_a, t[..., None]], axis=-1)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply 2x3 ``matrix`` to points (..., 2); a batch of matrices (B, 2, 3) pairs with
    points (B, ..., 2)."""
    p = np.asarray(points, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim == 2:
        return p @ m[:, :2].T + m[:, 2]  # type: ignore[no-any-return]
    b = m.shape[0]
    flat = p.reshape(b, -1, 2)
    out = np.einsum("bkj,bij->bki", flat, m[:, :, :2]) + m[:, None, :, 2]
    return out.reshape(p.shape)  # type: ignore[no-any-return]


def crop(image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Warp ``image`` (H, W, C) into the crop (bilinear, zero border)."""
    out_h, out_w = output_size
    return cv2.warpAffine(
        image,
        np.asarray(matrix, dtype=np.float64),
        (int(out_w), int(out_h)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def invert_points(
    points: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    rotation: np.ndarray | float,
    output_size: tuple[int, int],
    flip: np.ndarray | bool = False,
) -> np.ndarray:
    """Crop coordinates (N, J, 2) back to image coordinates, for N crops.

    ``center``/``scale`` (N, 2), ``rotation`` (N,) — exactly the values stored in
    the dataset's ``meta`` — so decoding is ``invert_points(codec.decode(h)[0], ...)``.
    """
    pts = np.asarray(points, dtype=np.float64)
    single = pts.ndim == 2
    if single:
        pts = pts[None]
    n = pts.shape[0]
    center = np.broadcast_to(np.asarray(center, dtype=np.float64), (n, 2))
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n, 2))
    rot = np.broadcast_to(np.asarray(rotation, dtype=np.float64), (n,))
    flips = np.broadcast_to(np.asarray(flip, dtype=bool), (n,))
    mats = np.stack(
        [
            get_affine_matrix(center[i], scale[i], float(rot[i]), output_size, bool(flips[i]))
            for i in range(n)
        ]
    )
    out = transform_points(pts, invert_affine(mats))
    return out[0] if single else out


def normalize_image(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 (3, H, W) with ImageNet mean/std."""
    x = rgb.astype(np.float32) / 255.0
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def flip_joints(
    values: np.ndarray,
    pairs: tuple[tuple[int, int], ...] = POSETRACK_FLIP_PAIRS,
    axis: int | None = None,
) -> np.ndarray:
    """Swap left/right joints along ``axis`` (default: -2 for (…, J, D) arrays, -1 for (J,))."""
    values = np.asarray(values)
    if axis is None:
        axis = -2 if values.ndim >= 2 else -1
    perm = flip_permutation(pairs, values.shape[axis])
    return np.take(values, perm, axis=axis)


def flip_back_heatmaps(
    heatmaps: Any,
    pairs: tuple[tuple[int, int], ...] = POSETRACK_FLIP_PAIRS,
    stride: int = 4,
) -> Any:
    """Heatmaps predicted on a flipped crop (…, J, h, w) -> heatmaps of the unflipped crop.

    Mirrors the width, swaps left/right channels and shifts by ``(stride-1)/stride``
    heatmap pixels (linear interpolation), because flipping the crop maps input pixel
    ``u -> W-1-u`` while mirroring the heatmap array maps ``x -> w-1-x``. Works on numpy
    arrays and torch tensors.
    """
    n_j = heatmaps.shape[-3]
    perm = flip_permutation(pairs, n_j)
    if hasattr(heatmaps, "flip"):  # torch
        mirrored = heatmaps.flip(-1)[..., perm, :, :]
        shifted = mirrored.clone()
    else:
        mirrored = np.asarray(heatmaps)[..., perm, :, ::-1]
        shifted = mirrored.copy()
    d = (stride - 1) / stride
    if mirrored.shape[-1] > 1:
        shifted[..., 1:] = (1 - d) * mirrored[..., 1:] + d * mirrored[..., :-1]
    return shifted


# ------------------------------------------------------------------------ augmentation


@dataclass
class Augmentation:
    """One draw of the augmentation shared by all frames of a clip."""

    flip: bool = False
    rotation: float = 0.0
    scale_factor: float = 1.0
    #: replace the key box by an upper- or lower-body box
    half_body: bool = False


def sample_augmentation(
    rng: np.random.Generator,
    flip_prob: float,
    rotation: float,
    rotation_prob: float,
    scale: float,
    half_body_prob: float,
) -> Augmentation:
    """HRNet-style draw: scale ~ clip(N(1, s), 1-s, 1+s); rotation ~ clip(N(0, r), ±2r)
    with probability ``rotation_prob``; flip and half-body by their probabilities."""
    sf = float(np.clip(rng.normal(1.0, scale), 1.0 - scale, 1.0 + scale)) if scale > 0 else 1.0
    rot = 0.0
    if rotation > 0 and rng.random() < rotation_prob:
        rot = float(np.clip(rng.normal(0.0, rotation), -2 * rotation, 2 * rotation))
    return Augmentation(
        flip=bool(rng.random() < flip_prob),
        rotation=rot,
        scale_factor=sf,
        half_body=bool(rng.random() < half_body_prob),
    )


def half_body_center_scale(
    keypoints: np.ndarray,
    visibility: np.ndarray,
    rng: np.random.Generator,
    output_size: tuple[int, int],
    min_joints: int = 8,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Box around the upper or the lower body's visible joints (x1.5), or None if the
    person has too few visible joints or the chosen half has fewer than 2."""
    vis = np.asarray(visibility) > 0
    if vis.sum() <= min_joints:
        return None
    upper = [j for j in UPPER_BODY if j < len(vis) and vis[j]]
    lower = [j for j in LOWER_BODY if j < len(vis) and vis[j]]
    chosen = upper if (rng.random() < 0.5 and len(upper) > 2) else lower
    if len(chosen) < 2:
        chosen = upper
    if len(chosen) < 2:
        return None
    pts = np.asarray(keypoints, dtype=np.float64)[chosen]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    center, scale = box_to_center_scale(
        np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]), output_size, enlarge=1.5
    )
    return center, scale


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Augmentation",
    "box_to_center_scale",
    "get_affine_matrix",
    "invert_affine",
    "transform_points",
    "crop",
    "invert_points",
    "normalize_image",
    "flip_joints",
    "flip_back_heatmaps",
    "sample_augmentation",
    "half_body_center_scale",
]
