"""The one reader of input files: at most ``limit`` bytes, counted as they are read.

``os.stat().st_size`` says nothing for a symlink to ``/dev/zero``, a FIFO or a device
(0 bytes), so a size check on it let such a file be read until ``MemoryError``. Here
the bytes are counted while they are read and the read stops one byte past the limit;
a FIFO without a writer reads as empty instead of blocking forever.

Readers that map a file (safetensors, ``np.load(mmap_mode=...)``) cannot count, so
:func:`check_regular_file` refuses anything but a regular file within the limit.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from semapose.errors import InputError
from semapose.limits import MAX_JSON_BYTES

_CHUNK = 1 << 20


def _size_text(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.0f} MiB"
    return f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} B"


def file_kind(mode: int) -> str:
    """``a FIFO``, ``a character device``, ... for the ``st_mode`` of a non-regular file."""
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _stat(path: str | Path, what: str) -> os.stat_result:
    """``os.stat`` (symlinks followed); a missing or unreadable path is an InputError."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise InputError(path, "", what, "no such file") from None
    except OSError as exc:
        raise InputError(path, "", what, exc.strerror or str(exc)) from None


def check_regular_file(path: str | Path, limit: int, what: str) -> int:
    """The size of ``path``, a regular file of at most ``limit`` bytes (symlinks followed);
    otherwise :class:`InputError` naming the file and what it is."""
    st = _stat(path, what)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(path, "", f"a regular file ({what})", file_kind(st.st_mode))
    if st.st_size > limit:
        raise InputError(path, "", f"{what} of at most {_size_text(limit)}", _size_text(st.st_size))
    return int(st.st_size)


def read_bounded(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of ``path``, refused once more than ``limit`` bytes were read (for any file
    type: regular file, device, FIFO). Folders and missing files are an InputError too."""
    st = _stat(path, what)
    if stat.S_ISDIR(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        raise InputError(path, "", what, file_kind(st.st_mode))
    if stat.S_ISREG(st.st_mode) and st.st_size > limit:  # no need to read it to know
        raise InputError(path, "", f"{what} of at most {_size_text(limit)}", _size_text(st.st_size))
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    if stat.S_ISFIFO(st.st_mode):
        flags |= os.O_NONBLOCK  # no writer: open returns at once and the read is empty
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(path, "", what, exc.strerror or str(exc)) from None
    chunks: list[bytes] = []
    total = 0
    try:
        if flags & os.O_NONBLOCK:
            os.set_blocking(fd, True)
        while True:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    break
                raise InputError(path, "", what, exc.strerror) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                regular = stat.S_ISREG(st.st_mode)
                kind = "a file that grew" if regular else file_kind(st.st_mode)
                raise InputError(
                    path,
                    "",
                    f"{what} of at most {_size_text(limit)}",
                    f"more ({kind})",
                )
    finally:
        os.close(fd)
    return b"".join(chunks)


def parse_json_text(text: str | bytes, path: str | Path, where: str = "") -> Any:
    """Parse JSON text with the depth limit; errors are InputErrors naming ``path``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(path, where, "UTF-8 JSON text", str(exc)[:80]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        place = f"line {exc.lineno} column {exc.colno}"
        raise InputError(
            path, f"{where}: {place}" if where else place, "valid JSON", exc.msg
        ) from None
    except RecursionError:  # 100,000 nested "[": Python's parser gives up
        raise InputError(
            path, where, "JSON of reasonable nesting depth", "deeper nesting"
        ) from None
    except ValueError as exc:  # huge integer literals
        raise InputError(path, where, "valid JSON of reasonable size", str(exc)[:80]) from None


def read_json_bounded(
    path: str | Path, limit: int = MAX_JSON_BYTES, what: str = "a JSON file"
) -> Any:
    """A JSON file read through :func:`read_bounded` and :func:`parse_json_text`."""
    data = read_bounded(path, limit, what)
    if not data.strip():
        raise InputError(path, "", what, "an empty file")
    return parse_json_text(data, path)


__all__ = [
    "check_regular_file",
    "file_kind",
    "parse_json_text",
    "read_bounded",
    "read_json_bounded",
]
