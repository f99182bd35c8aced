"""Person-box (detection) files -> per-frame lists of boxes, and their attachment to records.

Two layouts, both a JSON list of detections (xywh ``bbox`` and ``score``):

* **mmpose**: ``{"image_id", "bbox", "score", "category_id"}`` — matched to records by
  ``image_id`` (PoseTrack18's ``1VVVVVVFFFF`` ids).
* **PoseWarper**: ``{"image_name", "nframes", "frame_id", "bbox", "score"}`` — matched by
  the image path relative to the dataset root (``image_name``), falling back to
  ``frame_id`` as image id.

Only person detections (``category_id`` 1 when present) with ``score >= threshold``
are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from semapose.data._parse import as_dict, as_list, box_xywh, get_int
from semapose.data.records import FrameRecord
from semapose.errors import InputError
from semapose.io.jsonio import finite_number, read_json
from semapose.limits import MAX_SCORE


@dataclass
class Detection:
    box: np.ndarray  # (4,) xywh
    score: float
    image_id: int = -1
    image_name: str = ""
    #: index of the entry in the file's list (for messages)
    position: int = -1


def load_boxes(path: str | Path, score_threshold: float = 0.0) -> list[Detection]:
    """Read an mmpose- or PoseWarper-layout box file (layout detected per entry)."""
    p = Path(path)
    data = read_json(p)
    if isinstance(data, dict):  # some tools wrap the list
        for key in ("detections", "annotations", "boxes"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    items = as_list(data, p, "top level")
    out: list[Detection] = []
    for i, item in enumerate(items):
        where = f"[{i}]"
        d = as_dict(item, p, where)
        if get_int(d, "category_id", p, where, default=1) != 1:
            continue
        if "bbox" not in d:
            raise InputError(p, f"{where}.bbox", "this field to be present")
        box = box_xywh(d["bbox"], p, f"{where}.bbox")
        score = finite_number(d.get("score", 1.0), p, f"{where}.score")
        if abs(score) > MAX_SCORE:  # float32 (the detector's type) would make it inf
            raise InputError(p, f"{where}.score", f"a score within +-{MAX_SCORE:.0e}", score)
        if score < score_threshold:
            continue
        name = d.get("image_name", "")
        if not isinstance(name, str):
            raise InputError(p, f"{where}.image_name", "a string", name)
        if "image_id" in d:
            image_id = get_int(d, "image_id", p, where)
        else:
            image_id = get_int(d, "frame_id", p, where, default=-1)
        key = "image_id" if "image_id" in d else "frame_id"
        if key in d and image_id < 0:  # -1 means "absent" below: a given id must be >= 0
            raise InputError(p, f"{where}.{key}", "a non-negative integer", image_id)
        if image_id == -1 and not name:
            raise InputError(p, where, "an image_id (mmpose) or image_name (PoseWarper)", d)
        out.append(Detection(box, score, image_id, _norm(name), i))
    return out


def _norm(name: str) -> str:
    return str(PurePosixPath(name.replace("\\", "/"))).lstrip("./") if name else ""


def attach_boxes(
    records: list[FrameRecord], detections: list[Detection]
) -> dict[int, list[Detection]]:
    """Detections grouped per record index (``records[i]``); unmatched detections are dropped.

    Matching: by ``image_id`` when the record has one, else by the image path suffix
    (``image_name`` is relative to the dataset root, e.g. ``images/val/SEQ/000000.jpg``).
    """
    by_id: dict[int, int] = {r.image_id: i for i, r in enumerate(records) if r.image_id != -1}
    by_name: dict[str, int] = {}
    for i, r in enumerate(records):
        parts = r.image_path.as_posix().split("/")
        for k in range(1, min(len(parts), 5) + 1):
            by_name.setdefault("/".join(parts[-k:]), i)
    out: dict[int, list[Detection]] = {}
    for det in detections:
        idx: Any = None
        if det.image_name:
            idx = by_name.get(det.image_name)
        if idx is None and det.image_id != -1:
            idx = by_id.get(det.image_id)
        if idx is not None:
            out.setdefault(idx, []).append(det)
    for dets in out.values():
        dets.sort(key=lambda d: -d.score)
    return out


__all__ = ["Detection", "load_boxes", "attach_boxes"]
