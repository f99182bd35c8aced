"""Content fingerprints of a job's inputs, for resume (issue 24).

A resumed job must continue only on the inputs it started with. A path says nothing
when a file is changed in place (a new box file or weights file under the same name
mixed old and new inputs without a word), so :func:`file_digest` holds the size and
the SHA-256 of the content. Files up to :data:`FULL_HASH_BYTES` are hashed whole
(weights, box files); a larger file (a long video) is hashed from its size, its
first and last MiB and 64 spread samples of 64 KiB, which any re-encode or cut
changes, at a cost that does not grow with the file. A frame folder is its sorted
file names, sizes and modification times. Digests are cached per
(path, size, mtime, inode) so a job can ask again at every checkpoint for free.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

#: files up to this size are hashed whole
FULL_HASH_BYTES = 256 << 20
_BLOCK = 1 << 20
_SAMPLES = 64
_SAMPLE_BYTES = 64 << 10


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if size <= FULL_HASH_BYTES:
            while block := fh.read(_BLOCK):
                h.update(block)
        else:
            h.update(size.to_bytes(8, "little"))
            offsets = [0, max(0, size - _BLOCK)]
            offsets += [size * k // (_SAMPLES + 1) for k in range(1, _SAMPLES + 1)]
            for offset in offsets:
                fh.seek(offset)
                h.update(fh.read(_BLOCK if offset in (0, max(0, size - _BLOCK)) else _SAMPLE_BYTES))
    return h.hexdigest()


def file_digest(path: str | Path) -> dict[str, Any]:
    """``{"size": bytes, "sha256": hex}`` of a file's content (see the module docstring);
    a folder gives the digest of its listing; a missing path gives ``{"missing": True}``."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError:
        return {"missing": True}
    import stat

    if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        return {"kind": oct(stat.S_IFMT(st.st_mode))}  # never read a FIFO or a device
    if p.is_dir():
        h = hashlib.sha256()
        for entry in sorted(os.scandir(p), key=lambda e: e.name):
            try:
                est = entry.stat()
            except OSError:
                continue
            h.update(f"{entry.name}\0{est.st_size}\0{est.st_mtime_ns}\n".encode("utf-8", "replace"))
        return {"folder": True, "sha256": h.hexdigest()}
    return {
        "size": int(st.st_size),
        "sha256": _digest(str(p), st.st_size, st.st_mtime_ns, st.st_ino),
    }


__all__ = ["FULL_HASH_BYTES", "file_digest"]
