"""Stage 2, association: the frame's detections to the people held.

Detections are filtered (score, NMS, boxes mostly inside a higher-scored one) and, in
the pose-tracked regime, grown by ``detection_margin`` per side into the framing of the
pose boxes (keypoints + 15 %), then matched to the held people by IoU + Hungarian
assignment; the similarity mixes the IoU with each person's expected box (the
pose-followed crop box, else the last box moved by its velocity) and, with weight
``pose_weight``, the IoU with the box of their late keypoints; in the pose-tracked
regime a second pass gives a person the detection that holds most of their expected
box (a crop shrunk to part of them). A matched detection re-anchors the person (as
MediaPipe re-crops from its detector). A detection left over either re-identifies a
person in doubt (hidden, or their crop shows someone else) or a lost person
(position, motion, size), or starts a track: at once in the pose-tracked regime (its
pose score confirms it later), at once when scored ``new_track_score`` in the
detection-tracked regime, else after ``min_hits`` frames. Box files
(``trust_boxes``) skip the filters, the poses and the re-identification.
"""

from __future__ import annotations

import numpy as np

from semapose.inference.detectors.boxops import box_iou, nms
from semapose.inference.tracking.config import TrackerConfig
from semapose.inference.tracking.geometry import grow_boxes, inside, suppress_contained
from semapose.inference.tracking.state import (
    Track,
    TrackBook,
    TrackState,
    last_pose_box,
    late_pose_box,
    predicted_box,
)


