"""The one frame loop: frames in, tracked poses out.

Every caller that turns frames into poses goes through :class:`PoseStream`:
``semapose predict`` (:mod:`semapose.inference.job` adds saving and resume),
``PoseEstimator.predict`` (yields the poses), ``semapose demo`` and training-time
validation (:mod:`semapose.engine.validate`, ground-truth boxes as a box file).
Per frame, in this order:

1. ``schedule.reason(frame, tracker)`` (or ``should_detect``; every frame without a
   schedule);
2. ``detector.detect(image, frame)`` -> (K, 5) x1, y1, x2, y2, score, rounded to
   3 decimals (as a resumed run reads them back); a tracker's "request" goes to
   ``detector.detect_near(image, tracker.followed_boxes, frame)`` when both exist;
3. ``tracker.update(frame, detections | None)`` -> the frame's :class:`TrackBox` list
   (``None``: the detector did not run this frame);
4. ``runner.push_frame`` encodes the crops and returns this frame's single-frame
   :class:`CropOutput` per track and the key frames now complete;
5. ``tracker.observe_crops(frame, crops)`` (the current frame's single-frame pose);
6. ``tracker.select(ready)`` drops the persons the tracker decided not to output
   in their frame (when the tracker has ``select``);
7. ``tracker.observe(ready)`` (the temporal poses, ``lookahead`` frames late).

A schedule must be a pure function of the frame index and the tracker's state:
a resumed run replays the tracker from the stored detections (``None`` when
skipped) and crop outputs and never asks the schedule again.

Frame order belongs to the source (:class:`semapose.io.video.FrameSource`,
numbers in file names compared as numbers); box files are mapped to frames with
the same order (:func:`make_detector`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from semapose.errors import InputError
from semapose.inference.detections import usable_detections
from semapose.inference.results import CropOutput, FramePoses, TrackBox


class StreamTracker(Protocol):
    """What :class:`PoseStream` asks of a tracker (see the module docstring)."""

    def update(self, frame: int, detections: np.ndarray | None) -> list[TrackBox]: ...

    def observe_crops(self, frame: int, crops: dict[int, CropOutput]) -> None: ...

    def observe(self, frames: list[FramePoses]) -> None: ...


class StreamSchedule(Protocol):
    """What :class:`PoseStream` asks of a detection schedule: when the detector runs, a
    pure function of the frame index and the tracker (the project's schedule is
    :class:`semapose.inference.tracking.DetectionSchedule`)."""

    def should_detect(self, frame: int, tracker: Any) -> bool: ...


class TrackerAdapter:
    """The project tracker (:class:`semapose.inference.tracking.Tracker`) behind the
    :class:`StreamTracker` interface, with :class:`TrackBox` (x, y, w, h) output.

    ``select`` drops the persons the tracker decided not to output in their frame
    (pose-present score below the threshold, OKS duplicates); see the tracker's docs.
    """

    def __init__(self, detector: Any = None, **tracker_options: Any) -> None:
        from semapose.inference.tracking import Tracker

        # Boxes from a file are used exactly as given; a live detector's boxes are
        # checked by the pose (pose-present score, OKS duplicates).
        self.tracker = Tracker.for_detector(detector, **tracker_options)

    def expect_pose_scores(self) -> None:
        self.tracker.expect_pose_scores()

    @property
    def last_detection_frame(self) -> int:
        return self.tracker.last_detection_frame

    @property
    def needs_detection(self) -> bool:
        return self.tracker.needs_detection

    @property
    def pose_tracked(self) -> bool:
        return self.tracker.pose_tracked

    @property
    def followed_boxes(self) -> np.ndarray:
        return self.tracker.followed_boxes

    def update(self, frame: int, detections: np.ndarray | None) -> list[TrackBox]:
        tracks = self.tracker.update(frame, detections)
        return [TrackBox(t.track_id, t.box_xywh, t.score) for t in tracks]

    def observe_crops(self, frame: int, crops: dict[int, CropOutput]) -> None:
        self.tracker.observe_crops(frame, crops)

    def select(self, frames: list[FramePoses]) -> list[FramePoses]:
        return self.tracker.select(frames)  # type: ignore[no-any-return]

    def observe(self, frames: list[FramePoses]) -> None:
        self.tracker.observe(frames)


@dataclass
class StreamStep:
    """What one input frame (or, with ``frame=None``, the end of the stream) produced."""

    frame: int | None
    #: (K, 5) x1, y1, x2, y2, score as given to the tracker; None when the detector did not run
    detections: np.ndarray | None = None
    #: single-frame outputs of this frame's crops by track id
    crops: dict[int, CropOutput] = field(default_factory=dict)
    #: key frames completed by this frame, in order
    ready: list[FramePoses] = field(default_factory=list)


class PoseStream:
    """Frames -> detections -> tracks -> poses (see the module docstring).

    ``runner``: a :class:`~semapose.inference.pipeline.TemporalRunner`;
    ``detector``: an object with ``detect(frame, index) -> (K, 5)``; ``tracker``:
    a :class:`StreamTracker` (default: :class:`TrackerAdapter` for ``detector``);
    ``source``: the input path named in errors about bad frames.
    """

    def __init__(
        self,
        runner: Any,
        detector: Any,
        tracker: StreamTracker | None = None,
        schedule: StreamSchedule | None = None,
        source: Path | None = None,
    ) -> None:
        self.runner = runner
        self.detector = detector
        self.tracker: StreamTracker = tracker if tracker is not None else TrackerAdapter(detector)
        expect = getattr(self.tracker, "expect_pose_scores", None)
        if expect is not None and getattr(runner, "pose_scores", False):
            expect()  # the tracker frames the first frame's boxes for a pose-scored model
        self.schedule = schedule
        self.source = source

    def step(self, index: int, image: np.ndarray, name: str = "") -> StreamStep:
        """Process frame ``index`` (the runner's next frame)."""
        image = self._checked(index, image)
        detections = None
        why = self._why(index)
        if why is not None:
            raw = usable_detections(
                self._detect(image, index, why),
                image.shape[1],
                image.shape[0],
                self.source,
                index,
                getattr(self.detector, "name", type(self.detector).__name__),
            )
            rounded = [[round(float(v), 3) for v in d] for d in raw]
            detections = np.asarray(rounded, dtype=np.float64).reshape(-1, 5)
        tracks = self.tracker.update(index, detections)
        crops, ready = self.runner.push_frame(index, image, tracks, name)
        self.tracker.observe_crops(index, crops)
        ready = self._select(ready)
        self.tracker.observe(ready)
        return StreamStep(index, detections, crops, ready)

    def _why(self, index: int) -> str | None:
        """The schedule's reason to detect on ``index`` ("full", "request") or None."""
        if self.schedule is None:
            return "full"
        reason = getattr(self.schedule, "reason", None)
        if reason is not None:
            return reason(index, self.tracker)  # type: ignore[no-any-return]
        return "full" if self.schedule.should_detect(index, self.tracker) else None

    def _detect(self, image: np.ndarray, index: int, why: str) -> Any:
        """The detector's boxes; a tracker's request (re-anchoring) is answered near the
        people it holds when both can (``detect_near``: a fraction of the tiled cost)."""
        near = getattr(self.detector, "detect_near", None)
        boxes = getattr(self.tracker, "followed_boxes", None)
        if why == "request" and near is not None and boxes is not None and len(boxes):
            return near(image, boxes, index)
        return self.detector.detect(image, index)

    def finish(self) -> StreamStep:
        """The key frames still waiting for future frames (end of the stream)."""
        ready = self._select(self.runner.finish())
        self.tracker.observe(ready)
        return StreamStep(None, None, {}, ready)

    def steps(self, frames: Iterable[Any]) -> Iterator[StreamStep]:
        """One :class:`StreamStep` per frame (objects with ``index``, ``name``, ``image``, as
        :class:`semapose.io.video.Frame`), then the final one."""
        for frame in frames:
            yield self.step(frame.index, frame.image, frame.name)
        yield self.finish()

    def poses(self, frames: Iterable[Any]) -> Iterator[FramePoses]:
        """The tracked poses of every frame, in frame order."""
        for s in self.steps(frames):
            yield from s.ready

    def _select(self, ready: list[FramePoses]) -> list[FramePoses]:
        """The tracker's choice of who is output (absent or duplicate persons dropped)."""
        select = getattr(self.tracker, "select", None)
        return list(select(ready)) if select is not None else ready

    def _checked(self, index: int, image: Any) -> np.ndarray:
        image = np.asarray(image)
        if (
            image.ndim != 3
            or image.shape[2] != 3
            or image.dtype != np.uint8
            or min(image.shape[:2]) < 1
        ):
            raise InputError(
                self.source,
                f"frame {index}",
                "an RGB uint8 image (H, W, 3) with H, W >= 1",
                f"{image.dtype} array of shape {image.shape}",
            )
        return image


@dataclass(frozen=True)
class ArrayFrame:
    """A frame given as an array (the API's iterables of images)."""

    index: int
    name: str
    image: Any


def input_frames(source: str | Path | Iterable[Any], fps: float | None = None) -> Iterator[Any]:
    """Frames of a video file or frame folder (:class:`~semapose.io.video.FrameSource` order),
    or of an iterable of RGB arrays (named ``""``)."""
    if isinstance(source, (str, Path)):
        from semapose.io.video import FrameSource, is_stream

        yield from FrameSource(source if is_stream(source) else Path(source), fps=fps).frames()
    else:
        for i, image in enumerate(source):
            yield ArrayFrame(i, "", image)


def input_name(path: Path | str) -> str:
    """Output base name of an input: the video's stem or the frame folder's name; for a
    stream, the stem of its URL (``stdin`` for ``-``)."""
    from semapose.io.video import is_stream, stream_name

    if isinstance(path, str) and is_stream(path):
        return stream_name(path)
    path = Path(path)
    return path.stem if path.is_file() else path.name


def make_detector(
    boxes: str | Path | None = None,
    detector: str | Any | None = None,
    source: Path | None = None,
    multi: bool = False,
    device: Any = "cpu",
) -> Any:
    """The one place a detector is chosen.

    ``boxes``: a box file (mmpose/PoseWarper), or a folder of them named after the
    inputs; its detections are mapped to the frames of ``source`` in the source's
    own frame order. Else ``detector``: a name (default ``DEFAULT_DETECTOR``) or an
    object with ``detect``. ``multi``: the box file holds several sequences, keep
    ``source``'s. ``device``: where a detector built by name runs (the pose model's device).
    """
    if boxes is not None and str(boxes) != "":
        from semapose.inference.detectors.boxfile import BoxFileDetector
        from semapose.io.video import FrameSource, frame_names

        box_path = Path(boxes)
        if box_path.is_dir():  # one box file per input, named after it
            if source is None:
                raise InputError(box_path, "", "a box file (a folder needs named inputs)")
            box_path = box_path / f"{input_name(source)}.json"
            multi = False
            if not box_path.is_file():
                raise InputError(box_path, "", f"a box file for {source.name}", "no such file")
        video = source if source is not None and source.is_file() else None
        return BoxFileDetector.from_file(
            box_path,
            frame_names=frame_names(source) if source is not None else None,
            sequence=input_name(source) if multi and source is not None else None,
            num_frames=FrameSource(video).num_frames if video is not None else None,
            input_name=input_name(source) if source is not None else None,
        )
    if detector is None or isinstance(detector, str):
        from semapose.inference.detectors import DEFAULT_DETECTOR, build_detector

        return build_detector(detector or DEFAULT_DETECTOR, device=device)
    return detector


__all__ = [
    "ArrayFrame",
    "PoseStream",
    "StreamSchedule",
    "StreamStep",
    "StreamTracker",
    "TrackerAdapter",
    "input_frames",
    "input_name",
    "make_detector",
]
