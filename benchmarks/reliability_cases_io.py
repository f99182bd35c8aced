"""Cases of ``benchmarks/reliability_attack.py``: the bounded reader, predict's state file,
detections and box files, weights files, the tflite reader and the JPEG walk."""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.cases import Cases
from harness.models import tiny_cfg, tiny_model

CASES = Cases()


# ----------------------------------------------------------------------------- bounded reader


def _read(path: Path, limit: int = 1 << 20) -> Any:
    from semapose.io.jsonio import read_json

    return read_json(path, limit)


@CASES.case("read_json: symlink to /dev/urandom")
def _(d: Path) -> Any:
    (d / "r.json").symlink_to("/dev/urandom")
    return _read(d / "r.json")


@CASES.case("read_json: FIFO without writer")
def _(d: Path) -> Any:
    os.mkfifo(d / "f.json")
    return _read(d / "f.json")


@CASES.case("read_json: a folder")
def _(d: Path) -> Any:
    return _read(d)


@CASES.case("read_json: a unix socket")
def _(d: Path) -> Any:
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.bind(str(d / "s.json"))
    try:
        return _read(d / "s.json")
    finally:
        s.close()


@CASES.case("read_json: 1,000,000 nested {")
def _(d: Path) -> Any:
    (d / "n.json").write_text('{"a":' * 1_000_000)
    return _read(d / "n.json", 64 << 20)


@CASES.case("read_json: 5000-digit integer")
def _(d: Path) -> Any:
    (d / "i.json").write_text("1" * 5000)
    return _read(d / "i.json")


@CASES.case("read_json: invalid UTF-8")
def _(d: Path) -> Any:
    (d / "u.json").write_bytes(b'["\xff\xfe"]')
    return _read(d / "u.json")


@CASES.case("read_json: a file larger than the limit")
def _(d: Path) -> Any:
    (d / "big.json").write_bytes(b" " * (2 << 20))
    return _read(d / "big.json")


# ----------------------------------------------------------------------------- predict state


def _state(d: Path, **fields: Any) -> Any:
    from semapose.inference.state_schema import checked_predict_state

    st = {"next_frame": 3, "next_key": 2, "results_bytes": 0, "detections_bytes": 0}
    st.update(fields)
    st["fingerprint"] = {"x": 1}
    (d / "state.json").write_text(json.dumps(st))
    return checked_predict_state(d / "state.json", {"x": 1}, 10)


@CASES.case("state.json: next_frame true")
def _(d: Path) -> Any:
    return _state(d, next_frame=True)


@CASES.case("state.json: next_frame 3.0")
def _(d: Path) -> Any:
    return _state(d, next_frame=3.0)


@CASES.case("state.json: next_key > next_frame")
def _(d: Path) -> Any:
    return _state(d, next_key=9)


@CASES.case("state.json: next_frame 11 of 10 frames")
def _(d: Path) -> Any:
    return _state(d, next_frame=11)


@CASES.case("state.json: counts disagree with the saved records")
def _(d: Path) -> Any:
    (d / "detections.jsonl").write_text("{}\n{}\n")
    return _state(d, detections_bytes=6)


@CASES.case("state.json: another fingerprint starts over", "ok")
def _(d: Path) -> Any:
    from semapose.inference.state_schema import checked_predict_state

    (d / "state.json").write_text(json.dumps({"fingerprint": {"x": 2}, "next_frame": 999}))
    assert checked_predict_state(d / "state.json", {"x": 1}, 10) is None


# ----------------------------------------------------------------------------- detections


def _det(raw: Any, w: int = 100, h: int = 100) -> Any:
    from semapose.inference.detections import usable_detections

    return usable_detections(raw, w, h, None, 0, "attack")


@CASES.case("detections: a 3-D array")
def _(d: Path) -> Any:
    return _det(np.zeros((2, 5, 1)))


@CASES.case("detections: strings")
def _(d: Path) -> Any:
    return _det([["a", "b", "c", "d", "e"]])


@CASES.case("detections: inf score and NaN corner dropped", "ok")
def _(d: Path) -> Any:
    got = _det([[0, 0, 10, 10, np.inf], [np.nan, 0, 10, 10, 0.5], [0, 0, 10, 10, 0.5]])
    assert got.tolist() == [[0, 0, 10, 10, 0.5]]


