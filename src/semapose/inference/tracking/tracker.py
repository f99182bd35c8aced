"""The online person tracker: detections start people, poses carry them, OKS removes duplicates.

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

The work is done by the stages of the package, in the order of a frame (the
detection schedule, :mod:`.schedule`, runs before :meth:`Tracker.update`):
:mod:`.association` (detections to people, new tracks, re-identification),
:mod:`.following` (boxes from poses for the people no detection matched) and
:mod:`.output` (who is shown), sharing a :class:`~.state.TrackBook`, each with its
group of :class:`~.config.TrackerConfig`. Three regimes, chosen by what the model
and the detector give:

- **pose-tracked** (the model reports a pose-present score, e.g. BlazePose): as
  in MediaPipe, the next crop comes from the current keypoints, the detector is
  needed only to find new people (every ``k`` frames) and when a pose is in
  doubt; the pose score decides who is output;
- **detection-tracked** (no pose score, e.g. heatmap models): IoU + Hungarian
  association with constant-velocity prediction every frame, boxes from the late
  keypoints for people the detector misses, ``min_hits`` frames before a
  low-scored detection gets an id;
- **box files** (:meth:`Tracker.for_detector` with a box file, ``trust_boxes``):
  boxes are used exactly as given (no suppression, no score filter, no pose
  boxes); only ids are assigned.

Only past frames are used: the tracker is online (causal), and a pure function of
the calls it received (resume replays them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from semapose.inference.tracking.association import Association
from semapose.inference.tracking.config import TrackerConfig
from semapose.inference.tracking.following import PoseFollowing
from semapose.inference.tracking.output import OutputPolicy
from semapose.inference.tracking.state import Track, TrackBook


class Tracker:
    """Online multi-person tracker (see the module docstring).

    ``config`` (default :class:`TrackerConfig`) holds the settings by stage; the
    keyword ``options`` change single settings by their flat names (e.g.
    ``Tracker(min_hits=1, presence_threshold=0.6)``, see
    :meth:`TrackerConfig.with_options`).
    """

    def __init__(self, config: TrackerConfig | None = None, **options: Any) -> None:
        base = config if config is not None else TrackerConfig()
        self.config = base.with_options(**options) if options else base
        self.reset()

    def __getattr__(self, name: str) -> Any:
        """The settings by their flat names, read-only (``tracker.min_hits``)."""
        if name == "config" or name.startswith("_"):  # config not set yet; no private names
            raise AttributeError(name)
        return self.config.option(name)

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

    def expect_pose_scores(self) -> None:
        """Say before the first frame that the model reports pose-present scores (the
        stream does, from the model): the first frame's detector boxes are then framed for
        the pose-tracked regime like the later ones (``detection_margin``), instead of from
        the second frame on, once the scores have been seen. Kept by :meth:`reset`."""
        self._pose_model = True
        self._book.pose_model = True

    def reset(self) -> None:
        self._book = TrackBook(self.config)
        self._book.pose_model = getattr(self, "_pose_model", False)
        self._association = Association(self.config, self._book)
        self._following = PoseFollowing(self.config, self._book)
        self._output = OutputPolicy(self.config, self._book)
        #: frame of the last update that had detections (-1: none yet)
        self.last_detection_frame = -1

    @property
    def active_ids(self) -> list[int]:
        """Ids of the confirmed tracks alive now (seen within ``max_age`` frames, not lost)."""
        return sorted(
            s.track_id
            for s in self._book.tracks.values()
            if s.track_id >= 0 and s.confirmed and s.lost_at is None
        )

    @property
    def pose_tracked(self) -> bool:
        """True once the model has reported pose-present scores (the pose-tracked regime;
        never for box files)."""
        return self._book.pose_scores_seen and not self.config.trust_boxes

    @property
    def needs_detection(self) -> bool:
        """Whether the next frame should run the detector whatever the schedule's period.

        True before the first detection, while the model gives no pose-present
        score (detection-tracked regime: every frame), after a track was lost or
        a pose score fell below ``redetect_below``, and when a tracked person
        has no usable pose to crop the next frame from.
        """
        book = self._book
        return self.config.trust_boxes or not book.pose_scores_seen or book.want_detection

    @property
    def followed_boxes(self) -> np.ndarray:
        """(N, 4) x1, y1, x2, y2: the last boxes of the people held (lost ones kept for
        re-identification too): where a re-anchoring detection looks."""
        boxes = [s.box[:4] for s in self._book.tracks.values()]
        return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)

    def update(self, frame_index: int, detections: np.ndarray | None) -> list[Track]:
        """Boxes to crop in frame ``frame_index`` given its detections ``(K, 5)`` or ``None``.

        ``None``: the detector did not run on this frame (pose-tracked people
        continue from their keypoints). ``frame_index`` must increase from call
        to call (gaps are allowed and count towards ``max_age``).
        """
        book = self._book
        if frame_index <= book.frame:
            raise ValueError(f"frame_index must increase: got {frame_index} after {book.frame}")
        book.frame = frame_index
        self._output.start_frame(frame_index)
        detected = detections is not None
        dets = np.asarray(detections if detected else [], dtype=np.float32).reshape(-1, 5)
        dets = dets[np.isfinite(dets).all(axis=1)]
        if detected:
            self.last_detection_frame = frame_index
        if self.config.trust_boxes:
            out = self._association.update_exact(frame_index, dets)
        else:
            out = self._update_live(frame_index, self._association.filter(dets), detected)
        out.sort(key=lambda t: t.track_id)
        self._output.set_shown(frame_index, {t.track_id for t in out})
        return out

    def _update_live(self, frame_index: int, dets: np.ndarray, detected: bool) -> list[Track]:
        """A live detector's frame: association, pose-following of the people left, births."""
        self._book.expire(frame_index)
        states = self._book.in_order()
        active = [s for s in states if s.lost_at is None]
        lost = [s for s in states if s.lost_at is not None]
        crop_boxes = [self._following.crop_box(s, frame_index) for s in active]
        out, unmatched_tracks, unmatched_dets, pose_boxes = self._association.match(
            active, crop_boxes, dets, frame_index
        )
        taken = np.array([t.box for t in out]).reshape(-1, 4)
        for ti in unmatched_tracks:
            t = self._following.carry(
                active[ti],
                crop_boxes[ti],
                pose_boxes[ti],
                taken,
                dets,
                unmatched_dets,
                frame_index,
                detected,
            )
            if t is not None:
                out.append(t)
                taken = np.vstack([taken, t.box[None]])
        in_doubt = [
            active[ti] for ti in unmatched_tracks if self._output.in_doubt(active[ti], frame_index)
        ]
        return self._association.births(dets, unmatched_dets, lost, out, frame_index, in_doubt)

    def observe_crops(self, frame_index: int, crops: Mapping[int, Any]) -> None:
        """Single-frame outputs of this frame's crops, ``{track_id: CropOutput}``.

        A ``CropOutput`` has ``pose_score`` (None when the model has none),
        ``keypoints`` (17, 2) image pixels and ``scores`` (17,) (None when absent).
        Decides who is output in this frame (:mod:`.output`): a pose score below
        ``presence_threshold`` loses the track, a pose that duplicates a
        longer-tracked person's (OKS) is dropped, a new track with a confident
        pose is confirmed. The next frame's crop comes from these keypoints.
        """
        frame = int(frame_index)
        self._book.want_detection = False
        self._following.record(frame, crops)
        if not self._book.pose_scores_seen or self.config.trust_boxes:
            return  # box files: every box is output as given
        kept, doubtful = self._output.decide(frame)
        self._following.settle(frame, kept, doubtful)

    def select(self, frames: list[Any]) -> list[Any]:
        """The frames with the persons the tracker decided not to output removed (ids
        unchanged); persons kept on screen without a pose of their own get joint scores 0
        and ``hidden=True``."""
        return self._output.select(frames)

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
        state = self._book.find(int(track_id))
        frame = self._book.frame if frame_index is None else int(frame_index)
        if state is None or frame < state.kp_frame:
            return
        state.keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2).copy()
        state.kp_scores = np.asarray(scores, dtype=np.float64).reshape(-1).copy()
        state.kp_frame = frame

    def observe(self, frames: Any) -> None:
        """Final poses of emitted frames (``FramePoses`` with ``persons``), possibly late."""
        for f in frames:
            blind = self._output.blind(f.index)
            for p in f.persons:
                if p.track_id not in blind:  # shown without a pose of their own: nothing to learn
                    self.observe_keypoints(p.track_id, p.keypoints, p.scores, frame_index=f.index)
