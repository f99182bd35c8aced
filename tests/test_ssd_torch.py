"""SSDLite in PyTorch: the frozen-graph reader, the module, torch NMS, and equality with cv2.dnn."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from semapose.errors import CheckpointError
from semapose.inference.detectors import nms
from semapose.inference.detectors.torch_nms import batched_nms
from semapose.weights.tf_graph import read_tf_graph
from ssd_reference import cv2_dnn_available
from test_predict_helpers import NO_SSDLITE, ssdlite_available

HAS_SSDLITE = ssdlite_available()
needs_graph = pytest.mark.skipif(not HAS_SSDLITE, reason=NO_SSDLITE)


@pytest.fixture(scope="module")
def graph_path() -> Path:
    from semapose.inference.detectors.ssdlite import ssdlite_graph_path

    return ssdlite_graph_path(progress=False)


@pytest.fixture(scope="module")
def net(graph_path: Path):  # noqa: ANN201
    from semapose.inference.detectors.ssd_net import build_ssdlite_net

    return build_ssdlite_net(read_tf_graph(graph_path))


# ------------------------------------------------------------------ the reader
@needs_graph
def test_graph_inventory(graph_path: Path) -> None:
    g = read_tf_graph(graph_path)
    counts = Counter(n.op for n in g.nodes)
    assert len(g.nodes) == 2790
    assert counts["Conv2D"] == 55 and counts["DepthwiseConv2dNative"] == 33
    assert counts["FusedBatchNorm"] == 76 and counts["Placeholder"] == 1
    first = g.node("FeatureExtractor/MobilenetV2/Conv/Conv2D")
    assert first.attrs["padding"] == "SAME" and first.attrs["strides"] == [1, 2, 2, 1]
    w = g.constant(first.inputs[1])
    assert w.shape == (3, 3, 3, 32) and w.dtype == np.float32 and w.std() > 0
    assert g.node("image_tensor").attrs["shape"] == (-1, -1, -1, 3)
    assert g.constant("Preprocessor/mul/x") == pytest.approx(2 / 255)


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _const_node(name: str, content: bytes, dims: list[int]) -> bytes:
    shape = b"".join(_field(2, _varint(1 << 3) + _varint(d)) for d in dims)
    tensor = _varint(1 << 3) + _varint(1) + _field(2, shape) + _field(4, content)
    attr = _field(1, b"value") + _field(2, _field(8, tensor))
    return _field(1, _field(1, name.encode()) + _field(2, b"Const") + _field(5, attr))


def test_reader_on_a_hand_made_graph(tmp_path: Path) -> None:
    data = struct.pack("<3f", 1.0, 2.0, 3.0)
    p = tmp_path / "g.pb"
    p.write_bytes(_const_node("c", data, [3]))
    g = read_tf_graph(p)
    assert g.constant("c").tolist() == [1.0, 2.0, 3.0]
    assert g.node("c:0").op == "Const"


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"", "no nodes"),
        (b"\x0a\xff\xff\xff\xff\x0f", "overrun"),  # a length far beyond the file
        (b"\x0a\x05abc", "overrun"),
        (b"\x0b", "wire type 3"),  # group start: not in a GraphDef
        (b"\x0a" + b"\xff" * 11, "varint"),
        (b"\x00\x01", "field number 0"),
        (_const_node("c", b"\x00" * 7, [3]), "tensor_content of 7 bytes"),
        (_const_node("c", b"", [1 << 20, 1 << 20]), "too large"),
        (_field(1, _field(1, b"x")), "without an op"),
        (_const_node("c", b"\0" * 4, [1]) * 2, "share a name"),
    ],
)
def test_reader_rejects_hostile_files_in_one_line(
    tmp_path: Path, payload: bytes, match: str
) -> None:
    p = tmp_path / "bad.pb"
    p.write_bytes(payload)
    with pytest.raises(CheckpointError, match=match) as info:
        read_tf_graph(p)
    assert "\n" not in str(info.value) and str(p) in str(info.value)


@needs_graph
def test_reader_truncations_and_flips_are_checkpoint_errors(
    graph_path: Path, tmp_path: Path
) -> None:
    data = graph_path.read_bytes()
    rng = np.random.default_rng(0)
    p = tmp_path / "cut.pb"
    for cut in [1, 2, 7, 100, 5000, len(data) // 2, len(data) - 3]:
        p.write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            read_tf_graph(p)
    for _ in range(5):  # random bytes replaced near the start: an error or a graph, no crash
        buf = bytearray(data[:20000])
        for i in rng.integers(0, len(buf), 20):
            buf[i] = int(rng.integers(0, 256))
        p.write_bytes(bytes(buf))
        try:
            read_tf_graph(p)
        except CheckpointError as exc:
            assert "\n" not in str(exc)


def test_reader_refuses_to_expand_a_tiny_constant_into_gigabytes(tmp_path: Path) -> None:
    shape = b"".join(_field(2, _varint(1 << 3) + _varint(d)) for d in (1 << 14, 1 << 14))
    tensor = _varint(1 << 3) + _varint(1) + _field(2, shape) + _field(5, struct.pack("<f", 1.0))
    attr = _field(1, b"value") + _field(2, _field(8, tensor))
    p = tmp_path / "bomb.pb"
    p.write_bytes(_field(1, _field(1, b"c") + _field(2, b"Const") + _field(5, attr)))
    assert p.stat().st_size < 64
    with pytest.raises(CheckpointError, match="without tensor_content"):
        read_tf_graph(p)


def test_reader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot read"):
        read_tf_graph(tmp_path / "nope.pb")


# ------------------------------------------------------------------ torch NMS
def test_batched_nms_equals_the_greedy_loop() -> None:
    rng = np.random.default_rng(1)
    for trial in range(20):
        n = int(rng.integers(0, 40))
        xy = rng.uniform(0, 100, (2, n, 2))
        wh = rng.uniform(5, 40, (2, n, 2))
        boxes = np.concatenate([xy, xy + wh], -1)
        scores = rng.uniform(0, 1, (2, n)).round(2)  # ties on purpose
        idx = batched_nms(torch.tensor(boxes), torch.tensor(scores), 0.4)
        for b in range(2):
            kept = idx[b][idx[b] >= 0].numpy()
            got = np.concatenate([boxes[b][kept], scores[b][kept, None]], 1)
            want = nms(np.concatenate([boxes[b], scores[b][:, None]], 1), 0.4)
            np.testing.assert_allclose(got, want, atol=1e-4, err_msg=f"trial {trial}")


def test_batched_nms_valid_mask_and_top_k() -> None:
    boxes = torch.tensor([[[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [40, 0, 50, 9]]])
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6]])
    valid = torch.tensor([[False, True, True, True]])
    idx = batched_nms(boxes.float(), scores, 0.5, valid=valid, top_k=2)
    assert idx.tolist() == [[1, 2]]  # box 0 invalid cannot suppress box 1; top 2 only


# ------------------------------------------------------------------ the module
@needs_graph
def test_module_shapes_anchors_and_trace(net) -> None:  # noqa: ANN001
    assert net.anchors.shape == (1917, 4)  # 19*19*3 + (10*10 + 5*5 + 3*3 + 2*2 + 1) * 6
    first = net.anchors[:3]
    assert first[:, 0].tolist() == pytest.approx([0.5 / 19] * 3)
    assert first[:, 2].tolist() == pytest.approx([0.1, 0.2 / 2**0.5, 0.2 * 2**0.5], rel=1e-5)
    assert net.anchors[-1, 2:].tolist() == pytest.approx([(0.95 * 1.0) ** 0.5] * 2, rel=1e-5)
    x = torch.randint(0, 256, (2, 3, 300, 300), dtype=torch.uint8)
    with torch.no_grad():
        boxes, scores = net(x)
        traced = torch.jit.trace(net, x.float())
        b2, s2 = traced(x.float().flip(0))
    assert boxes.shape == (2, 1917, 4) and scores.shape == (2, 1917)
    assert ((scores >= 0) & (scores <= 1)).all()
    torch.testing.assert_close(b2.flip(0), boxes, atol=1e-5, rtol=0)


@needs_graph
def test_onnx_export_matches(net, tmp_path: Path) -> None:  # noqa: ANN001
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    x = torch.rand(2, 3, 300, 300) * 255
    path = tmp_path / "ssdlite.onnx"
    torch.onnx.export(
        net,
        (x,),
        str(path),
        input_names=["images"],
        output_names=["boxes", "scores"],
        dynamic_axes={"images": {0: "batch"}, "boxes": {0: "batch"}, "scores": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = torch.rand(3, 3, 300, 300) * 255
    got = sess.run(None, {"images": y.numpy()})
    with torch.no_grad():
        want = net(y)
    np.testing.assert_allclose(got[0], want[0].numpy(), atol=1e-4)
    np.testing.assert_allclose(got[1], want[1].numpy(), atol=1e-4)


def _real_frames(shared: Path) -> list[tuple[str, np.ndarray]]:
    import cv2

    from semapose.io.video import FrameSource

    out = []
    for seq in sorted((shared / "posetrack18_sample" / "images" / "val").glob("*")):
        for name in ("000000.jpg", "000040.jpg"):
            if (seq / name).is_file():
                img = cv2.imread(str(seq / name))[:, :, ::-1]
                out.append((f"{seq.name}/{name}", np.ascontiguousarray(img)))
    for clip, frames in (("basketball_300f", (0, 135)), ("street_pedestrians_5f", (0, 2))):
        path = shared / "videos" / f"{clip}.mp4"
        if path.is_file():
            for f in FrameSource(path).frames():
                if f.index in frames:
                    out.append((f"{clip}#{f.index}", np.ascontiguousarray(f.image)))
    return out


@needs_graph
def test_equal_to_cv2_dnn_on_real_frames(graph_path: Path, shared_data: Path) -> None:
    reason = cv2_dnn_available()
    if reason:
        pytest.skip(reason)
    from semapose.inference.detectors.ssdlite import SSDLitePersonDetector, tile_windows
    from ssd_reference import ReferenceSSD

    det = SSDLitePersonDetector(score_threshold=0.3, tiles=3)
    ref = ReferenceSSD(graph_path, score_threshold=0.3)
    frames = _real_frames(shared_data)
    assert len(frames) >= 6
    total = 0
    for name, img in frames:
        windows = tile_windows(img.shape[1], img.shape[0], 3)
        got, want = det._detect(img, windows), ref.detect_windows(img, windows)
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got[:, :4], want[:, :4], atol=0.5, rtol=0, err_msg=name)
        np.testing.assert_allclose(got[:, 4], want[:, 4], atol=1e-3, rtol=0, err_msg=name)
        total += len(got)
    assert total >= 20  # the comparison saw people, not empty frames
    # below the detector's threshold too: OpenCV's DetectionOutput (score >= 0.01, best 100,
    # NMS 0.6) against the module with the same selection, on one full frame
    import cv2

    img = frames[0][1]
    crop = cv2.resize(img, (300, 300), interpolation=cv2.INTER_LINEAR)
    det.load()
    with torch.no_grad():
        boxes, scores = det._net(torch.from_numpy(crop[None]).permute(0, 3, 1, 2))
        idx = batched_nms(boxes, scores, 0.6, valid=scores >= 0.01, top_k=100)[0]
    idx = idx[idx >= 0]
    rows = ref.raw([img])
    rows = rows[rows[:, 2] >= 0.01]
    assert len(rows) == len(idx) > 20
    np.testing.assert_allclose(scores[0, idx].numpy(), rows[:, 2], atol=1e-3)
    np.testing.assert_allclose(boxes[0, idx].numpy(), rows[:, 3:], atol=0.5 / img.shape[1])


@needs_graph
def test_detect_batch_equals_detect(shared_data: Path) -> None:
    from semapose.inference.detectors.ssdlite import SSDLitePersonDetector

    frames = [img for _, img in _real_frames(shared_data)[:3]]
    det = SSDLitePersonDetector()
    batch = det.detect_batch(frames)
    for img, got in zip(frames, batch, strict=True):
        np.testing.assert_allclose(got, det.detect(img), atol=1e-3)


# ------------------------------------------------------------------ errors (issue 22, item 6)
def test_an_unreadable_graph_is_one_line_naming_detector_file_and_remedy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from semapose.inference.detectors import DetectorUnavailableError, ssdlite

    bad = tmp_path / "ssdlite_person.pb"
    bad.write_bytes(b"\x0a\xff\xff\xff\x0fnot a graph")
    monkeypatch.setattr(ssdlite, "ssdlite_graph_path", lambda progress=True: bad)
    det = ssdlite.SSDLitePersonDetector()
    with pytest.raises(DetectorUnavailableError) as info:
        det.detect(np.zeros((64, 64, 3), np.uint8))
    msg = str(info.value)
    assert "SSDLite" in msg and str(bad) in msg and "semapose fetch ssdlite_person" in msg
    assert "--boxes" in msg and "\n" not in msg


@needs_graph
def test_a_failing_run_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from semapose.inference.detectors import DetectorUnavailableError
    from semapose.inference.detectors.ssdlite import SSDLitePersonDetector

    det = SSDLitePersonDetector().load()

    def boom(*_: object) -> None:
        raise RuntimeError("CUDA out of memory.\nTried to allocate 2 GiB")

    monkeypatch.setattr(det._net, "forward", boom)
    with pytest.raises(DetectorUnavailableError, match=r"SSDLite.*ssdlite_person.*out of memory"):
        det.detect(np.zeros((64, 64, 3), np.uint8))
    bad_device = SSDLitePersonDetector(device="nonsense")
    with pytest.raises(DetectorUnavailableError, match=r"SSDLite.*nonsense.*--boxes"):
        bad_device.load()


def test_cli_exit_2_when_the_detector_cannot_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from semapose.cli import main
    from semapose.inference.detectors import ssdlite
    from test_predict_helpers import make_video

    bad = tmp_path / "ssdlite_person.pb"
    bad.write_bytes(b"\x00")
    monkeypatch.setattr(ssdlite, "ssdlite_graph_path", lambda progress=True: bad)
    video = make_video(tmp_path / "v.mp4", 3)
    code = main(["predict", str(video), "--out", str(tmp_path / "out"), "--no-video", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "SSDLite" in err[0] and str(bad) in err[0] and "--boxes" in err[0]


# ------------------------------------------------------------------ zoomed second pass
def test_zoom_grid_covers_the_frame_at_half_a_side() -> None:
    from semapose.inference.detectors.ssdlite import zoom_grid

    grid = zoom_grid(1920, 1080, 720)
    assert {(x0, y0) for x0, y0, *_ in grid} == {
        (x, y) for x in (0, 360, 720, 1080, 1200) for y in (0, 360)
    }
    assert all(x1 - x0 == 720 and y1 - y0 == 720 for x0, y0, x1, y1 in grid)
    assert zoom_grid(100, 80, 200) == [(0, 0, 80, 80), (20, 0, 100, 80)]
    # any box at most half a side tall and wide lies inside one window
    rng = np.random.default_rng(0)
    for _ in range(200):
        w, h = rng.integers(1, 361, 2)
        x, y = rng.integers(0, 1920 - w), rng.integers(0, 1080 - h)
        assert any(x0 <= x and y0 <= y and x + w <= x1 and y + h <= y1 for x0, y0, x1, y1 in grid)


def test_zoom_windows_only_for_small_candidates() -> None:
    from semapose.inference.detectors.ssdlite import SSDLitePersonDetector

    det = SSDLitePersonDetector(zoom=2 / 3, zoom_score=0.1)
    big = np.array([[100, 100, 400, 900, 0.9]])
    assert det.zoom_windows(1920, 1080, big) == []
    small = np.array([[1400, 600, 1460, 760, 0.2], [1405, 605, 1455, 755, 0.15]])
    assert det.zoom_windows(1920, 1080, small) == [(1080, 360, 1800, 1080)]  # once, centred
    faint = np.array([[1500, 600, 1560, 760, 0.05]])
    assert det.zoom_windows(1920, 1080, faint) == []
    assert SSDLitePersonDetector(zoom=0).zoom_windows(1920, 1080, small) == []
