"""Plain result records of video prediction and their JSON form.

These are what the pipeline yields, what ``PoseEstimator.predict`` gives the
user, and what the resumable per-frame JSONL stores (one ``FramePoses`` per line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class TrackBox:
    """A tracked person box in one frame: ``box`` is (x, y, w, h) in image pixels."""

    track_id: int
    box: np.ndarray
    score: float = 1.0

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float64).reshape(4)
        self.track_id = int(self.track_id)
        self.score = float(self.score)


@dataclass
class PersonPose:
    """One tracked person's pose in one frame (keypoints in PoseTrack18 slot order)."""

    track_id: int
    #: (4,) x, y, w, h in image pixels
    box: np.ndarray
    box_score: float
    #: (J, 2) image-pixel x, y (may be negative or beyond the frame)
    keypoints: np.ndarray
    #: (J,) heatmap maxima in [0, ~1]
    scores: np.ndarray

    @property
    def score(self) -> float:
        """Person score: box score times the mean of the confident joints' scores."""
        s = self.scores[self.scores > 0.2]
        return float(self.box_score * (s.mean() if len(s) else 0.0))

    def to_json(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "box": [_num(v) for v in self.box],
            "box_score": _num(self.box_score),
            "keypoints": [[_num(x), _num(y)] for x, y in self.keypoints],
            "scores": [_num(v) for v in self.scores],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PersonPose:
        return cls(
            track_id=int(obj["track_id"]),
            box=np.asarray(obj["box"], dtype=np.float64),
            box_score=float(obj["box_score"]),
            keypoints=np.asarray(obj["keypoints"], dtype=np.float64).reshape(-1, 2),
            scores=np.asarray(obj["scores"], dtype=np.float64),
        )


@dataclass
class FramePoses:
    """All persons of one frame. ``image`` (RGB uint8) is set only when asked for."""

    index: int
    persons: list[PersonPose] = field(default_factory=list)
    image: np.ndarray | None = None
    #: image file name for frame folders ("" for video frames)
    file_name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "frame": self.index,
            "file_name": self.file_name,
            "persons": [p.to_json() for p in self.persons],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FramePoses:
        return cls(
            index=int(obj["frame"]),
            persons=[PersonPose.from_json(p) for p in obj["persons"]],
            file_name=str(obj.get("file_name", "")),
        )


def _num(v: Any) -> float:
    """A JSON-safe float rounded to 3 decimals (1/1000 px is far below any error)."""
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"non-finite value {f} in a prediction")
    return round(f, 3)


__all__ = ["TrackBox", "PersonPose", "FramePoses"]
