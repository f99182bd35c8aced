"""Stage 4, the output policy: who is shown in a frame (pose-tracked regime).

``Tracker.update`` hands out the boxes to crop; once the model's single-frame outputs
of those crops are known (``Tracker.observe_crops``) this stage decides, per frame:
a person is output while their pose-present score is at least ``presence_threshold``
(MediaPipe's ``min_pose_presence_confidence``, 0.5) and their pose does not duplicate
(OKS above ``duplicate_oks``) the pose of a person with a better claim (matched to a
detection now, then longer tracked). A new person is shown after ``confirm_frames``
confident poses. A person in doubt stays on screen for ``patience`` frames, or up to
``max_occluded`` frames while the detector still boxes them or someone hides them --
then without a pose of their own (``hidden``, joint scores 0); after that the track
is *lost* (kept for re-identification by the association stage). A person in doubt
asks for the detector during ``request_frames`` frames, unless hidden behind someone
shown (the periodic detection looks for them after that). A track that never
had a confident pose of its own is dropped. :meth:`OutputPolicy.select` applies the
decisions to the emitted frames, which may come a few frames late.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from semapose.inference.tracking.config import TrackerConfig
from semapose.inference.tracking.geometry import hidden, pose_oks
from semapose.inference.tracking.state import TrackBook, TrackState

#: frames for which the decisions are kept (the emitted frames lag behind by far less)
_KEEP_FRAMES = 256


class OutputPolicy:
    """Per-frame decisions on the people of a :class:`TrackBook` (module docstring)."""

    def __init__(self, config: TrackerConfig, book: TrackBook) -> None:
        self.config = config
        self.cfg = config.output
        self.book = book
        #: frame -> ids output in that frame (decided by update/observe_crops), for select()
        self._shown: dict[int, set[int]] = {}
        #: frame -> ids shown without a pose of their own (joint scores set to 0 by select())
        self._blind: dict[int, set[int]] = {}

    def start_frame(self, frame_index: int) -> None:
        """Forget the decisions on frames far behind ``frame_index``."""
        for f in [f for f in self._shown if f < frame_index - _KEEP_FRAMES]:
            del self._shown[f]
            self._blind.pop(f, None)

    def set_shown(self, frame_index: int, track_ids: set[int]) -> None:
        """The ids handed out for the frame (all shown until :meth:`decide` says otherwise)."""
        self._shown[frame_index] = track_ids

    def blind(self, frame_index: int) -> set[int]:
        """The ids shown in the frame without a pose of their own."""
        return self._blind.get(frame_index, set())

    def decide(self, frame: int) -> tuple[list[TrackState], list[TrackState]]:
        """Decide who is shown in ``frame`` from its single-frame poses; returns the people
        with a confident pose of their own (kept) and the others (doubtful)."""
        shown = self._shown.get(frame, set())
        cands = [
            s
            for s in self.book.tracks.values()
            if s.lost_at is None and s.track_id >= 0 and s.track_id in shown
        ]
        # who has the better claim on a pose: a person matched to a detection now, then the
        # longer-tracked; a duplicate pose loses to them
        cands.sort(key=lambda s: (s.matched_frame != frame, not s.confirmed, s.track_id))
        kept: list[TrackState] = []
        doubtful: list[TrackState] = []
        for s in cands:
            confident = (
                s.crop_frame == frame
                and s.presence is not None
                and s.presence >= self.cfg.presence_threshold
            )
            if confident and not any(self._duplicates(s, k) for k in kept):
                kept.append(s)
                s.pose_hits += 1
                if not s.confirmed and s.pose_hits < self.cfg.confirm_frames:
                    shown.discard(s.track_id)  # a new person: shown once seen again
                else:
                    s.confirmed, s.evidence_frame = True, frame
            else:
                doubtful.append(s)
        present = [k.box for k in kept] + [s.box for s in doubtful if s.matched_frame == frame]
        for s in doubtful:
            if s.evidence_frame < 0:  # never a confident pose of its own: no person for us
                shown.discard(s.track_id)
                self.book.remove(s)
                continue
            since = frame - s.evidence_frame
            if since <= self.cfg.request_frames and not hidden(
                s.box, [k.box for k in kept], self.cfg.behind
            ):
                # a person we follow is in doubt: look again (not for one behind someone
                # shown: the detector boxes the front person alone)
                self.book.want_detection = True
            if (
                since <= self.cfg.max_occluded
                and s.matched_frame == frame
                and s.crop_frame == frame
                and not any(self._duplicates(s, k) for k in kept)
            ):
                # the detector boxes the person now and nobody else has this pose: the pose
                # model is only unsure (small, blurred, cut off); show the pose, whose joint
                # scores carry the low pose-present score
                continue
            if since <= self.cfg.patience or (
                since <= self.cfg.max_occluded
                and (s.matched_frame == frame or hidden(s.box, present))
            ):
                # a short dip; or the detector still boxes the person, or someone hides
                # them, while the pose model sees the other person: keep the id on screen,
                # but not the pose (it is someone else's or no one's): joint scores 0
                self._blind.setdefault(frame, set()).add(s.track_id)
                continue
            shown.discard(s.track_id)
            s.lost_at = frame
        self._shown[frame] = shown
        return kept, doubtful

    def in_doubt(self, s: TrackState, frame_index: int) -> bool:
        """Whether a shown person had no confident pose of their own in the last decided
        frame (hidden behind someone, or their crop shows someone else)."""
        return (
            s.track_id >= 0
            and s.confirmed
            and s.lost_at is None
            and 0 <= s.evidence_frame < frame_index - 1
        )

    def select(self, frames: list[Any]) -> list[Any]:
        """The frames with the persons not to output removed (ids unchanged); persons kept
        on screen without a pose of their own get joint scores 0 and ``hidden=True``."""
        out = []
        for f in frames:
            keep = self._shown.get(f.index)
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

    def _duplicates(self, a: TrackState, b: TrackState) -> bool:
        if a.crop_kp is None or b.crop_kp is None:
            return False
        assert a.crop_scores is not None and b.crop_scores is not None
        min_score = self.config.following.keypoint_min_score
        oks = pose_oks(a.crop_kp, a.crop_scores, b.crop_kp, b.crop_scores, min_score)
        return oks > self.cfg.duplicate_oks
