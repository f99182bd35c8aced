"""Validation helpers shared by the annotation and box readers.

Every malformed value raises :class:`~semapose.errors.InputError` naming the file
and the field (``images[3].file_name``), never a KeyError/TypeError.
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.io.jsonio import finite_number
from semapose.limits import MAX_PIXEL


def as_list(value: Any, path: Path, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(path, where, "a list", type(value).__name__)
    return value


def as_dict(value: Any, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(path, where, "a JSON object", type(value).__name__)
    return value


def get_int(
    obj: dict[str, Any], key: str, path: Path, where: str, default: int | None = None
) -> int:
    """An integer field (JSON ints, or floats with an integral value)."""
    if key not in obj or obj[key] is None:
        if default is None:
            raise InputError(path, f"{where}.{key}", "this field to be present")
        return default
    v = obj[key]
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        return int(v)
    raise InputError(path, f"{where}.{key}", "an integer", v)


def get_bool(obj: dict[str, Any], key: str, path: Path, where: str, default: bool) -> bool:
    if key not in obj or obj[key] is None:
        return default
    v = obj[key]
    if isinstance(v, list) and len(v) == 1:  # PoseTrack17 wraps scalars in lists
        v = v[0]
    if isinstance(v, bool) or (isinstance(v, int) and v in (0, 1)):
        return bool(v)
    raise InputError(path, f"{where}.{key}", "true/false or 0/1", v)


def get_str(obj: dict[str, Any], key: str, path: Path, where: str) -> str:
    if key not in obj:
        raise InputError(path, f"{where}.{key}", "this field to be present")
    v = obj[key]
    if not isinstance(v, str) or not v:
        raise InputError(path, f"{where}.{key}", "a non-empty string", v)
    return v


def numbers(values: Any, path: Path, where: str, length: int | None = None) -> np.ndarray:
    """A list of finite numbers (negative allowed) as float64."""
    seq = as_list(values, path, where)
    if length is not None and len(seq) != length:
        raise InputError(path, where, f"{length} numbers", f"{len(seq)} numbers")
    return np.array(
        [finite_number(v, path, f"{where}[{i}]") for i, v in enumerate(seq)], dtype=np.float64
    )


def _within_image_range(arr: np.ndarray, path: Path, where: str, values: Any) -> None:
    if (np.abs(arr) > MAX_PIXEL).any():
        raise InputError(path, where, f"pixel coordinates within +-{MAX_PIXEL:.0e}", values)


def box_xywh(values: Any, path: Path, where: str) -> np.ndarray:
    box = numbers(values, path, where, 4)
    if box[2] < 0 or box[3] < 0:
        raise InputError(path, where, "a box [x, y, w, h] with w, h >= 0", values)
    _within_image_range(box, path, where, values)
    return box


def keypoint_triplets(
    values: Any, path: Path, where: str, num_joints: int
) -> tuple[np.ndarray, np.ndarray]:
    """Flat [x, y, v] * J -> keypoints (J, 2), visibility (J,)."""
    seq = as_list(values, path, where)
    if len(seq) != 3 * num_joints:
        raise InputError(
            path,
            where,
            f"{3 * num_joints} numbers ({num_joints} keypoints x 3)",
            f"{len(seq)} numbers",
        )
    arr = numbers(seq, path, where).reshape(num_joints, 3)
    _within_image_range(arr[:, :2], path, where, "a coordinate of magnitude > 1e7")
    vis = arr[:, 2]
    if (vis < 0).any():
        j = int(np.argmax(vis < 0))
        raise InputError(path, f"{where}[{3 * j + 2}]", "a visibility >= 0", float(vis[j]))
    return arr[:, :2].copy(), vis.copy()


def polygons_from_xy(xs: Any, ys: Any, path: Path, where: str) -> list[np.ndarray]:
    """PoseTrack18 ``ignore_regions_x/_y``: parallel lists of per-region coordinate lists."""
    lx = as_list(xs, path, f"{where}ignore_regions_x")
    ly = as_list(ys, path, f"{where}ignore_regions_y")
    if len(lx) != len(ly):
        raise InputError(
            path, f"{where}ignore_regions_y", f"{len(lx)} regions like ignore_regions_x", len(ly)
        )
    out = []
    for i, (rx, ry) in enumerate(zip(lx, ly, strict=True)):
        px = numbers(rx, path, f"{where}ignore_regions_x[{i}]")
        py = numbers(ry, path, f"{where}ignore_regions_y[{i}]", len(px))
        out.append(np.stack([px, py], axis=1) if len(px) else np.zeros((0, 2)))
    return out


def safe_join(root: Path, name: str, path: Path, where: str) -> Path:
    """``root / name`` for a relative ``name`` that stays inside ``root``.

    Absolute names and names whose normalised form climbs out with ``..`` are refused:
    an annotation file must not make us read arbitrary files. The check is lexical
    (symlinked image folders inside the root stay usable).
    """
    if not name or "\x00" in name:
        raise InputError(path, where, "a relative image path", name)
    posix = name.replace("\\", "/")
    if (
        posix.startswith("/")
        or PurePosixPath(posix).is_absolute()
        or (len(posix) > 1 and posix[1] == ":")
    ):
        raise InputError(path, where, "an image path relative to the dataset root", name)
    norm = os.path.normpath(posix)
    if norm == ".." or norm.startswith("../") or norm == ".":
        raise InputError(path, where, "an image path inside the dataset root", name)
    return root / norm


def path_exists(path: Path) -> bool:
    """``path.exists()`` that answers False instead of raising (over-long or odd names)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def frame_number(name: str) -> int | None:
    """The frame number in a file name such as ``000042.jpg`` (1-9 ASCII digits), else None."""
    stem = PurePosixPath(name.replace("\\", "/")).stem
    if stem.isascii() and stem.isdigit() and len(stem) <= 9:
        return int(stem)
    return None


def sequence_from_name(name: str) -> str:
    """The folder holding a frame (PoseTrack's sequence name), e.g. ``012834_mpii_test``."""
    parent = PurePosixPath(name.replace("\\", "/")).parent.name
    return parent or PurePosixPath(name).stem
