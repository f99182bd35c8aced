"""MediaPipe's BlazePose person detector (``pose_detection.tflite``) in PyTorch.

Weights: ``mediapipe/modules/pose_detection/pose_detection.tflite`` of the pinned
``mediapipe==0.10.21`` wheel (Apache-2.0), the registry asset ``blazepose_detector``
(:mod:`semapose.weights.assets`), read by :mod:`semapose.weights.tflite` (fp16 and
block-sparse weights) and run by :mod:`semapose.inference.detectors.tflite_net`;
equal to Google's runtime within 1e-3 (``tests/test_blazepose_detector.py``).

As MediaPipe configures it (``pose_detection_cpu.pbtxt``): input 224x224 RGB in
[-1, 1]; 2254 SSD anchors of fixed size 1 (strides 8, 16, 32, 32, 32: 28x28x2,
14x14x2 and 7x7x6 cells, offset half a cell); per anchor 12 values, ``x, y, w, h``
of a face box then 4 keypoints ``x, y``, all in input pixels relative to the anchor
centre; score ``sigmoid`` of the logit clipped to +-100, kept at 0.5. Keypoint 0 is
the middle of the hips, keypoint 1 a point such that the circle around keypoint 0
through it holds the whole body. The person box given to the tracker is that circle's
height (``2 r``) and ``width`` times it (default 0.5: upright people), centred on the hips.

Frames are seen as ``tiles`` squares along the long side plus the letterboxed full
frame, boxes merged by NMS at 0.3 (MediaPipe's suppression threshold).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from semapose.inference.detectors import DetectorUnavailableError
from semapose.inference.detectors.boxops import clip_boxes, empty_boxes, nms

ASSET = "blazepose_detector"
INPUT = 224
#: (stride, anchors per cell) of MediaPipe's SsdAnchorsCalculator options (strides 8,16,32,32,32)
_LAYERS = ((8, 2), (16, 2), (32, 6))


def pose_detector_anchors() -> np.ndarray:
    """(2254, 2) anchor centres (x, y), normalised, in the heads' output order."""
    cells = []
    for stride, n in _LAYERS:
        g = INPUT // stride
        ys, xs = np.meshgrid((np.arange(g) + 0.5) / g, (np.arange(g) + 0.5) / g, indexing="ij")
        cells.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], 1), n, axis=0))
    return np.concatenate(cells)


