"""The one record type every dataset reader produces.

All readers (PoseTrack17/18/21, COCO, synthetic) map their files to a list of
:class:`FrameRecord`, one per frame (labeled or not), each holding its
:class:`Person` annotations with keypoints in **PoseTrack18 slot order**
(see :mod:`semapose.keypoints`) in image pixels. Negative coordinates are valid
(PoseTrack annotates joints just outside the frame); unannotated joints have
visibility 0 and coordinates 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

NUM_JOINTS = 17


@dataclass
class Person:
    """One annotated (or detected) person in one frame."""

    #: (17, 2) float64 image-pixel (x, y) in PoseTrack18 slots; 0 where unannotated
    keypoints: np.ndarray
    #: (17,) float64; > 0 means the joint is annotated (1 = visible/labelled)
    visibility: np.ndarray
    #: (4,) float64 person box x, y, w, h in image pixels, or None
    box: np.ndarray | None = None
    #: (4,) float64 head box x, y, w, h (PCKh / poseval head size), or None
    head_box: np.ndarray | None = None
    #: identity within the sequence; -1 if unknown (e.g. an untracked detection)
    track_id: int = -1
    #: detection confidence (1.0 for ground truth)
    score: float = 1.0

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64).reshape(-1, 2)
        self.visibility = np.asarray(self.visibility, dtype=np.float64).reshape(-1)
        if self.box is not None:
            self.box = np.asarray(self.box, dtype=np.float64).reshape(4)
        if self.head_box is not None:
            self.head_box = np.asarray(self.head_box, dtype=np.float64).reshape(4)

    @property
    def num_visible(self) -> int:
        return int(np.count_nonzero(self.visibility > 0))

    def keypoint_box(self) -> np.ndarray | None:
        """Tight xywh box around the annotated keypoints, or None if there are none."""
        pts = self.keypoints[self.visibility > 0]
        if len(pts) == 0:
            return None
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], dtype=np.float64)

    def best_box(self) -> np.ndarray | None:
        """The person box if given, else the keypoint box (the usual GT-box fallback)."""
        return self.box if self.box is not None else self.keypoint_box()

    @classmethod
    def empty(cls, num_joints: int = NUM_JOINTS) -> Person:
        return cls(np.zeros((num_joints, 2)), np.zeros(num_joints))


@dataclass
class FrameRecord:
    """One video frame (or still image) and its annotations."""

    #: sequence (video) name; a still image is a sequence of one frame
    sequence: str
    #: 0-based index of the frame in its sequence
    frame_index: int
    #: absolute (or dataset-root-joined) path of the image file
    image_path: Path
    #: number of frames in the sequence (as stated by the annotation)
    nframes: int
    #: True if the frame carries pose annotations (PoseTrack labels every few frames)
    is_labeled: bool
    #: polygons (K, 2) of image regions to ignore in evaluation
    ignore_regions: list[np.ndarray] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    #: the dataset's image id (PoseTrack18: 1VVVVVVFFFF), -1 if none
    image_id: int = -1
    #: image size if the annotation states it (0 = unknown)
    width: int = 0
    height: int = 0
    #: anything else worth keeping (e.g. the synthetic ``semapose_degradations`` field)
    extra: dict[str, Any] = field(default_factory=dict)


def group_sequences(records: Iterable[FrameRecord]) -> dict[str, list[FrameRecord]]:
    """Records grouped by sequence, each group sorted by frame index (insertion order kept)."""
    groups: dict[str, list[FrameRecord]] = {}
    for rec in records:
        groups.setdefault(rec.sequence, []).append(rec)
    for recs in groups.values():
        recs.sort(key=lambda r: r.frame_index)
    return groups


def count_persons(records: Iterable[FrameRecord]) -> int:
    return sum(len(r.persons) for r in records)


__all__ = ["NUM_JOINTS", "Person", "FrameRecord", "group_sequences", "count_persons"]
