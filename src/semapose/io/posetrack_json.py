"""PoseTrack2018 / COCO keypoint JSON: image ids, entries and the streaming writer.

Every PoseTrack or COCO document semapose writes is made here: ``semapose
predict``'s outputs (:mod:`semapose.inference.outputs`), the prediction files of
training-time validation, the synthetic ground truth
(:mod:`semapose.data.synthetic.generate`); box files decode image ids with
:func:`parse_image_id`.

Image ids follow PoseTrack's ``1VVVVVVFFFF`` scheme (:func:`posetrack_image_id`):
video number ``VVVVVV``, frame ``FFFF``. A sequence whose name starts with a
number (``000342_mpii_test``) gets such ids; any other gets the frame index.

Two kinds of prediction document:

* :func:`prediction_annotation` (``semapose predict``): ``keypoints``
  ``[x, y, score] * 17``, ``scores``, ``track_id``, ``bbox``, ``score``, ``hidden``
  (and ``landmarks`` ``[x, y, visibility, presence] * 33`` with ``--landmarks 33``);
* :func:`posetrack18_predictions` (what poseval accepts, for a GT file): **every
  image of its GT file, in GT order** (poseval pairs frames by position), track
  ids unique within a frame and below 10000, keypoints ``[x, y, 1]`` with the
  unannotated slots zeroed, one score per slot.

A person is any object or mapping with ``keypoints`` ((17, 2) or (17, 3) image
pixels in PoseTrack18 slot order), ``scores`` ((17,)) and ``track_id``; optional
``box`` (x, y, w, h) and ``score``. :func:`write_document` streams a document
whose lists are iterators, atomically: a long video's entries are never all in
memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from semapose.errors import InputError
from semapose.io.atomic import atomic_text_file
from semapose.io.jsonio import read_json
from semapose.keypoints import POSETRACK_KEYPOINTS, POSETRACK_UNANNOTATED
from semapose.limits import MAX_TRACK_ID

#: smallest PoseTrack-style image id (``1VVVVVVFFFF``)
POSETRACK_IMAGE_ID_MIN = 10_000_000_000
_IMAGE_KEYS = ("id", "file_name", "frame_id", "vid_id", "nframes", "is_labeled", "has_no_densepose")


# ----------------------------------------------------------------------------- image ids


def posetrack_image_id(video: int, frame: int) -> int:
    """PoseTrack's ``1VVVVVVFFFF`` image id of frame ``frame`` of video number ``video``."""
    return POSETRACK_IMAGE_ID_MIN + int(video) % 1_000_000 * 10_000 + int(frame)


