"""Stage 3, pose-following: boxes from poses for the people no detection matched.

Pose-tracked regime (the model reports a pose-present score, e.g. BlazePose): as in
MediaPipe, the next frame's crop is the box of this frame's single-frame keypoints,
moved by the person's motion, while that pose is sure (score at least
``redetect_below``) and plausibly the person's (size kept, inside the matched
detection); otherwise the tracker asks for a detection. A confirmed person without
a usable pose keeps their last box (damped motion, grown back to the height of their
last detection) until the output policy decides
whether they are hidden or gone. Detection-tracked regime (no pose score): a missed
person's box comes from the late (temporal) keypoints (``fill_from_pose``) or, on a
frame the detector skipped, from the motion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from semapose.inference.detectors.boxops import box_iou
from semapose.inference.tracking.config import TrackerConfig
from semapose.inference.tracking.geometry import inside, keypoint_box, mean_confident
from semapose.inference.tracking.state import Track, TrackBook, TrackState, predicted_box


class PoseFollowing:
    """Places the people of a :class:`TrackBook` from their poses (module docstring)."""

    def __init__(self, config: TrackerConfig, book: TrackBook) -> None:
        self.config = config
        self.cfg = config.following
        self.book = book

    def record(self, frame: int, crops: Mapping[int, Any]) -> None:
        """Keep this frame's single-frame outputs ``{track_id: CropOutput}`` (keypoints,
        scores, pose-present score); a pose score switches to the pose-tracked regime."""
        for tid, c in crops.items():
            s = self.book.find(int(tid))
            if s is None:
                continue
            kp, sc = getattr(c, "keypoints", None), getattr(c, "scores", None)
            if kp is not None and sc is not None:
                s.crop_kp = np.asarray(kp, dtype=np.float64).reshape(-1, 2).copy()
                s.crop_scores = np.asarray(sc, dtype=np.float64).reshape(-1).copy()
                s.crop_frame = frame
            score = getattr(c, "pose_score", None)
            if score is not None:
                self.book.pose_scores_seen = True
                s.presence = float(score)

    def settle(self, frame: int, kept: list[TrackState], doubtful: list[TrackState]) -> None:
        """After the output policy's decision: whose pose places the next crop (``kept``:
        confident and nobody else's; ``doubtful``: not), and whether to ask for a detection."""
        for s in doubtful:
            s.pose_ok = False
        for s in kept:
            # follow the pose only while it is sure and plausibly this person's
            s.pose_ok = (
                s.presence is not None
                and s.presence >= self.cfg.redetect_below
                and self._plausible(s, frame)
            )
            if not s.pose_ok:
                self.book.want_detection = True
            elif s.crop_kp is not None and s.crop_scores is not None:
                s.ref_box = keypoint_box(s.crop_kp, s.crop_scores, self.cfg.keypoint_min_score)
        # a tracked person without a usable pose cannot be followed without the detector
        if any(self.crop_box(s, frame + 1) is None for s in kept):
            self.book.want_detection = True

    def crop_box(self, s: TrackState, frame_index: int) -> np.ndarray | None:
        """Pose-tracked regime: the box of the latest single-frame pose, moved by the motion."""
        if not self.book.pose_scores_seen or s.crop_kp is None or s.crop_scores is None:
            return None
        presence_threshold = self.config.output.presence_threshold
        if not s.pose_ok or s.presence is None or s.presence < presence_threshold:
            return None
        if frame_index - s.crop_frame > self.cfg.max_keypoint_age:
            return None
        box = keypoint_box(s.crop_kp, s.crop_scores, self.cfg.keypoint_min_score)
        if box is None:
            return None
        box = _no_faster_shrink(box, s.box, self.cfg.max_shrink)
        if self.config.association.motion:
            # moved by the person's motion, its size kept: the corners' velocity also holds
            # the change from a detector box to a pose box, which is no motion and would
            # shrink (or grow) every following crop further
            box = box + _centre_motion(s.velocity) * min(frame_index - s.crop_frame, 3)
        return box

    def carry(
        self,
        s: TrackState,
        crop_box: np.ndarray | None,
        pose_box: np.ndarray | None,
        taken: np.ndarray,
        dets: np.ndarray,
        unmatched_dets: list[int],
        frame_index: int,
        detected: bool,
    ) -> Track | None:
        """The box of a person no detection matched (``crop_box`` from :meth:`crop_box`,
        ``pose_box`` from the late keypoints), or None (not output in this frame)."""
        if s.track_id < 0:
            return None
        if crop_box is not None:  # the detector missed (or skipped) a person the pose still sees
            return self._follow(s, crop_box, frame_index)
        if self.book.pose_scores_seen and s.confirmed:
            # no usable pose: keep the last box, moved by the person's damped motion, its
            # size kept; the output policy decides whether the person is hidden behind
            # someone (output) or gone (lost)
            s.velocity = 0.5 * _centre_motion(s.velocity)
            box = predicted_box(s, frame_index, self.config.association.motion)
            box = _regrown(box, s.anchor_height)
            s.box, s.last_frame = box, frame_index
            return Track(s.track_id, box.copy(), float(s.score), "motion")
        return self._fill(s, pose_box, taken, dets, unmatched_dets, frame_index, detected)

    def _follow(self, s: TrackState, box: np.ndarray, frame_index: int) -> Track:
        """Continue a pose-tracked person with the box from its keypoints."""
        gap = max(frame_index - s.last_frame, 1)
        s.velocity = 0.5 * s.velocity + 0.5 * (box - s.box) / gap
        s.box, s.last_frame = box, frame_index
        score = s.presence if s.presence is not None else s.score
        return Track(s.track_id, box.copy(), float(score), "pose")

    def _fill(
        self,
        s: TrackState,
        pbox: np.ndarray | None,
        taken: np.ndarray,
        dets: np.ndarray,
        unmatched_dets: list[int],
        frame_index: int,
        detected: bool,
    ) -> Track | None:
        """Detection-tracked person without a matching detection: box from late keypoints,
        or (frame not detected) its motion."""
        cfg = self.cfg
        if not detected and frame_index - s.last_detected <= cfg.max_pose_fill:
            box = predicted_box(s, frame_index, self.config.association.motion)
            s.box, s.last_frame = box, frame_index
            return Track(s.track_id, box.copy(), float(s.score), "motion")
        if not cfg.fill_from_pose or pbox is None:
            return None
        if frame_index - s.last_detected > cfg.max_pose_fill:
            return None
        kp_conf = mean_confident(s.kp_scores, cfg.keypoint_min_score)
        if kp_conf < cfg.pose_fill_min_score:
            return None
        others = np.vstack([taken, dets[unmatched_dets, :4]]) if unmatched_dets else taken
        if len(others) and box_iou(pbox[None], others).max() > self.config.association.nms_iou:
            return None
        s.velocity = 0.5 * s.velocity + 0.5 * (pbox - s.box) / max(frame_index - s.last_frame, 1)
        s.box, s.score, s.last_frame = pbox, s.score * 0.9, frame_index
        return Track(s.track_id, pbox.copy(), float(s.score * kp_conf), "pose")

    def _plausible(self, s: TrackState, frame: int) -> bool:
        """Whether this frame's pose can place the next crop: its box keeps the person's size
        (x0.7-1.4 of the current box, x0.5-2 of the last detection) and, on a frame where a
        detection matched, lies mostly inside that detection (else it is someone else's)."""
        assert s.crop_kp is not None and s.crop_scores is not None
        pb = keypoint_box(s.crop_kp, s.crop_scores, self.cfg.keypoint_min_score)
        if pb is None:
            return False
        h = float(pb[3] - pb[1])
        if not 0.7 <= h / max(float(s.box[3] - s.box[1]), 1.0) <= 1.4:
            return False
        if s.anchor_height > 0 and not 0.5 <= h / s.anchor_height <= 2.0:
            return False
        return s.matched_frame != frame or inside(pb, s.box[None]) >= 0.5


