"""Image dimensions from the file header, checked before anything is decoded.

A 100-byte PNG can claim 40000 x 40000 pixels: OpenCV then raises (beyond its
own 2^30-pixel limit) or allocates gigabytes before finding the data missing.
:func:`check_image_size` reads only the header (PNG, JPEG, BMP, WebP; other
formats are left to the decoder) and refuses frames beyond :data:`MAX_IMAGE_SIDE`
pixels per side or :data:`MAX_IMAGE_PIXELS` pixels in all (an 8K frame,
7680 x 4320, is 33 M pixels).
"""

from __future__ import annotations

import struct
from pathlib import Path

from semapose.errors import InputError
from semapose.limits import MAX_IMAGE_FILE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE

#: JPEG start-of-frame markers (they carry the size); C4, C8 and CC are not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _png(head: bytes) -> tuple[int, int] | None:
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    return None


def _bmp(head: bytes) -> tuple[int, int] | None:
    if head[:2] == b"BM" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return abs(int(w)), abs(int(h))  # negative height: rows stored top-down
    return None


def _webp(head: bytes) -> tuple[int, int] | None:
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP" or len(head) < 30:
        return None
    kind = head[12:16]
    if kind == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    if kind == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return int(w) & 0x3FFF, int(h) & 0x3FFF
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    """Width and height from the frame header (SOF) of JPEG ``data``, walking the marker
    segments as a decoder does: each segment is skipped by its length, however many come
    first (70 APP1 segments of 64 KiB pushed the SOF past the old 4 MiB scan and a
    30000 x 30000 frame was decoded); bytes between segments are skipped to the next
    0xFF like libjpeg does. None when no SOF comes before the image data."""
    pos, n = 2, len(data)
    while pos < n:
        if data[pos] != 0xFF:
            nxt = data.find(b"\xff", pos)
            if nxt < 0:
                return None
            pos = nxt
        while pos < n and data[pos] == 0xFF:  # the marker's 0xFF and any fill bytes
            pos += 1
        if pos >= n:
            return None
        code = data[pos]
        pos += 1
        if code == 0xD8 or 0xD0 <= code <= 0xD7 or code == 0x01:
            continue  # markers without a length
        if code == 0xD9 or pos + 2 > n:
            return None
        length = struct.unpack_from(">H", data, pos)[0]
        if code in _SOF:
            if pos + 7 > n:
                return None
            h, w = struct.unpack_from(">HH", data, pos + 3)
            return int(w), int(h)
        if code == 0xDA:  # start of scan before any frame header: not a valid file
            return None
        pos += max(length, 2)
    return None


def image_size_of(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` that the header in ``data`` declares (PNG, JPEG, BMP, WebP), or
    None for another format. A JPEG without a frame header is refused by
    :func:`check_image_bytes`."""
    if data[:2] == b"\xff\xd8":
        return _jpeg(data)
    head = data[:32]
    return _png(head) or _bmp(head) or _webp(head)


def image_size(path: str | Path) -> tuple[int, int] | None:
    """``(width, height)`` that the header of an image file declares, or None when the
    format is not one of PNG, JPEG, BMP, WebP or the header cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(32)
            if head[:2] == b"\xff\xd8":
                return _jpeg(head + fh.read(MAX_IMAGE_FILE_BYTES))
            return _png(head) or _bmp(head) or _webp(head)
    except OSError:
        return None


def check_frame_size(width: int, height: int, path: str | Path, where: str) -> None:
    """Raise :class:`InputError` when a ``width`` x ``height`` frame exceeds the limits."""
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise InputError(
            path,
            where,
            f"an image of at most {MAX_IMAGE_SIDE} pixels per side and {MAX_IMAGE_PIXELS:,} "
            "pixels (from its header)",
            f"{width}x{height}",
        )


def check_image_bytes(data: bytes, path: str | Path, where: str) -> None:
    """Raise :class:`InputError` when the header in ``data`` declares a frame beyond the
    limits, or ``data`` is a JPEG whose frame header cannot be found (nothing is decoded)."""
    size = image_size_of(data)
    if size is None and data[:2] == b"\xff\xd8":
        raise InputError(path, where, "a JPEG with a frame header (SOF) before its image data")
    if size is not None:
        check_frame_size(size[0], size[1], path, where)


def check_image_size(path: str | Path, where: str) -> None:
    """Raise :class:`InputError` when the header of ``path`` declares a frame larger
    than the limits (nothing is decoded)."""
    size = image_size(path)
    if size is not None:
        check_frame_size(size[0], size[1], path, where)


__all__ = [
    "MAX_IMAGE_FILE_BYTES",
    "MAX_IMAGE_PIXELS",
    "check_image_bytes",
    "image_size_of",
    "MAX_IMAGE_SIDE",
    "check_frame_size",
    "check_image_size",
    "image_size",
]
