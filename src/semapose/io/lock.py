"""One run per output: an exclusive lock held for the life of a run.

Two ``predict`` runs on one ``--out`` (or two trainings in one output folder)
would interleave their appended files and delete each other's partial state.
:func:`output_lock` takes an exclusive ``fcntl.flock`` on a small hidden lock
file; the operating system releases it when the process ends, however it ends
(``kill -9`` included), so a stale lock never blocks the next run. The holder
writes its pid and command line into the file, and a second run is refused with
a :class:`FolderInUseError` naming them (exit 2).

Where ``fcntl`` is missing (Windows) or the file system refuses locks (some
network mounts) the run goes ahead after one warning on stderr: nothing then
stops two runs on one folder.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

from semapose.errors import InputError, SemaposeError, printable

_WARNED: set[str] = set()


class FolderInUseError(SemaposeError):
    """Another running process holds the lock of this output (``holder`` says which)."""

    def __init__(self, folder: Path, what: str, holder: str) -> None:
        self.folder = folder
        self.holder = holder
        super().__init__(
            f"{folder}: expected {what} that no other run is using, got in use by {holder} "
            "(wait for it to end, or write to another folder)"
        )


def _holder_text(fd: int) -> str:
    """ "pid N (command)" of the process that wrote the lock file, as far as it can be read."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode("utf-8", "replace"))
        pid, command = int(info["pid"]), str(info["command"])
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (it has not written its pid yet)"
    if len(command) > 120:
        command = command[:117] + "..."
    return f"process {pid} ({printable(command)})"


def _warn_once(reason: str) -> None:
    if reason not in _WARNED:
        _WARNED.add(reason)
        print(
            f"semapose: warning: {reason}; nothing stops two runs from writing the same output",
            file=sys.stderr,
        )


def _acquire(path: Path, what: str) -> int | None:
    """The locked file descriptor (None where locking is not available)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        _warn_once("output locking needs fcntl, which this platform lacks")
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # name the output folder, not our hidden lock file
            raise type(exc)(exc.errno, exc.strerror, str(path.parent)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                _warn_once(f"cannot lock {path} ({exc.strerror})")
                return None
            holder = _holder_text(fd)
            os.close(fd)
            raise FolderInUseError(path.parent, what, holder) from None
        # A holder that was releasing may have unlinked the file between our open and
        # flock: then we locked a file nobody else can see; open the current one again.
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                info = {"pid": os.getpid(), "command": shlex.join(sys.argv)}
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
                return fd
        os.close(fd)
    raise InputError(path, "", "a lock file that stays in place", "it keeps being replaced")


def lock_file(folder: str | Path, name: str = "") -> Path:
    """The lock file of ``folder`` (or of the output ``name`` inside it: one per input)."""
    if len(f".semapose-{name}.lock".encode()) > 255:  # a long input name: hash the rest
        import hashlib

        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        name = f"{name.encode()[:160].decode('utf-8', 'ignore')}-{digest}"
    return Path(folder) / (f".semapose-{name}.lock" if name else ".semapose.lock")


@contextlib.contextmanager
def output_lock(path: str | Path, what: str = "an output folder") -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` (a hidden file in the output folder) for the block.

    Raises :class:`FolderInUseError` at once when another process holds it. The
    file is removed when the block ends; after a crash it stays and is reused.
    """
    path = Path(path)
    fd = _acquire(path, what)
    try:
        yield path
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                path.unlink()  # still locked: a waiting opener re-checks the inode
            os.close(fd)


__all__ = ["FolderInUseError", "lock_file", "output_lock"]
