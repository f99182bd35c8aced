"""What the tracker knows: the boxes it gives out (:class:`Track`), each person's state
(:class:`TrackState`) and the book of all of them (:class:`TrackBook`), shared by the stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from semapose.inference.tracking.config import TrackerConfig
from semapose.inference.tracking.geometry import keypoint_box


@dataclass
class Track:
    """A tracked person in one frame. ``box`` is (4,) x1, y1, x2, y2 in image pixels.

    ``source`` is ``"detection"`` (a detector box), ``"pose"`` (the box around the
    person's keypoints of an earlier frame) or ``"motion"`` (last box moved by its
    velocity).
    """

    track_id: int
    box: np.ndarray
    score: float
    source: str = "detection"

    @property
    def box_xywh(self) -> np.ndarray:
        x1, y1, x2, y2 = (float(v) for v in self.box)
        return np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float64)


@dataclass
class TrackState:
    """One person held by the tracker (``track_id`` -1: tentative, no id yet)."""

    track_id: int
    box: np.ndarray  # last box, x1 y1 x2 y2
    score: float
    last_frame: int  # last frame the track was output
    last_detected: int  # last frame a detector box matched
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # per frame
    # late (temporal) keypoints, Tracker.observe()
    keypoints: np.ndarray | None = None
    kp_scores: np.ndarray | None = None
    kp_frame: int = -1
    # this frame's single-frame pose, Tracker.observe_crops()
    crop_kp: np.ndarray | None = None
    crop_scores: np.ndarray | None = None
    crop_frame: int = -1
    presence: float | None = None
    pose_ok: bool = False  # this frame's pose is confident and nobody else's: crop from it
    matched_frame: int = -1  # last frame a detection matched (pose-tracked regime)
    evidence_frame: int = -1  # last frame with a confident own pose (confirmed tracks)
    pose_hits: int = 0  # frames with a confident own pose
    anchor_height: float = 0.0  # height of the last matched detection box
    ref_box: np.ndarray | None = None  # last box known to be this person's (re-identification)
    hits: int = 1
    confirmed: bool = True
    lost_at: int | None = None  # frame the track was lost (kept for re-identification)


class TrackBook:
    """All the people held, with the regime and the detection request, shared by the stages.

    ``pose_scores_seen``: the model has reported a pose-present score (the
    pose-tracked regime); ``pose_model``: the caller said before the first frame that the
    model reports one (:meth:`Tracker.expect_pose_scores`: the first frame's detector
    boxes are framed as the later ones); ``want_detection``: a stage asks for the detector on the
    next frame; ``frame``: the last frame passed to ``Tracker.update``.
    """

    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self.tracks: dict[int, TrackState] = {}  # by internal key, in creation order
        self._next_key = 0
        self._next_id = 0
        self.frame = -1
        self.pose_scores_seen = False
        self.pose_model = False
        self.want_detection = True

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def add(self, state: TrackState) -> None:
        self.tracks[self._next_key] = state
        self._next_key += 1

    def remove(self, state: TrackState) -> None:
        self.tracks = {k: v for k, v in self.tracks.items() if v is not state}

    def find(self, track_id: int) -> TrackState | None:
        if track_id < 0:
            return None
        return next((s for s in self.tracks.values() if s.track_id == track_id), None)

    def in_order(self) -> list[TrackState]:
        """The states by creation (internal key) order."""
        return [self.tracks[k] for k in sorted(self.tracks)]

    def expire(self, frame_index: int) -> None:
        """End the tracks unseen too long; a pose-tracked confirmed person is first *lost*
        (kept ``reid_frames`` frames for re-identification)."""
        for key in [k for k, s in self.tracks.items() if self._expired(s, frame_index)]:
            del self.tracks[key]

    def _expired(self, s: TrackState, frame_index: int) -> bool:
        assoc = self.config.association
        if s.lost_at is not None:
            return frame_index - s.lost_at > assoc.reid_frames
        limit = assoc.max_age if s.track_id >= 0 else 1
        if frame_index - s.last_frame > limit:
            if self.pose_scores_seen and s.confirmed and s.track_id >= 0:
                s.lost_at = s.last_frame  # kept for re-identification
                return frame_index - s.lost_at > assoc.reid_frames
            return True
        return False


def predicted_box(s: TrackState, frame_index: int, motion: bool) -> np.ndarray:
    """The last box moved by the velocity (at most 3 frames of it); the last box without
    ``motion``."""
    if not motion:
        return s.box
    gap = frame_index - s.last_frame
    return s.box + s.velocity * min(gap, 3)


def late_pose_box(s: TrackState, frame_index: int, config: TrackerConfig) -> np.ndarray | None:
    """The box of the late (temporal) keypoints, unless older than ``max_keypoint_age``."""
    if s.keypoints is None or s.kp_scores is None:
        return None
    if frame_index - s.kp_frame > config.following.max_keypoint_age:
        return None
    return keypoint_box(s.keypoints, s.kp_scores, config.following.keypoint_min_score)


def last_pose_box(s: TrackState, min_score: float) -> np.ndarray | None:
    """The box of the latest pose known: this frame's single-frame pose, else the late one."""
    if s.crop_kp is not None and s.crop_scores is not None:
        return keypoint_box(s.crop_kp, s.crop_scores, min_score)
    if s.keypoints is not None and s.kp_scores is not None:
        return keypoint_box(s.keypoints, s.kp_scores, min_score)
    return None
