"""Tracker, pose-tracked regime: people kept when the pose model is unsure (issue 22,
basketball_300f): detector boxes framed as pose boxes, a shrunken crop re-anchored by the
detection that holds it, a person in doubt taking the detection where they reappear, an
unsure pose shown while the detector boxes the person, the periodic full detection."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from semapose.inference.tracking import DetectionSchedule, Tracker
from test_track_pose import crop, det, frame_of


def _shown(tr: Tracker, f: int, tracks) -> dict[int, bool]:  # type: ignore[no-untyped-def]
    """track id -> shown with a pose of their own (True) or hidden (False)."""
    return {p.track_id: not p.hidden for p in tr.select([frame_of(f, tracks)])[0].persons}


def test_detector_boxes_framed_like_pose_boxes_once_the_model_gives_pose_scores() -> None:
    box = np.array([det(200)])
    w, h = 100.0, 250.0
    grown = [150 - 0.1 * w, 175 - 0.1 * h, 250 + 0.1 * w, 425 + 0.1 * h]
    # told up front (the stream does, from the model): the first frame is framed already
    tr = Tracker()
    tr.expect_pose_scores()
    (t,) = tr.update(0, box)
    assert np.allclose(t.box, grown)
    tr.reset()  # the expectation outlives a reset
    assert np.allclose(tr.update(0, box)[0].box, grown)
    # not told: from the first frame whose crops reported a pose score on
    tr = Tracker()
    (t,) = tr.update(0, box)
    assert np.allclose(t.box, box[0, :4])
    tr.observe_crops(0, {0: crop(200)})
    (t,) = tr.update(1, box)
    assert np.allclose(t.box, grown)
    # a model without pose scores, and box files: boxes as given
    tr = Tracker()
    tr.update(0, box)
    tr.observe_crops(0, {0: SimpleNamespace(pose_score=None, keypoints=None, scores=None)})
    assert np.allclose(tr.update(1, box)[0].box, box[0, :4])
    exact = Tracker(trust_boxes=True)
    exact.expect_pose_scores()
    assert np.allclose(exact.update(0, box)[0].box, box[0, :4])
    assert np.allclose(Tracker(detection_margin=0.0).update(0, box)[0].box, box[0, :4])


def test_the_stream_tells_the_tracker_when_the_model_gives_pose_scores() -> None:
    from semapose.inference.stream import PoseStream, TrackerAdapter

    told = TrackerAdapter(None)
    PoseStream(SimpleNamespace(pose_scores=True), None, told)
    assert told.tracker._book.pose_model
    heatmaps = TrackerAdapter(None)
    PoseStream(SimpleNamespace(pose_scores=False), None, heatmaps)
    assert not heatmaps.tracker._book.pose_model


def test_a_shrunken_crop_is_reanchored_by_the_detection_that_holds_it() -> None:
    tr = Tracker(detection_margin=0.0)
    tr.update(0, np.array([det(200)]))
    tr.observe_crops(0, {0: crop(200)})
    # the pose shrinks to the upper body (legs cut off): the crop box is a small part of
    # the person, IoU with the person's full detection below the matching threshold
    tr.update(1, None)
    tr.observe_crops(1, {0: crop(200, h=80, cy=230)})
    tracks = tr.update(2, np.array([det(200, w=160, h=300)]))
    assert [t.track_id for t in tracks] == [0]  # the same person: no second track
    assert tracks[0].source == "detection"


def test_a_person_in_doubt_takes_the_detection_where_they_reappear() -> None:
    tr = Tracker(detection_margin=0.0, patience=0, max_occluded=30)
    tr.update(0, np.array([det(200), det(240)]))
    tr.observe_crops(0, {0: crop(200), 1: crop(240)})
    # person 1 walks behind person 0: their crop shows person 0 (a duplicate pose)
    for f in range(1, 4):
        tracks = tr.update(f, None)
        tr.observe_crops(f, {0: crop(200), 1: crop(200)})
    assert _shown(tr, 3, tracks) == {0: True, 1: False}  # hidden, id kept
    # they walk out on the other side; the detector finds them there
    tracks = tr.update(4, np.array([det(200), det(140)]))
    assert sorted(t.track_id for t in tracks) == [0, 1]  # their own id, no new one
    (back,) = [t for t in tracks if t.track_id == 1]
    assert back.source == "detection" and abs((back.box[0] + back.box[2]) / 2 - 140) < 1
    tr.observe_crops(4, {0: crop(200), 1: crop(140)})
    assert _shown(tr, 4, tracks) == {0: True, 1: True}


def test_an_unsure_pose_is_shown_while_the_detector_boxes_the_person() -> None:
    tr = Tracker(detection_margin=0.0, patience=0)
    tr.update(0, np.array([det(200), det(500)]))
    tr.observe_crops(0, {0: crop(200), 1: crop(500)})
    # small and blurred: the pose model is unsure (0.2) while the detector boxes them
    tracks = tr.update(1, np.array([det(200), det(500)]))
    tr.observe_crops(1, {0: crop(200), 1: crop(500, score=0.2)})
    assert _shown(tr, 1, tracks) == {0: True, 1: True}  # own pose, scores as the model gave
    # without a detection the unsure person is in doubt (here: lost, patience 0)
    tracks = tr.update(2, None)
    unsure = {0: crop(200), 1: crop(500, score=0.2)}
    tr.observe_crops(2, {t.track_id: unsure[t.track_id] for t in tracks})
    assert _shown(tr, 2, tracks) == {0: True}
    # an unsure pose that is someone else's stays hidden even with a detection
    tr = Tracker(detection_margin=0.0, patience=0)
    tr.update(0, np.array([det(200), det(260)]))
    tr.observe_crops(0, {0: crop(200), 1: crop(260)})
    tracks = tr.update(1, np.array([det(200), det(260)]))
    tr.observe_crops(1, {0: crop(200), 1: crop(200, score=0.2)})
    assert _shown(tr, 1, tracks) == {0: True, 1: False}


@pytest.mark.parametrize("every", [5, 10])
def test_requests_do_not_put_off_the_periodic_full_detection(every: int) -> None:
    sched = DetectionSchedule(every=every)
    # someone is in doubt: requests every min_gap frames after frame 0
    doubt = SimpleNamespace(pose_tracked=True, needs_detection=True, last_detection_frame=0)
    reasons = {}
    for f in range(1, 3 * every + 1):
        reasons[f] = sched.reason(f, doubt)
        if reasons[f] is not None:
            doubt.last_detection_frame = f
    assert [f for f, r in reasons.items() if r == "full"] == [every, 2 * every, 3 * every]
    assert all(r == "request" for f, r in reasons.items() if r and f % every)


def test_followed_crops_keep_the_person_size_when_far_joints_fade() -> None:
    tr = Tracker(detection_margin=0.0)
    (t,) = tr.update(0, np.array([det(200, w=100, h=300)]))
    h0 = t.box[3] - t.box[1]
    tr.observe_crops(0, {0: crop(200, h=250)})
    heights = []
    for f in range(1, 5):  # the legs score low: each pose covers only the upper body
        (t,) = tr.update(f, None)
        heights.append(float(t.box[3] - t.box[1]))
        tr.observe_crops(f, {0: crop(200, h=180, cy=260)})
    # the crop shrinks by at most 10 % a frame (and never through the corners' velocity:
    # the detector box -> pose box change is no motion)
    assert all(b >= 0.9 * a - 1e-6 for a, b in zip([h0, *heights], heights, strict=False))
    assert heights[-1] > 0.6 * h0
