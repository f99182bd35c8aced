"""Red-team round on what issue 24 built: hostile inputs to the bounded reader, the
state schemas, the detection check, the weights-file rules, the tflite reader, the model
size check, the JPEG walk, the option ranges and the signal handling.

Each case must end as the contract says: a SemaposeError (one line, exit 2 in the CLI)
or the documented right result, within a time and memory bound; never another
exception, a hang or a silent wrong result. Run from the repository root:

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/reliability_attack.py

Writes benchmarks/results/reliability_attack.{json,md}.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from semapose.errors import SemaposeError

CASES: list[tuple[str, Callable[[Path], Any], str]] = []


def case(name: str, expect: str = "error") -> Callable[[Callable[[Path], Any]], Any]:
    """``expect``: "error" (a SemaposeError) or "ok" (the function asserts the result)."""

    def add(fn: Callable[[Path], Any]) -> Callable[[Path], Any]:
        CASES.append((name, fn, expect))
        return fn

    return add


# ----------------------------------------------------------------------------- bounded reader


def _read(path: Path, limit: int = 1 << 20) -> Any:
    from semapose.io.jsonio import read_json

    return read_json(path, limit)


@case("read_json: symlink to /dev/urandom")
def _(d: Path) -> Any:
    (d / "r.json").symlink_to("/dev/urandom")
    return _read(d / "r.json")


@case("read_json: FIFO without writer")
def _(d: Path) -> Any:
    os.mkfifo(d / "f.json")
    return _read(d / "f.json")


@case("read_json: a folder")
def _(d: Path) -> Any:
    return _read(d)


@case("read_json: a unix socket")
def _(d: Path) -> Any:
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.bind(str(d / "s.json"))
    try:
        return _read(d / "s.json")
    finally:
        s.close()


@case("read_json: 1,000,000 nested {")
def _(d: Path) -> Any:
    (d / "n.json").write_text('{"a":' * 1_000_000)
    return _read(d / "n.json", 64 << 20)


@case("read_json: 5000-digit integer")
def _(d: Path) -> Any:
    (d / "i.json").write_text("1" * 5000)
    return _read(d / "i.json")


@case("read_json: invalid UTF-8")
def _(d: Path) -> Any:
    (d / "u.json").write_bytes(b'["\xff\xfe"]')
    return _read(d / "u.json")


@case("read_json: a file larger than the limit")
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


@case("state.json: next_frame true")
def _(d: Path) -> Any:
    return _state(d, next_frame=True)


@case("state.json: next_frame 3.0")
def _(d: Path) -> Any:
    return _state(d, next_frame=3.0)


@case("state.json: next_key > next_frame")
def _(d: Path) -> Any:
    return _state(d, next_key=9)


@case("state.json: next_frame 11 of 10 frames")
def _(d: Path) -> Any:
    return _state(d, next_frame=11)


@case("state.json: counts disagree with the saved records")
def _(d: Path) -> Any:
    (d / "detections.jsonl").write_text("{}\n{}\n")
    return _state(d, detections_bytes=6)


@case("state.json: another fingerprint starts over", "ok")
def _(d: Path) -> Any:
    from semapose.inference.state_schema import checked_predict_state

    (d / "state.json").write_text(json.dumps({"fingerprint": {"x": 2}, "next_frame": 999}))
    assert checked_predict_state(d / "state.json", {"x": 1}, 10) is None


# ----------------------------------------------------------------------------- detections


def _det(raw: Any, w: int = 100, h: int = 100) -> Any:
    from semapose.inference.detections import usable_detections

    return usable_detections(raw, w, h, None, 0, "attack")


@case("detections: a 3-D array")
def _(d: Path) -> Any:
    return _det(np.zeros((2, 5, 1)))


@case("detections: strings")
def _(d: Path) -> Any:
    return _det([["a", "b", "c", "d", "e"]])


@case("detections: inf score and NaN corner dropped", "ok")
def _(d: Path) -> Any:
    got = _det([[0, 0, 10, 10, np.inf], [np.nan, 0, 10, 10, 0.5], [0, 0, 10, 10, 0.5]])
    assert got.tolist() == [[0, 0, 10, 10, 0.5]]


@case("detections: 1,000,000 boxes cut in bounded time", "ok")
def _(d: Path) -> Any:
    n = 1_000_000
    raw = np.column_stack(
        [np.zeros(n), np.zeros(n), np.full(n, 9), np.full(n, 9), np.random.rand(n)]
    )
    t0 = time.perf_counter()
    got = _det(raw)
    assert len(got) == 1000 and time.perf_counter() - t0 < 5


@case("box file: 1001 boxes in one frame among others")
def _(d: Path) -> Any:
    from semapose.inference.detectors.boxfile import BoxFileDetector

    items = [{"image_id": 0, "bbox": [0, 0, 5, 5], "score": 0.5}]
    items += [{"image_id": 3, "bbox": [i % 50, 0, 5, 5], "score": 0.5} for i in range(1001)]
    (d / "b.json").write_text(json.dumps(items))
    return BoxFileDetector.from_file(d / "b.json", num_frames=5)


@case("box file: frame_id -1 given explicitly")
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
    from test_predict_helpers import tiny_cfg, tiny_model

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


@case("weights: backbone_weights ~/x.pth not followed", "ok")
def _(d: Path) -> Any:
    path = _ckpt(d, lambda c: c["model"].update(backbone_weights="~/x.pth"))
    assert _load_without_fetching(path).cfg.model.backbone_weights == ""


@case("weights: init_backbone_weights file:///etc/passwd not followed", "ok")
def _(d: Path) -> Any:
    path = _ckpt(d, lambda c: None, {"init_backbone_weights": "file:///etc/passwd"})
    _load_without_fetching(path)


@case("weights: https URL with a checksum not followed", "ok")
def _(d: Path) -> Any:
    url = "https://example.com/x.pth#sha256=" + "a" * 64
    path = _ckpt(d, lambda c: c["model"].update(backbone_weights=url))
    _load_without_fetching(path)


@case("weights: dim 4096 x depth 64")
def _(d: Path) -> Any:
    return _load_without_fetching(
        _ckpt(d, lambda c: c["model"].update(dim=4096, patch_depth=64, frame_depth=64))
    )


@case("weights: image_size 2052 x 64")
def _(d: Path) -> Any:
    return _load_without_fetching(_ckpt(d, lambda c: c["data"].update(image_size=[2052, 64])))


@case("weights: mlp_ratio 16, dim 2048, depth 48")
def _(d: Path) -> Any:
    return _load_without_fetching(
        _ckpt(d, lambda c: c["model"].update(dim=2048, mlp_ratio=16.0, patch_depth=48))
    )


@case("weights: a symlink to /dev/zero")
def _(d: Path) -> Any:
    from semapose.inference.loading import load_model

    (d / "z.safetensors").symlink_to("/dev/zero")
    return load_model(d / "z.safetensors")


@case("weights: a FIFO named .pth")
def _(d: Path) -> Any:
    from semapose.weights.read import read_checkpoint

    os.mkfifo(d / "f.pth")
    return read_checkpoint(d / "f.pth")


# ----------------------------------------------------------------------------- tflite


def _tflite(d: Path, edit: Callable[[Any, bytearray], None]) -> Any:
    from blazepose_helpers import tflite_file
    from semapose.weights.tflite import _Buf, read_tflite

    data = bytearray(tflite_file().read_bytes())
    edit(_Buf(bytes(data), "x"), data)
    (d / "h.tflite").write_bytes(bytes(data))
    return read_tflite(d / "h.tflite")


def _ops(buf: Any) -> list[int]:
    root = buf.unpack("I", 0)
    return buf.tables(buf.tables(root, 2)[0], 3)  # type: ignore[no-any-return]


@case("tflite: truncated to 10 kB")
def _(d: Path) -> Any:
    from blazepose_helpers import tflite_file
    from semapose.weights.tflite import read_tflite

    (d / "t.tflite").write_bytes(tflite_file().read_bytes()[:10_000])
    return read_tflite(d / "t.tflite")


@case("tflite: operator reads the output of a later operator")
def _(d: Path) -> Any:
    def edit(buf: Any, data: bytearray) -> None:
        ops = _ops(buf)
        later_out = buf.ints(ops[-1], 2)[0]
        start, _n = buf.vector(ops[5], 1)
        struct.pack_into("<i", data, start, later_out)

    return _tflite(d, edit)


@case("tflite: two operators write one tensor")
def _(d: Path) -> Any:
    def edit(buf: Any, data: bytearray) -> None:
        ops = _ops(buf)
        start, _n = buf.vector(ops[8], 2)
        struct.pack_into("<i", data, start, buf.ints(ops[7], 2)[0])

    return _tflite(d, edit)


@case("tflite: opcode index 10^6")
def _(d: Path) -> Any:
    def edit(buf: Any, data: bytearray) -> None:
        op = _ops(buf)[3]
        pos = buf.field_pos(op, 0)
        struct.pack_into("<I", data, pos, 10**6)

    return _tflite(d, edit)


@case("tflite: subgraph output -7")
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


@case("jpeg: SOF after 200 APP2 segments claims 20000x20000")
def _(d: Path) -> Any:
    app = (b"\xff\xe2" + struct.pack(">H", 65535) + b"\0" * 65533) * 200
    return _jpeg(d, b"\xff\xd8" + app + _sof(20000, 20000) + b"\xff\xda\x00\x02\xff\xd9")


@case("jpeg: no SOF before the scan")
def _(d: Path) -> Any:
    return _jpeg(d, b"\xff\xd8\xff\xe0\x00\x04ab\xff\xda\x00\x02" + b"\0" * 100 + b"\xff\xd9")


@case("jpeg: garbage between segments, then a huge SOF")
def _(d: Path) -> Any:
    return _jpeg(d, b"\xff\xd8" + b"\x12" * 5000 + _sof(30000, 100) + b"\xff\xd9")


# ----------------------------------------------------------------------------- fit state / work


def _fit_state(d: Path, state: Any) -> Any:
    import torch

    from semapose.engine.cache_fit import CacheFitConfig, _optimizer
    from semapose.engine.fit_state import load_fit_state
    from test_predict_helpers import tiny_cfg, tiny_model

    model = tiny_model(tiny_cfg())
    fc = CacheFitConfig(steps=10)
    torch.save(state, d / "fit_state.pt")
    return load_fit_state(d / "fit_state.pt", model, _optimizer(model, fc), fc)


def _good_state() -> dict[str, Any]:
    from dataclasses import asdict

    from semapose.engine.cache_fit import CacheFitConfig, _optimizer
    from test_predict_helpers import tiny_cfg, tiny_model

    model = tiny_model(tiny_cfg())
    fc = CacheFitConfig(steps=10)
    return {
        "step": 5,
        "temporal": model.temporal.state_dict(),
        "head": model.head.state_dict(),
        "optimizer": _optimizer(model, fc).state_dict(),
        "log": [{"step": 5, "lr": 0.1, "seconds": 1.0}],
        "fit_config": asdict(fc),
    }


@case("fit_state: step True")
def _(d: Path) -> Any:
    return _fit_state(d, {**_good_state(), "step": True})


@case("fit_state: log seconds NaN")
def _(d: Path) -> Any:
    return _fit_state(d, {**_good_state(), "log": [{"step": 5, "seconds": float("nan")}]})


@case("fit_state: temporal is a list")
def _(d: Path) -> Any:
    return _fit_state(d, {**_good_state(), "temporal": [1, 2]})


@case("fit_state: optimizer missing")
def _(d: Path) -> Any:
    s = _good_state()
    del s["optimizer"]
    return _fit_state(d, s)


@case("fit_state: log steps not increasing")
def _(d: Path) -> Any:
    return _fit_state(d, {**_good_state(), "log": [{"step": 5}, {"step": 3}]})


@case("fit_state: the good state loads", "ok")
def _(d: Path) -> Any:
    assert _fit_state(d, _good_state())[0] == 5


def _runs(d: Path, run: dict[str, Any]) -> Any:
    from semapose.engine.fit_work import load_runs_checked

    (d / "tracks.json").write_text(json.dumps([run]))
    return load_runs_checked(d / "tracks.json")


_RUN = {"video": "v.mp4", "track_id": 1, "frames": [0, 1], "boxes": [[0, 0, 5, 5], [0, 0, 5, 5]]}


@case("tracks.json: frames not consecutive")
def _(d: Path) -> Any:
    return _runs(d, {**_RUN, "frames": [0, 2]})


@case("tracks.json: negative frame")
def _(d: Path) -> Any:
    return _runs(d, {**_RUN, "frames": [-1, 0]})


@case("tracks.json: box of width 0")
def _(d: Path) -> Any:
    return _runs(d, {**_RUN, "boxes": [[0, 0, 0, 5], [0, 0, 5, 5]]})


@case("tracks.json: track_id a string")
def _(d: Path) -> Any:
    return _runs(d, {**_RUN, "track_id": "1"})


def _cache(d: Path, **index: Any) -> Any:
    from semapose.engine.fit_work import check_cache

    c = d / "cache"
    c.mkdir()
    base = {"version": 1, "image_size": [64, 64], "heatmap_stride": 4, "feature_shape": [2, 4, 4],
            "clips": [{"name": "a"}]}  # fmt: skip
    base.update({k: v for k, v in index.items() if not k.startswith("rows_")})
    (c / "index.json").write_text(json.dumps(base))
    np.save(c / "inputs.npy", np.zeros((2, 2, 4, 4), np.float16))
    np.save(c / "clean.npy", np.zeros((0, 2, 4, 4), np.float16))
    rows = {
        "clip": np.array([0, 0]),
        "frame": np.array([0, 1]),
        "clean_row": np.array([-1, -1]),
        "keypoints": np.zeros((2, 17, 2), np.float32),
        "weights": np.ones((2, 17), np.float32),
    }
    rows.update({k[5:]: v for k, v in index.items() if k.startswith("rows_")})
    np.savez(c / "rows.npz", **rows)
    return check_cache(c)


@case("cache: image_size [0, 0]")
def _(d: Path) -> Any:
    return _cache(d, image_size=[0, 0])


@case("cache: clip index out of range")
def _(d: Path) -> Any:
    return _cache(d, rows_clip=np.array([0, 5]))


@case("cache: NaN keypoints")
def _(d: Path) -> Any:
    return _cache(d, rows_keypoints=np.full((2, 17, 2), np.nan, np.float32))


@case("cache: feature shape disagrees with inputs.npy")
def _(d: Path) -> Any:
    return _cache(d, feature_shape=[3, 4, 4])


@case("cache: a good cache passes", "ok")
def _(d: Path) -> Any:
    _cache(d)


# ----------------------------------------------------------------------------- misc


@case("fingerprint: a FIFO is never read", "ok")
def _(d: Path) -> Any:
    from semapose.io.fingerprint import file_digest

    os.mkfifo(d / "p")
    assert "kind" in file_digest(d / "p")


@case("csv: cells starting with tab and CR escaped", "ok")
def _(d: Path) -> Any:
    from semapose.io.csv_out import text_cell

    assert text_cell("\tx").startswith("'") and text_cell("\rx").startswith("'")
    assert text_cell("000001.jpg") == "000001.jpg"


@case("signals: StopRequest outside the main thread changes nothing", "ok")
def _(d: Path) -> Any:
    from semapose.io.signals import StopRequest

    errors: list[BaseException] = []

    def run() -> None:
        try:
            with StopRequest() as stop:
                assert stop.requested == 0
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert not errors and signal.getsignal(signal.SIGINT) is signal.default_int_handler


@case("signals: a second Ctrl-C acts at once", "ok")
def _(d: Path) -> Any:
    from semapose.io.signals import StopRequest

    try:
        with StopRequest() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.requested == signal.SIGINT
            os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("the second signal did nothing")
    except KeyboardInterrupt:
        pass


@case("options: fit --lr -0.0")
def _(d: Path) -> Any:
    import argparse

    from semapose.commands.options import check_fit_options

    ns = argparse.Namespace(steps=1, batch=1, lr=-0.0, seed=0, rate=0.5, detector=None)
    return check_fit_options(ns)


@case("options: fit --detector 'SSDLITE ' accepted", "ok")
def _(d: Path) -> Any:
    import argparse

    from semapose.commands.options import check_fit_options

    ns = argparse.Namespace(steps=1, batch=1, lr=1e-3, seed=0, rate=0.5, detector="SSDLITE ")
    check_fit_options(ns)


@case("smoothing: min_cutoff 1e308")
def _(d: Path) -> Any:
    from semapose.inference.smoothing import OneEuroSmoother

    return OneEuroSmoother(min_cutoff=1e308)


def run_all() -> dict[str, Any]:
    rows = []
    for name, fn, expect in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            outcome, detail = "", ""
            signal.alarm(60)
            try:
                fn(Path(tmp))
                outcome = "ok"
            except SemaposeError as exc:
                outcome, detail = "error", str(exc)
            except BaseException as exc:  # noqa: BLE001 - what we are looking for
                outcome = "crash"
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            finally:
                signal.alarm(0)
            seconds = time.perf_counter() - t0
            grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
            right = outcome == expect and "\n" not in detail and seconds < 60
            rows.append({"case": name, "expected": expect, "outcome": outcome, "right": right,
                         "seconds": round(seconds, 3), "peak_growth_mib": round(grew, 1),
                         "detail": detail[:200]})  # fmt: skip
            print(f"{'RIGHT' if right else 'WRONG'}  {name}: {outcome} {detail[:120]}")
    return {"cases": len(rows), "right": sum(r["right"] for r in rows), "rows": rows}


def main() -> None:
    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError("case ran past 60 s")

    signal.signal(signal.SIGALRM, alarm)
    result = run_all()
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "reliability_attack.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Red-team round on issue 24's fixes",
        "",
        "`PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/reliability_attack.py` "
        f"(CPU, {time.strftime('%Y-%m-%d')}): **{result['right']} of {result['cases']} right**.",
        "",
        "| case | expected | outcome | right | s |",
        "|---|---|---|---|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['case']} | {r['expected']} | {r['outcome']} | "
                     f"{'yes' if r['right'] else 'NO'} | {r['seconds']} |")  # fmt: skip
    (out / "reliability_attack.md").write_text("\n".join(lines) + "\n")
    print(f"{result['right']} of {result['cases']} right")


if __name__ == "__main__":
    main()
