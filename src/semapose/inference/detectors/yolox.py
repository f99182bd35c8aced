"""Optional stronger detector: OpenMMLab's YOLOX person models (ONNX) through onnxruntime.

The ONNX files (Apache-2.0, trained on COCO + Human-Art by OpenMMLab) are
downloaded on first use, checksum-verified, into the cache folder (see
:mod:`semapose.weights.download`); afterwards no network is needed. Needs the
``onnx`` extra (``pip install semapose[onnx]``, i.e. onnxruntime).

The exported graph (mmdeploy ``end2end.onnx``) takes a BGR float image
letterboxed into a fixed square (top-left aligned, padded with 114, no
normalisation) and returns ``dets`` (1, N, 5) x1, y1, x2, y2, score in input
pixels and ``labels`` (1, N) (0 = person), NMS already applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from semapose.inference.detectors import DetectorUnavailableError
from semapose.inference.detectors.boxops import clip_boxes, empty_boxes, nms

#: default letterbox side per model (used when the ONNX input shape is dynamic)
INPUT_SIZES = {"yolox-tiny": 416, "yolox-m": 640}


class YOLOXPersonDetector:
    """YOLOX person detector (``model``: ``yolox-tiny`` or ``yolox-m``, or ``model_path``)."""

    def __init__(
        self,
        model: str = "yolox-tiny",
        model_path: str | Path | None = None,
        score_threshold: float = 0.3,
        nms_iou: float = 0.5,
        cache: str | Path | None = None,
        providers: list[str] | None = None,
    ) -> None:
        if model not in INPUT_SIZES and model_path is None:
            raise DetectorUnavailableError(
                f"unknown YOLOX model {model!r}: expected one of {', '.join(INPUT_SIZES)}"
            )
        self.name = model
        self.model_path = Path(model_path) if model_path is not None else None
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.cache = cache
        self.providers = providers or ["CPUExecutionProvider"]
        self.input_size = INPUT_SIZES.get(model, 416)
        self._session: Any = None
        self._input_name = "input"

    def load(self) -> YOLOXPersonDetector:
        if self._session is not None:
            return self
        try:
            import onnxruntime as ort
        except ImportError:
            raise DetectorUnavailableError(
                f"--detector {self.name} needs onnxruntime: pip install 'semapose[onnx]' "
                "(or pass person boxes with --boxes FILE)"
            ) from None
        path = self.model_path
        if path is None:
            from semapose.weights.download import fetch_known

            path = fetch_known(self.name, cache=self.cache)
        try:
            self._session = ort.InferenceSession(str(path), providers=self.providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise DetectorUnavailableError(
                f"--detector {self.name}: {path}: not a loadable ONNX model "
                f"({_first_line(exc)}); delete it and run again to download it, or pass "
                "person boxes with --boxes FILE"
            ) from exc
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        shape = list(inp.shape)
        if len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int):
            self.input_size = int(shape[2])
        return self

    def preprocess(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """Letterbox to (1, 3, S, S) BGR float32 (top-left, pad 114); returns (blob, scale)."""
        import cv2

        s = self.input_size
        h, w = frame_rgb.shape[:2]
        ratio = min(s / h, s / w)
        nh, nw = max(1, int(round(h * ratio))), max(1, int(round(w * ratio)))
        resized = cv2.resize(frame_rgb[:, :, ::-1], (nw, nh), interpolation=cv2.INTER_LINEAR)
        canvas = np.full((s, s, 3), 114, dtype=np.uint8)
        canvas[:nh, :nw] = resized
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        return np.ascontiguousarray(blob), ratio

    def detect(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> np.ndarray:
        self.load()
        blob, ratio = self.preprocess(frame_rgb)
        try:
            outputs = self._session.run(None, {self._input_name: blob})
        except Exception as exc:  # onnxruntime's own exception types
            raise DetectorUnavailableError(
                f"--detector {self.name} failed to run {self.model_path or self.name} "
                f"({_first_line(exc)}); use another --detector, or pass person boxes "
                "with --boxes FILE"
            ) from exc
        dets = np.asarray(outputs[0], dtype=np.float32).reshape(-1, 5)
        if len(outputs) > 1:
            labels = np.asarray(outputs[1]).reshape(-1)
            dets = dets[labels == 0]
        dets = dets[np.isfinite(dets).all(axis=1) & (dets[:, 4] >= self.score_threshold)]
        if len(dets) == 0:
            return empty_boxes()
        dets = dets.copy()
        dets[:, :4] /= ratio
        h, w = frame_rgb.shape[:2]
        return nms(clip_boxes(dets, w, h), self.nms_iou)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__