def _centre_motion(velocity: np.ndarray) -> np.ndarray:
    """The corners' velocity (4,) reduced to the centre's, applied to all four corners: a
    motion that keeps the box's size."""
    shift = (velocity[:2] + velocity[2:]) / 2
    return np.concatenate([shift, shift])


def _no_faster_shrink(box: np.ndarray, last: np.ndarray, most: float) -> np.ndarray:
    """``box`` with its width and height each at least ``1 - most`` of ``last``'s, about its
    centre: a pose whose far joints (feet, a hand) scored low gives a keypoint box smaller
    than the person, and a crop from it cuts them off, which makes the next pose smaller
    still; a person who really shrinks (walks away) does so by far less per frame."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w = max(float(box[2] - box[0]), (1 - most) * float(last[2] - last[0]))
    h = max(float(box[3] - box[1]), (1 - most) * float(last[3] - last[1]))
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _regrown(box: np.ndarray, height: float, most: float = 1.5) -> np.ndarray:
    """``box`` grown about its centre (width and height alike, by at most ``most``) to
    ``height``, the height of the person's last matched detection: the crops of a pose
    that lost its far joints shrink frame by frame, and a person in doubt is looked for
    again at their full size, not at the size of the part last seen."""
    h = float(box[3] - box[1])
    if height <= h or h <= 0:
        return box
    f = min(height / h, most)
    c = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2] * 2)
    return c + (box - c) * f
