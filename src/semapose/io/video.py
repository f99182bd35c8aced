"""Streaming video input and H.264 output.

:class:`FrameSource` iterates the frames of a video file (decoded by PyAV, which
bundles FFmpeg; there is no system ffmpeg) or of a folder of images, one at a
time, as RGB ``uint8`` arrays of shape ``(H, W, 3)``. It never decodes the
whole video into memory: a frame lives as long as the caller keeps it.

:class:`VideoWriter` encodes RGB frames to an MP4 (libx264, yuv420p, so it
plays in any browser), written atomically: the target is either absent/old or
the complete new file.

Every failure on user input (missing, empty, corrupt or truncated file, an
unreadable image, a frame whose size differs from the first) raises
:class:`~semapose.errors.InputError` naming the file and the frame.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.io.atomic import atomic_path
from semapose.io.image_header import check_frame_size

#: File name endings read as videos / as frames of a frame folder.
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".ts",
    ".wmv",
    ".flv",
)
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

#: Frame rate assumed for a frame folder when the caller gives none.
DEFAULT_FOLDER_FPS = 25.0
#: Highest frame rate accepted (high-speed cameras reach a few thousand; the MP4
#: writer's time base overflows far beyond).
MAX_FPS = 100_000.0
#: Smallest frame rate accepted (one frame per 100 s); the MP4 writer encodes it exactly.
MIN_FPS = 0.01


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its 0-based ``index``, a ``name`` and the RGB ``image``.

    ``name`` is the image file name for a frame folder (``000012.jpg``) and a
    synthesised ``{index:06d}.jpg`` for a video, so PoseTrack-style outputs can
    refer to frames by file name either way.
    """

    index: int
    name: str
    image: np.ndarray


