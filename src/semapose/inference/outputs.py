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

Image ids, entries and the streaming writer are :mod:`semapose.io.posetrack_json`'s
(PoseTrack's ``1VVVVVVFFFF`` ids when the input name starts with a sequence
number, ``000342_mpii_test``, else the frame index). All files are written
atomically and streamed: a long video's poses are read
back from the job's JSONL file, never held in memory all at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from semapose.inference.results import FramePoses, PersonPose
from semapose.io.posetrack_json import (
    image_entry,
    image_id,
    parse_image_id,
    prediction_annotation,
    write_document,
)
from semapose.io.posetrack_json import (
    write_coco_results as write_coco_pairs,
)
from semapose.keypoints import POSETRACK_SKELETON, posetrack_categories


def frame_file_name(source: Path, name: str, frame: FramePoses) -> str:
    """``file_name`` of a frame: the path from ``images/`` on for PoseTrack-like frame
    folders, else ``<name>/<frame file name>`` (videos: ``<name>/000012.jpg``)."""
    file = frame.file_name or f"{frame.index:06d}.jpg"
    parts = source.resolve().parts if source.is_dir() else ()
    if "images" in parts:
        i = len(parts) - 1 - parts[::-1].index("images")
        return "/".join((*parts[i:], file))
    return f"{name}/{file}"


def _posetrack_images(
    frames: Iterable[FramePoses], n: int, source: Path, name: str
) -> Iterator[dict[str, Any]]:
    parsed = parse_image_id(image_id(name, 0))
    # PoseTrack writes the video number as "003418"; any other input is named by its name
    vid = f"{parsed[0]:06d}" if parsed else name
    for f in frames:
        yield image_entry(image_id(name, f.index), frame_file_name(source, name, f), vid, n)


def _posetrack_annotations(frames: Iterable[FramePoses], name: str) -> Iterator[dict[str, Any]]:
    for f in frames:
        iid = image_id(name, f.index)
        for k, p in enumerate(f.persons):
            yield prediction_annotation(iid, p, f"frame {f.index} person {k}")


#: a function returning a fresh iterable of the frames' poses at each call (e.g. the job's
#: results file read again), for documents that go over the frames twice
FramePosesReader = Callable[[], Iterable[FramePoses]]


def _pairs(frames: Iterable[FramePoses], name: str) -> Iterator[tuple[int, PersonPose]]:
    for f in frames:
        for p in f.persons:
            yield image_id(name, f.index), p


def _document_fields(
    frames: FramePosesReader, n: int, source: Path, name: str, meta: dict[str, Any] | None
) -> Iterator[tuple[str, Any]]:
    yield "images", _posetrack_images(frames(), n, source, name)
    yield "annotations", _posetrack_annotations(frames(), name)
    yield "categories", posetrack_categories(POSETRACK_SKELETON)
    if meta:
        yield "semapose", meta


def posetrack_document(
    frames: list[FramePoses], source: Path, name: str, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The PoseTrack2018 prediction document of one sequence."""
    fields = _document_fields(lambda: frames, len(frames), source, name, meta)
    return {k: list(v) if isinstance(v, Iterator) else v for k, v in fields}


def coco_results(frames: list[FramePoses], name: str) -> list[dict[str, Any]]:
    """COCO keypoint-results list of one sequence."""
    from semapose.io.posetrack_json import coco_results as results

    return results(_pairs(frames, name))


def write_posetrack(
    path: Path,
    frames: list[FramePoses] | FramePosesReader,
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
    again: FramePosesReader = (lambda: frames) if isinstance(frames, list) else frames
    total = len(frames) if isinstance(frames, list) else n
    if total is None:
        raise ValueError("write_posetrack: n is required when frames is not a list")
    write_document(path, _document_fields(again, total, source, name, meta))


def write_coco_results(path: Path, frames: Iterable[FramePoses], name: str) -> None:
    """Write :func:`coco_results` atomically, streaming (``frames`` is read once)."""
    write_coco_pairs(path, _pairs(frames, name))


#: joints (and landmarks) scoring below this are not drawn (``predict --draw-threshold``)
DRAW_THRESHOLD = 0.3


def draw_frame(
    image: np.ndarray,
    persons: list[PersonPose],
    threshold: float = DRAW_THRESHOLD,
    draw_hidden: bool = True,
) -> np.ndarray:
    """Overlay of one frame: skeletons, boxes and ids coloured by track; hidden persons as
    a dashed box without a skeleton (or not at all with ``draw_hidden=False``); the
    backbone's landmarks when the persons carry them."""
    from semapose.keypoints import BLAZEPOSE_SKELETON
    from semapose.viz.draw import draw_persons

    return draw_persons(
        image,
        persons,
        threshold=threshold,
        box_format="xywh",
        draw_hidden=draw_hidden,
        landmark_skeleton=BLAZEPOSE_SKELETON,
    )


def render_overlay(
    source: Any,
    frames: Iterable[FramePoses],
    writer: Any,
    threshold: float = DRAW_THRESHOLD,
    draw_hidden: bool = True,
) -> None:
    """Draw stored results over the input decoded again (a resumed run's overlay video);
    ``source`` (a :class:`~semapose.io.video.FrameSource`) and ``frames`` both in frame
    order, into ``writer``."""
    for frame, poses in zip(source.frames(), frames, strict=False):
        if poses.index != frame.index:
            raise RuntimeError(f"internal error: result {poses.index} for frame {frame.index}")
        writer.write(draw_frame(frame.image, poses.persons, threshold, draw_hidden))


__all__ = [
    "render_overlay",
    "coco_results",
    "draw_frame",
    "frame_file_name",
    "image_id",
    "posetrack_document",
    "write_coco_results",
    "write_posetrack",
]
