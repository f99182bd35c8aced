"""PoseTrack 2017 / 2018 / 2021 annotation readers -> :class:`FrameRecord` lists.

* **PoseTrack18** (and the synthetic data, same layout): COCO-like JSON with
  ``images`` (``file_name``, ``nframes``, ``frame_id``, ``is_labeled``,
  ``ignore_regions_x/_y``, ``vid_id``) and ``annotations`` (``keypoints`` 17x3 in
  PoseTrack18 slots, ``bbox``, ``bbox_head``, ``track_id``). Either one file per
  sequence (a folder of them) or one merged file with many sequences.
* **PoseTrack21**: same layout (``posetrack_data/{train,val}/*.json``); the
  identity is ``person_id`` (``track_id`` as fall-back).
* **PoseTrack17**: poseval's ``annolist`` (one file per sequence): ``image[0].name``,
  ``annorect`` with ``x1/y1/x2/y2`` head box, ``track_id``,
  ``annopoints[0].point`` (``id`` in poseval's 15-joint order, ``x``, ``y``,
  ``is_visible``), ``is_labeled``, ``ignore_regions[k].point``. Scalars may be
  wrapped in one-element lists (MATLAB export); both forms are read.

Frame naming: PoseTrack17 annotations name frames ``00000001.jpg`` (8 digits,
1-based) while the images of later releases are ``000000.jpg`` (6 digits, 0-based).
Each sequence is checked once on disk and the existing form is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from semapose.data._parse import (
    as_dict,
    as_list,
    box_xywh,
    frame_number,
    get_bool,
    get_int,
    get_str,
    keypoint_triplets,
    path_exists,
    polygons_from_xy,
    safe_join,
    sequence_from_name,
)
from semapose.data.records import NUM_JOINTS, FrameRecord, Person
from semapose.errors import InputError
from semapose.io.jsonio import finite_number, read_json
from semapose.keypoints import POSETRACK15_FROM_POSETRACK18


def annotation_files(path: str | Path) -> list[Path]:
    """A JSON file, or the sorted ``*.json`` files of a folder."""
    p = Path(path)
    try:
        is_dir = p.is_dir()
    except (OSError, ValueError):
        is_dir = False
    if is_dir:
        files = sorted(f for f in p.glob("*.json") if f.is_file())
        if not files:
            raise InputError(p, "", "a folder with at least one .json annotation file", "none")
        return files
    if not path_exists(p):
        raise InputError(p, "", "an existing annotation file or folder", "no such file")
    return [p]


def guess_root(ann_file: Path, first_name: str | None) -> Path:
    """Dataset root for relative image names: the nearest ancestor of the annotation
    file under which the first image exists (else the annotation file's grandparent)."""
    parents = list(ann_file.resolve().parents)[:4]
    if first_name:
        for cand in parents:
            if path_exists(cand / first_name):
                return cand
    return parents[1] if len(parents) > 1 else parents[0]


# ----------------------------------------------------------------------------- PT18 / PT21


def load_posetrack18(
    ann: str | Path, root: str | Path | None = None, identity: str = "track_id"
) -> list[FrameRecord]:
    """Read PoseTrack18-layout JSON (file or folder; per-sequence or merged)."""
    records: list[FrameRecord] = []
    for f in annotation_files(ann):
        records.extend(_load_coco_like_file(f, root, identity))
    return records


def load_posetrack21(ann: str | Path, root: str | Path | None = None) -> list[FrameRecord]:
    """Read PoseTrack21 ``posetrack_data`` JSON; identities from ``person_id``."""
    return load_posetrack18(ann, root, identity="person_id")


def _num_joints(data: dict[str, Any], path: Path) -> int:
    cats = data.get("categories")
    if isinstance(cats, list) and cats and isinstance(cats[0], dict):
        names = cats[0].get("keypoints")
        if isinstance(names, list) and names and len(names) != NUM_JOINTS:
            raise InputError(
                path, "categories[0].keypoints", f"{NUM_JOINTS} PoseTrack18 keypoints", len(names)
            )
    return NUM_JOINTS


def _load_coco_like_file(path: Path, root: str | Path | None, identity: str) -> list[FrameRecord]:
    data = as_dict(read_json(path), path, "top level")
    images = as_list(data.get("images"), path, "images")
    anns = as_list(data.get("annotations", []), path, "annotations")
    nj = _num_joints(data, path)
    first = None
    if images and isinstance(images[0], dict) and isinstance(images[0].get("file_name"), str):
        first = images[0]["file_name"]
    base = Path(root) if root else guess_root(path, first)

    by_id: dict[int, FrameRecord] = {}
    out: list[FrameRecord] = []
    for i, im in enumerate(images):
        where = f"images[{i}]"
        im = as_dict(im, path, where)
        name = get_str(im, "file_name", path, where)
        image_id = get_int(im, "id", path, where, default=get_int(im, "frame_id", path, where, -1))
        number = frame_number(name)
        if number is None:
            frame_id = get_int(im, "frame_id", path, where, default=-1)
            number = frame_id % 10000 if frame_id >= 0 else i
        ignore: list[np.ndarray] = []
        if "ignore_regions_x" in im or "ignore_regions_y" in im:
            ignore = polygons_from_xy(
                im.get("ignore_regions_x", []), im.get("ignore_regions_y", []), path, f"{where}."
            )
        extra: dict[str, Any] = {
            k: im[k] for k in ("vid_id", "mask_file", "semapose_degradations") if k in im
        }
        extra["name_offset"] = 0
        rec = FrameRecord(
            sequence=sequence_from_name(name),
            frame_index=number,
            image_path=safe_join(base, name, path, f"{where}.file_name"),
            nframes=max(get_int(im, "nframes", path, where, default=0), 0),
            is_labeled=get_bool(im, "is_labeled", path, where, default=True),
            ignore_regions=ignore,
            image_id=image_id,
            width=max(get_int(im, "width", path, where, default=0), 0),
            height=max(get_int(im, "height", path, where, default=0), 0),
            extra=extra,
        )
        if image_id in by_id and image_id != -1:
            raise InputError(path, f"{where}.id", "unique image ids", image_id)
        by_id[image_id] = rec
        out.append(rec)

    fallback = "track_id" if identity == "person_id" else "person_id"
    for i, a in enumerate(anns):
        where = f"annotations[{i}]"
        a = as_dict(a, path, where)
        image_id = get_int(a, "image_id", path, where)
        target = by_id.get(image_id)
        if target is None:
            raise InputError(path, f"{where}.image_id", "the id of an entry in images", image_id)
        if "keypoints" in a and a["keypoints"] is not None:
            kpts, vis = keypoint_triplets(a["keypoints"], path, f"{where}.keypoints", nj)
        else:
            kpts, vis = np.zeros((nj, 2)), np.zeros(nj)
        box = box_xywh(a["bbox"], path, f"{where}.bbox") if a.get("bbox") is not None else None
        head = None
        if a.get("bbox_head") is not None:
            head = box_xywh(a["bbox_head"], path, f"{where}.bbox_head")
        key = identity if identity in a else fallback
        track = get_int(a, key, path, where, default=-1)
        score = 1.0
        if isinstance(a.get("score"), (int, float)) and not isinstance(a.get("score"), bool):
            score = finite_number(a["score"], path, f"{where}.score")
        target.persons.append(Person(kpts, vis, box, head, track, score))
    return out


# ----------------------------------------------------------------------------- PT17


def _scalar(v: Any, path: Path, where: str) -> Any:
    if isinstance(v, list):
        if len(v) != 1:
            raise InputError(path, where, "a value or a one-element list", v)
        return v[0]
    return v


def load_posetrack17(ann: str | Path, root: str | Path | None = None) -> list[FrameRecord]:
    """Read PoseTrack17 ``annolist`` JSON files (file or folder)."""
    records: list[FrameRecord] = []
    for f in annotation_files(ann):
        records.extend(_load_annolist_file(f, root))
    return records


def _load_annolist_file(path: Path, root: str | Path | None) -> list[FrameRecord]:
    data = read_json(path)
    if isinstance(data, dict):
        annolist = as_list(data.get("annolist"), path, "annolist")
    else:
        annolist = as_list(data, path, "annolist")
    entries = []
    for i, entry in enumerate(annolist):
        where = f"annolist[{i}]"
        entry = as_dict(entry, path, where)
        image = _scalar(entry.get("image"), path, f"{where}.image")
        image = as_dict(image, path, f"{where}.image[0]")
        name = _scalar(image.get("name"), path, f"{where}.image[0].name")
        if not isinstance(name, str) or not name:
            raise InputError(path, f"{where}.image[0].name", "a non-empty string", name)
        entries.append((i, entry, name))
    first = entries[0][2] if entries else None
    base = Path(root) if root else guess_root(path, first)
    if not root and first and not path_exists(base / first):
        alt = _renamed(first)
        if alt:
            base = guess_root(path, alt)

    nframes = len(entries)
    resolved: dict[str, tuple[int, int]] = {}  # sequence -> (name width, 0-based offset)
    out = []
    for i, entry, name in entries:
        where = f"annolist[{i}]"
        seq = sequence_from_name(name)
        file_path = safe_join(base, name, path, f"{where}.image[0].name")
        number = frame_number(name)
        if seq not in resolved:
            resolved[seq] = _resolve_naming(file_path, number)
        width, offset = resolved[seq]
        if number is None:
            frame_index = i
        else:
            # annotation numbering: 8 digits = 1-based, otherwise 0-based
            ann_offset = 1 if len(Path(name).stem) == 8 else 0
            frame_index = number - ann_offset
            if width:
                file_path = file_path.with_name(
                    f"{frame_index + offset:0{width}d}{file_path.suffix}"
                )
        labeled = get_bool(entry, "is_labeled", path, where, default=True)
        ignore = _annolist_ignore(entry.get("ignore_regions"), path, f"{where}.ignore_regions")
        persons = [
            _annorect_person(r, path, f"{where}.annorect[{k}]")
            for k, r in enumerate(
                as_list(entry.get("annorect", []) or [], path, f"{where}.annorect")
            )
        ]
        out.append(
            FrameRecord(
                sequence=seq,
                frame_index=frame_index,
                image_path=file_path,
                nframes=nframes,
                is_labeled=labeled,
                ignore_regions=ignore,
                persons=persons,
                image_id=i,
                extra={"name_offset": offset},
            )
        )
    return out


def _renamed(name: str) -> str | None:
    p = Path(name)
    if frame_number(name) is None:
        return None
    n = int(p.stem)
    if len(p.stem) == 8:
        return str(p.with_name(f"{n - 1:06d}{p.suffix}"))
    return str(p.with_name(f"{n + 1:08d}{p.suffix}"))


def _resolve_naming(file_path: Path, number: int | None) -> tuple[int, int]:
    """(digits, offset) of the frame files actually on disk: (8, 1) renamed PT17 names,
    (6, 0) original names, (0, 0) = keep the annotated name."""
    if number is None:
        return 0, 0
    stem = file_path.stem
    ann = (8, 1) if len(stem) == 8 else (len(stem), 0)
    if path_exists(file_path):
        return ann
    other = (6, 0) if ann == (8, 1) else (8, 1)
    idx = number - ann[1]
    cand = file_path.with_name(f"{idx + other[1]:0{other[0]}d}{file_path.suffix}")
    if path_exists(cand):
        return other
    return ann


def _annolist_ignore(value: Any, path: Path, where: str) -> list[np.ndarray]:
    if value is None:
        return []
    out = []
    for k, region in enumerate(as_list(value, path, where)):
        region = as_dict(region, path, f"{where}[{k}]")
        pts = as_list(region.get("point", []), path, f"{where}[{k}].point")
        xy = []
        for m, pt in enumerate(pts):
            w = f"{where}[{k}].point[{m}]"
            pt = as_dict(pt, path, w)
            x = finite_number(_scalar(pt.get("x"), path, f"{w}.x"), path, f"{w}.x")
            y = finite_number(_scalar(pt.get("y"), path, f"{w}.y"), path, f"{w}.y")
            xy.append((x, y))
        out.append(np.array(xy, dtype=np.float64).reshape(-1, 2))
    return out


def _annorect_person(rect: Any, path: Path, where: str) -> Person:
    rect = as_dict(rect, path, where)
    kpts = np.zeros((NUM_JOINTS, 2))
    vis = np.zeros(NUM_JOINTS)
    annopoints = rect.get("annopoints")
    if annopoints:
        ap = as_dict(
            _scalar(annopoints, path, f"{where}.annopoints"), path, f"{where}.annopoints[0]"
        )
        for m, pt in enumerate(
            as_list(ap.get("point", []) or [], path, f"{where}.annopoints[0].point")
        ):
            w = f"{where}.annopoints[0].point[{m}]"
            pt = as_dict(pt, path, w)
            jid = _scalar(pt.get("id"), path, f"{w}.id")
            if isinstance(jid, bool) or not isinstance(jid, int) or not 0 <= jid < 15:
                raise InputError(path, f"{w}.id", "a joint id in 0..14 (poseval order)", jid)
            slot = POSETRACK15_FROM_POSETRACK18[jid]
            kpts[slot, 0] = finite_number(_scalar(pt.get("x"), path, f"{w}.x"), path, f"{w}.x")
            kpts[slot, 1] = finite_number(_scalar(pt.get("y"), path, f"{w}.y"), path, f"{w}.y")
            vis[slot] = 1.0  # poseval evaluates every annotated point, visible or not
    head = None
    if all(k in rect for k in ("x1", "y1", "x2", "y2")):
        c = [
            finite_number(_scalar(rect[k], path, f"{where}.{k}"), path, f"{where}.{k}")
            for k in ("x1", "y1", "x2", "y2")
        ]
        head = np.array([min(c[0], c[2]), min(c[1], c[3]), abs(c[2] - c[0]), abs(c[3] - c[1])])
    track = -1
    if "track_id" in rect:
        t = _scalar(rect["track_id"], path, f"{where}.track_id")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or t != t or int(t) != t:
            raise InputError(path, f"{where}.track_id", "an integer", t)
        track = int(t)
    score = 1.0
    if "score" in rect:
        score = finite_number(
            _scalar(rect["score"], path, f"{where}.score"), path, f"{where}.score"
        )
    return Person(kpts, vis, None, head, track, score)


__all__ = [
    "annotation_files",
    "guess_root",
    "load_posetrack17",
    "load_posetrack18",
    "load_posetrack21",
]
