"""The tracker inside the job: detection schedule with a pose-scoring model, resume with
skipped detections, CSV export beside the JSON files, smoothing of the written keypoints."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_predict_helpers import SIZE, make_video, moving_boxes, tiny_cfg, tiny_model

torch = pytest.importorskip("torch")

from semapose.inference.detectors.boxfile import BoxFileDetector  # noqa: E402
from semapose.inference.job import JobOptions, predict_source  # noqa: E402
from semapose.inference.pipeline import RunnerOptions  # noqa: E402
from semapose.inference.tracking import DetectionSchedule  # noqa: E402


class PoseScoringModel:
    """The tiny model plus BlazePose-like crop outputs: a confident standing pose in the
    middle of every crop (so the tracker follows each person by pose)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def encode_frames(self, x: Any) -> Any:
        return self.model.encode_frames(x)

    def decode_clip(self, feats: Any) -> Any:
        return self.model.decode_clip(feats)

    def encode_with_outputs(self, x: Any) -> dict[str, Any]:
        n, _, h, w = x.shape
        # spread so that the keypoints' box (x1.3) times the crop enlargement (x1.25) is the box
        u = torch.linspace(0.19, 0.81, 17)
        v = torch.linspace(0.19, 0.81, 17)
        kp = torch.stack([u * w, v * h], dim=1).expand(n, 17, 2)
        return {
            "features": self.model.encode_frames(x),
            "pose_score": torch.full((n,), 0.95),
            "keypoints": kp,
            "keypoint_scores": torch.full((n, 17), 0.9),
        }


class CountingDetector:
    def __init__(self, boxes: dict[int, np.ndarray]) -> None:
        self.boxes = boxes
        self.calls: list[int] = []

    def detect(self, frame: np.ndarray, index: int | None = None) -> np.ndarray:
        assert index is not None
        self.calls.append(index)
        return self.boxes.get(index, np.zeros((0, 5)))


@pytest.fixture(scope="module")
def model() -> Any:
    return tiny_model(tiny_cfg())


def _job(out: Path, **kw: Any) -> JobOptions:
    return JobOptions(out_dir=out, progress=False, checkpoint_every=3, write_video=False, **kw)


def _opts() -> RunnerOptions:
    return RunnerOptions(input_size=SIZE, offsets=(-2, -1, 1, 2), flip_test=False)


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_detector_every_k_frames_pose_in_between_and_resume(tmp_path: Path, model: Any) -> None:
    n = 12
    video = make_video(tmp_path / "in" / "walk.mp4", n)
    boxes = {i: b for i, b in moving_boxes(n, 2).items()}
    scoring = PoseScoringModel(model)

    det = CountingDetector(boxes)
    full = predict_source(
        video, scoring, _opts(), det, _job(tmp_path / "a"), schedule=DetectionSchedule(5)
    )
    assert full.status == "done"
    assert det.calls == [0, 5, 10]  # people stay tracked by their pose in between
    doc = json.loads(full.paths.posetrack.read_text())
    ids = {a["track_id"] for a in doc["annotations"]}
    assert ids == {0, 1}
    per_frame = [sum(a["image_id"] == im["id"] for a in doc["annotations"]) for im in doc["images"]]
    # the pose keeps both, also where the detector did not run (the fake model sees a
    # person in every crop, so the second person's leaving in the last 2 frames is not tested)
    assert per_frame[: n - 2] == [2] * (n - 2)

    # stopped after 7 frames and resumed: the schedule is not asked again, the same result
    out = tmp_path / "b"
    det1 = CountingDetector(boxes)
    r1 = predict_source(
        video, scoring, _opts(), det1, _job(out, max_frames=7), schedule=DetectionSchedule(5)
    )
    assert r1.status == "stopped" and det1.calls == [0, 5]
    det2 = CountingDetector(boxes)
    r2 = predict_source(
        video, scoring, _opts(), det2, _job(out, resume=True), schedule=DetectionSchedule(5)
    )
    assert det2.calls == [10]
    a, b = json.loads(r2.paths.posetrack.read_text()), doc
    a.pop("semapose", None), b.pop("semapose", None)
    assert a == b
    assert r2.paths.csv.read_text() == full.paths.csv.read_text()


