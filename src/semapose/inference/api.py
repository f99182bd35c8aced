"""The Python API: ``PoseEstimator``.

>>> from semapose import PoseEstimator                          # doctest: +SKIP
>>> est = PoseEstimator.from_pretrained()                         # bundled (synthetic) weights
>>> for frame in est.predict("video.mp4"):                        # doctest: +SKIP
...     for person in frame.persons:
...         print(frame.index, person.track_id, person.keypoints.shape, person.box)

``predict`` streams: frames are decoded, detected, tracked and estimated as the
loop asks for them, and each frame's result is yielded as soon as its clip is
complete (``max(offsets)`` frames later; at once with ``online=True``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from semapose.inference.predictor import Predictor, frame_names
from semapose.inference.results import FramePoses, PersonPose, TrackBox


class PoseEstimator:
    """Tracked multi-person 2D poses for videos, frame folders or streams of frames."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    @classmethod
    def from_pretrained(
        cls,
        path_or_name: str | Path | None = None,
        device: str = "auto",
        online: bool = False,
        flip: bool | None = None,
        batch: int | None = None,
    ) -> PoseEstimator:
        """Load weights: ``None``/``"bundled"`` (trained on synthetic video only), a semapose
        checkpoint or training folder, an official HRNet/ViTPose/mmpose file, or a known name."""
        from semapose.inference.loading import warn_notes

        predictor = Predictor.create(path_or_name, device, online=online, flip=flip, batch=batch)
        warn_notes(predictor.loaded)
        return cls(predictor)

    @classmethod
    def from_model(cls, model: Any, cfg: Any, device: str = "cpu", **kwargs: Any) -> PoseEstimator:
        """Wrap an in-memory model (``encode_frames``/``decode_clip``) and its config."""
        from semapose.inference.loading import LoadedModel

        loaded = LoadedModel(model.eval(), cfg, len(cfg.data.offsets) > 0, "<in-memory model>")
        return cls(Predictor.from_loaded(loaded, device, **kwargs))

    @property
    def notes(self) -> list[str]:
        """Notices about the weights (e.g. that the bundled ones are synthetic-only)."""
        return list(self.predictor.loaded.notes)

    def predict(
        self,
        source: str | Path | Iterable[np.ndarray],
        boxes: str | Path | None = None,
        detector: str | Any | None = None,
        return_images: bool = False,
    ) -> Iterator[FramePoses]:
        """Yield one :class:`FramePoses` per frame, in order.

        ``source``: a video file, a frame folder, or any iterable of RGB ``uint8``
        frames (H, W, 3). Person boxes come from ``boxes`` (an mmpose/PoseWarper
        file) or ``detector`` (a name such as ``"ssdlite"``, or an object with
        ``detect(frame, index) -> (K, 5)`` x1, y1, x2, y2, score).
        ``return_images`` attaches each frame's image to its result.
        """
        from semapose.inference.job import TrackerAdapter
        from semapose.inference.pipeline import RunnerOptions, TemporalRunner

        if isinstance(source, (str, Path)):
            from semapose.io.video import FrameSource

            path = Path(source)
            frames: Iterable[tuple[int, str, np.ndarray]] = (
                (f.index, f.name, f.image) for f in FrameSource(path).frames()
            )
            names = frame_names(path)
        else:
            frames = ((i, "", img) for i, img in enumerate(source))
            path, names = None, None
        det = self._detector(boxes, detector, names)
        opts = RunnerOptions(**{**vars(self.predictor.options), "keep_images": return_images})
        runner = TemporalRunner(self.predictor.loaded.model, opts, self.predictor.device)
        tracker = TrackerAdapter(det)
        for index, name, image in frames:
            image = np.asarray(image)
            if (
                image.ndim != 3
                or image.shape[2] != 3
                or image.dtype != np.uint8
                or min(image.shape[:2]) < 1
            ):
                from semapose.errors import InputError

                raise InputError(
                    path,
                    f"frame {index}",
                    "an RGB uint8 image (H, W, 3) with H, W >= 1",
                    f"{image.dtype} array of shape {image.shape}",
                )
            dets = np.asarray(det.detect(image, index), dtype=np.float64).reshape(-1, 5)
            tracks: list[TrackBox] = tracker.update(index, dets)
            ready = runner.push(index, image, tracks, name)
            tracker.observe(ready)
            yield from ready
        yield from runner.finish()

    def _detector(self, boxes: str | Path | None, detector: Any, names: list[str] | None) -> Any:
        if boxes is not None:
            from semapose.inference.detectors.boxfile import BoxFileDetector

            return BoxFileDetector.from_file(boxes, frame_names=names)
        if detector is None or isinstance(detector, str):
            from semapose.inference.detectors import DEFAULT_DETECTOR, build_detector

            return build_detector(detector or DEFAULT_DETECTOR)
        return detector


__all__ = ["PoseEstimator", "FramePoses", "PersonPose"]
