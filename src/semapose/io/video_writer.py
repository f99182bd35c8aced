"""H.264 MP4 output: :class:`VideoWriter` (libx264, yuv420p, so it plays in any browser),
written atomically: the target is either absent/old or the complete new file. Also
importable as ``semapose.io.video.VideoWriter``.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.io.atomic import atomic_path


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
        #: display rotation written into the container (degrees counter-clockwise, as
        #: PyAV's ``VideoFrame.rotation``); tests use it to make phone-like videos
        self.rotation = 0.0
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
            if self.rotation:
                stream.set_display_rotation(self.rotation)
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


__all__ = ["VideoWriter"]
