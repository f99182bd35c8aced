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
from semapose.inference.photos import PHOTOS_NOTE, PhotoSet
from semapose.inference.pipeline import RunnerOptions
from semapose.inference.stream import input_name, make_detector
from semapose.inference.tracking import DEFAULT_DETECT_EVERY, DEFAULT_POSE_THRESHOLD

#: an input of ``semapose predict``: a video file or frame folder (Path), a stream (a URL
#: or ``-``, str), or photos processed each alone (:class:`PhotoSet`)
Input = Path | str | PhotoSet

#: how a folder of images is read: ``auto`` (frames when every image has one size,
#: else photos), ``frames`` (a video's frames) or ``photos`` (each image alone)
IMAGES_MODES = ("auto", "frames", "photos")


@dataclass
class InputList:
    """What ``semapose predict`` will process, and what it left out (named, not silent)."""

    items: list[Input]
    #: folder entries that are neither videos, images nor frame folders
    skipped: list[Path]
    #: one line per input that needs saying how it is read (photos, frames by size)
    notes: list[str]


def list_inputs(path: Path | str, images: str = "auto") -> list[Input]:
    """The inputs named by ``path`` (see :func:`scan_inputs`)."""
    return scan_inputs(path, images).items


def scan_inputs(path: Path | str, images: str = "auto") -> InputList:
    """The videos, frame folders, photo sets and streams named by ``path``.

    A URL PyAV opens (``http://``, ``rtsp://``, ``file://``, ...) or ``-`` (standard input)
    -> that stream; a video file -> itself; an image file -> a photo (processed alone); a
    folder holding only images -> frames of one video or a set of photos (``images``;
    ``auto``: frames when two or more images have one size, else photos); any other folder -> every
    video in it, every sub-folder of images (frames, or photos by the same rule) and its
    loose images (one more input named after the folder), sorted by name. Entries that are
    none of these are returned in ``skipped`` (the command names them).
    """
    from semapose.io.video import is_image_file, is_stream, is_video_file

    if images not in IMAGES_MODES:
        raise InputError(None, "--images", f"one of {', '.join(IMAGES_MODES)}", images)
    if isinstance(path, str) and is_stream(path):
        return InputList([path], [], [])
    path = Path(path)
    if not path.exists():
        raise InputError(path, "", "an existing video file, image, folder or URL", "missing")
    if not path.is_file() and not path.is_dir():  # a FIFO or a device named like a video
        from semapose.io.bounded import file_kind

        got = file_kind(path.stat().st_mode)
        raise InputError(path, "", "a video file (a regular file), an image or a folder", got)
    if path.is_file():
        if is_image_file(path):
            note = f"{path.name}: a photo ({PHOTOS_NOTE})"
            return InputList([PhotoSet(path.stem, [path], path)], [], [note])
        if not is_video_file(path):
            raise InputError(
                path, "", "a video (.mp4, .mov, ...), an image (.jpg, .png, ...) or a URL",
                path.suffix or "a file without extension",
            )  # fmt: skip
        return InputList([path], [], [])
    entries = sorted(path.iterdir())
    loose = [p for p in entries if p.is_file() and is_image_file(p)]
    items: list[Input] = []
    skipped: list[Path] = []
    notes: list[str] = []
    for p in entries:
        if p.is_file() and is_video_file(p):
            items.append(p)
        elif p.is_dir() and any(is_image_file(q) for q in p.iterdir() if q.is_file()):
            items.append(_image_folder(p, images, notes, single_is_photo=False))
        elif not (p.is_file() and is_image_file(p)) and not p.name.startswith("."):
            skipped.append(p)
    if loose:
        only_images = not items
        items.append(_image_folder(path, images, notes))
        if not only_images:
            notes.append(
                f"{path.name}: its {len(loose)} loose image(s) are one more input, named "
                f"{path.name!r}, beside the {len(items) - 1} video(s) / frame folder(s)"
            )
    if not items:
        raise InputError(
            path, "", "videos, images or folders of frames",
            f"none ({len(skipped)} other entries)" if skipped else "an empty folder",
        )  # fmt: skip
    names = [input_name(p) if not isinstance(p, PhotoSet) else p.name for p in items]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(path, dup[0], "distinct input names (outputs are named after them)")
    return InputList(items, skipped, notes)


