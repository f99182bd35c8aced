"""Online person tracker: detections start people, poses carry them, OKS removes duplicates.

Per frame the stream calls, in this order (``semapose.inference.stream``):

1. :meth:`Tracker.update` with the detector's boxes ``(K, 5)`` (x1, y1, x2, y2,
   score), or ``None`` when the detection schedule skipped the frame; it returns
   the boxes to crop (:class:`Track`);
2. :meth:`Tracker.observe_crops` with the model's single-frame outputs of those
   crops (pose-present score, keypoints in image pixels), right after encoding;
3. :meth:`Tracker.select` on the frames the pipeline emits: it drops the
   persons the tracker found absent or duplicated in their frame;
4. :meth:`Tracker.observe` with the final (temporal) poses, which may come
   ``max(offsets)`` frames late.

Two regimes, chosen by what the model gives:

- **Pose-tracked** (the model reports a pose-present score, e.g. BlazePose).
  As in MediaPipe, the crop of the next frame comes from the current frame's
  keypoints (their box, moved by the person's motion), so the detector is needed
  only to find new people (every ``k`` frames, :class:`DetectionSchedule`) and
  when a pose score falls. A detection that overlaps a tracked person confirms
  it; a detection the pose tracker does not explain starts a new track, which is
  output once its own crop's pose score reaches ``presence_threshold``. A track
  is output in a frame only while its pose score is at least
  ``presence_threshold`` (the documented output threshold, 0.5 as MediaPipe's
  ``min_pose_presence_confidence``) and its pose does not duplicate a
  longer-tracked person's (OKS above ``duplicate_oks``). A missed detection does
  not end a pose-tracked person; a low pose score does: the track is then *lost*.
- **Detection-tracked** (models without a pose score, e.g. heatmap models):
  IoU + Hungarian association with constant-velocity prediction every frame,
  boxes derived from the (late) keypoints for people the detector misses, as
  before; a detection below ``new_track_score`` needs ``min_hits`` frames to get
  an id (no ids for one-frame ghosts).

Lost tracks keep their id for ``reid_frames`` frames: a new detection where the
lost person should be by now (last keypoint box moved by its velocity, similar
size) takes the old id instead of a new one. Boxes from a file
(:meth:`Tracker.for_detector` with a box file) are used exactly as given: no
suppression, no score filter, no pose boxes; only ids are assigned (IoU +
Hungarian, gaps bridged). Only past frames are used: the tracker is online
(causal), and a pure function of the calls it received (resume replays them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from semapose.inference.detectors.boxops import box_iou, nms

#: a followed person is output while their pose-present score is at least this
#: (``predict --pose-threshold``; MediaPipe's own presence threshold)
DEFAULT_POSE_THRESHOLD = 0.5


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
class _State:
    track_id: int
    box: np.ndarray  # last box, x1 y1 x2 y2
    score: float
    last_frame: int  # last frame the track was output
    last_detected: int  # last frame a detector box matched
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # per frame
    # late (temporal) keypoints, observe()
    keypoints: np.ndarray | None = None
    kp_scores: np.ndarray | None = None
    kp_frame: int = -1
    # this frame's single-frame pose, observe_crops()
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


def pose_oks(
    kp_a: np.ndarray,
    sc_a: np.ndarray,
    kp_b: np.ndarray,
    sc_b: np.ndarray,
    min_score: float = 0.3,
    min_joints: int = 4,
) -> float:
    """Object keypoint similarity of two poses (17 PoseTrack18 slots, image pixels).

    COCO's formula with :data:`semapose.keypoints.OKS_SIGMAS`, over the joints
    confident in both poses; the scale is the larger of the two keypoint-box
    areas. 0 when fewer than ``min_joints`` joints are confident in both (no
    evidence that they are the same person).
    """
    from semapose.keypoints import OKS_SIGMAS

    a = np.asarray(kp_a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(kp_b, dtype=np.float64).reshape(-1, 2)
    if len(a) != len(OKS_SIGMAS) or len(b) != len(OKS_SIGMAS):
        return 0.0
    ok = (np.asarray(sc_a) >= min_score) & (np.asarray(sc_b) >= min_score)
    ok &= np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    if ok.sum() < min_joints:
        return 0.0
    area = max(_extent_area(a[ok]), _extent_area(b[ok]), 1.0)
    d2 = ((a[ok] - b[ok]) ** 2).sum(axis=1)
    var = (2 * OKS_SIGMAS[ok]) ** 2
    return float(np.exp(-d2 / (2 * area * var)).mean())


def _extent_area(pts: np.ndarray) -> float:
    w, h = pts.max(axis=0) - pts.min(axis=0)
    return float(w * h)


class Tracker:
    """Online multi-person tracker (see the module docstring).

    Detection-tracked parameters: ``iou_threshold`` minimum similarity for a
    match; ``max_age`` frames a track survives unseen; ``min_score`` detections
    below it are ignored; ``new_track_score`` score to start a track at once;
    ``min_hits`` consecutive frames a lower-scoring new track needs before it
    gets an id; ``pose_weight`` share of the (late) pose-box IoU in the
    similarity; ``fill_from_pose`` boxes from the late keypoints for missed
    people, for at most ``max_pose_fill`` frames, if their confident joints
    average ``pose_fill_min_score``; ``nms_iou`` duplicate threshold between
    boxes; ``motion`` constant-velocity prediction; ``max_keypoint_age`` frames
    after which keypoints are too old to use.

    Pose-tracked parameters: ``presence_threshold`` pose-present score a person
    needs to be output (and to stay tracked); ``redetect_below`` a pose score
    under it asks for a detection on the next frame; ``duplicate_oks`` OKS above
    which two tracks show the same person; ``contain_ratio`` share of a new
    detection's area inside a tracked person's box above which it starts no
    track (a half-body box on someone already tracked); ``reid_frames`` frames a
    lost track keeps its id for re-identification.

    ``trust_boxes``: boxes come from a file and are used exactly as given.
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
        presence_threshold: float = DEFAULT_POSE_THRESHOLD,
        redetect_below: float = 0.8,
        duplicate_oks: float = 0.5,
        contain_ratio: float = 0.8,
        reid_frames: int = 30,
        patience: int = 2,
        max_occluded: int = 30,
        reid_radius: float = 0.5,
        reid_size: float = 1.5,
        confirm_frames: int = 2,
        trust_boxes: bool = False,
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
        self.presence_threshold = presence_threshold
        self.redetect_below = redetect_below
        self.duplicate_oks = duplicate_oks
        self.contain_ratio = contain_ratio
        self.reid_frames = reid_frames
        self.patience = patience
        self.reid_radius = reid_radius
        self.reid_size = reid_size
        self.confirm_frames = confirm_frames
        self.max_occluded = max_occluded
        self.trust_boxes = trust_boxes
        self.reset()

    @classmethod
    def for_detector(cls, detector: object, **kwargs: Any) -> Tracker:
        """A tracker suited to ``detector``: boxes from a file are used exactly as given.

        Box files (``--boxes``) are trusted (e.g. PoseTrack evaluation keeps every
        box, even two overlapping dancers); live detectors need a track to start
        from a confident box, a confident pose, or to persist ``min_hits`` frames.
        """
        from semapose.inference.detectors.boxfile import BoxFileDetector

        if isinstance(detector, BoxFileDetector):
            kwargs.setdefault("trust_boxes", True)
        return cls(**kwargs)

    # ----------------------------------------------------------------- public
    def reset(self) -> None:
        self._tracks: dict[int, _State] = {}  # by internal key; track_id -1 = tentative
        self._next_key = 0
        self._next_id = 0
        self._frame = -1
        #: frame of the last update that had detections (-1: none yet)
        self.last_detection_frame = -1
        self._pose_scores_seen = False
        self._want_detection = True
        #: frame -> ids output in that frame (decided by update/observe_crops), for select()
        self._output: dict[int, set[int]] = {}
        #: frame -> ids shown without a pose of their own (joint scores set to 0 by select())
        self._blind: dict[int, set[int]] = {}

    @property
    def active_ids(self) -> list[int]:
        """Ids of the confirmed tracks alive now (seen within ``max_age`` frames, not lost)."""
        return sorted(
            s.track_id
            for s in self._tracks.values()
            if s.track_id >= 0 and s.confirmed and s.lost_at is None
        )

    @property
    def pose_tracked(self) -> bool:
        """True once the model has reported pose-present scores (the pose-tracked regime;
        never for box files)."""
        return self._pose_scores_seen and not self.trust_boxes

    @property
    def needs_detection(self) -> bool:
        """Whether the next frame should run the detector whatever the schedule's period.

        True before the first detection, while the model gives no pose-present
        score (detection-tracked regime: every frame), after a track was lost or
        a pose score fell below ``redetect_below``, and when a tracked person
        has no usable pose to crop the next frame from.
        """
        return self.trust_boxes or not self._pose_scores_seen or self._want_detection

    @property
    def followed_boxes(self) -> np.ndarray:
        """(N, 4) x1, y1, x2, y2: the last boxes of the people held (lost ones kept for
        re-identification too): where a re-anchoring detection looks."""
        boxes = [s.box[:4] for s in self._tracks.values()]
        return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)

    def observe_keypoints(
        self,
        track_id: int,
        keypoints: np.ndarray,
        scores: np.ndarray,
        frame_index: int | None = None,
    ) -> None:
        """Record a track's final pose (image pixels, (J, 2) and (J,)) of frame ``frame_index``.

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

    def observe(self, frames: Any) -> None:
        """Final poses of emitted frames (``FramePoses`` with ``persons``), possibly late."""
        for f in frames:
            blind = self._blind.get(f.index, set())
            for p in f.persons:
                if p.track_id not in blind:  # shown without a pose of their own: nothing to learn
                    self.observe_keypoints(p.track_id, p.keypoints, p.scores, frame_index=f.index)

    def observe_crops(self, frame_index: int, crops: Mapping[int, Any]) -> None:
        """Single-frame outputs of this frame's crops, ``{track_id: CropOutput}``.

        A ``CropOutput`` has ``pose_score`` (None when the model has none),
        ``keypoints`` (17, 2) image pixels and ``scores`` (17,) (None when absent).
        Decides who is output in this frame: a pose score below
        ``presence_threshold`` loses the track, a pose that duplicates a
        longer-tracked person's (OKS) is dropped, a new track with a confident
        pose is confirmed. The next frame's crop comes from these keypoints.
        """
        frame = int(frame_index)
        self._want_detection = False
        for tid, c in crops.items():
            s = self._find(int(tid))
            if s is None:
                continue
            kp, sc = getattr(c, "keypoints", None), getattr(c, "scores", None)
            if kp is not None and sc is not None:
                s.crop_kp = np.asarray(kp, dtype=np.float64).reshape(-1, 2).copy()
                s.crop_scores = np.asarray(sc, dtype=np.float64).reshape(-1).copy()
                s.crop_frame = frame
            score = getattr(c, "pose_score", None)
            if score is not None:
                self._pose_scores_seen = True
                s.presence = float(score)
        if not self._pose_scores_seen or self.trust_boxes:
            return  # box files: every box is output as given
        shown = self._output.get(frame, set())
        cands = [
            s
            for s in self._tracks.values()
            if s.lost_at is None and s.track_id >= 0 and s.track_id in shown
        ]
        # who has the better claim on a pose: a person matched to a detection now, then the
        # longer-tracked; a duplicate pose loses to them
        cands.sort(key=lambda s: (s.matched_frame != frame, not s.confirmed, s.track_id))
        kept: list[_State] = []
        doubtful: list[_State] = []
        for s in cands:
            confident = (
                s.crop_frame == frame
                and s.presence is not None
                and s.presence >= self.presence_threshold
            )
            if confident and not any(self._duplicates(s, k) for k in kept):
                kept.append(s)
                s.pose_hits += 1
                if not s.confirmed and s.pose_hits < self.confirm_frames:
                    shown.discard(s.track_id)  # a new person: shown once seen again
                else:
                    s.confirmed, s.evidence_frame = True, frame
                # follow the pose only while it is sure and plausibly this person's
                s.pose_ok = (
                    s.presence is not None
                    and s.presence >= self.redetect_below
                    and self._plausible(s, frame)
                )
                if not s.pose_ok:
                    self._want_detection = True
                elif s.crop_kp is not None and s.crop_scores is not None:
                    s.ref_box = keypoint_box(s.crop_kp, s.crop_scores, self.keypoint_min_score)
            else:
                s.pose_ok = False
                doubtful.append(s)
        present = [k.box for k in kept] + [s.box for s in doubtful if s.matched_frame == frame]
        for s in doubtful:
            if s.evidence_frame < 0:  # never a confident pose of its own: no person for us
                shown.discard(s.track_id)
                self._tracks = {k: v for k, v in self._tracks.items() if v is not s}
                continue
            self._want_detection = True  # a person we follow is in doubt: look again
            since = frame - s.evidence_frame
            if since <= self.patience or (
                since <= self.max_occluded and (s.matched_frame == frame or _hidden(s.box, present))
            ):
                # a short dip; or the detector still boxes the person, or someone hides
                # them, while the pose model sees the other person: keep the id on screen,
                # but not the pose (it is someone else's or no one's): joint scores 0
                self._blind.setdefault(frame, set()).add(s.track_id)
                continue
            shown.discard(s.track_id)
            s.lost_at = frame
        # a tracked person without a usable pose cannot be followed without the detector
        if any(self._crop_box(s, frame + 1) is None for s in kept):
            self._want_detection = True
        self._output[frame] = shown

    def select(self, frames: list[Any]) -> list[Any]:
        """The frames with the persons the tracker decided not to output removed (ids unchanged);
        persons kept on screen without a pose of their own get joint scores 0 and
        ``hidden=True``."""
        out = []
        for f in frames:
            keep = self._output.get(f.index)
            if keep is not None:
                blind = self._blind.get(f.index, set())
                f = replace(
                    f,
                    persons=[
                        replace(p, scores=np.zeros_like(p.scores), hidden=True)
                        if p.track_id in blind
                        else p
                        for p in f.persons
                        if p.track_id in keep
                    ],
                )
            out.append(f)
        return out

    def update(self, frame_index: int, detections: np.ndarray | None) -> list[Track]:
        """Boxes to crop in frame ``frame_index`` given its detections ``(K, 5)`` or ``None``.

        ``None``: the detector did not run on this frame (pose-tracked people
        continue from their keypoints). ``frame_index`` must increase from call
        to call (gaps are allowed and count towards ``max_age``).
        """
        if frame_index <= self._frame:
            raise ValueError(f"frame_index must increase: got {frame_index} after {self._frame}")
        self._frame = frame_index
        for f in [f for f in self._output if f < frame_index - 256]:
            del self._output[f]
            self._blind.pop(f, None)
        detected = detections is not None
        dets = np.asarray(detections if detected else [], dtype=np.float32).reshape(-1, 5)
        dets = dets[np.isfinite(dets).all(axis=1)]
        if detected:
            self.last_detection_frame = frame_index
        if self.trust_boxes:
            out = self._update_exact(frame_index, dets)
        else:
            dets = nms(dets[dets[:, 4] >= self.min_score], self.nms_iou)
            dets = suppress_contained(dets, self.contain_ratio)
            out = self._update_live(frame_index, dets, detected)
        out.sort(key=lambda t: t.track_id)
        self._output[frame_index] = {t.track_id for t in out}
        return out

    # ------------------------------------------------------------ box files
    def _update_exact(self, frame_index: int, dets: np.ndarray) -> list[Track]:
        for key in [k for k, s in self._tracks.items() if self._expired(s, frame_index)]:
            del self._tracks[key]
        keys = sorted(self._tracks)
        states = [self._tracks[k] for k in keys]
        predicted = np.array([self._predict(s, frame_index) for s in states]).reshape(-1, 4)
        matches, _, unmatched = _assign(box_iou(predicted, dets), self.iou_threshold)
        out = [self._match(states[ti], dets[di], frame_index) for ti, di in matches]
        out += [self._start(dets[di], frame_index, confirmed=True) for di in unmatched]
        return [t for t in out if t is not None]

    # --------------------------------------------------------- live detector
    def _update_live(self, frame_index: int, dets: np.ndarray, detected: bool) -> list[Track]:
        for key in [k for k, s in self._tracks.items() if self._expired(s, frame_index)]:
            del self._tracks[key]
        keys = sorted(self._tracks)
        active = [self._tracks[k] for k in keys if self._tracks[k].lost_at is None]
        lost = [self._tracks[k] for k in keys if self._tracks[k].lost_at is not None]
        crop_boxes = [self._crop_box(s, frame_index) for s in active]
        predicted = np.array(
            [
                cb if cb is not None else self._predict(s, frame_index)
                for s, cb in zip(active, crop_boxes, strict=True)
            ]
        ).reshape(-1, 4)
        pose_boxes = [self._pose_box(s, frame_index) for s in active]
        sim = self._similarity(predicted, pose_boxes, dets)
        matches, unmatched_tracks, unmatched_dets = _assign(sim, self.iou_threshold)

        out: list[Track] = []
        for ti, di in matches:
            # a detection re-anchors the crop (as MediaPipe re-crops from its detector)
            t = self._match(active[ti], dets[di], frame_index)
            if t is not None:
                out.append(t)

        taken = np.array([t.box for t in out]).reshape(-1, 4)
        for ti in unmatched_tracks:
            s, cb = active[ti], crop_boxes[ti]
            if s.track_id < 0:
                continue
            if cb is not None:  # the detector missed (or skipped) a person the pose still sees
                out.append(self._follow(s, cb, frame_index))
                taken = np.vstack([taken, cb[None]])
                continue
            if self._pose_scores_seen and s.confirmed:
                # no usable pose: keep the last box (damped motion); observe_crops decides
                # whether the person is hidden behind someone (output) or gone (lost)
                # the box moves with the person's (damped) motion and keeps its size
                shift = (s.velocity[:2] + s.velocity[2:]) / 2
                s.velocity = 0.5 * np.concatenate([shift, shift])
                box = self._predict(s, frame_index)
                s.box, s.last_frame = box, frame_index
                out.append(Track(s.track_id, box.copy(), float(s.score), "motion"))
                taken = np.vstack([taken, box[None]])
                continue
            t = self._fill(s, pose_boxes[ti], taken, dets, unmatched_dets, frame_index, detected)
            if t is not None:
                out.append(t)
                taken = np.vstack([taken, t.box[None]])

        for di in unmatched_dets:
            det = dets[di]
            if len(taken) and self._is_duplicate(det[:4], taken):
                continue  # a second box on someone already tracked
            found = self._reidentify(det, lost, frame_index)
            if found is not None:
                lost.remove(found)
                found.lost_at = None
                t = self._match(found, det, frame_index)
            else:
                t = self._start(det, frame_index, confirmed=None)
            if t is not None:
                out.append(t)
                taken = np.vstack([taken, t.box[None]])
        return out

    def _follow(self, s: _State, box: np.ndarray, frame_index: int) -> Track:
        """Continue a pose-tracked person with the box from its keypoints."""
        gap = max(frame_index - s.last_frame, 1)
        s.velocity = 0.5 * s.velocity + 0.5 * (box - s.box) / gap
        s.box, s.last_frame = box, frame_index
        score = s.presence if s.presence is not None else s.score
        return Track(s.track_id, box.copy(), float(score), "pose")

    def _match(self, s: _State, det: np.ndarray, frame_index: int) -> Track | None:
        box = det[:4].astype(np.float64)
        gap = max(frame_index - s.last_frame, 1)
        s.velocity = 0.5 * s.velocity + 0.5 * (box - s.box) / gap
        s.box, s.score = box, float(det[4])
        s.last_frame = s.last_detected = s.matched_frame = frame_index
        s.anchor_height = float(box[3] - box[1])
        s.ref_box = box.copy()
        s.hits += 1
        if s.track_id < 0 and s.hits >= self.min_hits:
            s.track_id, s.confirmed = self._new_id(), True
        if s.track_id < 0:
            return None
        return Track(s.track_id, box.copy(), s.score, "detection")

    def _start(self, det: np.ndarray, frame_index: int, confirmed: bool | None) -> Track | None:
        """A new track. ``confirmed=None``: decided by the regime (see the module docstring)."""
        box, score = det[:4].astype(np.float64), float(det[4])
        if confirmed is None:
            if self._pose_scores_seen:  # cropped at once; the pose score confirms it
                confirmed = False
                tid = self._new_id()
            else:
                confirmed = score >= self.new_track_score or self.min_hits <= 1
                tid = self._new_id() if confirmed else -1
        else:
            tid = self._new_id()
        s = _State(tid, box, score, frame_index, frame_index, confirmed=bool(confirmed))
        self._tracks[self._next_key] = s
        self._next_key += 1
        if tid < 0:
            return None
        return Track(tid, box.copy(), score, "detection")

    def _fill(
        self,
        s: _State,
        pbox: np.ndarray | None,
        taken: np.ndarray,
        dets: np.ndarray,
        unmatched_dets: list[int],
        frame_index: int,
        detected: bool,
    ) -> Track | None:
        """Detection-tracked person without a matching detection: box from late keypoints,
        or (frame not detected) its motion."""
        if not detected and frame_index - s.last_detected <= self.max_pose_fill:
            box = self._predict(s, frame_index)
            s.box, s.last_frame = box, frame_index
            return Track(s.track_id, box.copy(), float(s.score), "motion")
        if not self.fill_from_pose or pbox is None:
            return None
        if frame_index - s.last_detected > self.max_pose_fill:
            return None
        kp_conf = _mean_confident(s.kp_scores, self.keypoint_min_score)
        if kp_conf < self.pose_fill_min_score:
            return None
        others = np.vstack([taken, dets[unmatched_dets, :4]]) if unmatched_dets else taken
        if len(others) and box_iou(pbox[None], others).max() > self.nms_iou:
            return None
        s.velocity = 0.5 * s.velocity + 0.5 * (pbox - s.box) / max(frame_index - s.last_frame, 1)
        s.box, s.score, s.last_frame = pbox, s.score * 0.9, frame_index
        return Track(s.track_id, pbox.copy(), float(s.score * kp_conf), "pose")

    def _is_duplicate(self, box: np.ndarray, taken: np.ndarray) -> bool:
        """IoU above ``nms_iou`` with a taken box, or mostly inside one (pose-tracked regime)."""
        if box_iou(box[None], taken).max() > self.nms_iou:
            return True
        if not self._pose_scores_seen:
            return False
        area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)
        ix = np.clip(np.minimum(box[2], taken[:, 2]) - np.maximum(box[0], taken[:, 0]), 0, None)
        iy = np.clip(np.minimum(box[3], taken[:, 3]) - np.maximum(box[1], taken[:, 1]), 0, None)
        return bool((ix * iy / area).max() > self.contain_ratio)

    def _reidentify(self, det: np.ndarray, lost: list[_State], frame_index: int) -> _State | None:
        """The lost track this detection most plausibly continues, by position, motion and size.

        The reference is where the person should be now: the box of its last
        keypoints (or its last box) moved by its velocity, for at most 10 frames
        of motion; the detection's centre must lie within half that box's height
        (growing with the gap) and its height within a factor ``reid_size``.
        """
        best, best_cost = None, np.inf
        cx, cy = (det[0] + det[2]) / 2, (det[1] + det[3]) / 2
        h = max(float(det[3] - det[1]), 1.0)
        for s in lost:
            if s.track_id < 0 or not s.confirmed:
                continue
            gap = frame_index - s.last_frame
            ref = s.ref_box if s.ref_box is not None else self._last_pose_box(s)
            ref = (ref if ref is not None else s.box) + s.velocity * min(gap, 10)
            rh = max(float(ref[3] - ref[1]), 1.0)
            if not 1 / self.reid_size <= h / rh <= self.reid_size:
                continue
            dist = np.hypot(cx - (ref[0] + ref[2]) / 2, cy - (ref[1] + ref[3]) / 2) / rh
            if dist > self.reid_radius * (1 + gap / self.reid_frames):
                continue
            cost = dist + abs(np.log(h / rh))
            if cost < best_cost:
                best, best_cost = s, cost
        return best

    # ---------------------------------------------------------------- helpers
    def _plausible(self, s: _State, frame: int) -> bool:
        """Whether this frame's pose can place the next crop: its box keeps the person's size
        (x0.7-1.4 of the current box, x0.5-2 of the last detection) and, on a frame where a
        detection matched, lies mostly inside that detection (else it is someone else's)."""
        assert s.crop_kp is not None and s.crop_scores is not None
        pb = keypoint_box(s.crop_kp, s.crop_scores, self.keypoint_min_score)
        if pb is None:
            return False
        h = float(pb[3] - pb[1])
        if not 0.7 <= h / max(float(s.box[3] - s.box[1]), 1.0) <= 1.4:
            return False
        if s.anchor_height > 0 and not 0.5 <= h / s.anchor_height <= 2.0:
            return False
        return s.matched_frame != frame or _inside(pb, s.box[None]) >= 0.5

    def _duplicates(self, a: _State, b: _State) -> bool:
        if a.crop_kp is None or b.crop_kp is None:
            return False
        assert a.crop_scores is not None and b.crop_scores is not None
        oks = pose_oks(a.crop_kp, a.crop_scores, b.crop_kp, b.crop_scores, self.keypoint_min_score)
        return oks > self.duplicate_oks

    def _crop_box(self, s: _State, frame_index: int) -> np.ndarray | None:
        """Pose-tracked regime: the box of the latest single-frame pose, moved by the motion."""
        if not self._pose_scores_seen or s.crop_kp is None or s.crop_scores is None:
            return None
        if not s.pose_ok or s.presence is None or s.presence < self.presence_threshold:
            return None
        if frame_index - s.crop_frame > self.max_keypoint_age:
            return None
        box = keypoint_box(s.crop_kp, s.crop_scores, self.keypoint_min_score)
        if box is None:
            return None
        if self.motion:
            box = box + s.velocity * min(frame_index - s.crop_frame, 3)
        return box

    def _last_pose_box(self, s: _State) -> np.ndarray | None:
        if s.crop_kp is not None and s.crop_scores is not None:
            return keypoint_box(s.crop_kp, s.crop_scores, self.keypoint_min_score)
        if s.keypoints is not None and s.kp_scores is not None:
            return keypoint_box(s.keypoints, s.kp_scores, self.keypoint_min_score)
        return None

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _find(self, track_id: int) -> _State | None:
        if track_id < 0:
            return None
        return next((s for s in self._tracks.values() if s.track_id == track_id), None)

    def _expired(self, s: _State, frame_index: int) -> bool:
        if s.lost_at is not None:
            return frame_index - s.lost_at > self.reid_frames
        limit = self.max_age if s.track_id >= 0 else 1
        if frame_index - s.last_frame > limit:
            if self._pose_scores_seen and s.confirmed and s.track_id >= 0:
                s.lost_at = s.last_frame  # kept for re-identification
                return frame_index - s.lost_at > self.reid_frames
            return True
        return False

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


#: default period of the detector for models that track by pose (``--detect-every``): at 25-30
#: frames/s a person who walks in is found within a third of a second, and the detector (the
#: most expensive stage, ~5x a pose crop) costs a tenth of its every-frame price
DEFAULT_DETECT_EVERY = 10


class DetectionSchedule:
    """When to run the person detector: every ``every`` frames and whenever the tracker asks.

    ``should_detect`` is a pure function of the frame index and the tracker's
    state (a resumed run replays the tracker and gets the same answers). The
    tracker asks for a detection before its first one, on every frame while the
    model gives no pose-present score (heatmap models: people are found and
    followed by the detector alone), after it lost a person or a pose score fell
    below ``Tracker.redetect_below``, and for box files (always). So a new
    person is found within ``every`` frames of appearing.
    """

    def __init__(self, every: int = 1, min_gap: int | None = None) -> None:
        if int(every) < 1:
            raise ValueError(f"detect every must be a positive integer, got {every}")
        self.every = int(every)
        #: frames a tracker's request waits after the last detection (default 3; measured
        #: with blazepose_temporal: basketball_300f 4 ids instead of 5 and 62 detector calls
        #: instead of 176, two_people_72f the same 2 ids in 72/72 frames with 15 calls
        #: instead of 35; benchmarks/results/tracking_real.md)
        self.min_gap = 3 if min_gap is None else max(1, int(min_gap))

    def should_detect(self, frame: int, tracker: Any) -> bool:
        return self.reason(frame, tracker) is not None

    def reason(self, frame: int, tracker: Any) -> str | None:
        """Why the detector runs on ``frame``: "full" (first or periodic detection, or
        people followed by the detector alone), "request" (a pose-tracked person is in
        doubt: re-anchoring, which a detector may answer near the followed people only),
        or None (it does not run)."""
        last = int(getattr(tracker, "last_detection_frame", -1))
        if last < 0 or frame - last >= self.every:
            return "full"
        if not getattr(tracker, "pose_tracked", False):
            return "full"  # people are followed by the detector alone
        # ``min_gap`` > 1 makes a request wait (with many people someone is always in doubt)
        if bool(tracker.needs_detection) and frame - last >= self.min_gap:
            return "request"
        return None


def _inside(box: np.ndarray, others: np.ndarray) -> float:
    """The largest share of ``box``'s area that lies inside one of ``others`` (N, >=4)."""
    o = np.asarray(others, dtype=np.float64).reshape(-1, np.asarray(others).shape[-1])
    if len(o) == 0:
        return 0.0
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)
    ix = np.clip(np.minimum(box[2], o[:, 2]) - np.maximum(box[0], o[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], o[:, 3]) - np.maximum(box[1], o[:, 1]), 0, None)
    return float((ix * iy / area).max())


def _hidden(box: np.ndarray, others: list[np.ndarray], share: float = 0.3) -> bool:
    """Whether more than ``share`` of ``box`` lies inside one of the ``others`` (occluded)."""
    return bool(others) and _inside(box, np.asarray(others)) > share


def suppress_contained(dets: np.ndarray, ratio: float = 0.8) -> np.ndarray:
    """Drop detections (K, 5) with more than ``ratio`` of their area inside a higher-scored one.

    A weak detector adds half-body or face boxes on a person it already boxed; IoU-based
    NMS keeps them (their IoU with the full box is small). ``dets`` sorted by score.
    """
    keep = [i for i in range(len(dets)) if i == 0 or _inside(dets[i], dets[:i]) <= ratio]
    return dets[keep]


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
