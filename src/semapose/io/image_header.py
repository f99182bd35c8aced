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
from typing import BinaryIO

from semapose.errors import InputError

#: Largest accepted width or height of an image frame, in pixels.
MAX_IMAGE_SIDE = 16384
#: Largest accepted image frame, in pixels (2^26: 192 MiB as RGB).
MAX_IMAGE_PIXELS = 1 << 26

#: JPEG start-of-frame markers (they carry the size); C4, C8 and CC are not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
#: bytes of JPEG segments read before giving up on finding the frame header
_JPEG_SCAN_LIMIT = 4 << 20


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


def _jpeg(fh: BinaryIO) -> tuple[int, int] | None:
    fh.seek(2)
    while fh.tell() < _JPEG_SCAN_LIMIT:
        byte = fh.read(1)
        if not byte:
            return None
        if byte != b"\xff":
            continue
        marker = fh.read(1)
        while marker == b"\xff":  # fill bytes
            marker = fh.read(1)
        if not marker:
            return None
        code = marker[0]
        if code == 0xD8 or 0xD0 <= code <= 0xD7 or code == 0x01:
            continue  # markers without a length
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if code in _SOF:
            data = fh.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return int(w), int(h)
        if code == 0xDA:  # start of scan before any frame header: not a valid file
            return None
        fh.seek(max(length - 2, 0), 1)
    return None


def image_size(path: str | Path) -> tuple[int, int] | None:
    """``(width, height)`` that the header of an image file declares, or None when the
    format is not one of PNG, JPEG, BMP, WebP or the header cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(32)
            if head[:2] == b"\xff\xd8":
                return _jpeg(fh)
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


def check_image_size(path: str | Path, where: str) -> None:
    """Raise :class:`InputError` when the header of ``path`` declares a frame larger
    than the limits (nothing is decoded)."""
    size = image_size(path)
    if size is not None:
        check_frame_size(size[0], size[1], path, where)


__all__ = [
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "check_frame_size",
    "check_image_size",
    "image_size",
]
