"""Tracker, pose-tracked regime and box files: exact file boxes, poses carrying people
between detections, output threshold, OKS duplicates, re-identification, schedule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from semapose.inference.results import FramePoses, PersonPose
from semapose.inference.tracking import DetectionSchedule, Tracker, pose_oks

# a standing person, 17 PoseTrack18 slots, as fractions of the box (x, y)
LAYOUT = np.array(
    [
        [0.5, 0.08], [0.5, 0.02], [0.5, 0.0], [0.4, 0.1], [0.6, 0.1],
        [0.3, 0.2], [0.7, 0.2], [0.2, 0.4], [0.8, 0.4], [0.15, 0.55], [0.85, 0.55],
        [0.35, 0.55], [0.65, 0.55], [0.35, 0.78], [0.65, 0.78], [0.35, 1.0], [0.65, 1.0],
    ]
)  # fmt: skip


@dataclass
class Crop:
    pose_score: float | None
    keypoints: np.ndarray | None
    scores: np.ndarray | None


def det(cx: float, cy: float = 300.0, w: float = 100.0, h: float = 250.0, s: float = 0.9) -> list:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, s]


def pose_at(cx: float, cy: float = 300.0, w: float = 80.0, h: float = 220.0) -> np.ndarray:
    return np.stack([cx - w / 2 + LAYOUT[:, 0] * w, cy - h / 2 + LAYOUT[:, 1] * h], axis=1)


def crop(cx: float, score: float = 0.95, **kw: float) -> Crop:
    return Crop(score, pose_at(cx, **kw), np.full(17, 0.9))


def centre_x(t) -> float:  # type: ignore[no-untyped-def]
    return float(t.box[0] + t.box[2]) / 2


def frame_of(index: int, tracks) -> FramePoses:  # type: ignore[no-untyped-def]
    persons = [
        PersonPose(t.track_id, t.box_xywh, t.score, pose_at(centre_x(t)), np.full(17, 0.9))
        for t in tracks
    ]
    return FramePoses(index, persons)


def test_box_file_boxes_are_used_exactly() -> None:
    from semapose.inference.detectors import BoxFileDetector

    # two dancers whose boxes overlap at IoU 0.71, one scored 0.05: both kept, boxes untouched
    a = [100.0, 100.0, 200.0, 300.0, 0.9]
    b = [110.0, 110.0, 212.0, 306.0, 0.05]
    tr = Tracker.for_detector(BoxFileDetector({0: np.array([a, b])}))
    for f in range(3):
        tracks = tr.update(f, np.array([a, b]))
        assert [t.track_id for t in tracks] == [0, 1]
        assert np.allclose(tracks[0].box, a[:4]) and np.allclose(tracks[1].box, b[:4])
        assert tracks[1].score == pytest.approx(0.05)
        crops = {t.track_id: Crop(0.01, None, None) for t in tracks}  # low pose scores: ignored
        tr.observe_crops(f, crops)
        assert len(tr.select([frame_of(f, tracks)])[0].persons) == 2
    assert DetectionSchedule(every=10).should_detect(1, tr)  # box files: every frame


def test_pose_carries_a_person_between_detections() -> None:
    tr = Tracker()
    (t,) = tr.update(0, np.array([det(200)]))
    tr.observe_crops(0, {t.track_id: crop(200)})
    assert tr.pose_tracked and not tr.needs_detection
    for f in range(1, 12):  # walks right 6 px/frame; no detections (schedule skipped them)
        (t,) = tr.update(f, None)
        assert t.track_id == 0 and t.source == "pose"
        tr.observe_crops(f, {0: crop(200 + 6 * f)})
    # the crop box follows the person: within a few px of the true centre, motion included
    assert abs(centre_x(t) - (200 + 6 * 11)) < 12
    # a detection that misses the person does not end a person the pose still sees
    (t,) = tr.update(12, np.zeros((0, 5)))
    assert t.track_id == 0


def test_low_pose_score_ends_output_and_asks_for_detection() -> None:
    tr = Tracker(patience=2)
    tracks = tr.update(0, np.array([det(200), det(600)]))
    tr.observe_crops(0, {0: crop(200), 1: crop(600)})
    shown = []
    for f in range(1, 5):  # person 1 left the crop (in the open: nobody hides them)
        tracks = tr.update(f, None)
        crops = {0: crop(200), 1: crop(600, score=0.2)}
        tr.observe_crops(f, {t.track_id: crops[t.track_id] for t in tracks})
        shown.append([p.track_id for p in tr.select([frame_of(f, tracks)])[0].persons])
        assert tr.needs_detection or 1 not in [t.track_id for t in tracks]
    # a short dip (patience: 2 frames) keeps the person on screen, then the track is lost
    assert shown == [[0, 1], [0, 1], [0], [0]]
    assert [t.track_id for t in tr.update(5, None)] == [0]  # lost: no more crops


def test_person_hidden_behind_another_keeps_id_on_screen() -> None:
    tr = Tracker(patience=0, max_occluded=5)
    tr.update(0, np.array([det(200), det(250)]))
    tr.observe_crops(0, {0: crop(200), 1: crop(250)})
    shown = []
    for f in range(1, 9):  # person 1 (behind person 0's box) is not seen by the pose model
        tracks = tr.update(f, None)
        tr.observe_crops(f, {0: crop(200), 1: crop(200, score=0.1)})
        persons = tr.select([frame_of(f, tracks)])[0].persons
        shown.append(len(persons))
        # the hidden person is shown (id, box) without a pose: its crop shows person 0
        assert [float(p.scores.max()) for p in persons] == [0.9, 0.0][: len(persons)]
    assert shown == [2, 2, 2, 2, 2, 1, 1, 1]  # hidden: kept for max_occluded frames


def test_duplicates_removed_by_pose_not_by_box() -> None:
    tr = Tracker()
    tr.update(0, np.array([det(200)]))
    tr.observe_crops(0, {0: crop(200)})
    # a half-body box inside the tracked person's box starts no track at all
    half = [160.0, 180.0, 240.0, 300.0, 0.8]
    assert [t.track_id for t in tr.update(1, np.array([det(200), half]))] == [0]
    tr.observe_crops(1, {0: crop(200)})
    # a shifted box (IoU < 0.5 with the track) whose crop shows the same person: dropped by OKS
    shifted = det(262, w=100)
    tracks = tr.update(2, np.array([det(200), shifted]))
    assert [t.track_id for t in tracks] == [0, 1]
    tr.observe_crops(2, {0: crop(200), 1: crop(202)})
    assert [p.track_id for p in tr.select([frame_of(2, tracks)])[0].persons] == [0]
    assert tr.active_ids == [0]
    # two people side by side (boxes overlapping at IoU ~0.3) are both kept; the new one
    # is shown once its own pose has been seen in two frames (no one-frame ghosts)
    shown = []
    for f in (3, 4):
        tracks = tr.update(f, np.array([det(200), det(280)]))
        tr.observe_crops(f, {t.track_id: crop(200 if t.track_id == 0 else 280) for t in tracks})
        shown.append(len(tr.select([frame_of(f, tracks)])[0].persons))
    assert shown == [1, 2]


def test_oks_is_one_for_the_same_pose_and_small_for_neighbours() -> None:
    sc = np.full(17, 0.9)
    assert pose_oks(pose_at(100), sc, pose_at(100), sc) == pytest.approx(1.0)
    assert pose_oks(pose_at(100), sc, pose_at(180), sc) < 0.1
    assert pose_oks(pose_at(100), sc * 0.1, pose_at(100), sc) == 0.0  # no confident joints


def test_lost_person_reidentified_by_position_and_motion() -> None:
    tr = Tracker(patience=0)
    for f in range(6):  # walks right 10 px/frame
        tr.update(f, np.array([det(200 + 10 * f)]) if f == 0 else None)
        tr.observe_crops(f, {0: crop(200 + 10 * f)})
    tr.update(6, None)
    tr.observe_crops(6, {0: crop(260, score=0.1)})  # gone from view: lost
    assert tr.update(7, np.zeros((0, 5))) == []
    for f in range(8, 12):
        tr.update(f, None)
    # back where its motion says it should be (200 + 10*12 = 320): same id, no new id
    (t,) = tr.update(12, np.array([det(318)]))
    assert t.track_id == 0
    # someone appearing far away gets a new id
    tracks = tr.update(13, np.array([det(318), det(900)]))
    assert sorted(t.track_id for t in tracks) == [0, 1]


def test_crossing_people_keep_ids_with_sparse_detections() -> None:
    tr = Tracker()
    sched = DetectionSchedule(every=5)
    path: dict[int, list[float]] = {}
    for f in range(40):
        a, b = 100 + 12 * f, 580 - 12 * f  # cross at f = 20
        dets = np.array([det(a, cy=300), det(b, cy=310)])
        tracks = tr.update(f, dets if sched.should_detect(f, tr) else None)
        crops = {}
        for t in tracks:  # each crop shows the person nearest its centre (the front one on ties)
            cx = centre_x(t)
            crops[t.track_id] = crop(a if abs(cx - a) <= abs(cx - b) else b)
        tr.observe_crops(f, crops)
        for p in tr.select([frame_of(f, tracks)])[0].persons:
            path.setdefault(p.track_id, []).append(float(p.box[0] + p.box[2] / 2))
    assert sorted(path) == [0, 1]
    # whichever ids exist, id 0 started on the left and ended on the right
    assert path[0][0] < 200 and path[0][-1] > 450


def test_schedule_runs_every_k_and_when_asked() -> None:
    tr = Tracker()
    sched = DetectionSchedule(every=4)
    ran = []
    for f in range(12):
        go = sched.should_detect(f, tr)
        ran.append(go)
        tracks = tr.update(f, np.array([det(200)]) if go else None)
        tr.observe_crops(f, {t.track_id: crop(200) for t in tracks})
    assert [f for f, g in enumerate(ran) if g] == [0, 4, 8]
    # a model without pose-present scores: the detector runs on every frame
    tr2 = Tracker()
    for f in range(3):
        assert sched.should_detect(f, tr2)
        tracks = tr2.update(f, np.array([det(200)]))
        tr2.observe_crops(f, {t.track_id: Crop(None, None, None) for t in tracks})
    with pytest.raises(ValueError):
        DetectionSchedule(every=0)
    # requests wait min_gap frames after the last detection when asked to
    tr3 = Tracker()
    slow = DetectionSchedule(every=10, min_gap=3)
    tracks = tr3.update(0, np.array([det(200)]))
    tr3.observe_crops(0, {0: crop(200)})
    tr3.update(1, None)
    tr3.observe_crops(1, {0: crop(200, score=0.6)})  # unsure: asks for a detection
    assert tr3.needs_detection
    assert [slow.should_detect(f, tr3) for f in (1, 2, 3)] == [False, False, True]
    assert DetectionSchedule(every=10, min_gap=1).should_detect(2, tr3)
    assert DetectionSchedule(every=10).min_gap == 3  # the default waits (speed, issue 16)
