"""Parsers of PoseTrack2018 / PoseTrack2017 files with poseval's semantics.

Used by :mod:`semapose.evaluation.poseval_io`, which documents the rules. Each
parser appends the file's people ("rects") and points to a :class:`_Side` in
file order and returns the file's frames. PoseTrack2018 files are parsed in
bulk (one numpy array per file) so that PoseTrack18-val-size sets load in seconds.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.io.jsonio import read_json
from semapose.keypoints import POSETRACK15_KEYPOINTS, POSETRACK_KEYPOINTS
from semapose.limits import MAX_PIXEL, MAX_TRACK_ID
from semapose.limits import MAX_POSEVAL_FILE_BYTES as MAX_FILE_BYTES

NUM_JOINTS = 15
#: poseval's fallback score for a predicted joint without a score.
MIN_SCORE = -9999.0


@dataclass
class _Side:
    """Flat tables of the rects (people) and points of one side (GT or prediction)."""

    rect_frame: list[int] = field(default_factory=list)
    rect_has_points: list[bool] = field(default_factory=list)
    rect_track: list[int] = field(default_factory=list)
    rect_has_track: list[bool] = field(default_factory=list)
    rect_head: list[tuple[float, float, float, float]] = field(default_factory=list)
    rect_box: list[tuple[float, float, float, float]] = field(default_factory=list)
    pt_rect: list[np.ndarray] = field(default_factory=list)
    pt_data: list[np.ndarray] = field(default_factory=list)  # (k, 4): id, x, y, score

    def add_rect(
        self,
        frame: int,
        has_points: bool,
        track: int | None,
        head: tuple[float, float, float, float] | None,
        points: np.ndarray | None,
        box: tuple[float, float, float, float] | None = None,
    ) -> None:
        r = len(self.rect_frame)
        self.rect_frame.append(frame)
        self.rect_has_points.append(has_points)
        self.rect_track.append(0 if track is None else track)
        self.rect_has_track.append(track is not None)
        self.rect_head.append(head if head is not None else (math.nan,) * 4)
        self.rect_box.append(box if box is not None else (math.nan,) * 4)
        if points is not None and len(points):
            self.pt_rect.append(np.full(len(points), r, dtype=np.int64))
            self.pt_data.append(points)

    def add_rects(
        self,
        frames: list[int],
        tracks: list[int | None],
        heads: np.ndarray,
        boxes: np.ndarray,
        pt_rect: np.ndarray,
        pt_data: np.ndarray,
    ) -> None:
        """Append people that all have a point list (PoseTrack2018 conversion)."""
        r0 = len(self.rect_frame)
        self.rect_frame.extend(frames)
        self.rect_has_points.extend([True] * len(frames))
        self.rect_track.extend(0 if t is None else t for t in tracks)
        self.rect_has_track.extend(t is not None for t in tracks)
        self.rect_head.extend(map(tuple, heads.tolist()))
        self.rect_box.extend(map(tuple, boxes.tolist()))
        if len(pt_rect):
            self.pt_rect.append(pt_rect.astype(np.int64) + r0)
            self.pt_data.append(pt_data)


@dataclass
class _Frame:
    name: str
    n_rects: int
    ignore: list[np.ndarray]
    labels: Any = None


def _first(value: Any, path: Path, where: str) -> Any:
    """poseval stores scalars as one-element lists (``"x": [12.5]``); accept both."""
    if isinstance(value, list):
        if not value:
            raise InputError(path, where, "a one-element list", value)
        return value[0]
    return value


def _num(value: Any, path: Path, where: str, max_abs: float = math.inf) -> float:
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, (int, float)):
        raise InputError(path, where, "a finite number", value)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        number = math.inf
    if not abs(number) <= max_abs:  # NaN, inf and absurd values
        expected = "a finite number" if max_abs == math.inf else f"a number within +-{max_abs:.0e}"
        raise InputError(path, where, expected, value)
    return number


def _track(value: Any, path: Path, where: str) -> int | None:
    if value is None:
        return None
    value = _first(value, path, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise InputError(path, where, "an integer track id", value)
    if not 0 <= value < MAX_TRACK_ID:
        raise InputError(path, where, f"a track id from 0 to {MAX_TRACK_ID - 1}", value)
    return int(value)


def _polygon(xs: Sequence[Any], ys: Sequence[Any], path: Path, where: str) -> np.ndarray:
    pts = [
        (
            _num(_first(x, path, where), path, where, MAX_PIXEL),
            _num(_first(y, path, where), path, where, MAX_PIXEL),
        )
        for x, y in zip(xs, ys, strict=False)  # poseval: zip truncates
    ]
    if 0 < len(pts) < 3:
        raise InputError(path, where, "an ignore region with at least 3 points", len(pts))
    return np.array(pts, dtype=np.float64).reshape(-1, 2)


def _keypoint_names(data: dict[str, Any], path: Path) -> list[str]:
    cats = data.get("categories")
    if cats is None:  # lenient: prediction files often omit it; poseval would crash
        return list(POSETRACK_KEYPOINTS)
    if not isinstance(cats, list) or len(cats) != 1 or not isinstance(cats[0], dict):
        raise InputError(path, "categories", "a list with exactly one category", cats)
    if cats[0].get("name") != "person":
        raise InputError(path, "categories[0].name", '"person"', cats[0].get("name"))
    names = cats[0].get("keypoints")
    if not isinstance(names, list) or len(names) not in (15, 17):
        raise InputError(path, "categories[0].keypoints", "a list of 15 or 17 names", names)
    for n in POSETRACK15_KEYPOINTS:
        if n not in names:
            raise InputError(path, "categories[0].keypoints", f"the landmark {n!r}", names)
    return names


def _video_key(file_name: Any) -> str:
    return os.path.basename(os.path.dirname(str(file_name))).split("_")[0]


def _float_rows(
    rows: list[Any],
    width: int,
    path: Path,
    where: list[str],
    what: str,
    max_abs: float = math.inf,
) -> np.ndarray:
    """``rows`` (lists of ``width`` JSON numbers) as one float array; bad rows are named.

    Strings such as ``"1.0"`` are refused as the training readers refuse them
    (numpy would convert them), and so are NaN, inf and values beyond ``max_abs``.
    """
    try:
        arr = np.array(rows)  # numbers only -> an int/float array; a string -> a str array
        ok = arr.shape == (len(rows), width) and arr.dtype.kind in "iuf"
        arr = arr.astype(np.float64)
        ok = ok and bool((np.abs(arr) <= max_abs).all())  # False for NaN and inf too
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        for i, row in enumerate(rows):
            good = isinstance(row, list) and len(row) == width
            try:
                for v in row if good else ():
                    _num(v, path, where[i], max_abs)
                    good = good and not isinstance(v, bool)
            except InputError:
                good = False
            if not good:
                expected = f"{width} finite numbers ({what})"
                if max_abs < math.inf:
                    expected = f"{width} numbers within +-{max_abs:.0e} ({what})"
                raise InputError(path, where[i], expected, row)
    return arr.reshape(len(rows), width)


def _parse_pt18(
    data: dict[str, Any], path: Path, side: _Side, frame0: int, protocol: str
) -> list[_Frame]:
    images = data.get("images")
    if not isinstance(images, list) or not images:
        raise InputError(path, "images", "a non-empty list of images")
    names = _keypoint_names(data, path)
    n_kp = len(names)
    conv = [POSETRACK15_KEYPOINTS.index(n) if n in POSETRACK15_KEYPOINTS else -1 for n in names]
    keep_rows = np.array([c >= 0 for c in conv])
    ids = np.array(conv, dtype=np.float64)[keep_rows]
    annotations = data.get("annotations", [])
    if not isinstance(annotations, list):
        raise InputError(path, "annotations", "a list", type(annotations).__name__)
    by_image: dict[Any, list[int]] = {}
    for k, ann in enumerate(annotations):
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise InputError(path, f"annotations[{k}]", "an object with an image_id")
        if isinstance(ann["image_id"], (list, dict)):  # unhashable: cannot be an id
            raise InputError(path, f"annotations[{k}].image_id", "a number", ann["image_id"])
        by_image.setdefault(ann["image_id"], []).append(k)
    first_info: dict[Any, dict[str, Any]] = {}
    for k, img in enumerate(images):
        if not isinstance(img, dict) or "id" not in img:
            raise InputError(path, f"images[{k}]", "an object with an id")
        if isinstance(img["id"], (list, dict)):
            raise InputError(path, f"images[{k}].id", "a number", img["id"])
        if img["id"] in first_info:  # poseval silently repeated the first image (24.8 -> 22.2)
            raise InputError(path, f"images[{k}].id", "distinct image ids", img["id"])
        first_info[img["id"]] = img
    unknown = next((k for k, a in enumerate(annotations) if a["image_id"] not in first_info), None)
    if unknown is not None:
        raise InputError(
            path,
            f"annotations[{unknown}].image_id",
            "the id of an image of this file",
            annotations[unknown]["image_id"],
        )
    # only the first video of the file is kept (poseval's convert_videos(...)[0])
    infos = [first_info[img["id"]] for img in images]
    video0 = _video_key(infos[0].get("file_name", ""))
    frames: list[_Frame] = []
    order: list[int] = []
    rect_frames: list[int] = []
    for info in infos:
        if _video_key(info.get("file_name", "")) != video0:
            continue
        fidx = frame0 + len(frames)
        ignore: list[np.ndarray] = []
        if "ignore_regions_x" in info and "ignore_regions_y" in info:
            rx, ry = info["ignore_regions_x"], info["ignore_regions_y"]
            where = f"image {info.get('file_name')!r} ignore_regions"
            if not isinstance(rx, list) or not isinstance(ry, list):
                raise InputError(path, where, "lists of polygons")
            ignore = [_polygon(px, py, path, where) for px, py in zip(rx, ry, strict=False)]
        people = by_image.get(info["id"], [])
        order.extend(people)
        rect_frames.extend([fidx] * len(people))
        labels = info.get("semapose_degradations")
        frames.append(_Frame(str(info.get("file_name", "")), len(people), ignore, labels))
    if order:
        _add_people(annotations, order, rect_frames, n_kp, keep_rows, ids, path, side, protocol)
    return frames


def _add_people(
    annotations: list[dict[str, Any]],
    order: list[int],
    rect_frames: list[int],
    n_kp: int,
    keep_rows: np.ndarray,
    ids: np.ndarray,
    path: Path,
    side: _Side,
    protocol: str,
) -> None:
    """Convert the annotations ``order`` (in frame order) to people and points, in bulk."""
    anns = [annotations[k] for k in order]
    where = [f"annotations[{k}]" for k in order]
    n = len(anns)
    kps = [a.get("keypoints") for a in anns]
    arr = _float_rows(kps, 3 * n_kp, path, [w + ".keypoints" for w in where], "x, y, v", MAX_PIXEL)
    arr = arr.reshape(n, n_kp, 3)
    sc = np.full((n, n_kp), MIN_SCORE)
    with_scores = []
    for i, a in enumerate(anns):
        s = a.get("scores")
        if s:  # poseval: `if landmark_scores:` (None or [] -> no scores -> -9999)
            if not isinstance(s, list) or len(s) < n_kp:
                raise InputError(path, where[i] + ".scores", f"{n_kp} scores", s)
            with_scores.append(i)
    if with_scores:
        rows = [anns[i]["scores"][:n_kp] for i in with_scores]
        sc[with_scores] = _float_rows(
            rows, n_kp, path, [where[i] + ".scores" for i in with_scores], "scores"
        )
    heads = np.full((n, 4), np.nan)
    boxes = np.full((n, 4), np.nan)
    for target, key in ((heads, "bbox_head"), (boxes, "bbox")):
        have = [i for i, a in enumerate(anns) if key in a]
        if have:
            rows = [anns[i][key] for i in have]
            bad = [
                i for i, r in zip(have, rows, strict=True) if not isinstance(r, list) or len(r) < 4
            ]
            if bad:
                if key == "bbox":  # only used for COCO AP areas: ignore malformed boxes
                    have = [i for i in have if i not in set(bad)]
                    rows = [anns[i][key] for i in have]
                else:
                    raise InputError(path, where[bad[0]] + "." + key, "[x, y, w, h]")
            if have:
                b = _float_rows(
                    [r[:4] for r in rows],
                    4,
                    path,
                    [where[i] + "." + key for i in have],
                    key,
                    MAX_PIXEL,
                )
                if key == "bbox_head":  # poseval: x2 = x + w first (x2 - x1 is not always w)
                    b = np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)
                target[have] = b
    tracks = [
        _track(a.get("track_id"), path, w + ".track_id") for a, w in zip(anns, where, strict=True)
    ]
    arr, sc = arr[:, keep_rows], sc[:, keep_rows]
    if protocol == "posetrack21":
        present = (arr[..., 0] > 0) & (arr[..., 1] > 0)
    else:  # a landmark is dropped only when x, y and visibility are all 0
        present = ~((arr[..., 0] == 0) & (arr[..., 1] == 0) & (arr[..., 2] == 0))
    r, k = np.nonzero(present)
    pt_data = np.stack([ids[k], arr[r, k, 0], arr[r, k, 1], sc[r, k]], axis=1)
    side.add_rects(rect_frames, tracks, heads, boxes, r, pt_data)


def _parse_pt17(
    data: dict[str, Any], path: Path, side: _Side, frame0: int, protocol: str
) -> list[_Frame]:
    annolist = data["annolist"]
    if not isinstance(annolist, list):
        raise InputError(path, "annolist", "a list of frames", type(annolist).__name__)
    frames: list[_Frame] = []
    for fi, frame in enumerate(annolist):
        fw = f"annolist[{fi}]"
        if not isinstance(frame, dict) or not isinstance(frame.get("annorect"), list):
            raise InputError(path, f"{fw}.annorect", "a list of people")
        name = ""
        img = frame.get("image")
        if isinstance(img, list) and img and isinstance(img[0], dict):
            name = str(img[0].get("name", ""))
        ignore: list[np.ndarray] = []
        regions = frame.get("ignore_regions")
        if isinstance(regions, list):
            for ri, reg in enumerate(regions):
                rw = f"{fw}.ignore_regions[{ri}]"
                pts_list = reg.get("point", []) if isinstance(reg, dict) else None
                if not isinstance(pts_list, list):
                    raise InputError(path, rw, "an object with a point list")
                xs = [p.get("x") for p in pts_list]
                ys = [p.get("y") for p in pts_list]
                ignore.append(_polygon(xs, ys, path, rw))
        for ri, rect in enumerate(frame["annorect"]):
            rw = f"{fw}.annorect[{ri}]"
            if not isinstance(rect, dict):
                raise InputError(path, rw, "an object")
            ap = rect.get("annopoints")
            has_points = (
                isinstance(ap, list) and len(ap) > 0 and isinstance(ap[0], dict) and len(ap[0]) > 0
            ) and "point" in ap[0]
            rows: list[tuple[float, float, float, float]] = []
            if has_points and isinstance(ap, list):
                plist = ap[0]["point"]
                if not isinstance(plist, list):
                    raise InputError(path, f"{rw}.annopoints[0].point", "a list of points")
                for pi, p in enumerate(plist):
                    pw = f"{rw}.annopoints[0].point[{pi}]"
                    if not isinstance(p, dict):
                        raise InputError(path, pw, "an object")
                    pid = p.get("id")
                    jid = math.nan if pid is None else _num(_first(pid, path, pw), path, pw + ".id")
                    x = _num(_first(p.get("x"), path, pw + ".x"), path, pw + ".x")
                    y = _num(_first(p.get("y"), path, pw + ".y"), path, pw + ".y")
                    s = MIN_SCORE
                    if "score" in p:
                        s = _num(_first(p["score"], path, pw + ".score"), path, pw + ".score")
                    if protocol == "posetrack21" and not (x > 0 and y > 0):
                        continue
                    rows.append((jid, x, y, s))
            head: tuple[float, float, float, float] | None = None
            if all(k in rect for k in ("x1", "y1", "x2", "y2")):
                x1, y1, x2, y2 = (
                    _num(_first(rect[k], path, f"{rw}.{k}"), path, f"{rw}.{k}")
                    for k in ("x1", "y1", "x2", "y2")
                )
                head = (x1, y1, x2, y2)
            track = _track(rect.get("track_id"), path, f"{rw}.track_id")
            pts = np.array(rows, dtype=np.float64).reshape(-1, 4)
            side.add_rect(frame0 + fi, has_points, track, head, pts)
        frames.append(
            _Frame(name, len(frame["annorect"]), ignore, frame.get("semapose_degradations"))
        )
    return frames


def parse_file(path: Path, side: _Side, frame0: int, protocol: str) -> list[_Frame]:
    with contextlib.suppress(OSError):
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            limit = f"a file of at most {MAX_FILE_BYTES // 2**20} MiB (one file per sequence)"
            raise InputError(path, "", limit, f"{size / 2**20:.0f} MiB")
    data = read_json(path, MAX_FILE_BYTES)
    if not isinstance(data, dict):
        raise InputError(path, "", "a PoseTrack JSON object", type(data).__name__)
    if "annolist" in data:
        return _parse_pt17(data, path, side, frame0, protocol)
    if "images" not in data:
        raise InputError(path, "", "a PoseTrack2018 ('images') or PoseTrack2017 ('annolist') file")
    return _parse_pt18(data, path, side, frame0, protocol)