class FrameSource:
    """Lazy frames of a video file or a folder of images (sorted by file name).

    Folder frames are ordered by file name with numbers compared as numbers
    (``2.jpg`` before ``10.jpg``). Attributes known after construction (the
    file is probed, nothing decoded): ``fps``, ``width``, ``height``,
    ``num_frames`` (``None`` when the container does not say) and ``kind``
    (``"video"`` or ``"folder"``).

    ``strict`` (default): a video that ends before the frame count its header
    declares is reported as truncated.

    >>> src = FrameSource("clip.mp4")                     # doctest: +SKIP
    >>> for frame in src.frames(): frame.image.shape      # doctest: +SKIP
    (1080, 1920, 3)
    """

    def __init__(self, path: str | Path, fps: float | None = None, strict: bool = True) -> None:
        self.path = Path(path)
        self.strict = strict
        # 0 = default; below MIN_FPS the MP4 writer's rate (denominator <= 1001) would be 0
        if fps is not None and not (np.isfinite(fps) and (fps == 0 or MIN_FPS <= fps <= MAX_FPS)):
            raise InputError(
                self.path,
                "fps",
                f"a positive frame rate up to {MAX_FPS:g} (at least {MIN_FPS:g})",
                fps,
            )
        if not self.path.exists():
            raise InputError(self.path, "", "an existing video file or frame folder", "missing")
        self._files: list[Path] = []
        if self.path.is_dir():
            self.kind = "folder"
            self._probe_folder(fps)
        else:
            self.kind = "video"
            self._probe_video(fps)

    # ------------------------------------------------------------------ probing
    def _probe_folder(self, fps: float | None) -> None:
        self._files = frame_files(self.path)
        if not self._files:
            raise InputError(
                self.path, "", f"a folder with image frames ({', '.join(IMAGE_EXTENSIONS)})", "none"
            )
        first = _read_image(self._files[0], 0)
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        self.num_frames: int | None = len(self._files)
        self.fps = float(fps) if fps else DEFAULT_FOLDER_FPS

    def _probe_video(self, fps: float | None) -> None:
        if self.path.stat().st_size == 0:
            raise InputError(self.path, "", "a video file", "an empty file (0 bytes)")
        with self._open_container() as container:
            stream = container.streams.video[0]
            cc = stream.codec_context
            self.width, self.height = int(cc.width), int(cc.height)
            if self.width <= 0 or self.height <= 0:
                raise InputError(
                    self.path, "video stream", "a positive frame size", (cc.width, cc.height)
                )
            check_frame_size(self.width, self.height, self.path, "video stream")
            declared = int(stream.frames or 0)
            self.num_frames = declared if declared > 0 else None
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(fps) if fps else (float(rate) if rate else DEFAULT_FOLDER_FPS)

    @contextlib.contextmanager
    def _open_container(self) -> Iterator[Any]:
        import av

        try:
            container = av.open(str(self.path), mode="r")
        except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(
                self.path, "container", "a readable video (corrupt or truncated file?)", str(exc)
            ) from None
        try:
            if not container.streams.video:
                raise InputError(self.path, "container", "a video stream", "none")
            yield container
        finally:
            container.close()

    # ---------------------------------------------------------------- iteration
    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of every frame."""
        return self.width, self.height

    def __len__(self) -> int:
        if self.num_frames is None:
            raise TypeError(f"{self.path}: the frame count is not known before decoding")
        return self.num_frames

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.frames():
            yield frame.image

    def frames(self, start: int = 0) -> Iterator[Frame]:
        """Yield :class:`Frame` objects from index ``start`` on (earlier ones are skipped).

        For a video the skipped frames are decoded and dropped, which is exact
        (no keyframe-seek rounding) at the cost of decode time.
        """
        if self.kind == "folder":
            yield from self._folder_frames(start)
        else:
            yield from self._video_frames(start)

    def _check_size(self, image: np.ndarray, index: int, where: str) -> None:
        if image.shape[0] != self.height or image.shape[1] != self.width:
            raise InputError(
                self.path,
                where,
                f"frame size {self.width}x{self.height} (as the first frame)",
                f"{image.shape[1]}x{image.shape[0]}",
            )

    def _folder_frames(self, start: int) -> Iterator[Frame]:
        for index in range(max(start, 0), len(self._files)):
            file = self._files[index]
            image = _read_image(file, index)
            self._check_size(image, index, f"frame {index} ({file.name})")
            yield Frame(index, file.name, image)

    def _video_frames(self, start: int) -> Iterator[Frame]:
        import av

        index = 0
        with self._open_container() as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for packet in container.demux(stream):
                    for vframe in packet.decode():
                        if index >= start:
                            image = vframe.to_ndarray(format="rgb24")
                            self._check_size(image, index, f"frame {index}")
                            yield Frame(index, f"{index:06d}.jpg", image)
                        index += 1
            except av.error.FFmpegError as exc:
                raise InputError(
                    self.path, f"frame {index}", "decodable video data (corrupt file?)", str(exc)
                ) from None
        if index == 0:
            raise InputError(self.path, "frame 0", "at least one decodable frame", "none")
        if self.strict and self.num_frames is not None and index < self.num_frames:
            raise InputError(
                self.path,
                f"frame {index}",
                f"{self.num_frames} frames as the container header declares (truncated file?)",
                f"the stream ended after {index}",
            )

    def __repr__(self) -> str:
        n = self.num_frames if self.num_frames is not None else "?"
        size = f"{self.width}x{self.height}"
        return f"FrameSource({str(self.path)!r}, {size}, {n} frames, {self.fps:g} fps)"


def frame_files(folder: str | Path) -> list[Path]:
    """The image files of a frame folder in frame order: by name, numbers compared as
    numbers (``2.jpg`` before ``10.jpg``). The one definition of a folder's frame order."""
    files = [p for p in Path(folder).iterdir() if p.is_file() and is_image_file(p)]
    return sorted(files, key=_natural_key)


def frame_names(path: str | Path) -> list[str] | None:
    """File names of a frame folder in frame order (:func:`frame_files`); None for a video."""
    path = Path(path)
    return [p.name for p in frame_files(path)] if path.is_dir() else None


