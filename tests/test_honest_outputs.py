"""Honest outputs (issue 25): hidden persons flagged in the API, JSON, CSV and drawn
differently; plain numbers in printed results; vid_id named after the input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from semapose.inference.results import FramePoses, PersonPose
from semapose.inference.tracking import Tracker
from test_track_pose import crop, det, frame_of


def _person(track_id: int, x: float, hidden: bool = False) -> PersonPose:
    kp = np.stack([np.full(17, x) + np.arange(17) * 3.0, 40.0 + np.arange(17) * 8.0], axis=1)
    scores = np.zeros(17) if hidden else np.full(17, 0.9)
    return PersonPose(track_id, np.array([x - 20, 20.0, 80.0, 170.0]), 0.8, kp, scores, hidden)


def test_tracker_flags_the_hidden_person() -> None:
    tr = Tracker(patience=0, max_occluded=5)
    tr.update(0, np.array([det(200), det(250)]))
    tr.observe_crops(0, {0: crop(200), 1: crop(250)})
    tracks = tr.update(1, None)
    tr.observe_crops(1, {0: crop(200), 1: crop(200, score=0.1)})
    persons = tr.select([frame_of(1, tracks)])[0].persons
    assert [(p.track_id, p.hidden) for p in persons] == [(0, False), (1, True)]
    assert float(persons[1].scores.max()) == 0.0
    assert "hidden=True" in repr(persons[1]) and "hidden" not in repr(persons[0])


def test_hidden_flag_round_trips_and_reaches_every_file(tmp_path: Path) -> None:
    from semapose.inference.outputs import coco_results, posetrack_document
    from semapose.io.csv_out import write_csv

    frames = [FramePoses(0, [_person(0, 60), _person(1, 150, hidden=True)])]
    back = FramePoses.from_json(json.loads(json.dumps(frames[0].to_json())))
    assert [p.hidden for p in back.persons] == [False, True]
    assert "hidden" not in frames[0].to_json()["persons"][0]  # the JSONL stays compact

    doc = posetrack_document(frames, tmp_path / "walk.mp4", "walk")
    assert [a["hidden"] for a in doc["annotations"]] == [False, True]
    assert doc["images"][0]["vid_id"] == "walk"  # not "0": the input's name
    assert [r["hidden"] for r in coco_results(frames, "walk")] == [False, True]

    write_csv(tmp_path / "walk.csv", frames)
    with open(tmp_path / "walk.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["track_id"], r["hidden"]) for r in rows} == {("0", "0"), ("1", "1")}
    assert {r["kind"] for r in rows} == {"joint"}


def test_hidden_person_drawn_dashed_without_skeleton_or_not_at_all() -> None:
    from semapose.inference.outputs import draw_frame
    from semapose.viz.draw import track_color

    image = np.zeros((220, 260, 3), np.uint8)
    hidden = _person(1, 150, hidden=True)
    hidden.scores = np.full(17, 0.9)  # even with scores, a hidden person gets no skeleton
    out = draw_frame(image, [hidden])
    color = np.array(track_color(1))
    x, y, w, h = (int(v) for v in hidden.box)
    top = (np.abs(out[y, x : x + w].astype(int) - color).sum(axis=1) < 60).mean()
    assert 0.2 < top < 0.8  # dashed: some of the top edge, not all of it
    inside = out[y + 5 : y + h - 30, x + 5 : x + w - 5]  # (the label sits at the foot)
    assert inside.max() == 0  # no skeleton inside the box
    assert draw_frame(image, [hidden], draw_hidden=False).max() == 0
    shown = draw_frame(image, [_person(0, 60)])
    assert shown.max() > 0


def test_draw_threshold_hides_weak_joints() -> None:
    from semapose.inference.outputs import draw_frame

    image = np.zeros((220, 260, 3), np.uint8)
    p = _person(0, 100)
    p.scores = np.full(17, 0.5)
    p.box = np.array([0.0, 0.0, 0.0, 0.0])
    assert draw_frame(image, [p], threshold=0.4)[60:, :].max() > 0
    assert draw_frame(image, [p], threshold=0.6)[60:, :].max() == 0


def test_joint_and_printed_values_are_plain_numbers() -> None:
    p = _person(3, 60)
    x, y, s = p.joint("nose")
    assert all(type(v) is float for v in (x, y, s))
    assert p.joint(0) == (x, y, s)
    assert "np.float64" not in repr(p) and "np." not in repr(FramePoses(0, [p]))
    with pytest.raises(KeyError, match="left_heel"):
        p.joint("left_heel")


@pytest.mark.parametrize("doc", ["README.md", "docs/predict.md"])
def test_api_example_prints_no_numpy_reprs(doc: str) -> None:
    import re

    text = (Path(__file__).resolve().parents[1] / doc).read_text(encoding="utf-8")
    code = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert code is not None
    # what the example prints comes from plain-float accessors, never raw numpy elements
    assert "person.keypoints[" not in code.group(1) and "person.scores[" not in code.group(1)
