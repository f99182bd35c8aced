"""Files fetched by URL (known checkpoints by name, or a URL given as weights) into the cache.

The cache folder is ``$SEMAPOSE_CACHE`` if set, else ``$XDG_CACHE_HOME/semapose``,
else ``~/.cache/semapose``. A download goes to a temporary file beside its
target, is verified against the table's SHA-256, and only then renamed into
place (atomic), so a broken or interrupted download never poisons the cache.
No network access happens unless a name is resolved that is not cached yet;
offline, the error says which URL to fetch by hand and where to put it. Files
taken from PyPI wheels are fetched by :mod:`semapose.weights.assets` into the
same cache.

Checksums: OpenMMLab names its checkpoints ``<name>-<first 8 hex digits of the
file's SHA-256>``; where the full digest is not known to us, the table holds
that 8-digit prefix and the check compares the prefix. The YOLOX ONNX digests
are those of the ``end2end.onnx`` inside OpenMMLab's SDK zips as pinned by
other public projects (we could not download them here to re-check).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from semapose.errors import SemaposeError
from semapose.io.atomic import atomic_path
from semapose.limits import DOWNLOAD_DEADLINE_S


class DownloadError(SemaposeError):
    """A known checkpoint could not be fetched or failed its checksum."""


@dataclass(frozen=True)
class KnownWeights:
    """One downloadable file. ``sha256`` is the full hex digest or its first >= 8 digits.

    ``member``: for a zip archive, the file inside it that is kept (the
    checksum is that member's); empty for a plain file.
    """

    name: str
    url: str
    sha256: str
    filename: str
    description: str
    licence: str
    member: str = ""
    #: a person detector's file, not pose weights (not offered as ``--weights``)
    detector: bool = False


_MMPOSE = "https://download.openmmlab.com/mmpose"
_RTM = f"{_MMPOSE}/v1/projects/rtmposev1/onnx_sdk"

KNOWN_WEIGHTS: dict[str, KnownWeights] = {
    w.name: w
    for w in (
        KnownWeights(
            "hrnet-w32-coco-256x192",
            f"{_MMPOSE}/top_down/hrnet/hrnet_w32_coco_256x192-c78dce93_20200708.pth",
            "c78dce93",
            "hrnet_w32_coco_256x192-c78dce93_20200708.pth",
            "HRNet-W32, COCO train2017, 256x192 (mmpose release; single-frame)",
            "Apache-2.0 (OpenMMLab mmpose)",
        ),
        KnownWeights(
            "hrnet-w48-coco-256x192",
            f"{_MMPOSE}/top_down/hrnet/hrnet_w48_coco_256x192-b9e0b3ab_20200708.pth",
            "b9e0b3ab",
            "hrnet_w48_coco_256x192-b9e0b3ab_20200708.pth",
            "HRNet-W48, COCO train2017, 256x192 (mmpose release; single-frame)",
            "Apache-2.0 (OpenMMLab mmpose)",
        ),
        KnownWeights(
            "vitpose-b-coco-256x192",
            f"{_MMPOSE}/v1/body_2d_keypoint/topdown_heatmap/coco/"
            "td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth",
            "216eae50",
            "td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth",
            "ViTPose-B, COCO train2017, 256x192 (mmpose release; single-frame)",
            "Apache-2.0 (OpenMMLab mmpose)",
        ),
        KnownWeights(
            "yolox-tiny",
            f"{_RTM}/yolox_tiny_8xb8-300e_humanart-6f3252f9.zip",
            "ceb11c07298f95c50d7c5abeb906d03340c85f23aa79e3e66966e7fb6c307250",
            "yolox_tiny_8xb8-300e_humanart-6f3252f9.onnx",
            "YOLOX-tiny person detector (COCO + Human-Art), ONNX, 416x416",
            "Apache-2.0 (OpenMMLab mmpose / mmdetection)",
            member="end2end.onnx",
            detector=True,
        ),
        KnownWeights(
            "yolox-m",
            f"{_RTM}/yolox_m_8xb8-300e_humanart-c2c7a14a.zip",
            "3dea6513388889f0fff4b77bf7a26013600321b9eb9ceb0e9a400a82572f5f23",
            "yolox_m_8xb8-300e_humanart-c2c7a14a.onnx",
            "YOLOX-m person detector (COCO + Human-Art), ONNX, 640x640",
            "Apache-2.0 (OpenMMLab mmpose / mmdetection)",
            member="end2end.onnx",
            detector=True,
        ),
    )
}


def cache_dir() -> Path:
    """The cache folder: ``$SEMAPOSE_CACHE``, else ``$XDG_CACHE_HOME/semapose`` or ``~/.cache``."""
    env = os.environ.get("SEMAPOSE_CACHE")
    if env:
        path = Path(env).expanduser()
        if path.exists() and not path.is_dir():  # (the wheel was reported as "not a zip")
            from semapose.errors import InputError

            raise InputError(path, "SEMAPOSE_CACHE", "a folder (or a path to create one)", "a file")
        return path
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "semapose"


def cached_copy(relative: str, sha256: str) -> Path | None:
    """``cache_dir() / relative`` when it is there with this SHA-256; else None."""
    path = cache_dir() / relative
    return path if path.is_file() and sha256_file(path) == sha256 else None


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _checksum_ok(digest: str, expected: str) -> bool:
    expected = expected.lower().strip()
    return len(expected) >= 8 and digest.startswith(expected)


def fetch(
    url: str,
    sha256: str,
    filename: str,
    cache: str | Path | None = None,
    member: str = "",
    timeout: float = 30.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Return ``cache/filename``, downloading ``url`` first if it is not cached.

    A cached file is trusted only if its checksum matches (a mismatch re-downloads).
    ``member``: the URL is a zip; extract that member (matched by file name).
    Raises :class:`DownloadError` when offline, on HTTP errors and on a checksum
    mismatch (the bad download is discarded).
    """
    root = Path(cache) if cache is not None else cache_dir()
    target = root / filename
    if target.is_file() and _checksum_ok(sha256_file(target), sha256):
        return target
    stale = target.is_file()
    hint = f"download {url} by hand{' and extract ' + member if member else ''} to {target}"
    try:
        with atomic_path(target) as tmp:
            _download(url, tmp, timeout, progress)
            if member:
                _extract_member(tmp, member, url)
            digest = sha256_file(tmp)
            if not _checksum_ok(digest, sha256):
                raise DownloadError(
                    f"{url}: checksum mismatch: expected sha256 {sha256}, got {digest} "
                    "(download discarded; the file changed upstream or was corrupted)"
                )
    except urllib.error.HTTPError as exc:
        raise DownloadError(
            f"cannot download {url}: HTTP {exc.code} {exc.reason} (moved upstream?); {hint}"
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        if stale:  # the cached copy is damaged; "offline?" alone hid that
            raise DownloadError(
                f"{target}: the cached file failed its checksum (damaged) and downloading it "
                f"again failed ({reason}); connect and retry, or {hint}"
            ) from None
        raise DownloadError(
            f"cannot download {url} ({reason}); no network? Either connect, or {hint}"
        ) from None
    return target


def _download(
    url: str, dest: Path, timeout: float, progress: Callable[[int, int | None], None] | None
) -> None:
    import time

    # a total deadline besides the per-read timeout: a server sending one byte every 5 s
    # kept a download alive forever (each read returned before the timeout)
    deadline = DOWNLOAD_DEADLINE_S
    end = time.monotonic() + deadline
    req = urllib.request.Request(url, headers={"User-Agent": "semapose"})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as out:
        total_s = resp.headers.get("Content-Length")
        total = int(total_s) if total_s and total_s.isdigit() else None
        done = 0
        while True:
            if time.monotonic() > end:
                raise DownloadError(
                    f"{url}: expected the download to finish within {deadline:g} s, got "
                    f"{done} bytes{f' of {total}' if total else ''} (a stalled server?)"
                )
            chunk = resp.read1(1 << 16)  # whatever arrived: the deadline is checked often
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        if total is not None and done != total:
            raise DownloadError(f"{url}: download ended after {done} of {total} bytes")


def _extract_member(archive: Path, member: str, url: str) -> None:
    """Replace the zip at ``archive`` by its member whose base name is ``member``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if Path(n).name == member]
            if not names:
                raise DownloadError(f"{url}: archive has no {member}")
            # through atomic_path like every write: a killed run leaves a temporary file
            # that remove_stale_temporaries recognises
            with (
                atomic_path(archive) as data_path,
                zf.open(names[0]) as src,
                open(data_path, "wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile:
        raise DownloadError(f"{url}: not a valid zip archive") from None


def _print_progress(done: int, total: int | None) -> None:
    if total:
        sys.stderr.write(f"\r  {done / 1e6:.1f} / {total / 1e6:.1f} MB")
        if done >= total:
            sys.stderr.write("\n")


def fetch_known(name: str, cache: str | Path | None = None) -> Path:
    """The cached file of a name in :data:`KNOWN_WEIGHTS`, downloaded on first use.

    Raises :class:`DownloadError` (offline, checksum) and ``KeyError`` for an unknown name.
    """
    entry = KNOWN_WEIGHTS[name]
    with contextlib.suppress(Exception):
        sys.stderr.write(
            f"semapose: fetching {entry.name} ({entry.description}) from {entry.url}\n"
        )
    return fetch(
        entry.url,
        entry.sha256,
        entry.filename,
        cache=cache,
        member=entry.member,
        progress=_print_progress,
    )


_OPENMMLAB_HASH = re.compile(r"-([0-9a-f]{8})(?:_\d{8})?\.\w+$")


def fetch_url(url: str, cache: str | Path | None = None) -> Path:
    """A weights file given by URL, cached under ``urls/<its file name>``.

    The checksum comes from a ``#sha256=<hex>`` suffix (pip's convention) or, failing
    that, from an OpenMMLab file name (``name-<8 hex digits>[_date].pth``); a URL with
    neither is refused: a download that cannot be checked is never used.
    """
    from semapose.errors import InputError

    base, _, fragment = url.partition("#")
    name = base.rstrip("/").rsplit("/", 1)[-1]
    expected = fragment[len("sha256=") :] if fragment.startswith("sha256=") else ""
    found = _OPENMMLAB_HASH.search(name)
    if not expected and found:
        expected = found.group(1)
    if not name or not re.fullmatch(r"[0-9a-fA-F]{8,64}", expected or "-"):
        raise InputError(
            None,
            "--weights",
            "a URL ending in #sha256=<hex digest> (or an OpenMMLab file name with its hash)",
            url,
        )
    with contextlib.suppress(Exception):
        sys.stderr.write(f"semapose: fetching {base}\n")
    root = Path(cache) if cache is not None else cache_dir()
    return fetch(base, expected, name, cache=root / "urls", progress=_print_progress)