def test_csv_beside_the_json_files_and_smoothing(tmp_path: Path, model: Any) -> None:
    n = 8
    video = make_video(tmp_path / "in" / "walk.mp4", n)
    boxes = moving_boxes(n, 2)
    raw = predict_source(video, model, _opts(), BoxFileDetector(boxes), _job(tmp_path / "raw"))
    rows = _csv(raw.paths.csv)
    assert raw.paths.csv == tmp_path / "raw" / "csv" / "walk.csv"
    people = sum(len(b) for b in boxes.values())
    assert len(rows) == people * 17  # one row per frame, person and joint
    head = ["frame", "file_name", "track_id", "joint", "joint_name", "x", "y", "score"]
    assert list(rows[0])[:8] == head
    doc = json.loads(raw.paths.posetrack.read_text())
    ann = doc["annotations"][0]
    first = [r for r in rows if r["frame"] == "0" and r["track_id"] == str(ann["track_id"])]
    assert [r["joint_name"] for r in first][:3] == ["nose", "head_bottom", "head_top"]
    kp = np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)
    got = np.array([[float(r["x"]), float(r["y"]), float(r["score"])] for r in first])
    assert np.allclose(got, kp, atol=2e-3)

    sm = predict_source(
        video,
        model,
        _opts(),
        BoxFileDetector(boxes),
        _job(tmp_path / "sm", smooth=True),
    )
    srows = _csv(sm.paths.csv)
    assert len(srows) == len(rows)
    # frame 0 starts the filter (unchanged); later frames are pulled towards the past
    same0 = [r["x"] == s["x"] for r, s in zip(rows, srows, strict=True) if r["frame"] == "0"]
    later = [r["x"] != s["x"] for r, s in zip(rows, srows, strict=True) if r["frame"] == "5"]
    assert all(same0) and any(later)
    sdoc = json.loads(sm.paths.posetrack.read_text())
    skp = np.asarray(sdoc["annotations"][-1]["keypoints"], dtype=float).reshape(-1, 3)
    last = [r for r in srows if r["frame"] == str(n - 1)][:17]
    assert np.allclose([float(r["x"]) for r in last], skp[:, 0], atol=2e-3)


def test_messages_and_printing() -> None:
    from semapose.commands.predict import DEFAULT_DETECT_EVERY
    from semapose.inference import tracking as tracker
    from semapose.inference.results import CropOutput, FramePoses, PersonPose

    assert DEFAULT_DETECT_EVERY == tracker.DEFAULT_DETECT_EVERY
    box, kp = np.array([1.0, 2, 3, 4]), np.zeros((17, 2))
    p = PersonPose(np.int64(2), box, np.float64(0.9), kp, np.full(17, 0.5))
    text = repr(FramePoses(0, [p], np.zeros((4, 6, 3), np.uint8)))
    assert "np." not in text and "array(" not in text
    assert "track_id=2" in text and "box_score=0.900" in text and "image=<4x6x3>" in text
    assert "np." not in repr(CropOutput(np.int64(1), np.float32(0.5)))


def test_mistyped_flag_or_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    from semapose.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["predict", "v.mp4", "--out", "o", "--detect-evry", "3"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: semapose predict" in err
    assert "did you mean: --detect-evry -> --detect-every?" in err
    with pytest.raises(SystemExit):
        main(["predcit", "v.mp4"])
    assert "did you mean 'predict'?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict", "v.mp4", "--out", "o", "--zzzzzz"])
    assert "did you mean" not in capsys.readouterr().err  # nothing close: no guess