class Association:
    """Matches detections to :class:`TrackState` s of a :class:`TrackBook`; starts tracks."""

    def __init__(self, config: TrackerConfig, book: TrackBook) -> None:
        self.config = config
        self.cfg = config.association
        self.book = book

    def filter(self, dets: np.ndarray) -> np.ndarray:
        """A live detector's boxes (K, 5) without low scores, overlaps and contained boxes."""
        dets = nms(dets[dets[:, 4] >= self.cfg.min_score], self.cfg.nms_iou)
        dets = suppress_contained(dets, self.cfg.contain_ratio)
        if self.book.pose_model or self.book.pose_scores_seen:
            dets = grow_boxes(dets, self.cfg.detection_margin)
        return dets

    def update_exact(self, frame_index: int, dets: np.ndarray) -> list[Track]:
        """Box files: every box is a person; only ids are assigned (IoU + Hungarian)."""
        self.book.expire(frame_index)
        states = self.book.in_order()
        motion = self.cfg.motion
        predicted = np.array([predicted_box(s, frame_index, motion) for s in states])
        predicted = predicted.reshape(-1, 4)
        matches, _, unmatched = assign(box_iou(predicted, dets), self.cfg.iou_threshold)
        out = [self._match(states[ti], dets[di], frame_index) for ti, di in matches]
        out += [self._start(dets[di], frame_index, confirmed=True) for di in unmatched]
        return [t for t in out if t is not None]

    def match(
        self,
        active: list[TrackState],
        crop_boxes: list[np.ndarray | None],
        dets: np.ndarray,
        frame_index: int,
    ) -> tuple[list[Track], list[int], list[int], list[np.ndarray | None]]:
        """Match the active people (with their pose-followed crop boxes, None where there is
        none) to ``dets``: the matched people's tracks (tentative ones left out), the
        unmatched people's and detections' indices and the people's late-pose boxes."""
        predicted = np.array(
            [
                cb if cb is not None else predicted_box(s, frame_index, self.cfg.motion)
                for s, cb in zip(active, crop_boxes, strict=True)
            ]
        ).reshape(-1, 4)
        pose_boxes = [late_pose_box(s, frame_index, self.config) for s in active]
        sim = self._similarity(predicted, pose_boxes, dets)
        matches, unmatched_tracks, unmatched_dets = assign(sim, self.cfg.iou_threshold)
        if self.book.pose_scores_seen and unmatched_tracks and unmatched_dets:
            matches += self._match_covering(predicted, dets, unmatched_tracks, unmatched_dets)
            mt, md = {m[0] for m in matches}, {m[1] for m in matches}
            unmatched_tracks = [i for i in unmatched_tracks if i not in mt]
            unmatched_dets = [j for j in unmatched_dets if j not in md]
        out: list[Track] = []
        for ti, di in matches:
            # a detection re-anchors the crop (as MediaPipe re-crops from its detector)
            det = _not_smaller(dets[di], crop_boxes[ti], self.cfg.keep_pose_size)
            t = self._match(active[ti], det, frame_index)
            if t is not None:
                out.append(t)
        return out, unmatched_tracks, unmatched_dets, pose_boxes

    def _match_covering(
        self,
        predicted: np.ndarray,
        dets: np.ndarray,
        tracks: list[int],
        free: list[int],
    ) -> list[tuple[int, int]]:
        """Second pass for the people and detections left over (pose-tracked regime): a
        detection holding most (``cover_ratio``) of a person's expected box, at a height
        within ``reid_size``, is theirs: a crop that shrank to part of the person (a cut-off
        pose) has a small IoU with the person's full box, which would otherwise start a
        second track on them."""
        cover = np.zeros((len(tracks), len(free)))
        for a, ti in enumerate(tracks):
            box = predicted[ti]
            h = max(float(box[3] - box[1]), 1.0)
            for b, di in enumerate(free):
                ratio = float(dets[di, 3] - dets[di, 1]) / h
                if 1 / self.cfg.reid_size <= ratio <= self.cfg.reid_size * 1.5:
                    cover[a, b] = inside(box, dets[di : di + 1, :4])
        pairs, _, _ = assign(cover, self.cfg.cover_ratio)
        return [(tracks[a], free[b]) for a, b in pairs]

    def births(
        self,
        dets: np.ndarray,
        unmatched_dets: list[int],
        lost: list[TrackState],
        out: list[Track],
        frame_index: int,
        in_doubt: list[TrackState] | None = None,
    ) -> list[Track]:
        """The tracks of the frame (``out``: those given out so far) with the detections no
        held person explains added: a person in doubt (no pose of their own: hidden, or
        their crop shows someone else) or a lost person re-identified, or a new track; a
        second box on someone is dropped."""
        in_doubt = list(in_doubt or [])
        out = list(out)
        for di in unmatched_dets:
            det = dets[di]
            found = self._reidentify(det, in_doubt, frame_index) if in_doubt else None
            if found is not None:
                others = [t.box for t in out if t.track_id != found.track_id]
                taken = np.array(others).reshape(-1, 4)
                if len(taken) and self._is_duplicate(det[:4], taken):
                    found = None
            if found is not None:
                in_doubt.remove(found)
                out = [t for t in out if t.track_id != found.track_id]
                t = self._match(found, det, frame_index)
            else:
                taken = np.array([t.box for t in out]).reshape(-1, 4)
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
        return out

    def _match(self, s: TrackState, det: np.ndarray, frame_index: int) -> Track | None:
        box = det[:4].astype(np.float64)
        gap = max(frame_index - s.last_frame, 1)
        s.velocity = 0.5 * s.velocity + 0.5 * (box - s.box) / gap
        s.box, s.score = box, float(det[4])
        s.last_frame = s.last_detected = s.matched_frame = frame_index
        s.anchor_height = float(box[3] - box[1])
        s.ref_box = box.copy()
        s.hits += 1
        if s.track_id < 0 and s.hits >= self.cfg.min_hits:
            s.track_id, s.confirmed = self.book.new_id(), True
        if s.track_id < 0:
            return None
        return Track(s.track_id, box.copy(), s.score, "detection")

    def _start(self, det: np.ndarray, frame_index: int, confirmed: bool | None) -> Track | None:
        """A new track. ``confirmed=None``: decided by the regime (module docstring)."""
        box, score = det[:4].astype(np.float64), float(det[4])
        if confirmed is None:
            if self.book.pose_scores_seen:  # cropped at once; the pose score confirms it
                confirmed = False
                tid = self.book.new_id()
            else:
                confirmed = score >= self.cfg.new_track_score or self.cfg.min_hits <= 1
                tid = self.book.new_id() if confirmed else -1
        else:
            tid = self.book.new_id()
        self.book.add(
            TrackState(tid, box, score, frame_index, frame_index, confirmed=bool(confirmed))
        )
        if tid < 0:
            return None
        return Track(tid, box.copy(), score, "detection")

    def _is_duplicate(self, box: np.ndarray, taken: np.ndarray) -> bool:
        """IoU above ``nms_iou`` with a taken box, or mostly inside one (pose-tracked regime)."""
        if box_iou(box[None], taken).max() > self.cfg.nms_iou:
            return True
        if not self.book.pose_scores_seen:
            return False
        area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)
        ix = np.clip(np.minimum(box[2], taken[:, 2]) - np.maximum(box[0], taken[:, 0]), 0, None)
        iy = np.clip(np.minimum(box[3], taken[:, 3]) - np.maximum(box[1], taken[:, 1]), 0, None)
        return bool((ix * iy / area).max() > self.cfg.contain_ratio)

    def _reidentify(
        self, det: np.ndarray, lost: list[TrackState], frame_index: int
    ) -> TrackState | None:
        """The lost track this detection most plausibly continues, by position, motion and size.

        The reference is where the person should be now: the box of its last
        keypoints (or its last box) moved by its velocity, for at most 10 frames
        of motion; the detection's centre must lie within ``reid_radius`` of that
        box's height (growing with the gap) and its height within a factor
        ``reid_size``.
        """
        cfg = self.cfg
        best, best_cost = None, np.inf
        cx, cy = (det[0] + det[2]) / 2, (det[1] + det[3]) / 2
        h = max(float(det[3] - det[1]), 1.0)
        for s in lost:
            if s.track_id < 0 or not s.confirmed:
                continue
            gap = frame_index - s.last_frame
            ref = s.ref_box
            if ref is None:
                ref = last_pose_box(s, self.config.following.keypoint_min_score)
            ref = (ref if ref is not None else s.box) + s.velocity * min(gap, 10)
            rh = max(float(ref[3] - ref[1]), 1.0)
            if not 1 / cfg.reid_size <= h / rh <= cfg.reid_size:
                continue
            dist = np.hypot(cx - (ref[0] + ref[2]) / 2, cy - (ref[1] + ref[3]) / 2) / rh
            if dist > cfg.reid_radius * (1 + gap / cfg.reid_frames):
                continue
            cost = dist + abs(np.log(h / rh))
            if cost < best_cost:
                best, best_cost = s, cost
        return best

    def _similarity(
        self, predicted: np.ndarray, pose_boxes: list[np.ndarray | None], dets: np.ndarray
    ) -> np.ndarray:
        sim = box_iou(predicted, dets)
        weight = self.cfg.pose_weight
        if weight > 0 and len(dets):
            for i, pb in enumerate(pose_boxes):
                if pb is not None:
                    pose_sim = box_iou(pb[None], dets)[0]
                    sim[i] = (1 - weight) * sim[i] + weight * pose_sim
        return sim


