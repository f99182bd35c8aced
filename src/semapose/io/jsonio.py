"""Reading JSON with errors that name the file and the place."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from semapose.errors import InputError
from semapose.io.bounded import read_json_bounded
from semapose.limits import MAX_JSON_BYTES


def read_json(path: str | Path, limit: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON file of at most ``limit`` bytes (counted while reading, so a device or a
    FIFO is bounded too); missing, unreadable, oversized or malformed files raise InputError."""
    return read_json_bounded(path, limit)


def require(obj: Any, key: str, typ: type | tuple[type, ...], path: str | Path, where: str) -> Any:
    """``obj[key]`` checked to be of ``typ``; otherwise InputError naming file and field."""
    if not isinstance(obj, dict):
        raise InputError(path, where, "a JSON object", type(obj).__name__)
    if key not in obj:
        raise InputError(path, f"{where}.{key}" if where else key, "this field to be present")
    value = obj[key]
    if not isinstance(value, typ) or (isinstance(value, bool) and bool not in _as_tuple(typ)):
        names = "/".join(t.__name__ for t in _as_tuple(typ))
        raise InputError(path, f"{where}.{key}" if where else key, names, type(value).__name__)
    return value


def finite_number(value: Any, path: str | Path, where: str) -> float:
    """A finite int/float (negative allowed); NaN, inf and non-numbers raise InputError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(path, where, "a number", value)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        raise InputError(path, where, "a finite number", "a huge integer") from None
    if not math.isfinite(number):
        raise InputError(path, where, "a finite number", value)
    return number


def _as_tuple(typ: type | tuple[type, ...]) -> tuple[type, ...]:
    return typ if isinstance(typ, tuple) else (typ,)
