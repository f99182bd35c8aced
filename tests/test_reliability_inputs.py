"""Hostile frames and option values (issue 18): images whose header claims a huge size
are refused before decoding (a bad frame folder does not stop a folder of inputs), and
an absurd ``--fps`` is a one-line error."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_helpers import predict_argv, predict_inputs
from semapose.errors import InputError
from semapose.io.image_header import MAX_IMAGE_PIXELS, check_image_size, image_size

cv2 = pytest.importorskip("cv2")


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header says ``width`` x ``height`` (the data is a few bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def _jpeg_claiming(path: Path, width: int, height: int) -> Path:
    ok, buf = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))
    data = bytearray(buf.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp"])
def test_image_size_reads_real_headers(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"f{ext}"
    cv2.imwrite(str(path), np.zeros((37, 53, 3), np.uint8))
    assert image_size(path) == (53, 37)


def test_image_size_of_a_jpeg_with_exif_like_segments(tmp_path: Path) -> None:
    ok, buf = cv2.imencode(".jpg", np.zeros((21, 33, 3), np.uint8))
    data = buf.tobytes()
    app1 = b"\xff\xe1" + struct.pack(">H", 60002) + b"\xff" * 60000  # filler bytes inside
    path = tmp_path / "exif.jpg"
    path.write_bytes(data[:2] + app1 + data[2:])
    assert image_size(path) == (33, 21)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: _png_claiming(p / "a.png", 40000, 40000),
        lambda p: _jpeg_claiming(p / "a.jpg", 30000, 30000),
    ],  # fmt: skip
)
def test_huge_declared_size_is_refused_from_the_header(tmp_path: Path, make: Any) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as info:
        check_image_size(path, "frame 0")
    msg = str(info.value)
    assert msg.startswith(f"{path}: frame 0: expected an image of at most 16384 pixels per side")
    assert "got '" in msg and "x" in msg


def test_sizes_within_the_limits_pass(tmp_path: Path) -> None:
    check_image_size(_png_claiming(tmp_path / "ok.png", 8192, 8192), "frame 0")
    assert MAX_IMAGE_PIXELS >= 8192 * 8192
    with pytest.raises(InputError):
        check_image_size(_png_claiming(tmp_path / "wide.png", 16384, 8192), "frame 0")


def test_unknown_or_damaged_headers_are_left_to_the_decoder(tmp_path: Path) -> None:
    (tmp_path / "x.tif").write_bytes(b"II*\0" + b"\0" * 40)
    (tmp_path / "short.png").write_bytes(b"\x89PNG")
    assert image_size(tmp_path / "x.tif") is None
    assert image_size(tmp_path / "short.png") is None
    assert image_size(tmp_path / "missing.png") is None


# ----------------------------------------------------------------------------- through predict


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("torch")
    return predict_inputs(tmp_path_factory.mktemp("inputs"), 3)


def _frames(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:06d}.png"), np.zeros((48, 64, 3), np.uint8))
    return folder


def _run(work: dict[str, Path], tmp: Path, source: Path, *extra: str) -> list[str]:
    return predict_argv(source, tmp / "out", work["ckpt"], *extra)


@pytest.mark.parametrize("bad", [0, 2])
def test_predict_frame_folder_with_a_huge_frame_exits_2(
    work: dict[str, Path], tmp_path: Path, capsys: Any, bad: int
) -> None:
    from semapose.cli import main

    folder = _frames(tmp_path / "clip")
    _png_claiming(folder / f"{bad:06d}.png", 40000, 40000)
    rc = main(_run(work, tmp_path, folder, "--boxes", str(work["boxes"])))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1
    assert f"{bad:06d}.png: frame {bad}: expected an image of at most" in err
    assert "40000x40000" in err


def test_a_huge_frame_does_not_stop_a_folder_of_inputs(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    from semapose.cli import main

    inputs = tmp_path / "inputs"
    _frames(inputs / "a")
    bad = _frames(inputs / "b")
    _frames(inputs / "c")
    _png_claiming(bad / "000001.png", 40000, 40000)
    rc = main(_run(work, tmp_path, inputs, "--detector", "none-such-detector-for-test"))
    assert rc == 2
    capsys.readouterr()
    box_dir = tmp_path / "boxes"
    box_dir.mkdir()
    items = [{"image_id": f, "bbox": [5, 5, 20, 30], "score": 0.9} for f in range(3)]
    for name in "abc":
        (box_dir / f"{name}.json").write_text(json.dumps(items))
    rc = main(_run(work, tmp_path, inputs, "--boxes", str(box_dir)))
    err = capsys.readouterr().err
    assert rc == 2
    assert "1 input(s) failed" in err and "000001.png" in err and "40000x40000" in err
    out = tmp_path / "out" / "posetrack"
    assert (out / "a.json").is_file() and (out / "c.json").is_file()
    assert not (out / "b.json").exists()


@pytest.mark.parametrize("fps", ["1e308", "1e6", "-0.5"])
def test_predict_absurd_fps_is_one_line(
    work: dict[str, Path], tmp_path: Path, capsys: Any, fps: str
) -> None:
    from semapose.cli import main

    folder = _frames(tmp_path / "clip")
    for source in (folder, work["video"]):
        rc = main([*_run(work, tmp_path, source, "--boxes", str(work["boxes"])), "--fps", fps])
        err = capsys.readouterr().err
        assert rc == 2, err
        assert len(err.strip().splitlines()) == 1, err
        assert "fps: expected a positive frame rate up to 100000" in err, err


def test_predict_high_but_real_fps_works(work: dict[str, Path], tmp_path: Path) -> None:
    from semapose.cli import main

    folder = _frames(tmp_path / "clip")
    argv = _run(work, tmp_path, folder, "--boxes", str(work["boxes"]), "--fps", "960")
    argv.remove("--no-video")
    assert main(argv) == 0
    assert (tmp_path / "out" / "video" / "clip.mp4").is_file()


def test_video_stream_beyond_the_frame_limits_is_refused(
    work: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same limits for a video's declared frame size (checked at probing, before decoding);
    the limit is lowered here so that a real small video exceeds it."""
    from semapose.io import image_header
    from semapose.io.video import FrameSource

    assert FrameSource(work["video"]).width == 160
    monkeypatch.setattr(image_header, "MAX_IMAGE_SIDE", 100)
    with pytest.raises(InputError, match=r"walk\.mp4: video stream: expected an image of at most"):
        FrameSource(work["video"])
