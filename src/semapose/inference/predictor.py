"""A loaded model plus prediction options, and the inputs it can run on.

Shared by ``semapose predict``, ``semapose demo`` and the Python API.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semapose.errors import InputError
from semapose.inference.job import JobOptions, JobResult, predict_source
from semapose.inference.loading import LoadedModel, load
from semapose.inference.pipeline import RunnerOptions
from semapose.inference.stream import input_name, make_detector
from semapose.inference.tracker import DEFAULT_DETECT_EVERY


def list_inputs(path: Path) -> list[Path]:
    """The videos / frame folders named by ``path``.

    A video file -> itself; a folder with image files -> one frame folder; a folder
    of videos and/or frame folders -> all of them, sorted by name.
    """
    from semapose.io.video import is_image_file, is_video_file

    if not path.exists():
        raise InputError(path, "", "an existing video file or folder", "no such file or folder")
    if not path.is_file() and not path.is_dir():  # a FIFO or a device named like a video
        from semapose.io.bounded import file_kind

        got = file_kind(path.stat().st_mode)
        raise InputError(path, "", "a video file (a regular file) or a folder", got)
    if path.is_file():
        if not is_video_file(path):
            raise InputError(path, "", "a video file (.mp4, .avi, .mov, .mkv, ...)", path.suffix)
        return [path]
    entries = sorted(path.iterdir())
    if any(p.is_file() and is_image_file(p) for p in entries):
        return [path]
    items = [
        p
        for p in entries
        if (p.is_file() and is_video_file(p))
        or (p.is_dir() and any(is_image_file(q) for q in p.iterdir() if q.is_file()))
    ]
    if not items:
        raise InputError(path, "", "video files, image frames or folders of frames", "none")
    names = [input_name(p) for p in items]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(path, dup[0], "distinct input names (outputs are named after them)")
    return items


@dataclass
class Predictor:
    """Model + runner options; :meth:`run_one` processes one input end to end."""

    loaded: LoadedModel
    options: RunnerOptions
    device: Any
    #: detector period for models that track by pose (see inference/tracker.py)
    detect_every: int = DEFAULT_DETECT_EVERY

    @classmethod
    def create(
        cls,
        weights: str | Path | None = None,
        device: str = "auto",
        local_rank: int = 0,
        online: bool = False,
        flip: bool | None = None,
        batch: int | None = None,
        crop: str = "track",
    ) -> Predictor:
        from semapose.device import resolve_device

        dev = resolve_device(device, "--device", local_rank)
        loaded = load(weights, dev)
        return cls.from_loaded(loaded, dev, online=online, flip=flip, batch=batch, crop=crop)

    @classmethod
    def from_loaded(
        cls,
        loaded: LoadedModel,
        device: Any = "cpu",
        online: bool = False,
        flip: bool | None = None,
        batch: int | None = None,
        crop: str = "track",
    ) -> Predictor:
        options = RunnerOptions.from_config(
            loaded.cfg, online=online, flip_test=flip, batch_size=batch or None, crop=crop
        )
        return cls(loaded, options, device)

    def describe(self) -> str:
        o = self.options
        kind = f"T={1 + len(o.offsets)} offsets {list(o.offsets)}" if o.offsets else "single-frame"
        mode = ", online" if o.online else ""
        return f"{self.loaded.source} ({kind}{mode}, crop={o.crop}, flip={o.flip_test})"

    def fingerprint(
        self, boxes: str | None, detector: str | None, path: Path | None = None
    ) -> dict[str, Any]:
        """What a resumed run must share with the interrupted one: every option that changes
        the numbers, and the content (size + SHA-256) of the weights and box files, so a file
        changed in place under the same name starts the job over."""
        from semapose.io.fingerprint import file_digest

        o = self.options
        box_file = Path(boxes) if boxes else None
        if box_file is not None and box_file.is_dir() and path is not None:
            box_file = box_file / f"{input_name(path)}.json"
        weights = Path(self.loaded.source)
        return {
            "weights": self.loaded.source,
            "weights_content": file_digest(weights) if weights.is_file() else None,
            "boxes_content": file_digest(box_file) if box_file is not None else None,
            "offsets": list(o.offsets),
            "online": o.online,
            "crop": o.crop,
            "flip": o.flip_test,
            "input_size": list(o.input_size),
            "batch": o.batch_size,  # batched convolutions round differently
            "boxes": str(Path(boxes).resolve()) if boxes else None,
            "detector": detector,
            "detect_every": self.detect_every,
        }

    def make_detector(
        self, path: Path, boxes: str | None, detector: str | None, multi: bool
    ) -> Any:
        """Boxes from a file (this input's frames) or a detector by name (default ssdlite)."""
        return make_detector(boxes or None, detector, source=path, multi=multi)

    def run_one(
        self,
        path: Path,
        out_dir: Path,
        boxes: str | None = None,
        detector: str | None = None,
        detector_obj: Any = None,
        multi: bool = False,
        write_video: bool = True,
        resume: bool = False,
        max_frames: int | None = None,
        checkpoint_every: int = 50,
        fps: float | None = None,
        progress: bool = True,
        on_frames: Any = None,
        smooth: Any = None,
    ) -> JobResult:
        det = detector_obj or self.make_detector(path, boxes, detector, multi)
        job = JobOptions(
            out_dir=Path(out_dir),
            write_video=write_video,
            resume=resume,
            checkpoint_every=checkpoint_every,
            max_frames=max_frames,
            progress=progress,
            fps=fps,
            fingerprint=self.fingerprint(
                boxes, None if boxes else (detector or "default"), Path(path)
            ),
            smooth=smooth,
        )
        from semapose.inference.tracker import DetectionSchedule

        return predict_source(
            path,
            self.loaded.model,
            self.options,
            det,
            job,
            self.device,
            on_frames=on_frames,
            schedule=DetectionSchedule(self.detect_every),
        )


__all__ = ["Predictor", "list_inputs"]