def parse_image_id(image_id: int) -> tuple[int, int] | None:
    """``(video number, frame)`` of a ``1VVVVVVFFFF`` id; None for other ids."""
    if image_id < POSETRACK_IMAGE_ID_MIN:
        return None
    return (image_id // 10_000) % 1_000_000, image_id % 10_000


def image_id(name: str, frame: int) -> int:
    """Image id of frame ``frame`` of sequence ``name``: PoseTrack-style when the name starts
    with a number (``000342_mpii_test``), else the frame index."""
    m = re.match(r"(\d+)", name)
    return posetrack_image_id(int(m.group(1)), frame) if m else frame


# ----------------------------------------------------------------------------- entries


def _field(person: Any, name: str, default: Any = None) -> Any:
    if isinstance(person, Mapping):
        return person.get(name, default)
    return getattr(person, name, default)


def _person_arrays(person: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    kp = np.asarray(_field(person, "keypoints"), dtype=np.float64)
    if kp.ndim != 2 or kp.shape[0] != len(POSETRACK_KEYPOINTS) or kp.shape[1] not in (2, 3):
        raise InputError(None, f"{where}.keypoints", "(17, 2) PoseTrack18-slot keypoints", kp.shape)
    sc = _field(person, "scores")
    scores = kp[:, 2] if sc is None and kp.shape[1] == 3 else np.asarray(sc, dtype=np.float64)
    if scores.shape != (len(POSETRACK_KEYPOINTS),):
        raise InputError(None, f"{where}.scores", "17 scores", scores.shape)
    if not (np.isfinite(kp[:, :2]).all() and np.isfinite(scores).all()):
        raise InputError(None, where, "finite keypoints and scores")
    return kp[:, :2], scores


def _person_score(person: Any, scores: np.ndarray) -> float:
    score = _field(person, "score")
    return float(score) if score is not None else float(scores.mean())


def keypoints_flat(keypoints: np.ndarray, scores: np.ndarray) -> list[float]:
    """``[x, y, score] * J`` rounded to 1/1000 px and 4 decimals of score."""
    out: list[float] = []
    for (x, y), s in zip(keypoints, scores, strict=True):
        out.extend((round(float(x), 3), round(float(y), 3), round(float(s), 4)))
    return out


def image_entry(
    image_id: int, file_name: str, vid: int | str, nframes: int, **extra: Any
) -> dict[str, Any]:
    """One ``images`` entry (labeled: predictions and synthetic GT label every frame)."""
    entry: dict[str, Any] = {
        "file_name": file_name,
        "id": image_id,
        "frame_id": image_id,
        "vid_id": str(vid),
        "nframes": nframes,
        "is_labeled": True,
    }
    entry.update(extra)
    return entry


def prediction_annotation(image_id: int, person: Any, where: str = "person") -> dict[str, Any]:
    """``semapose predict``'s ``annotations`` entry: ``[x, y, score]`` keypoints, rounded."""
    xy, scores = _person_arrays(person, where)
    entry = {
        "image_id": image_id,
        "track_id": int(_field(person, "track_id", -1)),
        "category_id": 1,
        "keypoints": keypoints_flat(xy, scores),
        "scores": [round(float(s), 4) for s in scores],
    }
    box = _field(person, "box")
    if box is not None:
        entry["bbox"] = [round(float(v), 3) for v in np.asarray(box).reshape(4)]
    entry["score"] = round(_person_score(person, scores), 4)
    _person_extras(entry, person)
    return entry


def _person_extras(entry: dict[str, Any], person: Any) -> None:
    """``hidden`` (the person is kept by the tracker without a pose of their own) and
    ``landmarks`` (the backbone's own landmarks, e.g. BlazePose's 33) when the person has them."""
    hidden = _field(person, "hidden")
    if hidden is not None:
        entry["hidden"] = bool(hidden)
    landmarks = _field(person, "landmarks")
    if landmarks is not None:
        entry["landmarks"] = [
            round(float(v), 3) for v in np.asarray(landmarks, dtype=np.float64).reshape(-1)
        ]


def coco_result(image_id: int, person: Any, where: str = "result") -> dict[str, Any]:
    """One COCO keypoint result (``image_id``, ``category_id`` 1, ``keypoints``, ``score``),
    plus ``track_id`` and ``bbox`` when the person has them."""
    xy, scores = _person_arrays(person, where)
    entry: dict[str, Any] = {
        "image_id": image_id,
        "category_id": 1,
        "keypoints": keypoints_flat(xy, scores),
        "score": round(_person_score(person, scores), 4),
    }
    track = _field(person, "track_id")
    if track is not None:
        entry["track_id"] = int(track)
    box = _field(person, "box")
    if box is not None:
        entry["bbox"] = [round(float(v), 3) for v in np.asarray(box).reshape(4)]
    _person_extras(entry, person)
    return entry


def iter_coco_results(items: Iterable[tuple[Any, Any]]) -> Iterator[dict[str, Any]]:
    """COCO keypoint results from ``(image_id, person)`` pairs, one at a time."""
    for k, (iid, person) in enumerate(items):
        yield coco_result(iid, person, f"result {k}")


def coco_results(items: Iterable[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """COCO keypoint results from ``(image_id, person)`` pairs (keypoints in the given slots)."""
    return list(iter_coco_results(items))


# ----------------------------------------------------------------------------- writing


def _dump(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False)


def _write_value(fh: TextIO, value: Any) -> None:
    if isinstance(value, Iterator):
        fh.write("[")
        for i, item in enumerate(value):
            fh.write(", " if i else "")
            fh.write(_dump(item))
        fh.write("]")
    else:
        fh.write(_dump(value))


def write_document(path: str | Path, fields: Iterable[tuple[str, Any]]) -> None:
    """Write a JSON object of ``(key, value)`` fields atomically; iterator values are streamed
    as arrays (a top-level iterator alone: pass ``fields`` as that iterator to
    :func:`write_array`). The bytes equal ``json.dumps`` of the same object."""
    with atomic_text_file(path) as fh:
        fh.write("{")
        for i, (key, value) in enumerate(fields):
            fh.write(", " if i else "")
            fh.write(f"{_dump(key)}: ")
            _write_value(fh, value)
        fh.write("}\n")


def write_array(path: str | Path, items: Iterable[Any]) -> None:
    """Write a JSON array atomically, streaming ``items`` (read once)."""
    with atomic_text_file(path) as fh:
        _write_value(fh, iter(items))
        fh.write("\n")


def write_coco_results(path: str | Path, items: Iterable[tuple[Any, Any]]) -> None:
    """Write :func:`coco_results` of ``(image_id, person)`` pairs atomically, streaming."""
    write_array(path, iter_coco_results(items))


# ----------------------------------------------------------------------------- GT-aligned


def gt_images(gt_file: str | Path) -> list[dict[str, Any]]:
    """The images of a PoseTrack2018 GT file, in GT order (the frames to predict)."""
    data = read_json(gt_file)
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list) or not images:
        raise InputError(gt_file, "images", "a PoseTrack2018 file with a non-empty image list")
    return images


def posetrack18_predictions(
    images: Sequence[Mapping[str, Any]],
    people: Mapping[Any, Sequence[Any]] | Sequence[Sequence[Any]],
) -> dict[str, Any]:
    """A PoseTrack2018 prediction dict for ``images`` (GT order).

    ``people``: per image, its predicted people; a mapping image id -> people or
    a list parallel to ``images``.
    """
    if isinstance(people, Mapping):
        known = {img["id"] for img in images}
        extra = [k for k in people if k not in known]
        if extra:
            raise InputError(None, "predictions", "image ids of the GT file", extra[:5])
        per_image = [people.get(img["id"], ()) for img in images]
    else:
        if len(people) != len(images):
            raise InputError(
                None, "predictions", f"one list per image ({len(images)})", len(people)
            )
        per_image = list(people)
    out_images = [{k: img[k] for k in _IMAGE_KEYS if k in img} for img in images]
    anns: list[dict[str, Any]] = []
    for img, persons in zip(images, per_image, strict=True):
        where = f"image {img.get('file_name', img['id'])!r}"
        given = [_field(p, "track_id", -1) for p in persons]
        ids = [int(t) if t is not None else -1 for t in given]
        used = {t for t in ids if t >= 0}
        if len(used) != sum(t >= 0 for t in ids):
            raise InputError(None, where, "unique track ids within a frame", ids)
        if any(t >= MAX_TRACK_ID for t in ids):
            raise InputError(None, where, f"track ids below {MAX_TRACK_ID} (poseval)", max(ids))
        free = (t for t in range(MAX_TRACK_ID) if t not in used)
        for k, person in enumerate(persons):
            xy, scores = _person_arrays(person, f"{where} person {k}")
            vis = np.ones(len(xy))
            vis[list(POSETRACK_UNANNOTATED)] = 0
            xy = np.where(vis[:, None] > 0, xy, 0.0)
            sc = np.where(vis > 0, scores, 0.0)
            track = ids[k] if ids[k] >= 0 else next(free)
            ann: dict[str, Any] = {
                "id": len(anns),
                "image_id": img["id"],
                "category_id": 1,
                "track_id": track,
                "keypoints": np.column_stack([xy, vis]).ravel().tolist(),
                "scores": sc.tolist(),
            }
            box = _field(person, "box")
            if box is not None:
                ann["bbox"] = [float(v) for v in np.asarray(box, dtype=np.float64).reshape(4)]
            ann["score"] = _person_score(person, scores)
            anns.append(ann)
    categories = [
        {
            "supercategory": "person",
            "id": 1,
            "name": "person",
            "keypoints": list(POSETRACK_KEYPOINTS),
        }
    ]
    return {"images": out_images, "annotations": anns, "categories": categories}


def write_posetrack18_predictions(
    path: str | Path,
    images: Sequence[Mapping[str, Any]],
    people: Mapping[Any, Sequence[Any]] | Sequence[Sequence[Any]],
) -> None:
    """Write :func:`posetrack18_predictions` atomically to ``path``."""
    write_document(path, posetrack18_predictions(images, people).items())


__all__ = [
    "MAX_TRACK_ID",
    "POSETRACK_IMAGE_ID_MIN",
    "coco_result",
    "coco_results",
    "gt_images",
    "image_entry",
    "image_id",
    "iter_coco_results",
    "keypoints_flat",
    "parse_image_id",
    "posetrack18_predictions",
    "posetrack_image_id",
    "prediction_annotation",
    "write_array",
    "write_coco_results",
    "write_document",
    "write_posetrack18_predictions",
]
