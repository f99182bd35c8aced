"""The one pose decoder: heatmaps of a crop (and of its mirror) to image keypoints.

Used by the prediction runner (:mod:`semapose.inference.pipeline`), which is also
what training-time validation runs, so the mAP printed during training is the
mAP of ``semapose predict --boxes``. Steps: flip-back of the mirrored crop's
heatmaps (mirror, swap left/right, sub-pixel shift) and averaging, the heatmap
codec (argmax + ``refine``), the crop's inverse affine back to image pixels.
The person score is :func:`semapose.inference.results.person_score`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class PoseDecoder:
    """Heatmaps -> image keypoints for crops of the given boxes (see the module docstring)."""

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_stride: int,
        sigma: float,
        refine: str,
        bbox_enlarge: float,
    ) -> None:
        from semapose.data.codec import HeatmapCodec

        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_stride = int(heatmap_stride)
        self.bbox_enlarge = float(bbox_enlarge)
        self.codec = HeatmapCodec(self.input_size, self.heatmap_stride, sigma, refine)

    def merge_flip(self, heatmaps: Any, flipped: Any | None) -> Any:
        """Average the heatmaps with those of the mirrored crop mapped back (torch tensors)."""
        if flipped is None:
            return heatmaps
        from semapose.data.transforms import flip_back_heatmaps

        return (heatmaps + flip_back_heatmaps(flipped, stride=self.heatmap_stride)) / 2

    def crop_matrices(self, box_xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(2, 3) image->crop and crop->image matrices of a person box."""
        from semapose.inference.crops import crop_affine

        return crop_affine(box_xywh, self.input_size, self.bbox_enlarge)

    def to_image(self, points: np.ndarray, box_xywh: np.ndarray) -> np.ndarray:
        """(J, 2) crop-input pixels of the crop of ``box_xywh`` -> image pixels."""
        from semapose.inference.crops import apply_affine

        return apply_affine(points, self.crop_matrices(box_xywh)[1])

    def decode(
        self, heatmaps: np.ndarray, boxes_xywh: Sequence[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(B, J, h, w) heatmaps of the crops of ``boxes_xywh`` -> per box (J, 2) image
        keypoints and (J,) scores."""
        coords, scores = self.codec.decode(heatmaps)
        points = [self.to_image(xy, b) for xy, b in zip(coords, boxes_xywh, strict=True)]
        return points, list(scores)


__all__ = ["PoseDecoder"]
