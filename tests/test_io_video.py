"""Streaming video input/output: FrameSource, VideoWriter, errors on bad input, bounded memory."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from semapose.errors import InputError
from semapose.io.video import FrameSource, VideoWriter
from video_helpers import synthetic_frames, write_synthetic_video


@pytest.fixture(scope="module")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_video(tmp_path_factory.mktemp("v") / "clip.mp4", 40, 160, 120, fps=20)


def test_roundtrip_counts_size_fps_and_content(small_video: Path) -> None:
    src = FrameSource(small_video)
    assert (src.width, src.height, src.num_frames, len(src)) == (160, 120, 40, 40)
    assert src.fps == pytest.approx(20.0)
    frames = list(src.frames())
    assert [f.index for f in frames] == list(range(40))
    assert frames[3].name == "000003.jpg"
    expected = list(synthetic_frames(40, 160, 120))
    for f, e in zip(frames, expected, strict=True):
        assert f.image.shape == (120, 160, 3) and f.image.dtype == np.uint8
        # lossy H.264, but the moving block must be where it was drawn
        assert np.abs(f.image.astype(int) - e.astype(int)).mean() < 12


def test_frames_start_skips_exactly(small_video: Path) -> None:
    src = FrameSource(small_video)
    all_frames = list(src.frames())
    tail = list(src.frames(start=37))
    assert [f.index for f in tail] == [37, 38, 39]
    assert np.array_equal(tail[0].image, all_frames[37].image)


def test_writer_pads_odd_sizes_and_is_atomic(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, fps=10) as w:
        for f in synthetic_frames(5, 101, 75):
            w.write(f)
    src = FrameSource(out)
    assert (src.width, src.height, src.num_frames) == (102, 76, 5)

    target = tmp_path / "failed.mp4"
    with pytest.raises(RuntimeError), VideoWriter(target) as w:
        w.write(next(synthetic_frames(1, 64, 48)))
        raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.mp4"]  # no temp leftovers


def test_writer_rejects_frame_of_other_size(tmp_path: Path) -> None:
    target = tmp_path / "x.mp4"
    with pytest.raises(InputError, match=r"frame 1.*64x48"), VideoWriter(target) as w:
        w.write(np.zeros((48, 64, 3), np.uint8))
        w.write(np.zeros((50, 64, 3), np.uint8))
    assert not target.exists()


def test_missing_empty_and_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing"):
        FrameSource(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.mp4.*empty file"):
        FrameSource(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(5000))
    with pytest.raises(InputError, match=r"junk\.mp4"):
        list(FrameSource(junk))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match="image frames"):
        FrameSource(tmp_path / "nothing")


@pytest.mark.parametrize("fraction", [0.3, 0.7, 0.97])
def test_truncated_video_names_file_and_frame(
    small_video: Path, tmp_path: Path, fraction: float
) -> None:
    data = small_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(InputError, match=r"cut\.mp4: (frame \d+|container)") as info:
        for _ in FrameSource(cut):
            pass
    assert "truncated" in str(info.value) or "corrupt" in str(info.value)


def _write_folder(folder: Path, sizes: list[tuple[int, int]]) -> None:
    folder.mkdir()
    for i, (w, h) in enumerate(sizes):
        img = np.full((h, w, 3), (i * 40) % 256, np.uint8)
        img[0, 0] = (255, 0, 0)  # RGB red in the corner
        cv2.imwrite(str(folder / f"{i:06d}.png"), img[:, :, ::-1])


def test_frame_folder_sorted_rgb_and_named(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    _write_folder(folder, [(40, 30)] * 4)
    (folder / "notes.txt").write_text("ignored")
    src = FrameSource(folder, fps=12)
    assert (src.kind, src.num_frames, src.size, src.fps) == ("folder", 4, (40, 30), 12.0)
    frames = list(src.frames())
    assert [f.name for f in frames] == [f"{i:06d}.png" for i in range(4)]
    assert tuple(frames[0].image[0, 0]) == (255, 0, 0)
    assert frames[2].image[5, 5, 0] == 80


def test_frame_folder_unexpected_size_and_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    _write_folder(folder, [(40, 30), (40, 30), (41, 30)])
    with pytest.raises(InputError, match=r"frames: frame 2 \(000002\.png\).*40x30.*41x30"):
        list(FrameSource(folder))
    (folder / "000002.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"000002\.png: frame 2: expected a readable image"):
        list(FrameSource(folder))


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_long_stream_memory_stays_flat(tmp_path: Path) -> None:
    # 400 frames of 640x480: 370 MB if the decoder (or we) kept them
    video = write_synthetic_video(tmp_path / "long.mp4", 400, 640, 480)
    rss = []
    for frame in FrameSource(video).frames():
        assert frame.image.shape == (480, 640, 3)
        if frame.index in (50, 399):
            rss.append(_rss_mb())
    assert rss[1] - rss[0] < 40, f"RSS grew from {rss[0]:.0f} to {rss[1]:.0f} MB"


REAL_CLIPS = [
    ("videos/street_pedestrians_5f.mp4", 5, (960, 540)),
    ("videos/two_people_72f.mp4", 72, (1920, 1080)),
    ("videos/basketball_300f.mp4", 300, (426, 240)),
    ("posetrack18_sample/videos/000001_mpiinew_test/000001_mpiinew_test.mp4", 5, (1280, 720)),
    ("posetrack18_sample/videos/000001_mpiinew_test", 5, (1280, 720)),
]


@pytest.mark.parametrize(("rel", "count", "size"), REAL_CLIPS)
def test_real_clips_counts_and_sizes(shared_data: Path, rel: str, count: int, size: tuple) -> None:
    path = shared_data / rel
    if not path.exists():
        pytest.skip(f"{path} missing")
    src = FrameSource(path)
    assert src.size == size
    n = 0
    for frame in src.frames():
        assert frame.image.shape == (size[1], size[0], 3)
        n += 1
    assert n == count
    if src.num_frames is not None:
        assert src.num_frames == count


def test_real_clip_truncated_and_empty(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "videos" / "street_pedestrians_5f.mp4"
    if not path.exists():
        pytest.skip(f"{path} missing")
    data = path.read_bytes()
    for fraction in (0.5, 0.95):
        cut = tmp_path / f"street_{fraction}.mp4"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(InputError, match=cut.name):
            list(FrameSource(cut))
    empty = tmp_path / "street_empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="street_empty"):
        FrameSource(empty)


def test_writer_failure_before_first_frame_keeps_original_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="original"), VideoWriter(tmp_path / "a.mp4"):
        raise KeyError("original")
    with pytest.raises(ValueError, match="no frames"), VideoWriter(tmp_path / "b.mp4"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_video_frame_of_unexpected_size(tmp_path: Path) -> None:
    """Two MPEG-TS segments of different sizes, concatenated (valid TS, size changes)."""
    import av

    def segment(w: int, h: int) -> bytes:
        path = tmp_path / f"{w}.ts"
        container = av.open(str(path), "w", format="mpegts")
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for frame in synthetic_frames(4, w, h):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        container.close()
        return path.read_bytes()

    joined = tmp_path / "joined.ts"
    joined.write_bytes(segment(64, 48) + segment(80, 60))
    src = FrameSource(joined)
    assert src.size == (64, 48)
    seen = []
    with pytest.raises(InputError, match=r"joined\.ts: frame 4: expected frame size 64x48.*80x60"):
        for frame in src.frames():
            seen.append(frame.index)
    assert seen == [0, 1, 2, 3]


def test_frame_folder_natural_order(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    for i in (10, 2, 1):
        cv2.imwrite(str(folder / f"img{i}.png"), np.full((8, 8, 3), i, np.uint8))
    frames = list(FrameSource(folder).frames())
    assert [f.name for f in frames] == ["img1.png", "img2.png", "img10.png"]
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 10]
