"""Person crops for inference: box -> affine -> normalised network input, and back.

Thin wrappers over :mod:`semapose.data.transforms` (the same box enlargement,
aspect fix, affine and normalisation as training) so that a model sees at test
time exactly the crops it was trained on.
"""

from __future__ import annotations

import numpy as np


def crop_affine(
    box_xywh: np.ndarray, input_size: tuple[int, int], enlarge: float
) -> tuple[np.ndarray, np.ndarray]:
    """(2, 3) matrices image->input and input->image for a person box (no rotation)."""
    from semapose.data import transforms as T

    center, scale = T.box_to_center_scale(box_xywh, input_size, enlarge)
    m = T.get_affine_matrix(center, scale, 0.0, input_size)
    return m, T.invert_affine(m)


def crop_image(image: np.ndarray, matrix: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """Warp an RGB uint8 image into the (3, H, W) float32 ImageNet-normalised network input."""
    from semapose.data import transforms as T

    return T.normalize_image(T.crop(image, matrix, input_size))


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (..., 2) points with a (2, 3) affine matrix."""
    from semapose.data import transforms as T

    return T.transform_points(points, matrix)


__all__ = ["crop_affine", "crop_image", "apply_affine"]
