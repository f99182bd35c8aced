"""PoseTrack18 layout on disk: JPEG frames, one JSON per sequence, one MP4 per sequence.

::

    OUT/images/<split>/<seq>/000000.jpg ...
    OUT/annotations/<split>/<seq>.json
    OUT/videos/<split>/<seq>.mp4

A sequence's frames are written into a hidden temporary folder that is renamed
into place when complete, and the JSON (written atomically) comes last, so an
interrupted run never leaves a sequence that looks complete but is not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from semapose.io.atomic import atomic_write_json
from semapose.io.video import VideoWriter
from semapose.keypoints import COCO_SKELETON, posetrack_categories

JPEG_QUALITY = 92
FPS = 25


def categories() -> list[dict[str, Any]]:
    """PoseTrack18's single ``person`` category (keypoint names and 1-based skeleton)."""
    return posetrack_categories(COCO_SKELETON)


def _usual_mode(path: Path) -> None:
    """Atomic writes create 0600 temp files; give outputs the mode a plain write would."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


class SequenceWriter:
    """Writes one sequence's frames (JPEG + optional MP4) and finally its annotation JSON."""

    def __init__(
        self, root: Path, split: str, seq: str, size: tuple[int, int], video: bool
    ) -> None:
        self.root = root
        self.split = split
        self.seq = seq
        self.width, self.height = size
        self.final_dir = root / "images" / split / seq
        self.tmp_dir = root / "images" / split / f".{seq}.tmp{os.getpid()}"
        self.json_path = root / "annotations" / split / f"{seq}.json"
        self.video_path = root / "videos" / split / f"{seq}.mp4" if video else None
        self.files: list[Path] = []
        self._video: VideoWriter | None = None

    def __enter__(self) -> SequenceWriter:
        if self.tmp_dir.exists():
            shutil.rmtree(self.tmp_dir)
        self.tmp_dir.mkdir(parents=True)
        if self.video_path is not None:
            self._video = VideoWriter(self.video_path, FPS, crf=20, preset="ultrafast", threads=1)
            self._video.__enter__()
        return self

    def file_name(self, t: int) -> str:
        """``file_name`` of frame ``t`` as written in the JSON (relative to the root)."""
        return f"images/{self.split}/{self.seq}/{t:06d}.jpg"

    def add_frame(self, t: int, image: np.ndarray) -> None:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:  # pragma: no cover
            raise RuntimeError("JPEG encoding failed")
        (self.tmp_dir / f"{t:06d}.jpg").write_bytes(buf.tobytes())
        self.files.append(self.final_dir / f"{t:06d}.jpg")
        if self._video is not None:
            self._video.write(np.ascontiguousarray(image[:, :, ::-1]))  # BGR -> RGB

    def finish(self, annotation: dict[str, Any]) -> list[Path]:
        if self._video is not None:
            self._video.__exit__(None, None, None)
            self._video = None
            assert self.video_path is not None
            self.files.append(self.video_path)
        if self.final_dir.exists():
            shutil.rmtree(self.final_dir)
        os.replace(self.tmp_dir, self.final_dir)
        atomic_write_json(self.json_path, annotation)
        self.files.append(self.json_path)
        for path in (self.json_path, self.video_path):
            if path is not None:
                _usual_mode(path)
        return self.files

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            return
        if self._video is not None:
            with contextlib.suppress(BaseException):
                self._video.__exit__(exc_type, exc, tb)
        if self.tmp_dir.exists():
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
