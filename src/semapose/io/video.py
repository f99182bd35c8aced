"""Streaming video input and H.264 output.

:class:`FrameSource` iterates the frames of a video file (decoded by PyAV, which
bundles FFmpeg; there is no system ffmpeg) or of a folder of images, one at a
time, as RGB ``uint8`` arrays of shape ``(H, W, 3)``. It never decodes the
whole video into memory: a frame lives as long as the caller keeps it.

:class:`VideoWriter` (:mod:`semapose.io.video_writer`) encodes RGB frames to an MP4
(libx264, yuv420p, so it plays in any browser), written atomically: the target is
either absent/old or the complete new file.

Every failure on user input (missing, empty, corrupt or truncated file, an
unreadable image, a frame whose size differs from the first) raises
:class:`~semapose.errors.InputError` naming the file and the frame.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.io.image_header import check_frame_size

# the one MP4 writer (io/video_writer.py), importable from here too, where callers look for it
from semapose.io.video_writer import VideoWriter as VideoWriter
from semapose.limits import MAX_FPS, MIN_FPS

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


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


#: ``-``: a video piped on standard input (``cat clip.ts | semapose predict - ...``)
STDIN = "-"
#: URL schemes of live sources (read once, no end known in advance)
LIVE_SCHEMES: tuple[str, ...] = ("rtsp", "rtsps", "rtmp", "rtmps", "udp", "tcp", "srt", "rtp")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def is_stream(value: str | Path) -> bool:
    """Whether ``value`` names a stream PyAV opens by URL (``http://``, ``rtsp://``,
    ``file://``, ...) or ``-`` (standard input), not a local path."""
    return isinstance(value, str) and (value == STDIN or _URL.match(value) is not None)


def is_live(value: str | Path) -> bool:
    """A live stream (standard input, RTSP, RTMP, UDP, ...): ``--online`` is its natural mode."""
    if not isinstance(value, str):
        return False
    m = _URL.match(value)
    return value == STDIN or (m is not None and m.group(1).lower() in LIVE_SCHEMES)


def stream_name(value: str) -> str:
    """Output name of a stream: ``stdin`` for ``-``, else the stem of the URL's last path part
    (``http://host/clips/walk.mp4`` -> ``walk``), or ``stream``."""
    if value == STDIN:
        return "stdin"
    tail = re.sub(r"[?#].*$", "", _URL.sub("", value)).rstrip("/").split("/")
    stem = Path(tail[-1]).stem if len(tail) > 1 else ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")
    return stem or "stream"


def upright(image: np.ndarray, rotation: float) -> np.ndarray:
    """A decoded frame turned as its display matrix says (phones store portrait video as
    landscape frames plus a rotation, e.g. -90: turn 90 degrees clockwise to view)."""
    k = int(round(float(rotation or 0) / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


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

    ``path`` may also be a URL PyAV opens (``http://``, ``rtsp://``, ``file://``, ...) or
    ``-`` (a video piped on standard input): ``kind`` ``"stream"``, read once, probed by
    decoding its first frame (kept for :meth:`frames`), ``num_frames`` usually None.
    Frames are turned upright by the stream's display matrix (phone videos).

    >>> src = FrameSource("clip.mp4")                     # doctest: +SKIP
    >>> for frame in src.frames(): frame.image.shape      # doctest: +SKIP
    (1080, 1920, 3)
    """

    def __init__(self, path: str | Path, fps: float | None = None, strict: bool = True) -> None:
        self.strict = strict
        self._live: Any = None
        #: display rotation of a video (degrees counter-clockwise; frames come out upright)
        self.rotation = 0.0
        # 0 = default; below MIN_FPS the MP4 writer's rate (denominator <= 1001) would be 0
        if fps is not None and not (np.isfinite(fps) and (fps == 0 or MIN_FPS <= fps <= MAX_FPS)):
            raise InputError(
                path,
                "fps",
                f"a positive frame rate up to {MAX_FPS:g} (at least {MIN_FPS:g})",
                fps,
            )
        if is_stream(path):
            self.url = str(path)
            self.path = Path(stream_name(self.url))
            self.kind = "stream"
            self._probe_stream(fps)
            return
        self.url = ""
        self.path = Path(path)
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
            self.rotation = _first_rotation(container, stream)
            if int(round(self.rotation / 90.0)) % 2:  # portrait phone video: frames turned
                self.width, self.height = self.height, self.width

    def _probe_stream(self, fps: float | None) -> None:
        import av

        where = "standard input" if self.url == STDIN else "stream"
        try:
            if self.url == STDIN:
                import sys

                container = av.open(sys.stdin.buffer, mode="r")
            else:
                container = av.open(self.url, mode="r", timeout=(20.0, 60.0))
        except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(
                self.url, where, "a video PyAV can open (URL reachable? format known?)", str(exc)
            ) from None
        if not container.streams.video:
            container.close()
            raise InputError(self.url, where, "a video stream", "none")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = container.decode(stream)
        try:
            first = next(frames, None)
        except av.error.FFmpegError as exc:
            container.close()
            raise InputError(self.url, "frame 0", "decodable video data", str(exc)) from None
        if first is None:
            container.close()
            raise InputError(self.url, "frame 0", "at least one decodable frame", "none")
        self.rotation = float(getattr(first, "rotation", 0) or 0)
        image = upright(first.to_ndarray(format="rgb24"), self.rotation)
        self.height, self.width = int(image.shape[0]), int(image.shape[1])
        check_frame_size(self.width, self.height, self.url, where)
        declared = int(stream.frames or 0)
        self.num_frames = declared if declared > 0 else None
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(fps) if fps else (float(rate) if rate else DEFAULT_FOLDER_FPS)
        self._live = (container, frames, image)

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
        elif self.kind == "stream":
            yield from self._stream_frames(start)
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

    def _stream_frames(self, start: int) -> Iterator[Frame]:
        """The stream's frames, once (the first one was decoded by the probe)."""
        import av

        if self._live is None:
            raise InputError(self.url, "", "a stream read once (it cannot be read again)")
        container, frames, first = self._live
        self._live = None
        index = 0
        try:
            if start <= 0:
                yield Frame(0, "000000.jpg", first)
            index = 1
            for vframe in frames:
                if index >= start:
                    yield self._decoded(vframe, index)
                index += 1
        except av.error.FFmpegError as exc:
            raise InputError(
                self.url, f"frame {index}", "decodable video data (stream cut?)", str(exc)
            ) from None
        finally:
            container.close()

    def close(self) -> None:
        """Close a stream opened by the probe and not read (files hold nothing open)."""
        if self._live is not None:
            self._live[0].close()
            self._live = None

    def _decoded(self, vframe: Any, index: int) -> Frame:
        """A decoded PyAV frame as an upright RGB :class:`Frame`, its size checked."""
        image = upright(vframe.to_ndarray(format="rgb24"), self.rotation)
        self._check_size(image, index, f"frame {index}")
        return Frame(index, f"{index:06d}.jpg", image)

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
                            yield self._decoded(vframe, index)
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
        where = self.url or str(self.path)
        return f"FrameSource({where!r}, {size}, {n} frames, {self.fps:g} fps)"


def _first_rotation(container: Any, stream: Any) -> float:
    """Display rotation of a video (degrees counter-clockwise, PyAV's ``VideoFrame.rotation``)
    read from its first frame; 0 when it has none or the first frame does not decode (the
    frame loop then reports the error)."""
    import av

    try:
        for packet in container.demux(stream):
            for vframe in packet.decode():
                return float(getattr(vframe, "rotation", 0) or 0)
    except av.error.FFmpegError:
        return 0.0
    return 0.0


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


def read_image(path: str | Path, index: int = 0) -> np.ndarray:
    """One image file as RGB uint8 (H, W, 3); errors name the file (and ``frame index``)."""
    return _read_image(Path(path), index)


def open_frames(path: str | Path, fps: float | None = None) -> FrameSource:
    """A :class:`FrameSource` for a video file or a frame folder."""
    return FrameSource(path, fps=fps)