#: share of a short detection inside a person's pose box that makes it a part of them
_PART_INSIDE = 0.75


def _not_smaller(det: np.ndarray, pose_box: np.ndarray | None, ratio: float) -> np.ndarray:
    """The matched detection ``det`` (5,), grown towards its union with the person's
    pose-followed box until it is ``ratio`` of that box's height, when that box exists (a
    confident pose placed it), the detection is shorter and lies mostly inside it: the
    detector boxed part of the person (the upper body of a child in motion, legs
    blurred) while the pose saw all of them, and a crop from the part cuts the person
    off, whose next pose is partial and soon in doubt (basketball_300f frame 120)."""
    if pose_box is None or ratio <= 0:
        return det
    pose_h, det_h = float(pose_box[3] - pose_box[1]), float(det[3] - det[1])
    if det_h >= ratio * pose_h or inside(det[:4], pose_box[None]) < _PART_INSIDE:
        return det  # not smaller, or not a part of the followed box (someone else, a move)
    out = np.array(det, dtype=np.float64, copy=True)
    union = np.concatenate([np.minimum(out[:2], pose_box[:2]), np.maximum(out[2:4], pose_box[2:4])])
    union_h = float(union[3] - union[1])
    t = min(1.0, (ratio * pose_h - det_h) / max(union_h - det_h, 1e-9))
    out[:4] = out[:4] + t * (union - out[:4])
    return out


def assign(sim: np.ndarray, threshold: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
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
