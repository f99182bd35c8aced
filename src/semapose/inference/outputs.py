"""Prediction outputs: PoseTrack2018 JSON, COCO-style results JSON, overlay frames.

* PoseTrack2018 JSON (``<out>/posetrack/<name>.json``): one ``images`` entry per
  frame (all frames, labeled or not, so ``semapose evaluate`` pairs it with a
  ground-truth file of the same name), one ``annotations`` entry per person and
  frame with ``keypoints`` ``[x, y, score] * 17`` in PoseTrack18 slot order,
  ``scores``, ``track_id``, ``bbox`` (x, y, w, h) and ``score``.
* COCO-style results (``<out>/coco/<name>.json``): the flat list the COCO
  keypoint evaluation reads (``image_id``, ``category_id`` 1, ``keypoints``,
  ``score``), plus ``track_id`` and ``bbox``. Keypoints are in the same
  PoseTrack18 slot order (head bottom/top in COCO's eye slots), as mmpose writes
  PoseTrack18 results.

Image ids follow PoseTrack's ``1VVVVVVFFFF`` scheme when the input name starts
with a sequence number (``000342_mpii_test``), else they are the frame index.
All files are written atomically and streamed: a long video's poses are read
back from the job's JSONL file, never held in memory all at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from semapose.inference.results import FramePoses, PersonPose
from semapose.io.atomic import atomic_text_file
from semapose.keypoints import POSETRACK_SKELETON, posetrack_categories


def image_id(name: str, frame: int) -> int:
    """PoseTrack-style image id for sequence ``name`` (leading number) and frame index."""
    m = re.match(r"(\d+)", name)
    if m:
        return 10_000_000_000 + int(m.group(1)) % 1_000_000 * 10_000 + frame
    return frame


def frame_file_name(source: Path, name: str, frame: FramePoses) -> str:
    """``file_name`` of a frame: the path from ``images/`` on for PoseTrack-like frame
    folders, else ``<name>/<frame file name>`` (videos: ``<name>/000012.jpg``)."""
    file = frame.file_name or f"{frame.index:06d}.jpg"
    parts = source.resolve().parts if source.is_dir() else ()
    if "images" in parts:
        i = len(parts) - 1 - parts[::-1].index("images")
        return "/".join((*parts[i:], file))
    return f"{name}/{file}"


def _keypoints_flat(p: PersonPose) -> list[float]:
    out: list[float] = []
    for (x, y), s in zip(p.keypoints, p.scores, strict=True):
        out.extend((round(float(x), 3), round(float(y), 3), round(float(s), 4)))
    return out


def _posetrack_images(
    frames: Iterable[FramePoses], n: int, source: Path, name: str
) -> Iterator[dict[str, Any]]:
    vid = image_id(name, 0) // 10_000 if image_id(name, 0) >= 10_000_000_000 else 0
    for f in frames:
        iid = image_id(name, f.index)
        yield {
            "file_name": frame_file_name(source, name, f),
            "id": iid,
            "frame_id": iid,
            "vid_id": str(vid),
            "nframes": n,
            "is_labeled": True,
        }


def _posetrack_annotations(frames: Iterable[FramePoses], name: str) -> Iterator[dict[str, Any]]:
    for f in frames:
        iid = image_id(name, f.index)
        for p in f.persons:
            yield {
                "image_id": iid,
                "track_id": p.track_id,
                "category_id": 1,
                "keypoints": _keypoints_flat(p),
                "scores": [round(float(s), 4) for s in p.scores],
                "bbox": [round(float(v), 3) for v in p.box],
                "score": round(p.score, 4),
            }


def posetrack_document(
    frames: list[FramePoses], source: Path, name: str, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The PoseTrack2018 prediction document of one sequence."""
    doc: dict[str, Any] = {
        "images": list(_posetrack_images(frames, len(frames), source, name)),
        "annotations": list(_posetrack_annotations(frames, name)),
        "categories": posetrack_categories(POSETRACK_SKELETON),
    }
    if meta:
        doc["semapose"] = meta
    return doc


def _coco_entries(frames: Iterable[FramePoses], name: str) -> Iterator[dict[str, Any]]:
    for f in frames:
        for p in f.persons:
            yield {
                "image_id": image_id(name, f.index),
                "category_id": 1,
                "keypoints": _keypoints_flat(p),
                "score": round(p.score, 4),
                "track_id": p.track_id,
                "bbox": [round(float(v), 3) for v in p.box],
            }


def coco_results(frames: list[FramePoses], name: str) -> list[dict[str, Any]]:
    """COCO keypoint-results list of one sequence."""
    return list(_coco_entries(frames, name))


def _dump(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False)


def _write_array(fh: TextIO, items: Iterable[Any]) -> None:
    fh.write("[")
    for i, item in enumerate(items):
        fh.write(", " if i else "")
        fh.write(_dump(item))
    fh.write("]")


FrameSource = Callable[[], Iterable[FramePoses]]


def write_posetrack(
    path: Path,
    frames: list[FramePoses] | FrameSource,
    source: Path,
    name: str,
    meta: dict[str, Any] | None = None,
    n: int | None = None,
) -> None:
    """Write :func:`posetrack_document` atomically, streaming.

    ``frames`` is a list or a function returning a fresh iterable of the frames
    (read twice: images, then annotations), so a long video's poses need not be in
    memory; ``n`` is then the number of frames. The bytes equal
    ``json.dumps(posetrack_document(...))``.
    """
    again: FrameSource = (lambda: frames) if isinstance(frames, list) else frames
    total = len(frames) if isinstance(frames, list) else n
    if total is None:
        raise ValueError("write_posetrack: n is required when frames is not a list")
    with atomic_text_file(path) as fh:
        fh.write('{"images": ')
        _write_array(fh, _posetrack_images(again(), total, source, name))
        fh.write(', "annotations": ')
        _write_array(fh, _posetrack_annotations(again(), name))
        fh.write(f', "categories": {_dump(posetrack_categories(POSETRACK_SKELETON))}')
        if meta:
            fh.write(f', "semapose": {_dump(meta)}')
        fh.write("}\n")


def write_coco_results(path: Path, frames: Iterable[FramePoses], name: str) -> None:
    """Write :func:`coco_results` atomically, streaming (``frames`` is read once)."""
    with atomic_text_file(path) as fh:
        _write_array(fh, _coco_entries(frames, name))
        fh.write("\n")


def draw_frame(image: np.ndarray, persons: list[PersonPose], threshold: float = 0.3) -> np.ndarray:
    """Overlay of one frame: skeletons, boxes and ids coloured by track."""
    from semapose.viz.draw import draw_persons

    return draw_persons(image, persons, threshold=threshold, box_format="xywh")


__all__ = [
    "coco_results",
    "draw_frame",
    "frame_file_name",
    "image_id",
    "posetrack_document",
    "write_coco_results",
    "write_posetrack",
]
