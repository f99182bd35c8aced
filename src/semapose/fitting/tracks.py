"""Person tracks of unlabeled video: :func:`track_video` with ``predict``'s detector and
tracker, and the track runs' JSON form (``tracks.json``), written by :func:`save_runs`
and read back through the one schema check (:func:`runs_from_json`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.io.atomic import atomic_write_json
from semapose.io.bounded import parse_json_text, read_bounded
from semapose.limits import MAX_JSON_BYTES

__all__ = [
    "TrackRun",
    "load_runs_checked",
    "runs_from_json",
    "save_runs",
    "track_video",
]

_HINT = "(delete it to build it again)"


@dataclass
class TrackRun:
    """One person's consecutive frames in a video: frame indices and xywh boxes."""

    video: str
    track_id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)


def track_video(
    path: str | Path,
    detector: Any = "ssdlite",
    min_length: int = 8,
    max_people: int = 8,
    min_height: float = 48.0,
    progress: bool = False,
) -> list[TrackRun]:
    """Person tracks of a video with ``predict``'s detector and tracker (``progress``: a
    progress bar of the frames, the detector runs on each).

    Tracks are split where the tracker lost the person (runs of consecutive frames);
    runs shorter than ``min_length`` frames, people smaller than ``min_height`` pixels
    and all but the ``max_people`` largest people of a frame are left out.
    """
    from semapose.inference.detections import usable_detections
    from semapose.inference.stream import make_detector
    from semapose.inference.tracking import Tracker
    from semapose.io.video import FrameSource

    det = make_detector(detector=detector)
    tracker = Tracker.for_detector(det)
    runs: dict[int, TrackRun] = {}
    done: list[TrackRun] = []
    source = FrameSource(path)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=source.num_frames, desc=f"track {Path(path).name}", unit="frame",
                   dynamic_ncols=True)  # fmt: skip
    for frame in source.frames():
        if bar is not None:
            bar.update(1)
        boxes = usable_detections(
            det.detect(frame.image, frame.index), frame.image.shape[1], frame.image.shape[0], path
        )
        tracks = tracker.update(frame.index, boxes)
        seen = sorted(
            ((float(tb.box_xywh[3]), int(tb.track_id), tb.box_xywh) for tb in tracks),
            reverse=True,
        )[:max_people]
        for height, tid, box in seen:
            if height < min_height:
                continue
            run = runs.get(tid)
            if run is not None and run.frames[-1] != frame.index - 1:
                done.append(run)
                run = None
            if run is None:
                run = runs[tid] = TrackRun(str(path), tid)
            run.frames.append(frame.index)
            run.boxes.append([float(v) for v in box])
    if bar is not None:
        bar.close()
    done.extend(runs.values())
    done = [r for r in done if len(r.frames) >= min_length]
    return sorted(done, key=lambda r: (r.track_id, r.frames[0]))


def save_runs(path: str | Path, runs: Sequence[TrackRun]) -> None:
    """Track runs as JSON (atomic), so that a rerun can skip detection and tracking."""
    atomic_write_json(path, [asdict(r) for r in runs])


def runs_from_json(data: Any, path: Path) -> list[TrackRun]:
    """Track runs from their JSON form, every field checked (the schema of ``tracks.json``)."""
    if not isinstance(data, list):
        raise InputError(path, "top level", f"a list of track runs {_HINT}", type(data).__name__)
    runs = []
    fields = {"video", "track_id", "frames", "boxes"}
    for i, r in enumerate(data):
        where = f"[{i}]"
        if not isinstance(r, dict) or set(r) != fields:
            got = sorted(r) if isinstance(r, dict) else type(r).__name__
            raise InputError(path, where, f"a run with keys {sorted(fields)} {_HINT}", got)
        if not isinstance(r["video"], str) or not isinstance(r["track_id"], int):
            raise InputError(path, where, f"a video name and an integer track_id {_HINT}", r)
        frames, boxes = r["frames"], r["boxes"]
        ok = isinstance(frames, list) and isinstance(boxes, list) and len(frames) == len(boxes)
        ok = ok and len(frames) > 0
        ok = ok and all(isinstance(f, int) and not isinstance(f, bool) and f >= 0 for f in frames)
        ok = ok and all(b - a == 1 for a, b in zip(frames, frames[1:], strict=False))
        if ok:
            for b in boxes:
                arr = np.asarray(b, dtype=object)
                good = arr.shape == (4,) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                    for v in b
                )
                ok = ok and good and b[2] > 0 and b[3] > 0
        if not ok:
            raise InputError(
                path,
                where,
                f"consecutive frame indices and as many finite x, y, w, h boxes {_HINT}",
                r,
            )
        runs.append(TrackRun(r["video"], r["track_id"], list(frames), [list(b) for b in boxes]))
    return runs


def load_runs_checked(path: Path) -> list[TrackRun]:
    """``tracks.json`` read through the bounded reader and :func:`runs_from_json`."""
    return runs_from_json(
        parse_json_text(read_bounded(path, MAX_JSON_BYTES, "tracks.json"), path), path
    )
