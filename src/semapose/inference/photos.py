"""Photos: every image on its own (a single image file, or a folder of unrelated photos).

A photo has no neighbours: each goes through the same frame loop as a video
(:class:`~semapose.inference.stream.PoseStream`) as a one-frame sequence with a fresh
runner and tracker, so a temporal model's clip holds that image in every slot (no
temporal window) and no identity links two photos (track ids restart at 0 per image).
The tracker shows a person seen once (a video waits for a second sighting).

Outputs, named after the photo set (a single image's stem or the folder's name):
``posetrack/<name>.json``, ``coco/<name>.json``, ``csv/<name>.csv`` (one image entry /
row group per photo, ``file_name`` the photo's), and the drawn photos in
``images/<name>/<photo>.jpg`` (instead of an overlay video). The PoseTrack document's
``semapose`` block says ``"mode": "photos"``. Photos are quick: no resume state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semapose.inference.results import FramePoses

#: what the output says about how photos were read
PHOTOS_NOTE = "each image on its own: no temporal window, no tracking across images"


@dataclass
class PhotoSet:
    """Images processed one by one; ``name`` names the outputs."""

    name: str
    files: list[Path] = field(default_factory=list)
    #: the folder (or the single image) the set was listed from, for messages
    origin: Path = Path()

    def __str__(self) -> str:
        return str(self.origin)


def predict_photos(
    photos: PhotoSet,
    model: Any,
    runner_options: Any,
    detector: Any,
    options: Any,
    device: Any = "cpu",
    pose_threshold: float = 0.5,
) -> Any:
    """Run every photo alone and write the outputs (``options``: a
    :class:`~semapose.inference.job.JobOptions`); returns a
    :class:`~semapose.inference.job.JobResult` (``frames`` = photos)."""
    from dataclasses import asdict

    from semapose.inference.job import JobResult, OutputPaths
    from semapose.inference.outputs import write_coco_results, write_posetrack
    from semapose.inference.pipeline import RunnerOptions, TemporalRunner
    from semapose.inference.stream import PoseStream, TrackerAdapter
    from semapose.io.csv_out import write_csv
    from semapose.io.lock import lock_file, output_lock
    from semapose.io.video import Frame, read_image

    t0 = time.perf_counter()
    paths = OutputPaths.for_name(options.out_dir, photos.name)
    drawn_dir = options.out_dir / "images" / photos.name
    opts = RunnerOptions(**{**asdict(runner_options), "keep_images": False})
    results: list[FramePoses] = []
    with output_lock(lock_file(options.out_dir, photos.name), f"an output for {photos.name}"):
        progress = _progress(options.progress, len(photos.files), photos.name)
        for i, file in enumerate(photos.files):
            image = read_image(file, i)
            runner = TemporalRunner(model, opts, device)
            tracker = TrackerAdapter(
                detector, presence_threshold=pose_threshold, confirm_frames=1, min_hits=1
            )
            stream = PoseStream(runner, detector, tracker, None, source=file)
            (poses,) = stream.poses([Frame(0, file.name, image)])
            poses = FramePoses(i, poses.persons, None, file.name)
            results.append(poses)
            if options.write_video:
                _write_drawn(drawn_dir / f"{file.stem}.jpg", image, poses, options)
            if progress is not None:
                progress.update(1)
        if progress is not None:
            progress.close()
        meta = {
            "weights": options.fingerprint.get("weights"),
            "frames": len(results),
            "mode": "photos",
            "note": PHOTOS_NOTE,
        }
        origin = photos.origin if photos.origin.is_dir() else Path(photos.name)
        write_posetrack(paths.posetrack, results, origin, photos.name, meta)
        write_coco_results(paths.coco, results, photos.name)
        write_csv(paths.csv, results)
    seconds = time.perf_counter() - t0
    return JobResult(photos.origin, "done", len(results), paths, seconds, {"mode": "photos"})


def _write_drawn(path: Path, image: np.ndarray, poses: FramePoses, options: Any) -> None:
    import cv2

    from semapose.inference.outputs import draw_frame
    from semapose.io.atomic import atomic_path

    drawn = draw_frame(image, poses.persons, options.draw_threshold, options.draw_hidden)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".jpg") as tmp:
        cv2.imwrite(str(tmp), drawn[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])


def _progress(enabled: bool, total: int, name: str) -> Any:
    if not enabled or total < 2:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=name, unit="photo", dynamic_ncols=True)


__all__ = ["PHOTOS_NOTE", "PhotoSet", "predict_photos"]
