"""Online person tracker: IoU + Hungarian assignment, gap bridging, pose-derived boxes.

Per frame, :meth:`Tracker.update` takes the detector's boxes ``(K, 5)``
(x1, y1, x2, y2, score) and returns the tracked persons of that frame. After
pose estimation, :meth:`Tracker.observe_keypoints` gives the tracker each
person's keypoints; on the next frame they are used twice:

- pose-aware matching: the box around a track's last keypoints (where the
  person *is*, not where a jittery detector put them) joins the last box in the
  association cost;
- filling misses: a tracked person the detector misses gets the box derived
  from its previous keypoints, unless that box duplicates a detection (IoU
  above ``nms_iou``), so people stay found through the frames a weak detector
  drops. A track lives on pose boxes for at most ``max_pose_fill`` frames.

Tracks not seen for more than ``max_age`` frames end; a track matched again
within ``max_age`` keeps its id (short gaps bridged). A detection scoring below
``new_track_score`` starts a *tentative* track that gets an id (and is output)
only once matched in ``min_hits`` consecutive frames: one-frame false positives
of a weak detector then create no ids. Ids are 0, 1, 2, ... in order of
confirmation. Only past frames are used: the tracker is online (causal) by
construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from semapose.inference.detectors.boxops import box_iou, nms


@dataclass
class Track:
    """A tracked person in one frame. ``box`` is (4,) x1, y1, x2, y2 in image pixels.

    ``source`` is ``"detection"`` (matched or new detector box) or ``"pose"``
    (box derived from the track's previous keypoints: the detector missed it).
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
class _State:
    track_id: int
    box: np.ndarray  # last box, x1 y1 x2 y2
    score: float
    last_frame: int  # last frame the track was output (detected or pose-filled)
    last_detected: int  # last frame a detector box matched
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # per frame
    keypoints: np.ndarray | None = None
    kp_scores: np.ndarray | None = None
    kp_frame: int = -1
    hits: int = 1


def keypoint_box(
    keypoints: np.ndarray,
    scores: np.ndarray,
    min_score: float = 0.3,
    enlarge: float = 0.15,
    min_keypoints: int = 4,
) -> np.ndarray | None:
    """Box (x1, y1, x2, y2) around confident keypoints, grown by ``enlarge`` of its size per side.

    Keypoint extents are tighter than a person box (no head top above the
    eyes' line, no feet below the ankles), hence the margin. ``None`` when fewer
    than ``min_keypoints`` joints score at least ``min_score``.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    sc = np.asarray(scores, dtype=np.float64).reshape(-1)
    ok = (sc >= min_score) & np.isfinite(kp).all(axis=1)
    if ok.sum() < min_keypoints:
        return None
    pts = kp[ok]
    x1, y1 = pts.min(axis=0)
    x2, y2 = pts.max(axis=0)
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    # people are taller than wide; keep a sensible minimum width for side views
    w = max(w, 0.3 * h)
    cx = (x1 + x2) / 2
    return np.array(
        [cx - w / 2 - enlarge * w, y1 - enlarge * h, cx + w / 2 + enlarge * w, y2 + enlarge * h]
    )


class Tracker:
    """Online multi-person tracker (see the module docstring).

    Parameters: ``iou_threshold`` minimum similarity for a match; ``max_age``
    frames a track survives unseen; ``min_score`` detections below it are
    ignored; ``new_track_score`` score to start a track at once; ``min_hits`` consecutive
    frames a lower-scoring new track needs before it gets an id; ``pose_weight``
    share of the pose-box IoU in the similarity when keypoints are known
    (0 disables pose-aware matching); ``fill_from_pose`` enable pose-derived
    boxes; ``max_pose_fill`` consecutive frames a track may live on them;
    ``pose_fill_min_score`` mean confident-keypoint score needed to fill;
    ``nms_iou`` duplicate threshold between detections and pose boxes;
    ``motion`` constant-velocity prediction of the last box;
    ``max_keypoint_age`` frames after which observed keypoints are too old to use.
    """

    def __init__(
        self,
        iou_threshold: float = 0.3,
        max_age: int = 10,
        min_score: float = 0.0,
        new_track_score: float = 0.5,
        min_hits: int = 2,
        pose_weight: float = 0.5,
        fill_from_pose: bool = True,
        max_pose_fill: int = 8,
        pose_fill_min_score: float = 0.35,
        keypoint_min_score: float = 0.3,
        nms_iou: float = 0.5,
        motion: bool = True,
        max_keypoint_age: int = 5,
    ) -> None:
        self.iou_threshold = iou_threshold
        self.max_age = max_age
        self.min_score = min_score
        self.new_track_score = new_track_score
        self.min_hits = min_hits
        self.pose_weight = pose_weight
        self.fill_from_pose = fill_from_pose
        self.max_pose_fill = max_pose_fill
        self.pose_fill_min_score = pose_fill_min_score
        self.keypoint_min_score = keypoint_min_score
        self.nms_iou = nms_iou
        self.motion = motion
        self.max_keypoint_age = max_keypoint_age
        self._tracks: dict[int, _State] = {}  # by internal key; track_id -1 = tentative
        self._next_key = 0
        self._next_id = 0
        self._frame = -1

    @classmethod
    def for_detector(cls, detector: object, **kwargs: Any) -> Tracker:
        """A tracker suited to ``detector``: boxes from a file start tracks at any score.

        Box files (``--boxes``) are trusted as given (e.g. PoseTrack evaluation
        keeps every box); live detectors need a track to start from a confident
        box or to persist ``min_hits`` frames, which removes one-frame ghosts.
        """
        from semapose.inference.detectors.boxfile import BoxFileDetector

        if isinstance(detector, BoxFileDetector):
            kwargs.setdefault("new_track_score", 0.0)
            kwargs.setdefault("min_hits", 1)
        return cls(**kwargs)

    # ----------------------------------------------------------------- public
    def reset(self) -> None:
        self._tracks.clear()
        self._next_key = 0
        self._next_id = 0
        self._frame = -1

    @property
    def active_ids(self) -> list[int]:
        """Ids of the confirmed tracks alive now (seen within ``max_age`` frames)."""
        return sorted(s.track_id for s in self._tracks.values() if s.track_id >= 0)

    def observe_keypoints(
        self,
        track_id: int,
        keypoints: np.ndarray,
        scores: np.ndarray,
        frame_index: int | None = None,
    ) -> None:
        """Record a track's pose (image pixels, (J, 2) and (J,)) of frame ``frame_index``.

        ``frame_index`` defaults to the last frame passed to :meth:`update`. A
        pipeline that estimates poses a few frames behind (future supporting
        frames) passes the pose's own frame; keypoints older than
        ``max_keypoint_age`` frames are not used. Older poses than the one
        already recorded are ignored; unknown (ended) track ids too.
        """
        state = self._find(int(track_id))
        frame = self._frame if frame_index is None else int(frame_index)
        if state is None or frame < state.kp_frame:
            return
        state.keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2).copy()
        state.kp_scores = np.asarray(scores, dtype=np.float64).reshape(-1).copy()
        state.kp_frame = frame

    def update(self, frame_index: int, detections: np.ndarray) -> list[Track]:
        """Associate this frame's detections ``(K, 5)`` with the tracks; return this frame's tracks.

        ``frame_index`` must increase from call to call (gaps are allowed and
        count towards ``max_age``).
        """
        if frame_index <= self._frame:
            raise ValueError(f"frame_index must increase: got {frame_index} after {self._frame}")
        self._frame = frame_index
        dets = np.asarray(detections, dtype=np.float32).reshape(-1, 5)
        dets = dets[np.isfinite(dets).all(axis=1) & (dets[:, 4] >= self.min_score)]
        dets = nms(dets, self.nms_iou)

        # end tracks unseen for too long; tentative ones must be seen again at once
        for key in [k for k, s in self._tracks.items() if self._expired(s, frame_index)]:
            del self._tracks[key]

        ids = sorted(self._tracks)
        states = [self._tracks[t] for t in ids]
        predicted = np.array([self._predict(s, frame_index) for s in states]).reshape(-1, 4)
        pose_boxes = [self._pose_box(s, frame_index) for s in states]

        sim = self._similarity(predicted, pose_boxes, dets)
        matches, unmatched_tracks, unmatched_dets = _assign(sim, self.iou_threshold)

        out: list[Track] = []
        for ti, di in matches:
            s = states[ti]
            box = dets[di, :4].astype(np.float64)
            gap = max(frame_index - s.last_frame, 1)
            s.velocity = 0.5 * s.velocity + 0.5 * (box - s.box) / gap
            s.box, s.score = box, float(dets[di, 4])
            s.last_frame = s.last_detected = frame_index
            s.hits += 1
            if s.track_id < 0 and s.hits >= self.min_hits:
                s.track_id = self._new_id()
            if s.track_id >= 0:
                out.append(Track(s.track_id, box.copy(), s.score, "detection"))

        # pose-derived boxes for tracked persons the detector missed
        if self.fill_from_pose:
            taken = np.array([t.box for t in out]).reshape(-1, 4)
            taken = np.vstack([taken, dets[unmatched_dets, :4]]) if unmatched_dets else taken
            for ti in unmatched_tracks:
                s, pbox = states[ti], pose_boxes[ti]
                if (
                    s.track_id < 0
                    or pbox is None
                    or frame_index - s.last_detected > self.max_pose_fill
                ):
                    continue
                kp_conf = _mean_confident(s.kp_scores, self.keypoint_min_score)
                if kp_conf < self.pose_fill_min_score:
                    continue
                if len(taken) and box_iou(pbox[None], taken).max() > self.nms_iou:
                    continue
                s.velocity = 0.5 * s.velocity + 0.5 * (pbox - s.box) / max(
                    frame_index - s.last_frame, 1
                )
                s.box, s.score, s.last_frame = pbox, s.score * 0.9, frame_index
                taken = np.vstack([taken, pbox[None]])
                out.append(Track(s.track_id, pbox.copy(), float(s.score * kp_conf), "pose"))

        # new tracks: confirmed at once if confident, else tentative until seen min_hits times
        for di in unmatched_dets:
            box, score = dets[di, :4].astype(np.float64), float(dets[di, 4])
            confirmed = score >= self.new_track_score or self.min_hits <= 1
            tid = self._new_id() if confirmed else -1
            self._tracks[self._next_key] = _State(tid, box, score, frame_index, frame_index)
            self._next_key += 1
            if confirmed:
                out.append(Track(tid, box.copy(), score, "detection"))
        return sorted(out, key=lambda t: t.track_id)

    # ---------------------------------------------------------------- helpers
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _find(self, track_id: int) -> _State | None:
        if track_id < 0:
            return None
        return next((s for s in self._tracks.values() if s.track_id == track_id), None)

    def _expired(self, s: _State, frame_index: int) -> bool:
        limit = self.max_age if s.track_id >= 0 else 1
        return frame_index - s.last_frame > limit

    def _predict(self, s: _State, frame_index: int) -> np.ndarray:
        if not self.motion:
            return s.box
        gap = frame_index - s.last_frame
        return s.box + s.velocity * min(gap, 3)

    def _pose_box(self, s: _State, frame_index: int) -> np.ndarray | None:
        if s.keypoints is None or s.kp_scores is None:
            return None
        if frame_index - s.kp_frame > self.max_keypoint_age:
            return None
        return keypoint_box(s.keypoints, s.kp_scores, self.keypoint_min_score)

    def _similarity(
        self, predicted: np.ndarray, pose_boxes: list[np.ndarray | None], dets: np.ndarray
    ) -> np.ndarray:
        sim = box_iou(predicted, dets)
        if self.pose_weight > 0 and len(dets):
            for i, pb in enumerate(pose_boxes):
                if pb is not None:
                    pose_sim = box_iou(pb[None], dets)[0]
                    sim[i] = (1 - self.pose_weight) * sim[i] + self.pose_weight * pose_sim
        return sim


def _mean_confident(scores: np.ndarray | None, threshold: float) -> float:
    if scores is None:
        return 0.0
    s = scores[scores >= threshold]
    return float(s.mean()) if len(s) else 0.0


def _assign(
    sim: np.ndarray, threshold: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Hungarian assignment maximising similarity; pairs below ``threshold`` are rejected."""
    from scipy.optimize import linear_sum_assignment

    n_t, n_d = sim.shape
    matches: list[tuple[int, int]] = []
    if n_t and n_d:
        rows, cols = linear_sum_assignment(-sim)
        matches = [
            (int(r), int(c)) for r, c in zip(rows, cols, strict=True) if sim[r, c] >= threshold
        ]
    mt = {m[0] for m in matches}
    md = {m[1] for m in matches}
    return (
        matches,
        [i for i in range(n_t) if i not in mt],
        [j for j in range(n_d) if j not in md],
    )
