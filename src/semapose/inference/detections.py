"""What a detector returns, checked before anything uses it (issue 24).

Every person box that reaches the tracker and the pose model goes through
:func:`usable_detections`: a ``(K, 5)`` array of x1, y1, x2, y2, score (a Python-API
detector returning ``None`` or ``(K, 4)`` gets one line saying so, not a reshape
error); rows with NaN/inf, zero or negative area, or no overlap with the frame are
dropped (they gave poses with scores 0.3-0.5 on no image content); and at most
:data:`~semapose.limits.MAX_PEOPLE_PER_FRAME` boxes are kept, the best-scoring ones
(200,000 boxes in one frame took 23 GB).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.limits import MAX_PEOPLE_PER_FRAME


def usable_detections(
    raw: Any,
    width: int,
    height: int,
    source: str | Path | None = None,
    index: int | None = None,
    detector: str = "the detector",
) -> np.ndarray:
    """``raw`` as a float64 ``(K, 5)`` array of the boxes that can hold a person (see the
    module docstring); InputError when ``raw`` is not a ``(K, 5)`` array of numbers."""
    where = f"frame {index}" if index is not None else "a frame"
    expected = f"{detector} to return an array of shape (K, 5): x1, y1, x2, y2, score"
    if raw is None:
        raise InputError(source, where, expected, "None")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(source, where, expected, type(raw).__name__) from None
    if arr.size == 0:
        return np.zeros((0, 5), np.float64)
    if arr.ndim == 1 and arr.shape[0] == 5:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise InputError(source, where, expected, f"an array of shape {arr.shape}")
    finite = np.isfinite(arr).all(axis=1)
    x1, y1, x2, y2 = arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]
    with np.errstate(invalid="ignore"):
        area = (x2 > x1) & (y2 > y1)
        inside = (x2 > 0) & (y2 > 0) & (x1 < width) & (y1 < height)
    arr = arr[finite & area & inside]
    if len(arr) > MAX_PEOPLE_PER_FRAME:
        order = np.argsort(-arr[:, 4], kind="stable")[:MAX_PEOPLE_PER_FRAME]
        arr = arr[np.sort(order)]
    return arr


__all__ = ["usable_detections"]