@CASES.case("detections: 1,000,000 boxes cut in bounded time", "ok")
def _(d: Path) -> Any:
    n = 1_000_000
    raw = np.column_stack(
        [np.zeros(n), np.zeros(n), np.full(n, 9), np.full(n, 9), np.random.rand(n)]
    )
    t0 = time.perf_counter()
    got = _det(raw)
    assert len(got) == 1000 and time.perf_counter() - t0 < 5


@CASES.case("box file: 1001 boxes in one frame among others")
def _(d: Path) -> Any:
    from semapose.inference.detectors.boxfile import BoxFileDetector

    items = [{"image_id": 0, "bbox": [0, 0, 5, 5], "score": 0.5}]
    items += [{"image_id": 3, "bbox": [i % 50, 0, 5, 5], "score": 0.5} for i in range(1001)]
    (d / "b.json").write_text(json.dumps(items))
    return BoxFileDetector.from_file(d / "b.json", num_frames=5)


@CASES.case("box file: frame_id -1 given explicitly")
def _(d: Path) -> Any:
    from semapose.data.boxes import load_boxes

    (d / "b.json").write_text(
        json.dumps([{"frame_id": -1, "image_name": "", "bbox": [0, 0, 5, 5]}])
    )
    return load_boxes(d / "b.json")


# ----------------------------------------------------------------------------- weights files


def _ckpt(
    d: Path, edit: Callable[[dict[str, Any]], None], meta: dict[str, str] | None = None
) -> Path:
    from semapose.config import to_dict
    from semapose.engine.checkpoint import save_weights

    cfg = tiny_cfg()
    raw = to_dict(cfg)
    edit(raw)
    path = d / "w.safetensors"
    save_weights(tiny_model(cfg), path, {"semapose_config": json.dumps(raw), **(meta or {})})
    return path


def _load_without_fetching(path: Path) -> Any:
    import semapose.models.build as build
    import semapose.weights.download as download
    from semapose.inference.loading import load_model

    fetched: list[Any] = []
    real_fetch, real_pre = download.fetch_url, build.load_pretrained
    download.fetch_url = lambda *a, **k: fetched.append(a)  # type: ignore[assignment]
    build.load_pretrained = lambda *a, **k: fetched.append(a) or []  # type: ignore[assignment]
    try:
        loaded = load_model(path)
    finally:
        download.fetch_url, build.load_pretrained = real_fetch, real_pre
    assert not fetched, fetched
    return loaded


@CASES.case("weights: backbone_weights ~/x.pth not followed", "ok")
def _(d: Path) -> Any:
    path = _ckpt(d, lambda c: c["model"].update(backbone_weights="~/x.pth"))
    assert _load_without_fetching(path).cfg.model.backbone_weights == ""


@CASES.case("weights: init_backbone_weights file:///etc/passwd not followed", "ok")
def _(d: Path) -> Any:
    path = _ckpt(d, lambda c: None, {"init_backbone_weights": "file:///etc/passwd"})
    _load_without_fetching(path)


@CASES.case("weights: https URL with a checksum not followed", "ok")
def _(d: Path) -> Any:
    url = "https://example.com/x.pth#sha256=" + "a" * 64
    path = _ckpt(d, lambda c: c["model"].update(backbone_weights=url))
    _load_without_fetching(path)


@CASES.case("weights: dim 4096 x depth 64")
def _(d: Path) -> Any:
    return _load_without_fetching(
        _ckpt(d, lambda c: c["model"].update(dim=4096, patch_depth=64, frame_depth=64))
    )


@CASES.case("weights: image_size 2052 x 64")
def _(d: Path) -> Any:
    return _load_without_fetching(_ckpt(d, lambda c: c["data"].update(image_size=[2052, 64])))


@CASES.case("weights: mlp_ratio 16, dim 2048, depth 48")
def _(d: Path) -> Any:
    return _load_without_fetching(
        _ckpt(d, lambda c: c["model"].update(dim=2048, mlp_ratio=16.0, patch_depth=48))
    )


@CASES.case("weights: a symlink to /dev/zero")
def _(d: Path) -> Any:
    from semapose.inference.loading import load_model

    (d / "z.safetensors").symlink_to("/dev/zero")
    return load_model(d / "z.safetensors")


