"""COCO keypoint JSON -> :class:`FrameRecord` (each image a one-frame sequence).

COCO-17 keypoints are mapped to PoseTrack18 slots with
:func:`semapose.keypoints.coco_to_posetrack18` (the eye slots, which PoseTrack uses
for head_bottom/head_top, become unannotated). Crowd annotations (``iscrowd``) are
not persons; their boxes are kept as ignore regions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from semapose.data._parse import (
    as_dict,
    as_list,
    box_xywh,
    get_bool,
    get_int,
    get_str,
    keypoint_triplets,
    safe_join,
)
from semapose.data.posetrack import guess_root
from semapose.data.records import NUM_JOINTS, FrameRecord, Person
from semapose.errors import InputError
from semapose.io.jsonio import finite_number, read_json
from semapose.keypoints import coco_to_posetrack18


def load_coco(
    ann: str | Path, root: str | Path | None = None, category_id: int = 1
) -> list[FrameRecord]:
    """Read a COCO keypoint annotation file; ``root`` is the image folder (e.g. val2017)."""
    path = Path(ann)
    data = as_dict(read_json(path), path, "top level")
    images = as_list(data.get("images"), path, "images")
    anns = as_list(data.get("annotations", []), path, "annotations")
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
        image_id = get_int(im, "id", path, where)
        if image_id in by_id:
            raise InputError(path, f"{where}.id", "unique image ids", image_id)
        rec = FrameRecord(
            sequence=Path(name).stem,
            frame_index=0,
            image_path=safe_join(base, name, path, f"{where}.file_name"),
            nframes=1,
            is_labeled=True,
            image_id=image_id,
            width=max(get_int(im, "width", path, where, default=0), 0),
            height=max(get_int(im, "height", path, where, default=0), 0),
            extra={"name_offset": 0},
        )
        by_id[image_id] = rec
        out.append(rec)
    for i, a in enumerate(anns):
        where = f"annotations[{i}]"
        a = as_dict(a, path, where)
        if get_int(a, "category_id", path, where, default=category_id) != category_id:
            continue
        target = by_id.get(get_int(a, "image_id", path, where))
        if target is None:
            raise InputError(
                path, f"{where}.image_id", "the id of an entry in images", a["image_id"]
            )
        box = box_xywh(a["bbox"], path, f"{where}.bbox") if a.get("bbox") is not None else None
        if get_bool(a, "iscrowd", path, where, default=False):
            if box is not None:
                x, y, w, h = box
                target.ignore_regions.append(
                    np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
                )
            continue
        if a.get("keypoints") is not None:
            kpts, vis = keypoint_triplets(a["keypoints"], path, f"{where}.keypoints", NUM_JOINTS)
        else:
            kpts, vis = np.zeros((NUM_JOINTS, 2)), np.zeros(NUM_JOINTS)
        kpts = coco_to_posetrack18(kpts)
        vis = vis.copy()
        vis[1:3] = 0
        score = 1.0
        if a.get("score") is not None:
            score = finite_number(a["score"], path, f"{where}.score")
        target.persons.append(
            Person(kpts, vis, box, None, get_int(a, "id", path, where, -1), score)
        )
    return out


__all__ = ["load_coco"]
