"""Bounds of issue 24 (round three): people per frame, file sizes counted as read (a
symlink to /dev/zero, a FIFO), decoded pixels, the JPEG header walk, box files of
another PoseTrack video, and detector output that holds no person."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semapose.data.boxes import load_boxes
from semapose.errors import InputError
from semapose.inference.detections import usable_detections
from semapose.inference.detectors.boxfile import BoxFileDetector
from semapose.io.jsonio import read_json
from semapose.limits import MAX_PEOPLE_PER_FRAME

cv2 = pytest.importorskip("cv2")
pytest.importorskip("torch")

from cli_helpers import predict_argv  # noqa: E402
from semapose.cli import main  # noqa: E402


def _write(path: Path, items: Any) -> Path:
    path.write_text(json.dumps(items))
    return path


def _one_line(capsys: Any, argv: list[str], *needles: str) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from test_predict_helpers import make_video, save_checkpoint, tiny_cfg

    root = tmp_path_factory.mktemp("bounds")
    return {
        "ckpt": save_checkpoint(root / "tiny.safetensors", tiny_cfg()),
        "walk": make_video(root / "walk.mp4", 4),
        "seq": make_video(root / "000342_mpii_test.mp4", 4),
    }


# ----------------------------------------------------------------------------- reading


def test_a_symlink_to_dev_zero_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    link = tmp_path / "gt.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"gt\.json: expected a JSON file of at most 1 MiB"):
        read_json(link, limit=1 << 20)


def test_a_fifo_without_writer_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "boxes.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"boxes\.json: expected a JSON file, got 'an empty"):
        read_json(fifo)


def test_boxes_and_evaluate_inputs_that_are_devices_exit_2(
    work: dict[str, Path], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import semapose.io.jsonio as jsonio

    monkeypatch.setattr(jsonio, "MAX_JSON_BYTES", 1 << 20)
    monkeypatch.setattr(jsonio.read_json, "__defaults__", (1 << 20,))
    link = tmp_path / "boxes.json"
    link.symlink_to("/dev/zero")
    argv = predict_argv(work["walk"], tmp_path / "out", work["ckpt"], "--boxes", str(link))
    _one_line(capsys, argv, "boxes.json", "at most 1 MiB")
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "000342_mpii_test.json").symlink_to("/dev/zero")
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "000342_mpii_test.json").write_text('{"images": [], "annotations": []}')
    import semapose.evaluation.poseval_formats as pf

    monkeypatch.setattr(pf, "MAX_FILE_BYTES", 1 << 20)
    argv = ["evaluate", "--gt", str(gt), "--pred", str(pred)]
    _one_line(capsys, argv, "000342_mpii_test.json", "at most 1 MiB")


def test_a_weights_config_of_100000_nested_brackets_is_one_line(tmp_path: Path) -> None:
    from semapose.errors import SemaposeError
    from semapose.inference.loading import load_model

    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    with pytest.raises(SemaposeError, match=r"deep\.json: .*nesting"):
        load_model(path)


# ----------------------------------------------------------------------------- people per frame


def test_a_frame_with_more_boxes_than_people_per_frame_is_refused(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    n = MAX_PEOPLE_PER_FRAME + 1
    items = [{"image_id": 0, "bbox": [i % 100, 5, 20, 40], "score": 0.9} for i in range(n)]
    boxes = _write(tmp_path / "crowd.json", items)
    argv = predict_argv(work["walk"], tmp_path / "out", work["ckpt"], "--boxes", str(boxes))
    _one_line(capsys, argv, "crowd.json", "frame 0", f"at most {MAX_PEOPLE_PER_FRAME} boxes")


def test_detector_output_is_cut_to_the_best_people_per_frame() -> None:
    rng = np.random.default_rng(0)
    n = MAX_PEOPLE_PER_FRAME * 3
    raw = np.column_stack([np.zeros(n), np.zeros(n), np.full(n, 20), np.full(n, 40), rng.random(n)])
    got = usable_detections(raw, 100, 100)
    assert len(got) == MAX_PEOPLE_PER_FRAME
    assert got[:, 4].min() >= np.sort(raw[:, 4])[-MAX_PEOPLE_PER_FRAME]


def test_zero_area_and_out_of_frame_boxes_hold_no_person() -> None:
    raw = [
        [10, 10, 10, 50, 0.9],  # zero width
        [10, 10, 50, 10, 0.9],  # zero height
        [50, 10, 10, 50, 0.9],  # negative width
        [5000, 5000, 5100, 5200, 0.9],  # far outside a 160x120 frame
        [-300, -300, -100, -100, 0.9],  # before it
        [float("nan"), 0, 10, 10, 0.9],
        [-20, -20, 30, 60, 0.8],  # partly inside: kept
    ]
    got = usable_detections(raw, 160, 120)
    assert got.tolist() == [[-20, -20, 30, 60, 0.8]]


def test_predict_writes_no_pose_for_a_zero_area_box(work: dict[str, Path], tmp_path: Path) -> None:
    items = [{"image_id": f, "bbox": [20, 20, 0, 40], "score": 0.9} for f in range(4)]
    items += [{"image_id": f, "bbox": [4000, 4000, 30, 60], "score": 0.9} for f in range(4)]
    boxes = _write(tmp_path / "flat.json", items)
    out = tmp_path / "out"
    assert main(predict_argv(work["walk"], out, work["ckpt"], "--boxes", str(boxes))) == 0
    data = json.loads((out / "posetrack" / "walk.json").read_text())
    assert data["annotations"] == []


@pytest.mark.parametrize("returned", [None, np.zeros((2, 4)), "boxes"])
def test_an_api_detector_of_the_wrong_shape_is_named(returned: Any) -> None:
    """Before: a reshape error (``cannot reshape array of size 8 into shape (5)``)."""
    from semapose.inference.api import PoseEstimator
    from test_predict_helpers import tiny_cfg, tiny_model

    class Mine:
        def detect(self, frame: Any, index: Any = None) -> Any:
            return returned

    cfg = tiny_cfg()
    est = PoseEstimator.from_model(tiny_model(cfg), cfg, "cpu", flip=False)
    frames = [np.zeros((48, 64, 3), np.uint8)] * 2
    with pytest.raises(InputError, match=r"frame 0: expected Mine to return an array of shape"):
        list(est.predict(frames, detector=Mine()))


# ----------------------------------------------------------------------------- box files


def test_a_negative_image_id_is_refused_not_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.json", [{"image_id": -7, "bbox": [0, 0, 5, 5], "score": 0.5}])
    with pytest.raises(InputError, match=r"b\.json: \[0\]\.image_id: expected a non-negative"):
        load_boxes(path)


def test_boxes_of_another_posetrack_video_are_refused(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    items = [
        {"image_id": 10_000_000_000 + 1 * 10_000 + f, "bbox": [10, 10, 20, 40], "score": 0.9}
        for f in range(4)
    ]
    boxes = _write(tmp_path / "other.json", items)
    argv = predict_argv(work["seq"], tmp_path / "out", work["ckpt"], "--boxes", str(boxes))
    _one_line(capsys, argv, "other.json", "000342_mpii_test", "video 000001")
    mine = [dict(it, image_id=it["image_id"] + 341 * 10_000) for it in items]
    det = BoxFileDetector.from_file(
        _write(tmp_path / "mine.json", mine), num_frames=4, input_name="000342_mpii_test"
    )
    assert det.frame_indices == [0, 1, 2, 3]


# ----------------------------------------------------------------------------- pixels


def _jpeg_with_app1_segments(path: Path, segments: int, width: int, height: int) -> Path:
    ok, buf = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))
    data = bytearray(buf.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    app1 = (b"\xff\xe1" + struct.pack(">H", 65535) + b"\0" * 65533) * segments
    path.write_bytes(bytes(data[:2]) + app1 + bytes(data[2:]))
    return path


def test_the_jpeg_size_check_is_not_bypassed_by_app_segments(tmp_path: Path) -> None:
    from semapose.io.video import FrameSource

    folder = tmp_path / "frames"
    folder.mkdir()
    _jpeg_with_app1_segments(folder / "000000.jpg", 70, 30000, 30000)
    with pytest.raises(InputError, match=r"000000\.jpg: frame 0: .*30000x30000"):
        next(iter(FrameSource(folder).frames()))


def test_decoded_pixels_are_checked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A format whose header is not read (TIFF) is checked on what the decoder returns."""
    import semapose.io.image_header as ih
    from semapose.io.video import FrameSource

    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "000000.tiff"), np.zeros((30, 40, 3), np.uint8))
    monkeypatch.setattr(ih, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(InputError, match=r"000000\.tiff: frame 0: .*40x30"):
        next(iter(FrameSource(folder).frames()))