class BlazePosePersonDetector:
    """People from MediaPipe's pose detector (see the module docstring)."""

    name = "blazepose"

    def __init__(
        self,
        score_threshold: float = 0.5,
        tiles: int = 3,
        nms_iou: float = 0.3,
        device: Any = "cpu",
        width: float = 0.5,
    ) -> None:
        self.score_threshold = score_threshold
        #: box width as a share of the body circle's diameter (its height)
        self.width = width
        self.tiles = tiles
        self.nms_iou = nms_iou
        self.device = device
        self._net: Any = None
        self._anchors = pose_detector_anchors()
        self._path: Path | None = None

    def load(self) -> BlazePosePersonDetector:
        if self._net is not None:
            return self
        import torch

        from semapose.errors import CheckpointError
        from semapose.inference.detectors.tflite_net import build_tflite_net
        from semapose.threads import thread_invariant_convolutions
        from semapose.weights.assets import AssetUnavailableError, fetch_asset
        from semapose.weights.tflite import read_tflite

        try:
            self._path = fetch_asset(ASSET)
        except AssetUnavailableError as exc:
            raise DetectorUnavailableError(
                f"BlazePose's person detector: {exc}; or pass person boxes with --boxes FILE"
            ) from None
        try:
            net = build_tflite_net(read_tflite(self._path))
            # the same boxes whatever the thread count (semapose.threads)
            self._net = thread_invariant_convolutions(net.to(torch.device(self.device)))
        except CheckpointError as exc:
            raise DetectorUnavailableError(
                f"BlazePose's person detector cannot read its model: {exc}; delete that file "
                f"and run `semapose fetch {ASSET}`, or pass person boxes with --boxes FILE"
            ) from exc
        except Exception as exc:  # a device that is not there
            raise DetectorUnavailableError(
                f"BlazePose's person detector could not be built from {self._path} on device "
                f"{self.device!s} ({type(exc).__name__}); try --device cpu, or pass person "
                "boxes with --boxes FILE"
            ) from exc
        return self

    def detect(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> np.ndarray:
        from semapose.inference.detectors.ssdlite import tile_windows

        h, w = frame_rgb.shape[:2]
        windows = tile_windows(w, h, self.tiles)[1:] or []
        squares = [(x0, y0, x1 - x0) for x0, y0, x1, y1 in windows]
        side = max(h, w)
        squares.append((0, 0, side))  # the letterboxed frame
        self.load()
        try:
            boxes = self._run(frame_rgb, squares)
        except Exception as exc:
            raise DetectorUnavailableError(
                f"BlazePose's person detector ({self._path}) failed on device {self.device!s} "
                f"({type(exc).__name__}); try --device cpu, or pass person boxes with --boxes FILE"
            ) from exc
        if len(boxes) == 0:
            return empty_boxes()
        return nms(clip_boxes(boxes, w, h), self.nms_iou)

    def _run(self, frame: np.ndarray, squares: list[tuple[int, int, int]]) -> np.ndarray:
        import cv2
        import torch

        h, w = frame.shape[:2]
        crops = []
        for x0, y0, side in squares:
            canvas = np.zeros((side, side, 3), np.uint8)
            part = frame[y0 : y0 + side, x0 : x0 + side]
            canvas[: part.shape[0], : part.shape[1]] = part
            crops.append(cv2.resize(canvas, (INPUT, INPUT), interpolation=cv2.INTER_LINEAR))
        x = torch.from_numpy(np.stack(crops)).to(torch.device(self.device))
        with torch.inference_mode():
            raw, logits = self._net(x.permute(0, 3, 1, 2).float() / 127.5 - 1.0)
        raw, logits = raw.cpu().numpy(), logits.cpu().numpy()[..., 0]
        out = []
        for i, (x0, y0, side) in enumerate(squares):
            score = 1.0 / (1.0 + np.exp(-np.clip(logits[i].astype(np.float64), -100.0, 100.0)))
            keep = score >= self.score_threshold
            r, a = raw[i][keep], self._anchors[keep]
            hx, hy = r[:, 4] / INPUT + a[:, 0], r[:, 5] / INPUT + a[:, 1]
            rad = np.hypot(r[:, 6] / INPUT + a[:, 0] - hx, r[:, 7] / INPUT + a[:, 1] - hy)
            half = rad * self.width
            box = np.stack([hx - half, hy - rad, hx + half, hy + rad], 1) * side
            box += [x0, y0, x0, y0]
            out.append(np.concatenate([box, score[keep][:, None]], 1))
        return np.concatenate(out).astype(np.float32) if out else empty_boxes()


class MergedPersonDetector:
    """SSDLite's boxes, plus the second source's boxes for people SSDLite has none for.

    A second-source box is added when no first-source box overlaps it by IoU 0.3 or
    more and none contains its centre. ``detect_near`` (the tracker's requests) uses
    the first source alone.
    """

    def __init__(self, first: Any, second: Any) -> None:
        self.first = first
        self.second = second
        self.name = f"{getattr(first, 'name', 'first')}+{getattr(second, 'name', 'second')}"

    def load(self) -> MergedPersonDetector:
        self.first.load()
        self.second.load()
        return self

    def detect(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> np.ndarray:
        from semapose.inference.detectors.boxops import box_iou

        a = np.asarray(self.first.detect(frame_rgb, frame_index), np.float32).reshape(-1, 5)
        b = np.asarray(self.second.detect(frame_rgb, frame_index), np.float32).reshape(-1, 5)
        if len(b) and len(a):
            cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
            inside = (
                (cx[:, None] >= a[None, :, 0])
                & (cx[:, None] <= a[None, :, 2])
                & (cy[:, None] >= a[None, :, 1])
                & (cy[:, None] <= a[None, :, 3])
            ).any(1)
            b = b[(box_iou(b, a).max(1) < 0.3) & ~inside]
        boxes = np.concatenate([a, b]) if len(b) else a
        return boxes[np.argsort(-boxes[:, 4], kind="stable")] if len(boxes) else empty_boxes()

    def detect_near(
        self, frame_rgb: np.ndarray, boxes: np.ndarray, frame_index: int | None = None
    ) -> np.ndarray:
        near = getattr(self.first, "detect_near", None)
        if near is None:
            return self.first.detect(frame_rgb, frame_index)  # type: ignore[no-any-return]
        return near(frame_rgb, boxes, frame_index)  # type: ignore[no-any-return]
