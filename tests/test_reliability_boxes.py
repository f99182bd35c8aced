"""Box files that do not fit the input (issues 16 and 18): refused with exit 2 naming
the file and the mismatch, never an empty or mixed-up result with exit 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_helpers import predict_argv
from semapose.data.boxes import load_boxes
from semapose.errors import InputError
from semapose.inference.detectors.boxfile import BoxFileDetector

pytest.importorskip("torch")

from semapose.cli import main  # noqa: E402
from semapose.inference.stream import make_detector  # noqa: E402


def _write(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(items))
    return path


def _ids(video: int, frames: range, boxes: int = 1) -> list[dict[str, Any]]:
    """mmpose layout with PoseTrack image ids (1VVVVVVFFFF)."""
    return [
        {"image_id": 10_000_000_000 + video * 10_000 + f, "bbox": [10, 10, 20, 40], "score": 0.9}
        for f in frames
        for _ in range(boxes)
    ]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from test_predict_helpers import make_video, save_checkpoint, tiny_cfg

    root = tmp_path_factory.mktemp("boxes")
    return {
        "ckpt": save_checkpoint(root / "tiny.safetensors", tiny_cfg()),
        "walk": make_video(root / "walk.mp4", 4),
        "seq": make_video(root / "000342_mpii_test.mp4", 4),
    }


def _predict(work: dict[str, Path], tmp: Path, source: Path, boxes: Path) -> list[str]:
    return predict_argv(source, tmp / "out", work["ckpt"], "--boxes", str(boxes))


def _one_line(capsys: Any, argv: list[str], *needles: str) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "expected" in lines[0], err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# ----------------------------------------------------------------------------- scores


@pytest.mark.parametrize("score", [1e300, -1e300, 3.5e38, 1e31])
def test_score_beyond_float32_is_refused(tmp_path: Path, score: float) -> None:
    path = _write(tmp_path / "b.json", [{"image_id": 0, "bbox": [0, 0, 5, 5], "score": score}])
    with pytest.raises(InputError, match=r"b\.json: \[0\]\.score: expected a score within"):
        load_boxes(path)


def test_ordinary_scores_and_logits_load(tmp_path: Path) -> None:
    items = [{"image_id": 0, "bbox": [0, 0, 5, 5], "score": s} for s in (0.3, 250.0, 12.0)]
    det = BoxFileDetector.from_file(_write(tmp_path / "b.json", items))
    assert np.isfinite(det.detect(None, 0)).all() and len(det.detect(None, 0)) == 3


def test_predict_with_a_huge_score_exits_2(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    boxes = _write(tmp_path / "b.json", [{"image_id": 1, "bbox": [0, 0, 5, 5], "score": 1e300}])
    _one_line(capsys, _predict(work, tmp_path, work["walk"], boxes), "b.json", "[0].score")


# ----------------------------------------------------------------------------- past the end


def test_boxes_only_past_the_end_of_the_video_exit_2(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    items = [{"image_id": f, "bbox": [10, 10, 20, 40], "score": 0.9} for f in range(10, 20)]
    boxes = _write(tmp_path / "late.json", items)
    line = _one_line(capsys, _predict(work, tmp_path, work["walk"], boxes), "late.json")
    assert "frames 0-3 of walk (4 frames" in line and "past its end, from frame 10" in line
    assert not (tmp_path / "out" / "posetrack" / "walk.json").exists()


def test_boxes_past_the_end_beside_boxes_inside_are_ignored(
    work: dict[str, Path], tmp_path: Path
) -> None:
    items = [{"image_id": f, "bbox": [10, 10, 20, 40], "score": 0.9} for f in range(6)]
    det = make_detector(_write(tmp_path / "b.json", items), source=work["walk"])
    assert det.frame_indices == [0, 1, 2, 3]


def test_frame_folder_boxes_only_past_the_end(tmp_path: Path) -> None:
    names = [f"{i:06d}.jpg" for i in range(3)]
    items = [{"image_id": 7, "bbox": [0, 0, 5, 5], "score": 0.5}]
    with pytest.raises(InputError, match=r"frames 0-2 of clip \(3 frames"):
        BoxFileDetector.from_file(
            _write(tmp_path / "b.json", items), frame_names=names, input_name="clip"
        )


# ----------------------------------------------------------------------------- another input


def test_a_file_of_several_other_sequences_is_refused(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    """The practitioner's case: PoseTrack's detections of many sequences given for one video
    used to be merged by frame number (265 people in frame 0)."""
    items = _ids(342, range(4)) + _ids(9473, range(4)) + _ids(12834, range(4))
    boxes = _write(tmp_path / "all.json", items)
    line = _one_line(capsys, _predict(work, tmp_path, work["walk"], boxes), "all.json")
    assert "3 sequences: 000342, 009473, 012834" in line and "(walk)" in line


def test_a_file_of_several_sequences_serves_the_one_named_like_the_input(
    work: dict[str, Path], tmp_path: Path
) -> None:
    items = _ids(342, range(4), boxes=2) + _ids(9473, range(4), boxes=5)
    det = make_detector(_write(tmp_path / "all.json", items), source=work["seq"])
    assert det.frame_indices == [0, 1, 2, 3]
    assert all(len(det.detect(None, f)) == 2 for f in range(4))


def test_frame_names_of_another_folder_are_refused(tmp_path: Path, capsys: Any) -> None:
    import cv2

    folder = tmp_path / "clip"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:06d}.jpg"), np.zeros((48, 64, 3), np.uint8))
    items = [
        {"image_name": "images/val/clip/000001.jpg", "bbox": [1, 1, 9, 9], "score": 0.9},
        {"image_name": "images/val/clip/000120.jpg", "bbox": [1, 1, 9, 9], "score": 0.9},
    ]
    with pytest.raises(InputError) as info:
        make_detector(_write(tmp_path / "pw.json", items), source=folder)
    msg = str(info.value)
    assert "pw.json: [1].image_name: expected a frame of clip (3 frames, 000000.jpg ... " in msg
    assert "000120.jpg" in msg


def test_frame_names_follow_the_folders_real_frame_order(tmp_path: Path) -> None:
    """Boxes by file name land on the frame FrameSource reads at that position
    (2.jpg before 10.jpg), not on a plain string sort's position."""
    import cv2

    from semapose.io.video import FrameSource

    folder = tmp_path / "clip"
    folder.mkdir()
    for name in ("1.jpg", "2.jpg", "10.jpg"):
        cv2.imwrite(str(folder / name), np.zeros((48, 64, 3), np.uint8))
    items = [{"image_name": f"clip/{n}", "bbox": [w, 0, 5, 5], "score": 0.9} for n, w in
             (("1.jpg", 1), ("2.jpg", 2), ("10.jpg", 10))]  # fmt: skip
    det = make_detector(_write(tmp_path / "pw.json", items), source=folder)
    for frame in FrameSource(folder).frames():
        assert det.detect(None, frame.index)[0, 0] == int(frame.name.split(".")[0])
