"""Person boxes read from a detection file (``--boxes``), served frame by frame.

The file is read by :func:`semapose.data.boxes.load_boxes` (mmpose and
PoseWarper layouts). Each detection is mapped to a 0-based frame index of the
video being processed:

- ``image_name`` (PoseWarper, e.g. ``images/val/000342_mpii_test/000012.jpg``):
  by its file name among ``frame_names`` (a frame folder's file names; a
  video's frames are named ``000000.jpg``, ``000001.jpg``, ...), else by the
  number in the file name;
- ``image_id`` in PoseTrack's ``1VVVVVVFFFF`` form (>= 10^10): frame
  ``FFFF``; the video number ``VVVVVV`` must match a sequence name starting
  with it (``000342_mpii_test``) when ``sequence`` is given;
- any other ``image_id``: the frame index itself.

Detections of other sequences (when ``sequence`` is given) are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from semapose.errors import InputError
from semapose.inference.detectors.boxops import empty_boxes
from semapose.io.posetrack_json import parse_image_id


class BoxFileDetector:
    """A :class:`~semapose.inference.detectors.Detector` returning precomputed boxes.

    ``boxes``: frame index -> (K, 5) x1, y1, x2, y2, score. ``detect`` with
    ``frame_index=None`` uses an internal counter (0, 1, 2, ... per call).
    """

    name = "boxes"

    def __init__(self, boxes: Mapping[int, np.ndarray], source: str | Path | None = None) -> None:
        self._boxes = {
            int(k): np.asarray(v, dtype=np.float32).reshape(-1, 5) for k, v in boxes.items()
        }
        for k, v in self._boxes.items():
            self._boxes[k] = v[np.argsort(-v[:, 4], kind="stable")]
        self.source = str(source) if source is not None else None
        self._counter = 0

    @property
    def frame_indices(self) -> list[int]:
        return sorted(self._boxes)

    def __len__(self) -> int:
        return sum(len(v) for v in self._boxes.values())

    def detect(self, frame_rgb: np.ndarray | None, frame_index: int | None = None) -> np.ndarray:
        if frame_index is None:
            frame_index = self._counter
        self._counter = int(frame_index) + 1
        boxes = self._boxes.get(int(frame_index))
        return boxes.copy() if boxes is not None else empty_boxes()

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        frame_names: Sequence[str] | None = None,
        sequence: str | None = None,
        score_threshold: float = 0.0,
    ) -> BoxFileDetector:
        """Read a box file for one video (see the module docstring for the frame mapping).

        Raises :class:`~semapose.errors.InputError` when the file is unreadable
        or no detection maps to a frame of this video.
        """
        from semapose.data.boxes import load_boxes

        dets = load_boxes(path, score_threshold=score_threshold)
        by_name = {PurePosixPath(n).name: i for i, n in enumerate(frame_names or [])}
        seq_number = _leading_number(sequence) if sequence else None
        per_frame: dict[int, list[np.ndarray]] = {}
        for det in dets:
            index = None
            if det.image_name:
                pp = PurePosixPath(det.image_name)
                if sequence and len(pp.parts) > 1 and pp.parent.name != sequence:
                    continue
                index = by_name.get(pp.name) if by_name else _leading_number(pp.stem)
            elif (parsed := parse_image_id(det.image_id)) is not None:
                video, index = parsed
                if seq_number is not None and video != seq_number:
                    continue
            elif det.image_id >= 0:
                index = det.image_id
            if index is None:
                continue
            per_frame.setdefault(int(index), []).append(xywh_row(det.box, det.score))
        if dets and not per_frame:
            raise InputError(
                path,
                "detections",
                f"boxes for frames of {sequence or 'this video'} (by image_name or image_id)",
                f"{len(dets)} detections, none matching",
            )
        return cls({k: np.stack(v) for k, v in per_frame.items()}, source=path)


def xywh_row(box_xywh: np.ndarray, score: float) -> np.ndarray:
    """One detector row (x1, y1, x2, y2, score) of a box file's x, y, w, h box, in the
    detector's float32, exactly as :meth:`BoxFileDetector.from_file` reads it."""
    x, y, w, h = (float(v) for v in box_xywh)
    return np.array([x, y, x + w, y + h, score], dtype=np.float32)


def _leading_number(text: str | None) -> int | None:
    m = re.match(r"\D*(\d+)", text or "")
    return int(m.group(1)) if m else None
