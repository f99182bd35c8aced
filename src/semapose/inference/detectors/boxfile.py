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

Detections of other sequences (when ``sequence`` is given) are dropped. A file
that does not fit the input is refused (exit 2) naming the first mismatch: a
frame name not among a frame folder's files, a frame index at or past the
input's end (so a file holding boxes only past the end is refused too), or
several sequences none of which is named like the input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from semapose.data.boxes import Detection
from semapose.errors import InputError
from semapose.inference.detectors.boxops import empty_boxes
from semapose.io.posetrack_json import parse_image_id
from semapose.limits import MAX_PEOPLE_PER_FRAME as MAX_PEOPLE


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
        num_frames: int | None = None,
        input_name: str | None = None,
    ) -> BoxFileDetector:
        """Read a box file for one video (see the module docstring for the frame mapping).

        ``frame_names``: a frame folder's file names in frame order; ``num_frames``: the
        input's frame count when known; ``input_name``: its name (``walk`` for
        ``walk.mp4``), used to pick its detections from a file of several sequences.
        Raises :class:`~semapose.errors.InputError` when the file is unreadable or does
        not fit the input: a frame name not in the folder, boxes only past the input's
        end, several sequences none named like the input, or no detection for this
        input at all.
        """
        from semapose.data.boxes import load_boxes

        dets = load_boxes(path, score_threshold=score_threshold)
        if num_frames is None and frame_names is not None:
            num_frames = len(frame_names)
        what = input_name or sequence or "this video"
        if sequence is None:
            sequence = _single_sequence(dets, path, input_name)
            _check_posetrack_video(dets, path, input_name)
        by_name = {PurePosixPath(n).name: i for i, n in enumerate(frame_names or [])}
        seq_number = _leading_number(sequence) if sequence else None
        per_frame: dict[int, list[np.ndarray]] = {}
        past_end: list[Detection] = []  # ignored unless they are all there is
        for det in dets:
            index = None
            if det.image_name:
                pp = PurePosixPath(det.image_name)
                if sequence and len(pp.parts) > 1 and pp.parent.name != sequence:
                    continue
                index = by_name.get(pp.name) if by_name else _leading_number(pp.stem)
                if index is None and by_name:
                    raise InputError(
                        path,
                        f"[{det.position}].image_name",
                        f"a frame of {what} ({_frames_text(frame_names or [])})",
                        det.image_name,
                    )
            elif (parsed := parse_image_id(det.image_id)) is not None:
                video, index = parsed
                if seq_number is not None and video != seq_number:
                    continue
            elif det.image_id >= 0:
                index = det.image_id
            if index is None:
                continue
            if num_frames is not None and index >= num_frames:
                past_end.append(det)
                continue
            per_frame.setdefault(int(index), []).append(xywh_row(det.box, det.score))
        if past_end and not per_frame:
            first = min(past_end, key=_frame_of)
            raise InputError(
                path,
                f"[{first.position}]",
                f"boxes for frames 0-{num_frames - 1} of {what} ({num_frames} frames; "  # type: ignore[operator]
                "a box file for another input?)",
                f"boxes only past its end, from frame {_frame_of(first)}",
            )
        if dets and not per_frame:
            raise InputError(
                path,
                "detections",
                f"boxes for frames of {sequence or what} (by image_name or image_id)",
                f"{len(dets)} detections, none matching",
            )
        crowded = next((k for k in sorted(per_frame) if len(per_frame[k]) > MAX_PEOPLE), None)
        if crowded is not None:
            raise InputError(
                path,
                f"frame {crowded}",
                f"at most {MAX_PEOPLE} boxes per frame (people per frame)",
                f"{len(per_frame[crowded])} boxes",
            )
        return cls({k: np.stack(v) for k, v in per_frame.items()}, source=path)


def xywh_row(box_xywh: np.ndarray, score: float) -> np.ndarray:
    """One detector row (x1, y1, x2, y2, score) of a box file's x, y, w, h box, in the
    detector's float32, exactly as :meth:`BoxFileDetector.from_file` reads it."""
    x, y, w, h = (float(v) for v in box_xywh)
    return np.array([x, y, x + w, y + h, score], dtype=np.float32)


def _sequence_of(det: Detection) -> str | None:
    """The sequence a detection names (its image's folder, or the video of a PoseTrack
    id), as its number when it has one: ``000342_mpii_test`` and id ``10003420012`` agree."""
    name = None
    if det.image_name:
        pp = PurePosixPath(det.image_name)
        name = pp.parent.name if len(pp.parts) > 1 else None
    parsed = None if det.image_name else parse_image_id(det.image_id)
    number = parsed[0] if parsed is not None else _leading_number(name)
    return f"{number:06d}" if number is not None else name


def _frame_of(det: Detection) -> int:
    if det.image_name:
        return _leading_number(PurePosixPath(det.image_name).stem) or 0
    parsed = parse_image_id(det.image_id)
    return parsed[1] if parsed is not None else det.image_id


def _single_sequence(dets: list[Detection], path: str | Path, name: str | None) -> str | None:
    """For one input: None when the file holds one sequence (or does not say), else the
    sequence named like the input; a file of several others is refused."""
    seqs = sorted({s for s in map(_sequence_of, dets) if s is not None})
    if len(seqs) <= 1:
        return None
    number = _leading_number(name)
    if name in seqs or (number is not None and f"{number:06d}" in seqs):
        return name
    shown = ", ".join(seqs[:3]) + (", ..." if len(seqs) > 3 else "")
    raise InputError(
        path,
        "detections",
        f"boxes of one video, or of several with one named like the input ({name or '?'})",
        f"{len(seqs)} sequences: {shown}",
    )


def _check_posetrack_video(dets: list[Detection], path: str | Path, name: str | None) -> None:
    """A file of one PoseTrack video (``000342_mpii_test``, ids ``1000342FFFF``) given for an
    input named like another PoseTrack video (``000001_mpii_test``) is refused."""
    if not name or not re.match(r"\d{6}_", name):
        return
    seqs = {s for s in map(_sequence_of, dets) if s is not None}
    number = _leading_number(name)
    numbers = {_leading_number(s) for s in seqs} - {None}
    if number is not None and len(seqs) == 1 and numbers and number not in numbers:
        raise InputError(
            path,
            "detections",
            f"boxes of the PoseTrack video {name} (video number {number:06d})",
            f"boxes of video {next(iter(seqs))}",
        )


def _frames_text(names: Sequence[str]) -> str:
    if not names:
        return "no frames"
    return f"{len(names)} frames, {names[0]} ... {names[-1]}"


def _leading_number(text: str | None) -> int | None:
    m = re.match(r"\D*(\d+)", text or "")
    return int(m.group(1)) if m else None
