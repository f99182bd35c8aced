"""Inputs a practitioner tries first (issue 25): a photo, a folder of photos, mixed folders,
a stream served over HTTP on 127.0.0.1, a pipe on standard input, a phone video whose
display matrix says -90 degrees."""

from __future__ import annotations

import functools
import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_predict_helpers import SIZE, make_video, moving_boxes, tiny_cfg, tiny_model

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from semapose.errors import InputError  # noqa: E402
from semapose.inference.photos import PhotoSet  # noqa: E402
from semapose.inference.predictor import scan_inputs  # noqa: E402
from semapose.io.video import (  # noqa: E402
    FrameSource,
    VideoWriter,
    is_live,
    is_stream,
    stream_name,
)


def _image(path: Path, w: int = 96, h: int = 72, value: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((h, w, 3), value, np.uint8)
    img[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3] = 200
    cv2.imwrite(str(path), img)
    return path


def test_a_single_image_is_a_photo(tmp_path: Path) -> None:
    found = scan_inputs(_image(tmp_path / "me.jpg"))
    (item,) = found.items
    assert isinstance(item, PhotoSet) and item.name == "me" and item.files == [tmp_path / "me.jpg"]
    assert "no temporal window" in found.notes[0]


def test_folder_of_photos_or_frames(tmp_path: Path) -> None:
    photos = tmp_path / "holiday"
    _image(photos / "a.jpg", 96, 72)
    _image(photos / "b.jpg", 120, 80)
    (item,) = scan_inputs(photos).items
    assert isinstance(item, PhotoSet) and [f.name for f in item.files] == ["a.jpg", "b.jpg"]
    frames = tmp_path / "clip"
    for i in range(3):
        _image(frames / f"{i:04d}.png")
    found = scan_inputs(frames)
    assert found.items == [frames] and "frames of one video" in found.notes[0]
    assert isinstance(scan_inputs(frames, "photos").items[0], PhotoSet)
    assert scan_inputs(photos, "frames").items == [photos]


def test_mixed_folder_processes_everything_and_names_what_it_skips(tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    make_video(root / "walk.mp4", 3)
    for i in range(2):
        _image(root / "seq" / f"{i}.jpg")
    _image(root / "loose.jpg")
    (root / "notes.txt").write_text("hi")
    found = scan_inputs(root)
    kinds = [(type(i).__name__, getattr(i, "name", "")) for i in found.items]
    assert kinds == [("PosixPath", "seq"), ("PosixPath", "walk.mp4"), ("PhotoSet", "mixed")]
    assert [p.name for p in found.skipped] == ["notes.txt"]
    assert any("loose image" in n for n in found.notes)
    with pytest.raises(InputError, match="videos, images or folders of frames"):
        (tmp_path / "empty").mkdir()
        scan_inputs(tmp_path / "empty")


def test_stream_names() -> None:
    assert is_stream("http://127.0.0.1:8000/clips/walk.mp4") and is_stream("-")
    assert not is_stream("walk.mp4") and not is_stream(Path("-"))
    assert is_live("rtsp://cam/stream1") and is_live("-") and not is_live("http://h/a.mp4")
    assert stream_name("http://127.0.0.1:8000/clips/walk.mp4?x=1") == "walk"
    assert stream_name("rtsp://10.0.0.2:554/") == "stream" and stream_name("-") == "stdin"
    assert scan_inputs("rtsp://10.0.0.2:554/live").items == ["rtsp://10.0.0.2:554/live"]


def test_phone_video_rotated_minus_90_is_decoded_upright(tmp_path: Path) -> None:
    img = np.zeros((64, 96, 3), np.uint8)
    img[:16, :16] = (255, 0, 0)  # a red mark top-left of the stored (landscape) frame
    writer = VideoWriter(tmp_path / "phone.mp4", fps=10)
    writer.rotation = -90  # as phones write portrait video
    with writer:
        for _ in range(3):
            writer.write(img)
    src = FrameSource(tmp_path / "phone.mp4")
    assert src.rotation == -90 and (src.width, src.height) == (64, 96)
    frame = next(src.frames()).image
    assert frame.shape == (96, 64, 3)
    # turned 90 degrees clockwise to view: the mark is now top-right
    assert frame[:16, -16:, 0].mean() > 200 and frame[:16, :16, 0].mean() < 50


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A folder served over HTTP on 127.0.0.1 only, from a thread."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


class FixedBoxes:
    def __init__(self, n: int) -> None:
        self.boxes = moving_boxes(n, 2)

    def detect(self, frame: np.ndarray, index: int | None = None) -> np.ndarray:
        return self.boxes.get(int(index or 0), np.zeros((0, 5)))


def _job(out: Path, **kw: Any) -> Any:
    from semapose.inference.job import JobOptions

    return JobOptions(out_dir=out, write_video=False, progress=False, **kw)


def test_predict_a_stream_served_over_http(served: tuple[str, Path]) -> None:
    from semapose.inference.job import predict_source
    from semapose.inference.pipeline import RunnerOptions

    base, folder = served
    make_video(folder / "walk.mp4", 6)
    url = f"{base}/walk.mp4"
    src = FrameSource(url)
    assert src.kind == "stream" and len([f for f in src.frames()]) == 6
    with pytest.raises(InputError, match="read once"):
        next(src.frames())
    model = tiny_model(tiny_cfg(offsets=[-1, 1]))
    opts = RunnerOptions(input_size=SIZE, offsets=(-1, 1), flip_test=False)
    r = predict_source(url, model, opts, FixedBoxes(6), _job(folder / "out"))
    assert r.status == "done" and r.frames == 6 and r.paths.posetrack.name == "walk.json"
    doc = json.loads(r.paths.posetrack.read_text())
    assert len(doc["images"]) == 6 and doc["annotations"]
    # a stream stops at --max-frames with complete outputs (it cannot be resumed)
    r2 = predict_source(url, model, opts, FixedBoxes(6), _job(folder / "out2", max_frames=3))
    assert r2.status == "done" and r2.frames == 3
    with pytest.raises(InputError, match="cannot be read again"):
        predict_source(url, model, opts, FixedBoxes(6), _job(folder / "o3", resume=True))
    with pytest.raises(InputError, match="PyAV can open"):
        FrameSource(f"{base}/missing.mp4")


def _pipe_on_stdin(
    monkeypatch: pytest.MonkeyPatch, ts: Path, width: int, height: int, frames: int, step: int
) -> None:
    """Standard input replaced by an MPEG-TS stream (what streams well through a pipe) of
    ``frames`` flat grey frames, frame i of value ``step * i``, written to ``ts`` first."""
    import av

    with av.open(str(ts), "w", format="mpegts") as c:
        st = c.add_stream("libx264", rate=10)
        st.width, st.height, st.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.full((height, width, 3), step * i, np.uint8)
            for p in st.encode(av.VideoFrame.from_ndarray(image, "rgb24")):
                c.mux(p)
        for p in st.encode(None):
            c.mux(p)

    class Stdin:
        buffer = io.BytesIO(ts.read_bytes())

    monkeypatch.setattr("sys.stdin", Stdin())


def test_a_pipe_on_standard_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _pipe_on_stdin(monkeypatch, tmp_path / "pipe.ts", 96, 64, frames=5, step=40)
    src = FrameSource("-")
    assert src.path.name == "stdin" and (src.width, src.height) == (96, 64)
    assert [f.index for f in src.frames()] == [0, 1, 2, 3, 4]


def test_photos_each_alone(tmp_path: Path) -> None:
    from semapose.inference.predictor import Predictor

    folder = tmp_path / "photos"
    _image(folder / "a.jpg", 160, 120)
    _image(folder / "b.jpg", 200, 140, value=40)
    (item,) = scan_inputs(folder).items
    model = tiny_model(tiny_cfg(offsets=[-1, 1]))
    cfg = tiny_cfg(offsets=[-1, 1])
    from semapose.inference.loading import LoadedModel

    predictor = Predictor.from_loaded(LoadedModel(model, cfg, True, "tiny"), "cpu", flip=False)
    r = predictor.run_one(item, tmp_path / "out", detector_obj=FixedBoxes(10), progress=False)
    assert r.status == "done" and r.frames == 2
    doc = json.loads(r.paths.posetrack.read_text())
    assert doc["semapose"]["mode"] == "photos" and "no temporal window" in doc["semapose"]["note"]
    assert [im["file_name"] for im in doc["images"]] == ["photos/a.jpg", "photos/b.jpg"]
    per_image = {im["id"]: 0 for im in doc["images"]}
    for a in doc["annotations"]:
        per_image[a["image_id"]] += 1
    assert list(per_image.values()) == [2, 2]  # every person of a photo seen once is output
    assert (tmp_path / "out" / "images" / "photos" / "a.jpg").is_file()
    with pytest.raises(InputError, match="box files"):
        predictor.run_one(item, tmp_path / "o2", boxes="b.json", progress=False)


def test_cli_predicts_a_pipe_online_and_a_photo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`semapose predict - ...` reads standard input, --online by default there; a photo is
    processed alone and says so (the default detector; skipped without its weights)."""
    from test_predict_helpers import ssdlite_available

    if not ssdlite_available():
        pytest.skip("the SSDLite weights are not cached (semapose fetch ssdlite_person)")
    from semapose.cli import main

    _pipe_on_stdin(monkeypatch, tmp_path / "cam.ts", 160, 120, frames=4, step=30)
    common = ["--weights", "tiny_synthetic", "--quiet", "--no-video", "--threads", "1"]
    assert main(["predict", "-", "--out", str(tmp_path / "live"), *common]) == 0
    out, err = capsys.readouterr()
    assert "live input: --online" in err and "standard input: 4 frames" in out
    doc = json.loads((tmp_path / "live" / "posetrack" / "stdin.json").read_text())
    assert len(doc["images"]) == 4 and doc["semapose"]["settings"]["online"] is True
    photo = _image(tmp_path / "me.png", 160, 120)
    drawn = [c for c in common if c != "--no-video"]
    assert main(["predict", str(photo), "--out", str(tmp_path / "p"), *drawn, "--report"]) == 0
    out, _ = capsys.readouterr()
    assert "a photo (each image on its own" in out and "1 photo(s), each alone" in out
    page = (tmp_path / "p" / "report" / "me.html").read_text()
    assert "Photos, each on its own" in page and 'alt="me.jpg"' in page
