"""Writers for prediction files: PoseTrack2018 (what poseval accepts) and COCO results.

A PoseTrack2018 prediction file lists **every image of its GT file, in GT order**
(poseval pairs frames by position), an ``annotations`` entry per predicted
person with a track id that is unique within its frame (and below 10000), the
17 PoseTrack18 keypoint slots as ``[x, y, 1, ...]`` and one score per slot.
Frames without people are simply images without annotations.

A person is any object or mapping with ``keypoints`` ((17, 2) or (17, 3) image
pixels in PoseTrack18 slot order), ``scores`` ((17,)) and ``track_id``;
optional ``box`` (x, y, w, h) and ``score``. A negative track id (untracked)
gets the smallest id unused in its frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.io.atomic import atomic_write_json
from semapose.io.jsonio import read_json
from semapose.keypoints import POSETRACK_KEYPOINTS, POSETRACK_UNANNOTATED

MAX_TRACK_ID = 10000
_IMAGE_KEYS = ("id", "file_name", "frame_id", "vid_id", "nframes", "is_labeled", "has_no_densepose")


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
            score = _field(person, "score")
            ann["score"] = float(score) if score is not None else float(scores.mean())
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
    atomic_write_json(path, posetrack18_predictions(images, people))


def coco_results(items: Iterable[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """COCO keypoint results from ``(image_id, person)`` pairs (keypoints in the given slots)."""
    out = []
    for k, (image_id, person) in enumerate(items):
        xy, scores = _person_arrays(person, f"result {k}")
        score = _field(person, "score")
        out.append(
            {
                "image_id": image_id,
                "category_id": 1,
                "keypoints": np.column_stack([xy, scores]).ravel().tolist(),
                "score": float(score) if score is not None else float(scores.mean()),
            }
        )
    return out


def write_coco_results(path: str | Path, items: Iterable[tuple[Any, Any]]) -> None:
    """Write :func:`coco_results` atomically to ``path``."""
    atomic_write_json(path, coco_results(items))
