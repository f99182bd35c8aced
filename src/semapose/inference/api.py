"""The Python API: ``PoseEstimator``.

>>> from semapose import PoseEstimator                          # doctest: +SKIP
>>> est = PoseEstimator.from_pretrained()                         # BlazePose + temporal
>>> for frame in est.predict("video.mp4"):                        # doctest: +SKIP
...     for person in frame.persons:
...         print(frame.index, person.track_id, person.keypoints.shape, person.box)

``predict`` streams: frames are decoded, detected, tracked and estimated as the
loop asks for them, and each frame's result is yielded as soon as its clip is
complete (``max(offsets)`` frames later; at once with ``online=True``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from semapose.inference.predictor import Predictor
from semapose.inference.results import FramePoses, PersonPose


class SyntheticWeightsWarning(UserWarning):
    """The weights were trained on synthetic video only (fine for trying, not for real footage)."""


class PoseEstimator:
    """Tracked multi-person 2D poses for videos, frame folders or streams of frames."""

    def __init__(self, predictor: Predictor, threads: int | None = None) -> None:
        import torch

        from semapose.threads import check_threads, set_threads

        self.predictor = predictor
        #: torch's CPU threads for this process (``threads=None`` leaves torch's setting)
        self.threads = (
            torch.get_num_threads()
            if threads is None
            else set_threads(check_threads(threads, "threads"))
        )

    @classmethod
    def from_pretrained(
        cls,
        path_or_name: str | Path | None = None,
        device: str = "auto",
        online: bool = False,
        flip: bool | None = None,
        batch: int | None = None,
        landmarks: int = 17,
        threads: int | None = None,
    ) -> PoseEstimator:
        """Load weights: ``None`` (the default: our temporal module over BlazePose, whose weights
        are fetched once from PyPI; ``"blazepose"`` for BlazePose alone), any value
        ``--weights`` takes (:mod:`semapose.weights.resolve`): a name such as
        ``"tiny_synthetic"`` (synthetic video only), a semapose checkpoint or training folder,
        an official HRNet/ViTPose/mmpose file, a ``.tflite``, a URL with ``#sha256=``.
        ``landmarks=33``: each person also carries BlazePose's 33 landmarks of its crop
        (``person.landmarks`` (33, 4): x, y, visibility, presence; BlazePose models only).
        ``threads``: sets torch's CPU threads for this process as ``--threads`` does (0: the
        free cores, :func:`semapose.threads.default_threads`; None, the default: torch's
        setting is left as it is); results do not depend on it."""
        from semapose.inference.loading import warn_notes

        if landmarks not in (17, 33):
            raise ValueError(f"landmarks must be 17 or 33, got {landmarks!r}")
        predictor = Predictor.create(
            path_or_name, device, online=online, flip=flip, batch=batch, landmarks=landmarks == 33
        )
        warn_notes(predictor.loaded)
        synthetic = [n for n in predictor.loaded.notes if "synthetic" in n.lower()]
        if synthetic:
            import warnings

            warnings.warn(synthetic[0], SyntheticWeightsWarning, stacklevel=2)
        return cls(predictor, threads)

    @classmethod
    def from_model(
        cls,
        model: Any,
        cfg: Any,
        device: str = "cpu",
        threads: int | None = None,
        **kwargs: Any,
    ) -> PoseEstimator:
        """Wrap an in-memory model (``encode_frames``/``decode_clip``) and its config."""
        from semapose.inference.loading import LoadedModel

        loaded = LoadedModel(model.eval(), cfg, len(cfg.data.offsets) > 0, "<in-memory model>")
        return cls(Predictor.from_loaded(loaded, device, **kwargs), threads)

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
        detect_every: int | None = None,
        smooth: bool | dict[str, float] = False,
        pose_threshold: float | None = None,
    ) -> Iterator[FramePoses]:
        """Yield one :class:`FramePoses` per frame, in order.

        ``source``: a video file, a frame folder, a URL PyAV opens (``http://``,
        ``rtsp://``, ...; ``online=True`` suits live ones), ``"-"`` (standard input), or any
        iterable of RGB ``uint8`` frames (H, W, 3). Person boxes come from ``boxes`` (an
        mmpose/PoseWarper file) or ``detector`` (a name such as ``"ssdlite"``, or an object with
        ``detect(frame, index) -> (K, 5)`` x1, y1, x2, y2, score).
        ``return_images`` attaches each frame's image to its result.
        ``detect_every``: run the detector every this many frames (and whenever a
        tracked pose's score falls) for models with a pose-present score; default
        ``semapose.inference.tracking.DEFAULT_DETECT_EVERY``. ``smooth``: One-Euro
        filter on the keypoints (``True``, or a dict of
        :class:`~semapose.inference.smoothing.OneEuroSmoother` parameters, e.g.
        ``{"min_cutoff": 1.0, "beta": 1.0}``; ``fps`` defaults to the video's or 30).
        ``pose_threshold``: a followed person is output while their pose-present score is at
        least this (default 0.5; models with such a score). A person whom someone else hides
        is kept with ``person.hidden = True`` (id and box; scores 0, no pose of their own).
        """
        from semapose.inference.pipeline import TemporalRunner
        from semapose.inference.stream import PoseStream, input_frames, make_detector
        from semapose.io.video import is_stream

        stream_url = isinstance(source, str) and is_stream(source)
        path = Path(source) if isinstance(source, (str, Path)) and not stream_url else None
        if stream_url and boxes is not None:
            raise ValueError("boxes need a video file or frame folder (a stream has no names)")
        det = make_detector(boxes, detector, source=path, device=self.predictor.device)
        opts = replace(self.predictor.options, keep_images=return_images)
        runner = TemporalRunner(self.predictor.loaded.model, opts, self.predictor.device)
        from semapose.inference.tracking import DetectionSchedule

        every = self.predictor.detect_every if detect_every is None else int(detect_every)
        if every < 1:
            raise ValueError(f"detect_every must be a positive integer, got {detect_every}")
        from semapose.inference.stream import TrackerAdapter

        threshold = self.predictor.pose_threshold if pose_threshold is None else pose_threshold
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"pose_threshold must be in [0, 1], got {pose_threshold}")
        tracker = TrackerAdapter(det, presence_threshold=float(threshold))
        stream = PoseStream(runner, det, tracker, DetectionSchedule(every), source=path)
        poses = stream.poses(input_frames(source))
        if not smooth:
            yield from poses
            return
        from semapose.inference.smoothing import OneEuroSmoother

        params: dict[str, Any] = dict(smooth) if isinstance(smooth, dict) else {}
        if "fps" not in params:
            params["fps"] = _source_fps(path)
        yield from OneEuroSmoother(**params).iter(poses)


def _source_fps(path: Path | None) -> float:
    """Frame rate of a video (30 for frame folders and arrays, or when unknown)."""
    if path is not None and path.is_file():
        from semapose.io.video import FrameSource

        fps = FrameSource(path).fps
        if fps and fps > 0:
            return float(fps)
    return 30.0


__all__ = ["PoseEstimator", "FramePoses", "PersonPose", "SyntheticWeightsWarning"]
