"""`predict --landmarks 33`: BlazePose's 33 landmarks beside the 17 joints (issue 25)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from blazepose_helpers import tflite_file
from test_predict_helpers import tiny_cfg, tiny_model

torch = pytest.importorskip("torch")

from semapose.errors import InputError  # noqa: E402
from semapose.inference.loading import LoadedModel  # noqa: E402
from semapose.inference.predictor import Predictor  # noqa: E402
from semapose.inference.results import FramePoses, PersonPose  # noqa: E402
from semapose.keypoints import BLAZEPOSE_KEYPOINTS, BLAZEPOSE_SKELETON  # noqa: E402


def test_landmarks_in_json_and_csv_rows(tmp_path: Path) -> None:
    from semapose.inference.outputs import posetrack_document
    from semapose.io.csv_out import write_csv

    lm = np.column_stack([np.arange(33.0), np.arange(33.0) * 2, np.full(33, 0.8), np.ones(33)])
    p = PersonPose(0, np.array([0, 0, 50, 90.0]), 0.9, np.zeros((17, 2)), np.ones(17), False, lm)
    frame = FramePoses(0, [p])
    back = FramePoses.from_json(json.loads(json.dumps(frame.to_json()))).persons[0]
    assert back.landmarks is not None and np.allclose(back.landmarks, lm)
    ann = posetrack_document([frame], tmp_path / "v.mp4", "v")["annotations"][0]
    assert len(ann["landmarks"]) == 33 * 4 and ann["landmarks"][4:8] == [1.0, 2.0, 0.8, 1.0]
    write_csv(tmp_path / "v.csv", [frame])
    with open(tmp_path / "v.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    joints = [r for r in rows if r["kind"] == "joint"]
    marks = [r for r in rows if r["kind"] == "landmark"]
    assert len(joints) == 17 and len(marks) == 33
    heel = next(r for r in marks if r["joint_name"] == "left_heel")
    assert heel["joint"] == str(BLAZEPOSE_KEYPOINTS.index("left_heel"))
    assert heel["visibility"] == "0.8" and heel["presence"] == "1" and heel["score"] == ""
    assert all(a < 33 and b < 33 for a, b in BLAZEPOSE_SKELETON)


def test_models_without_landmarks_refuse_the_option() -> None:
    cfg = tiny_cfg()
    loaded = LoadedModel(tiny_model(cfg), cfg, True, "tiny")
    with pytest.raises(InputError, match="--landmarks 33"):
        Predictor.from_loaded(loaded, "cpu", landmarks=True)


class Boxes:
    """The two men of two_people_72f's first frames (x1, y1, x2, y2, score at 1080p)."""

    def detect(self, frame: np.ndarray, index: int | None = None) -> np.ndarray:
        return np.array([[903.5, 251.8, 1119.0, 894.0, 0.99], [631.1, 270.3, 840.5, 923.0, 0.98]])


def test_blazepose_temporal_gives_33_landmarks_of_the_same_crop(
    tmp_path: Path, shared_data: Path
) -> None:
    tflite_file()  # skips without the cached BlazePose weights
    from semapose.inference.job import JobOptions, predict_source
    from semapose.io.video import FrameSource, VideoWriter

    clip = shared_data / "videos" / "two_people_72f.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is missing")
    video = tmp_path / "two.mp4"
    with VideoWriter(video, fps=25) as writer:
        for frame in FrameSource(clip).frames():
            writer.write(frame.image)
            if frame.index == 3:
                break
    predictor = Predictor.create(None, "cpu", flip=False, landmarks=True)
    assert predictor.options.landmarks and predictor.options.offsets  # the temporal model
    job = JobOptions(out_dir=tmp_path / "out", write_video=True, progress=False)
    seen: list[Any] = []
    r = predict_source(
        video, predictor.loaded.model, predictor.options, Boxes(), job, on_frames=seen.extend
    )
    assert r.status == "done"
    persons = [p for f in seen for p in f.persons]
    assert persons and all(p.landmarks is not None for p in persons)
    assert all(p.landmarks.shape == (33, 4) for p in persons)
    heel, ankle = BLAZEPOSE_KEYPOINTS.index("left_heel"), BLAZEPOSE_KEYPOINTS.index("left_ankle")
    for p in persons:  # image pixels, where this person stands (both men are in full view)
        x, y, w, h = p.box
        lm = p.landmarks
        assert np.all((lm[:, 2:] >= 0) & (lm[:, 2:] <= 1))
        # (the box is the tracker's: the detector's box grown 10 % per side, issue 22)
        assert x - 0.2 * w < lm[heel, 0] < x + 1.2 * w and lm[heel, 1] > y + 0.75 * h
        # the shared joints are near BlazePose's own (the 17 come from our temporal head)
        assert abs(lm[ankle, 1] - p.joint("left_ankle")[1]) < 0.1 * h
    doc = json.loads(r.paths.posetrack.read_text())
    assert all(len(a["landmarks"]) == 132 for a in doc["annotations"])
    assert r.paths.video.is_file()
