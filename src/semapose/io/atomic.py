"""Atomic writes: a file is either its old content or its complete new content.

Write to a temporary file in the same folder, flush and fsync, then
``os.replace`` it over the target, so a killed process never leaves a
truncated checkpoint, prediction or report behind.

Every output goes through :func:`atomic_path`, so it is also the one place that
turns a full disk into one line (:class:`DiskFullError`: the path, the space
needed and the space free) and names the target, never the hidden temporary
file, when the folder cannot be written. A ``kill -9`` cannot remove its
temporary file; :func:`remove_stale_temporaries` deletes such leftovers (only
names of this exact form) when the next run starts.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from semapose.errors import SemaposeError, shown_path

#: ``.NAME.XXXXXXXX.tmp[.EXT]``: the temporary files :func:`atomic_path` makes (mkstemp's
#: eight random characters); nothing else is ever removed as a leftover.
TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp(\.[^.]+)?")

_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
#: how writers that do not raise OSError report a full disk: safetensors (Rust io error
#: 28 / StorageFull) and PyTorch's zip writer ("file write failed")
_DISK_FULL_TEXT = re.compile(
    r"code: (28|122)\b|StorageFull|QuotaExceeded|No space left|Disk quota|file write failed"
    r"|unexpected pos \d+ vs \d+"
)


class DiskFullError(SemaposeError):
    """The disk (or the user's quota) filled up while writing ``path``; nothing was replaced."""

    def __init__(self, path: Path, needed: int, free: int | None) -> None:
        """``needed``: bytes the write needed at least (0: unknown, an append to ``path``'s
        files: the job's saved state is kept and resumes)."""
        self.path, self.needed, self.free = path, needed, free
        free_text = "an unknown amount" if free is None else _size(free)
        if needed > 0 and free is not None and free >= needed:
            # the write needed more than was known in advance ("at least 4.0 KiB, got 4.0 KiB
            # free" read as a contradiction)
            free_text += " free, and the write needed more than that"
        if needed > 0:
            what, after = f"to write it (at least {_size(needed)})", "the old file is unchanged"
        else:
            what, after = "to write its outputs", "run again with --resume when there is room"
        super().__init__(
            f"{shown_path(path)}: expected free disk space {what}, got {free_text}"
            f"{'' if free_text.endswith('that') else ' free'} "
            f"(no space left on the device; {after})"
        )


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` reports a full disk or an exceeded quota."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        return True
    return not isinstance(exc, OSError) and bool(_DISK_FULL_TEXT.search(str(exc)))


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


@contextlib.contextmanager
def atomic_path(
    target: str | Path, suffix: str | None = None, size_hint: int = 0
) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    The temporary file keeps the target's suffix so writers that look at the
    extension (video encoders, safetensors) behave the same. ``size_hint``: the
    expected size in bytes, shown when the disk fills up.
    """
    from semapose.io.freespace import ensure_free_space

    target = Path(target)
    if size_hint > 0:  # checked before writing, not read from the writer's error text
        ensure_free_space(target, size_hint)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = ".tmp" + target.suffix
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    except OSError as exc:  # name the output, not the temporary file it could not make
        if is_disk_full(exc):
            raise DiskFullError(target, max(size_hint, 1), _free_bytes(target.parent)) from exc
        raise type(exc)(exc.errno, exc.strerror, str(target)) from exc
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
    except BaseException as exc:
        written = 0
        with contextlib.suppress(OSError):
            written = tmp_path.stat().st_size
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(exc, Exception) and is_disk_full(exc):
            needed = max(size_hint, written + 1)
            raise DiskFullError(target, needed, _free_bytes(target.parent)) from exc
        if isinstance(exc, OSError) and exc.filename == str(tmp_path) and not exc.filename2:
            raise type(exc)(exc.errno, exc.strerror, str(target)) from exc
        raise


def remove_stale_temporaries(*folders: str | Path) -> list[Path]:
    """Delete the temporary files of :func:`atomic_path` that a killed process left in
    ``folders`` (not recursive). Call it only while no other process writes there
    (under the output lock). Returns what was removed."""
    removed = []
    for folder in folders:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                if TEMPORARY_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                        removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_text_file(target: str | Path) -> Iterator[TextIO]:
    """A UTF-8 text file opened for writing that replaces ``target`` only when the
    block completes (for outputs written piece by piece)."""
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        yield fh


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target, size_hint=len(data)) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | Path, obj: Any, indent: int | None = None) -> None:
    atomic_write_text(target, json.dumps(obj, indent=indent, allow_nan=False) + "\n")
