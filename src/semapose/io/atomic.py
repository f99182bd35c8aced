"""Atomic writes: a file is either its old content or its complete new content.

Write to a temporary file in the same folder, flush and fsync, then
``os.replace`` it over the target, so a killed process never leaves a
truncated checkpoint, prediction or report behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    The temporary file keeps the target's suffix so writers that look at the
    extension (video encoders, safetensors) behave the same.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = ".tmp" + target.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp makes 0600 files; give outputs the usual permissions (umask applied).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_text_file(target: str | Path) -> Iterator[TextIO]:
    """A UTF-8 text file opened for writing that replaces ``target`` only when the
    block completes (for outputs written piece by piece)."""
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        yield fh


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | Path, obj: Any, indent: int | None = None) -> None:
    atomic_write_text(target, json.dumps(obj, indent=indent, allow_nan=False) + "\n")
