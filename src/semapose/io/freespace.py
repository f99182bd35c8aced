"""Free disk space checked before a write (issue 24).

Parsing a writer's error text to recognise a full disk breaks when the writer changes
its words (PyTorch 2.13's zip writer says ``unexpected pos 704 vs 598`` where older
versions said ``file write failed``, so a full disk became a traceback again). Every
writer that knows its size asks :func:`ensure_free_space` first, through
:func:`semapose.io.atomic.atomic_path`'s ``size_hint``; :func:`nbytes` estimates the
size of a state to save (tensors, arrays, containers).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

#: room kept beyond the data (file-system blocks, container headers, metadata)
MARGIN_BYTES = 1 << 20


def free_bytes(folder: str | Path) -> int | None:
    """Bytes free for this user in ``folder`` (or its nearest existing parent); None if
    the file system does not say."""
    p = Path(folder)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return int(shutil.disk_usage(p).free)
    except OSError:
        return None


def nbytes(obj: Any) -> int:
    """The bytes ``obj`` takes when saved: tensors and arrays by their data, containers by
    their items (a few bytes per entry for the rest)."""
    size = getattr(obj, "nbytes", None)
    if isinstance(size, int):
        return size
    if hasattr(obj, "element_size") and hasattr(obj, "numel"):
        return int(obj.numel() * obj.element_size())
    if isinstance(obj, dict):
        return sum(nbytes(k) + nbytes(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return sum(nbytes(v) for v in obj) + 8 * len(obj)
    if isinstance(obj, (str, bytes)):
        return len(obj) + 16
    return 16


def ensure_free_space(target: str | Path, needed: int) -> None:
    """Raise :class:`~semapose.io.atomic.DiskFullError` naming ``target`` when its folder
    has less than ``needed`` bytes (plus a margin) free; nothing is written."""
    from semapose.io.atomic import DiskFullError

    target = Path(target)
    free = free_bytes(target.parent)
    if free is not None and free < needed + MARGIN_BYTES:
        raise DiskFullError(target, needed + MARGIN_BYTES, free)


__all__ = ["MARGIN_BYTES", "ensure_free_space", "free_bytes", "nbytes"]
