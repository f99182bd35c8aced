"""MediaPipe's BlazePose person detector in PyTorch: sparse weights, the network, the merge."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from semapose.inference.detectors.blazepose_det import (
    BlazePosePersonDetector,
    MergedPersonDetector,
    pose_detector_anchors,
)


def _model_file() -> Path | None:
    from semapose.weights.assets import cached_asset

    return cached_asset("blazepose_detector")


MODEL = _model_file()
needs_model = pytest.mark.skipif(
    MODEL is None, reason="blazepose_detector not cached (run `semapose fetch blazepose_detector`)"
)
HAS_LITERT = importlib.util.find_spec("ai_edge_litert") is not None


def test_anchors_follow_mediapipe_layout() -> None:
    a = pose_detector_anchors()
    assert a.shape == (2254, 2)
    assert a[0].tolist() == pytest.approx([0.5 / 28, 0.5 / 28]) and a[1].tolist() == a[0].tolist()
    assert a[1568].tolist() == pytest.approx([0.5 / 14, 0.5 / 14])
    assert a[-1].tolist() == pytest.approx([6.5 / 7, 6.5 / 7])


def test_merge_adds_only_people_the_first_source_misses() -> None:
    class Fixed:
        def __init__(self, boxes: list[list[float]]) -> None:
            self.boxes = np.array(boxes, np.float32).reshape(-1, 5)

        def detect(self, frame: np.ndarray, index: int | None = None) -> np.ndarray:
            return self.boxes

    first = Fixed([[0, 0, 100, 200, 0.6]])
    second = Fixed([[10, 10, 90, 190, 0.9], [300, 0, 380, 200, 0.7], [40, 50, 60, 150, 0.8]])
    got = MergedPersonDetector(first, second).detect(np.zeros((10, 10, 3), np.uint8))
    # the overlapping box and the one centred inside SSDLite's box are dropped
    np.testing.assert_allclose(got, [[300, 0, 380, 200, 0.7], [0, 0, 100, 200, 0.6]], rtol=1e-6)
    assert MergedPersonDetector(Fixed([]), Fixed([])).detect(np.zeros((4, 4, 3))).shape == (0, 5)


@needs_model
@pytest.mark.skipif(not HAS_LITERT, reason="ai-edge-litert (dev extra) not installed")
def test_equal_to_litert() -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from semapose.inference.detectors.tflite_net import build_tflite_net
    from semapose.weights.tflite import read_tflite

    model = read_tflite(MODEL)
    # the block-sparse weights, densified by our reader, equal the runtime's DENSIFY
    it = Interpreter(
        model_path=str(MODEL),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    it.allocate_tensors()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    dens = [op for op in model.operators if op.opcode == "DENSIFY"]
    assert len(dens) == 38
    for op in dens:
        np.testing.assert_array_equal(model.constant(op.outputs[0]), it.get_tensor(op.outputs[0]))
    net = build_tflite_net(model)
    with torch.no_grad():
        ours = net(torch.from_numpy(x).permute(0, 3, 1, 2))
        traced = torch.jit.trace(net, torch.from_numpy(x).permute(0, 3, 1, 2))
    for d, o in zip(it.get_output_details(), ours, strict=True):
        ref = it.get_tensor(d["index"])
        np.testing.assert_allclose(o.numpy(), ref, atol=1e-3 * max(1.0, np.abs(ref).max()))
    assert len(traced(torch.zeros(2, 3, 224, 224))) == 2


@needs_model
def test_finds_both_people_of_a_real_frame(shared_data: Path) -> None:
    from semapose.io.video import FrameSource

    frame = next(
        f.image
        for f in FrameSource(shared_data / "videos" / "two_people_72f.mp4").frames()
        if f.index == 0
    )
    boxes = BlazePosePersonDetector().detect(frame)
    assert boxes.dtype == np.float32 and boxes.shape[1] == 5 and len(boxes) >= 2
    assert np.all(boxes[:, 4] >= 0.5) and np.all(np.diff(boxes[:, 4]) <= 0)
    assert BlazePosePersonDetector().detect(np.zeros((240, 320, 3), np.uint8)).shape == (0, 5)
