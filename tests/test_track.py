"""Tracker: IoU + Hungarian association, stable ids, gap bridging, pose-derived boxes."""

from __future__ import annotations

import numpy as np
import pytest

from semapose.inference.tracking import Tracker, keypoint_box


def box(cx: float, cy: float = 100.0, w: float = 40.0, h: float = 100.0, s: float = 0.9) -> list:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, s]


def ids_by_x(tracks: list) -> list[int]:
    return [t.track_id for t in sorted(tracks, key=lambda t: t.box[0])]


def skeleton_in(b: list, n: int = 17) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints spread inside box b (inner 80%), all confident."""
    x1, y1, x2, y2 = b[:4]
    rng = np.random.default_rng(0)
    u = rng.uniform(0.1, 0.9, size=(n, 2))
    u[0] = (0.1, 0.1)
    u[1] = (0.9, 0.9)
    kp = np.stack([x1 + u[:, 0] * (x2 - x1), y1 + u[:, 1] * (y2 - y1)], axis=1)
    return kp, np.full(n, 0.9)


def test_ids_stable_for_static_and_new_people() -> None:
    tr = Tracker()
    t0 = tr.update(0, np.array([box(100), box(300)]))
    assert ids_by_x(t0) == [0, 1]
    for f in range(1, 10):
        jitter = np.random.default_rng(f).normal(0, 2, size=(2, 5)) * [1, 1, 1, 1, 0]
        t = tr.update(f, np.array([box(300), box(100)]) + jitter)  # order shuffled
        assert ids_by_x(t) == [0, 1]
    t = tr.update(10, np.array([box(100), box(300), box(600)]))
    assert ids_by_x(t) == [0, 1, 2]


def test_crossing_people_keep_their_ids() -> None:
    tr = Tracker(iou_threshold=0.1)
    seen: dict[int, list[float]] = {}
    for f in range(30):
        a, b = 100 + 10 * f, 400 - 10 * f  # A walks right, B walks left; they cross at f=15
        dets = [box(a, 100), box(b, 104)]
        if f % 2:
            dets = dets[::-1]
        for t in tr.update(f, np.array(dets)):
            seen.setdefault(t.track_id, []).append(float(t.box[0] + t.box[2]) / 2)
    assert sorted(seen) == [0, 1]
    # id 0 started on the left and must have kept walking right the whole time
    assert np.all(np.diff(seen[0]) > 0) and np.all(np.diff(seen[1]) < 0)


def test_hungarian_beats_greedy() -> None:
    # greedy best-IoU-first would give det X to track 0 and leave track 1 unmatched
    tr = Tracker(iou_threshold=0.2, motion=False)
    tr.update(0, np.array([[0, 0, 100, 100, 0.9], [60, 0, 160, 100, 0.9]]))
    t = tr.update(1, np.array([[30, 0, 130, 100, 0.9], [-40, 0, 60, 100, 0.9]]))
    by_id = {tt.track_id: tt.box[0] for tt in t}
    assert by_id == {0: -40, 1: 30}


def test_short_gap_bridged_long_gap_new_id() -> None:
    tr = Tracker(max_age=5, fill_from_pose=False)
    tr.update(0, np.array([box(100)]))
    for f in range(1, 4):
        assert tr.update(f, np.zeros((0, 5))) == []
    assert [t.track_id for t in tr.update(4, np.array([box(104)]))] == [0]
    for f in range(5, 12):
        tr.update(f, np.zeros((0, 5)))
    assert [t.track_id for t in tr.update(12, np.array([box(104)]))] == [1]
    # frame numbers may skip (e.g. a box file only for some frames); the gap counts
    assert [t.track_id for t in tr.update(14, np.array([box(106)]))] == [1]
    assert [t.track_id for t in tr.update(30, np.array([box(106)]))] == [2]


def test_pose_boxes_fill_missed_detections() -> None:
    tr = Tracker(max_pose_fill=3)
    b = box(200)
    (t,) = tr.update(0, np.array([b]))
    for f in range(1, 6):
        tr.observe_keypoints(t.track_id, *skeleton_in(b))
        tracks = tr.update(f, np.zeros((0, 5)))
        if f <= 3:
            (t,) = tracks
            assert t.track_id == 0 and t.source == "pose"
            assert t.score > 0
            # the keypoint-derived box covers the person
            inter = min(t.box[2], b[2]) - max(t.box[0], b[0])
            assert inter > 0.8 * (b[2] - b[0])
        else:  # the detector has missed the person for too long: no more invented boxes
            assert tracks == []
    # detector back within max_age: same id
    (t,) = tr.update(6, np.array([box(202)]))
    assert (t.track_id, t.source) == (0, "detection")


def test_pose_box_not_duplicating_a_detection_and_needs_confident_pose() -> None:
    tr = Tracker()
    tr.update(0, np.array([box(100), box(300)]))
    tr.observe_keypoints(0, *skeleton_in(box(100)))
    kp, sc = skeleton_in(box(300))
    tr.observe_keypoints(1, kp, sc * 0.1)  # unconfident pose: no fill
    # the detector's frame 1 box for person 0 is poorly placed (shifted): the
    # matched detection is used, and no pose box duplicates it
    tracks = tr.update(1, np.array([box(110)]))
    assert [(t.track_id, t.source) for t in tracks] == [(0, "detection")]


def test_pose_aware_matching_uses_keypoint_box() -> None:
    # a big stale box would overlap both detections about equally; the keypoints say
    # the person is on the left
    tr = Tracker(motion=False, pose_weight=0.7, iou_threshold=0.1)
    tr.update(0, np.array([[0, 0, 400, 200, 0.9]]))
    tr.observe_keypoints(0, *skeleton_in([20, 10, 120, 190]))
    t = tr.update(1, np.array([[220, 0, 400, 200, 0.95], [10, 0, 140, 200, 0.9]]))
    by_id = {tt.track_id: tt.box[0] for tt in t}
    assert by_id[0] == 10


def test_low_scores_nms_and_order() -> None:
    tr = Tracker(min_score=0.3, nms_iou=0.5)
    t = tr.update(0, np.array([box(100, s=0.2), box(300, s=0.9), box(302, s=0.8)]))
    assert len(t) == 1 and t[0].score == pytest.approx(0.9)
    with pytest.raises(ValueError, match="increase"):
        tr.update(0, np.zeros((0, 5)))
    xywh = t[0].box_xywh
    assert xywh[2] == pytest.approx(40) and xywh[3] == pytest.approx(100)


def test_keypoint_box_needs_enough_confident_joints() -> None:
    kp = np.array([[10, 10], [20, 50], [30, 90], [15, 60]], float)
    assert keypoint_box(kp, np.array([0.9, 0.9, 0.1, 0.9])) is None
    b = keypoint_box(kp, np.full(4, 0.9))
    assert b is not None and b[0] < 10 and b[1] < 10 and b[2] > 30 and b[3] > 90
    kp[0] = np.nan
    assert keypoint_box(kp, np.full(4, 0.9)) is None


def test_keypoints_observed_late_are_used_until_too_old() -> None:
    # offline pipelines know a frame's pose a few frames later: they pass its frame
    tr = Tracker(max_keypoint_age=3, max_pose_fill=10)
    b = box(200)
    for f in range(3):
        tr.update(f, np.array([b]))
    tr.observe_keypoints(0, *skeleton_in(b), frame_index=0)
    tr.observe_keypoints(0, *skeleton_in(box(600)), frame_index=-1)  # older: ignored
    (t,) = tr.update(3, np.zeros((0, 5)))  # pose of frame 0 is 3 frames old: still used
    assert t.source == "pose" and t.box[0] < 200
    assert tr.update(4, np.zeros((0, 5))) == []  # 4 frames old: too old to invent a box
    tr.observe_keypoints(99, *skeleton_in(b))  # unknown id: ignored


def test_low_score_ghosts_get_no_id_but_persistent_people_do() -> None:
    tr = Tracker(new_track_score=0.5, min_hits=2)
    assert tr.update(0, np.array([box(100, s=0.3), box(400, s=0.3)])) == []  # tentative
    t = tr.update(1, np.array([box(102, s=0.3)]))  # the one at 400 was a one-frame ghost
    assert [(x.track_id, round(float(x.box[0]))) for x in t] == [(0, 82)]
    assert tr.update(2, np.array([box(400, s=0.3)])) == []  # ghost back later: tentative again
    assert [x.track_id for x in tr.update(3, np.array([box(104, s=0.9)]))] == [0]
    assert tr.active_ids == [0]


def test_for_detector_trusts_box_files() -> None:
    from semapose.inference.detectors import BoxFileDetector

    tr = Tracker.for_detector(BoxFileDetector({0: np.array([box(100, s=0.1)])}))
    assert [t.track_id for t in tr.update(0, np.array([box(100, s=0.1)]))] == [0]
    assert Tracker.for_detector(object()).new_track_score == 0.5