def _natural_key(path: Path) -> list[Any]:
    """Sort ``2.jpg`` before ``10.jpg`` (zero-padded names sort the same either way)."""
    return [(0, int(t), t) if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", path.name)]


def _read_image(path: Path, index: int) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3)."""
    import cv2

    from semapose.io.bounded import read_bounded
    from semapose.io.image_header import MAX_IMAGE_FILE_BYTES, check_image_bytes

    where = f"frame {index}"
    raw = read_bounded(path, MAX_IMAGE_FILE_BYTES, "an image file")
    check_image_bytes(raw, path, where)  # before decoding: a header can claim 40000x40000
    data = np.frombuffer(raw, dtype=np.uint8) if raw else None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None else None
    except cv2.error as exc:  # e.g. beyond OpenCV's own size limits (formats without a check)
        raise InputError(path, f"frame {index}", "a readable image", str(exc).strip()) from None
    if image is None:
        raise InputError(path, f"frame {index}", "a readable image", "an unreadable or empty file")
    check_frame_size(image.shape[1], image.shape[0], path, where)  # what was really decoded
    return np.ascontiguousarray(image[:, :, ::-1])


def open_frames(path: str | Path, fps: float | None = None) -> FrameSource:
    """A :class:`FrameSource` for a video file or a frame folder."""
    return FrameSource(path, fps=fps)


class VideoWriter:
    """Write RGB uint8 frames to an H.264 MP4 (libx264, yuv420p), atomically.

    The frame size is fixed by the first frame; odd widths/heights are padded
    by one edge-replicated pixel (yuv420p needs even sizes). Use as a context
    manager: the file appears at ``path`` only when the block ends without an
    exception.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float = 25.0,
        crf: int = 23,
        preset: str = "veryfast",
        threads: int | None = None,
    ):
        self.path = Path(path)
        self.fps = fps
        self.crf = crf
        self.preset = preset
        #: encoder threads (None: x264's choice); the synthetic generator pins 1
        self.threads = threads
        self.frames_written = 0
        self._ctx: contextlib.AbstractContextManager[Path] | None = None
        self._container: Any = None
        self._stream: Any = None
        self._size: tuple[int, int] | None = None  # (w, h) of input frames

    def __enter__(self) -> VideoWriter:
        self._ctx = atomic_path(self.path)
        tmp = self._ctx.__enter__()
        import av

        # faststart: the index (moov) goes first, so browsers can play while loading
        self._container = av.open(
            str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        return self

    def write(self, frame_rgb: np.ndarray) -> None:
        import av

        if self._container is None:
            raise RuntimeError("VideoWriter.write() outside its `with` block")
        frame = np.asarray(frame_rgb)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InputError(
                self.path,
                f"frame {self.frames_written}",
                "an RGB uint8 image (H, W, 3)",
                f"{frame.dtype} {frame.shape}",
            )
        h, w = frame.shape[:2]
        if self._stream is None:
            self._size = (w, h)
            stream = self._container.add_stream(
                "libx264", rate=Fraction(self.fps).limit_denominator(1001)
            )
            stream.width, stream.height = w + (w % 2), h + (h % 2)
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(self.crf), "preset": self.preset}
            if self.threads is not None:
                stream.options = {**stream.options, "threads": str(self.threads)}
            self._stream = stream
        elif (w, h) != self._size:
            raise InputError(
                self.path,
                f"frame {self.frames_written}",
                f"frame size {self._size[0]}x{self._size[1]} (as the first frame)",  # type: ignore[index]
                f"{w}x{h}",
            )
        if w % 2 or h % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        vframe = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(vframe):
            self._container.mux(packet)
        self.frames_written += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._ctx is not None
        try:
            if exc_type is None and self._stream is not None:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None
        if exc_type is None and self.frames_written == 0:
            exc_type, exc = ValueError, ValueError(f"{self.path}: no frames were written")
            self._ctx.__exit__(exc_type, exc, None)
            raise exc
        self._ctx.__exit__(exc_type, exc, tb)
