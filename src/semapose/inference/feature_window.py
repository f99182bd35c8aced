"""The feature window: backbone features of recent person crops, keyed by (frame, track id).

Temporal inference needs, for every person and key frame ``k``, the backbone
features of frames ``k + o`` for each clip offset ``o``. Each (frame, person crop)
is encoded once and held here; every clip that needs it reads it back, and
entries older than the earliest frame any future key frame can ask for are
evicted, so memory stays bounded by ``window x persons`` feature maps.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any


class FeatureWindow:
    """Dictionary of features keyed by ``(frame, track_id[, variant])`` with frame eviction.

    ``variant`` distinguishes e.g. the horizontally flipped crop used by flip
    testing. Statistics (``hits``/``misses``/``stored``) make the reuse
    measurable: with a T-frame clip every feature is read T times.
    """

    def __init__(self) -> None:
        self._data: dict[tuple[int, int, Hashable], Any] = {}
        self.hits = 0
        self.misses = 0
        self.stored = 0
        self.peak_size = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: tuple[int, int, Hashable]) -> bool:
        return key in self._data

    def put(self, frame: int, track_id: int, value: Any, variant: Hashable = 0) -> None:
        self._data[(frame, track_id, variant)] = value
        self.stored += 1
        self.peak_size = max(self.peak_size, len(self._data))

    def get(self, frame: int, track_id: int, variant: Hashable = 0) -> Any | None:
        value = self._data.get((frame, track_id, variant))
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def has(self, frame: int, track_id: int, variant: Hashable = 0) -> bool:
        return (frame, track_id, variant) in self._data

    def evict_before(self, frame: int) -> int:
        """Drop every entry of frames ``< frame``; returns how many were dropped."""
        old = [k for k in self._data if k[0] < frame]
        for k in old:
            del self._data[k]
        return len(old)

    def clear(self) -> None:
        self._data.clear()

    def stats(self) -> dict[str, int]:
        return {
            "stored": self.stored,
            "hits": self.hits,
            "misses": self.misses,
            "peak_entries": self.peak_size,
        }


__all__ = ["FeatureWindow"]