@CASES.case("weights: a FIFO named .pth")
def _(d: Path) -> Any:
    from semapose.weights.read import read_checkpoint

    os.mkfifo(d / "f.pth")
    return read_checkpoint(d / "f.pth")


# ----------------------------------------------------------------------------- tflite


def tflite_file() -> Path:
    """pose_landmark_full.tflite: $SEMAPOSE_BLAZEPOSE_TFLITE or the asset cache (never fetches)."""
    env = os.environ.get("SEMAPOSE_BLAZEPOSE_TFLITE")
    if env and Path(env).is_file():
        return Path(env)
    from semapose.weights.assets import cached_asset

    found = cached_asset("blazepose_full")
    if found is None:
        raise FileNotFoundError(
            "BlazePose .tflite not cached (run `semapose fetch blazepose_full`)"
        )
    return Path(found)


def _tflite(d: Path, edit: Callable[[Any, bytearray], None]) -> Any:
    from semapose.weights.tflite import _Buf, read_tflite

    data = bytearray(tflite_file().read_bytes())
    edit(_Buf(bytes(data), "x"), data)
    (d / "h.tflite").write_bytes(bytes(data))
    return read_tflite(d / "h.tflite")


def _ops(buf: Any) -> list[int]:
    root = buf.unpack("I", 0)
    return buf.tables(buf.tables(root, 2)[0], 3)  # type: ignore[no-any-return]


@CASES.case("tflite: truncated to 10 kB")
def _(d: Path) -> Any:
    from semapose.weights.tflite import read_tflite

    (d / "t.tflite").write_bytes(tflite_file().read_bytes()[:10_000])
    return read_tflite(d / "t.tflite")


@CASES.case("tflite: operator reads the output of a later operator")
def _(d: Path) -> Any:
    def edit(buf: Any, data: bytearray) -> None:
        ops = _ops(buf)
        later_out = buf.ints(ops[-1], 2)[0]
        start, _n = buf.vector(ops[5], 1)
        struct.pack_into("<i", data, start, later_out)

    return _tflite(d, edit)


@CASES.case("tflite: two operators write one tensor")
def _(d: Path) -> Any:
    def edit(buf: Any, data: bytearray) -> None:
        ops = _ops(buf)
        start, _n = buf.vector(ops[8], 2)
        struct.pack_into("<i", data, start, buf.ints(ops[7], 2)[0])

    return _tflite(d, edit)


@CASES.case("tflite: opcode index 10^6")
def _(d: Path) -> Any:
    def edit(buf: Any, data: bytearray) -> None:
        op = _ops(buf)[3]
        pos = buf.field_pos(op, 0)
        struct.pack_into("<I", data, pos, 10**6)

    return _tflite(d, edit)


@CASES.case("tflite: subgraph output -7")
def _(d: Path) -> Any:
    def edit(buf: Any, data: bytearray) -> None:
        root = buf.unpack("I", 0)
        start, _n = buf.vector(buf.tables(root, 2)[0], 2)
        struct.pack_into("<i", data, start, -7)

    return _tflite(d, edit)


# ----------------------------------------------------------------------------- images


def _jpeg(d: Path, body: bytes) -> Any:
    from semapose.io.video import FrameSource

    folder = d / "frames"
    folder.mkdir()
    (folder / "000000.jpg").write_bytes(body)
    return next(iter(FrameSource(folder).frames()))


def _sof(w: int, h: int) -> bytes:
    return b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, h, w, 1) + b"\x01\x11\x00"


@CASES.case("jpeg: SOF after 200 APP2 segments claims 20000x20000")
def _(d: Path) -> Any:
    app = (b"\xff\xe2" + struct.pack(">H", 65535) + b"\0" * 65533) * 200
    return _jpeg(d, b"\xff\xd8" + app + _sof(20000, 20000) + b"\xff\xda\x00\x02\xff\xd9")


@CASES.case("jpeg: no SOF before the scan")
def _(d: Path) -> Any:
    return _jpeg(d, b"\xff\xd8\xff\xe0\x00\x04ab\xff\xda\x00\x02" + b"\0" * 100 + b"\xff\xd9")


@CASES.case("jpeg: garbage between segments, then a huge SOF")
def _(d: Path) -> Any:
    return _jpeg(d, b"\xff\xd8" + b"\x12" * 5000 + _sof(30000, 100) + b"\xff\xd9")
