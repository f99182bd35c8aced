"""Plain result records of video prediction and their JSON form.

These are what the pipeline yields, what ``PoseEstimator.predict`` gives the
user, and what the resumable per-frame JSONL stores (one ``FramePoses`` per line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: joints scoring below this do not count towards the person score (HRNet practice)
PERSON_SCORE_JOINT_THRESHOLD = 0.2


def person_score(box_score: float, scores: np.ndarray) -> float:
    """Box score times the mean of the joint scores above :data:`PERSON_SCORE_JOINT_THRESHOLD`."""
    s = np.asarray(scores)
    s = s[s > PERSON_SCORE_JOINT_THRESHOLD]
    return float(box_score * (s.mean() if len(s) else 0.0))


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
    #: (J,) heatmap maxima in [0, ~1], times the key-frame crop's pose-present score for
    #: models that report one (BlazePose)
    scores: np.ndarray
    #: the tracker keeps this person (id and box) while someone else hides them: no pose of
    #: their own in this frame (keypoints are not theirs, scores are 0); drawn differently
    hidden: bool = False
    #: (L, 4) the backbone's own landmarks of this person's crop (BlazePose: 33), image-pixel
    #: x, y, visibility, presence; only with ``predict --landmarks 33`` (else None)
    landmarks: np.ndarray | None = None

    def __post_init__(self) -> None:
        # plain Python numbers, so that the objects print as numbers, not np.float64(...)
        self.track_id = int(self.track_id)
        self.box_score = float(self.box_score)
        self.hidden = bool(self.hidden)

    def __repr__(self) -> str:
        box = ", ".join(f"{float(v):.1f}" for v in np.asarray(self.box).reshape(-1))
        hidden = ", hidden=True" if self.hidden else ""
        return (
            f"PersonPose(track_id={self.track_id}, box=[{box}], box_score={self.box_score:.3f}, "
            f"score={self.score:.3f}{hidden}, keypoints=<{len(self.keypoints)} x (x, y)>)"
        )

    def joint(self, joint: int | str) -> tuple[float, float, float]:
        """``(x, y, score)`` of one joint as plain floats, by index or PoseTrack18 name
        (``"nose"``, ``"left_ankle"``, ...)."""
        if isinstance(joint, str):
            from semapose.keypoints import POSETRACK_KEYPOINTS

            if joint not in POSETRACK_KEYPOINTS:
                raise KeyError(f"unknown joint {joint!r}; one of {', '.join(POSETRACK_KEYPOINTS)}")
            joint = POSETRACK_KEYPOINTS.index(joint)
        x, y = (float(v) for v in self.keypoints[joint])
        return x, y, float(self.scores[joint])

    @property
    def score(self) -> float:
        """Person score: box score times the mean of the confident joints' scores."""
        return float(person_score(self.box_score, self.scores))

    def to_json(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "box": [_num(v) for v in self.box],
            "box_score": _num(self.box_score),
            "keypoints": [[_num(x), _num(y)] for x, y in self.keypoints],
            "scores": [_num(v) for v in self.scores],
            **({"hidden": True} if self.hidden else {}),
            **(
                {"landmarks": [[_num(v) for v in row] for row in self.landmarks]}
                if self.landmarks is not None
                else {}
            ),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PersonPose:
        lm = obj.get("landmarks")
        return cls(
            track_id=int(obj["track_id"]),
            box=np.asarray(obj["box"], dtype=np.float64),
            box_score=float(obj["box_score"]),
            keypoints=np.asarray(obj["keypoints"], dtype=np.float64).reshape(-1, 2),
            scores=np.asarray(obj["scores"], dtype=np.float64),
            hidden=bool(obj.get("hidden", False)),
            landmarks=None if lm is None else np.asarray(lm, dtype=np.float64).reshape(-1, 4),
        )


@dataclass
class CropOutput:
    """Single-frame outputs of one person crop, known as soon as the crop is encoded.

    Filled from a model's optional ``encode_with_outputs`` (e.g. BlazePose's
    pose-present score and landmarks); ``None`` where the model gives none. The
    tracker reads them for the current frame while the temporal decoder still
    waits for future frames. Keypoints are image pixels in PoseTrack18 slots,
    rounded to 3 decimals (as stored for resume).
    """

    track_id: int
    pose_score: float | None = None
    #: (J, 2) image-pixel x, y
    keypoints: np.ndarray | None = None
    #: (J,) in [0, 1]
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.track_id = int(self.track_id)
        if self.pose_score is not None:
            self.pose_score = float(self.pose_score)

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"track_id": self.track_id}
        if self.pose_score is not None:
            obj["pose_score"] = _num(self.pose_score)
        if self.keypoints is not None:
            obj["keypoints"] = [[_num(x), _num(y)] for x, y in self.keypoints]
        if self.scores is not None:
            obj["scores"] = [_num(v) for v in self.scores]
        return obj

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CropOutput:
        kp, sc, ps = obj.get("keypoints"), obj.get("scores"), obj.get("pose_score")
        return cls(
            track_id=int(obj["track_id"]),
            pose_score=None if ps is None else float(ps),
            keypoints=None if kp is None else np.asarray(kp, dtype=np.float64).reshape(-1, 2),
            scores=None if sc is None else np.asarray(sc, dtype=np.float64),
        )


@dataclass
class FramePoses:
    """All persons of one frame. ``image`` (RGB uint8) is set only when asked for."""

    index: int
    persons: list[PersonPose] = field(default_factory=list)
    image: np.ndarray | None = None
    #: image file name for frame folders ("" for video frames)
    file_name: str = ""

    def __repr__(self) -> str:
        image = "None" if self.image is None else f"<{'x'.join(map(str, self.image.shape))}>"
        return (
            f"FramePoses(index={self.index}, persons={self.persons!r}, image={image}, "
            f"file_name={self.file_name!r})"
        )

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


__all__ = [
    "PERSON_SCORE_JOINT_THRESHOLD",
    "CropOutput",
    "FramePoses",
    "PersonPose",
    "TrackBox",
    "person_score",
]