def _image_folder(
    folder: Path, images: str, notes: list[str], single_is_photo: bool = True
) -> Path | PhotoSet:
    """A folder's loose images as video frames (Path) or photos (:class:`PhotoSet`); a
    sub-folder holding one image is a one-frame sequence (``single_is_photo=False``: a
    PoseTrack sequence folder may hold a single labelled frame)."""
    from semapose.io.image_header import image_size
    from semapose.io.video import frame_files

    files = frame_files(folder)
    mode = images
    if mode == "auto":
        found = [image_size(f) for f in files]
        sizes = set(found)
        # frames when one size holds most images (a frame folder with an odd frame is a
        # broken video, reported as such); photos when no size does
        common = max((found.count(z) for z in sizes if z is not None), default=0)
        many = len(files) > 1 or not single_is_photo
        mode = "frames" if many and common * 2 > len(files) else "photos"
        if mode == "frames" and len(files) > 1 and len(sizes) == 1:
            notes.append(
                f"{folder.name}: {len(files)} images of one size, read as the frames of one "
                "video (--images photos: each image alone)"
            )
        elif mode == "photos" and len(files) == 1:
            notes.append(f"{folder.name}: one image, a photo ({PHOTOS_NOTE})")
        elif mode == "photos":
            notes.append(
                f"{folder.name}: {len(files)} images of many sizes, read as photos "
                f"({PHOTOS_NOTE}; --images frames to force frames)"
            )
    elif mode == "photos":
        notes.append(f"{folder.name}: {len(files)} photos ({PHOTOS_NOTE})")
    return folder if mode == "frames" else PhotoSet(folder.name, files, folder)


def has_landmarks(model: Any) -> bool:
    """Whether ``model``'s backbone gives its own landmarks with its features (BlazePose)."""
    backbone = getattr(model, "backbone", None)
    return hasattr(model, "encode_with_outputs") and hasattr(backbone, "forward_with_outputs")


@dataclass
class Predictor:
    """Model + runner options; :meth:`run_one` processes one input end to end."""

    loaded: LoadedModel
    options: RunnerOptions
    device: Any
    #: detector period for models that track by pose (see inference/tracking/schedule.py)
    detect_every: int = DEFAULT_DETECT_EVERY
    #: persons are output while their pose-present score is at least this (models with one)
    pose_threshold: float = DEFAULT_POSE_THRESHOLD

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
        landmarks: bool = False,
    ) -> Predictor:
        from semapose.device import resolve_device

        dev = resolve_device(device, "--device", local_rank)
        loaded = load(weights, dev)
        return cls.from_loaded(
            loaded, dev, online=online, flip=flip, batch=batch, crop=crop, landmarks=landmarks
        )

    @classmethod
    def from_loaded(
        cls,
        loaded: LoadedModel,
        device: Any = "cpu",
        online: bool = False,
        flip: bool | None = None,
        batch: int | None = None,
        crop: str = "track",
        landmarks: bool = False,
    ) -> Predictor:
        if landmarks and not has_landmarks(loaded.model):
            raise InputError(
                None,
                "--landmarks 33",
                "a model whose backbone gives landmarks (BlazePose: the default weights, "
                "--single-frame, a --weights trained over it)",
                loaded.source,
            )
        if landmarks and crop != "track":
            raise InputError(None, "--landmarks 33", "--crop track (the landmarks come with "
                             "each frame's own crop)", f"--crop {crop}")  # fmt: skip
        options = RunnerOptions.from_config(
            loaded.cfg,
            online=online,
            flip_test=flip,
            batch_size=batch or None,
            crop=crop,
            landmarks=landmarks,
        )
        return cls(loaded, options, device)

    def describe(self) -> str:
        o = self.options
        kind = f"T={1 + len(o.offsets)} offsets {list(o.offsets)}" if o.offsets else "single-frame"
        mode = ", online" if o.online else ""
        marks = ", landmarks 33" if o.landmarks else ""
        return f"{self.loaded.source} ({kind}{mode}, crop={o.crop}, flip={o.flip_test}{marks})"

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
            "pose_threshold": self.pose_threshold,
            "landmarks": self.options.landmarks,
        }

    def make_detector(
        self, path: Input, boxes: str | None, detector: str | None, multi: bool
    ) -> Any:
        """Boxes from a file (this input's frames) or a detector by name (default ssdlite)."""
        if isinstance(path, (PhotoSet, str)):
            if boxes:
                raise InputError(boxes, "--boxes", "a video or frame folder input (box files "
                                 "are matched to frames)", f"{path}")  # fmt: skip
            return make_detector(None, detector, device=self.device)
        return make_detector(boxes or None, detector, source=path, multi=multi, device=self.device)

    def run_one(
        self,
        path: Input,
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
        draw_threshold: float = 0.3,
        draw_hidden: bool = True,
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
                boxes,
                None if boxes else (detector or "default"),
                path if isinstance(path, Path) else None,
            ),
            smooth=smooth,
            draw_threshold=draw_threshold,
            draw_hidden=draw_hidden,
        )
        from semapose.inference.stream import TrackerAdapter
        from semapose.inference.tracking import DetectionSchedule

        threshold = self.pose_threshold
        if isinstance(path, PhotoSet):
            from semapose.inference.photos import predict_photos

            return predict_photos(
                path, self.loaded.model, self.options, det, job, self.device, threshold
            )  # type: ignore[no-any-return]

        return predict_source(
            path,
            self.loaded.model,
            self.options,
            det,
            job,
            self.device,
            tracker_factory=lambda d: TrackerAdapter(d, presence_threshold=threshold),
            on_frames=on_frames,
            schedule=DetectionSchedule(self.detect_every),
        )


__all__ = ["Input", "InputList", "Predictor", "has_landmarks", "list_inputs", "scan_inputs"]
