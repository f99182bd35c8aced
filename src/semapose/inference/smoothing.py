"""Keypoint smoothing over time: the One-Euro filter, per track and joint, causal.

Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter
for Noisy Input in Interactive Systems" (CHI 2012): an exponential low-pass
filter whose cut-off frequency rises with the signal's speed, so a still person's
keypoints stop trembling (low cut-off) while a fast arm is followed with little
lag (high cut-off). MediaPipe smooths its pose landmarks the same way.

Scale: the speed that raises the cut-off is measured in **person heights per
second** (the track's box height), so the same parameters behave alike for a
person 100 px or 1,000 px tall. Time: frame index / ``fps``. Only past frames
are used (a frame's smoothed keypoints depend on it and earlier frames), and the
filter is a pure function of the sequence of frames it is given: the outputs of
a resumed job equal an uninterrupted one's because the job smooths the same
stored sequence. A track unseen for more than ``reset_after`` frames starts afresh.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from semapose.errors import InputError

#: defaults (see docs/predict.md, "Steady keypoints", for the measurement behind them)
MIN_CUTOFF_HZ = 1.0
BETA = 4.0
D_CUTOFF_HZ = 1.0


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + tau / dt)  # type: ignore[no-any-return]


@dataclass
class _TrackFilter:
    x: np.ndarray  # (J, 2) filtered position
    dx: np.ndarray  # (J, 2) filtered speed, px/s
    frame: int


class SmoothingParameterError(InputError, ValueError):
    """A One-Euro parameter that is not a finite number in its range (also a ValueError,
    as before)."""


class OneEuroSmoother:
    """One-Euro filter over :class:`~semapose.inference.results.FramePoses` sequences.

    ``fps`` frame rate (seconds per frame = 1/fps); ``min_cutoff`` cut-off (Hz)
    of a still joint; ``beta`` how fast the cut-off rises with speed (per
    person-height/s); ``d_cutoff`` cut-off of the speed estimate. Call it on the
    frames in order (it keeps per-track state); it returns new frames, the input
    is not changed.
    """

    def __init__(
        self,
        fps: float = 30.0,
        min_cutoff: float = MIN_CUTOFF_HZ,
        beta: float = BETA,
        d_cutoff: float = D_CUTOFF_HZ,
        reset_after: int = 5,
    ) -> None:
        values = {"fps": fps, "min_cutoff": min_cutoff, "beta": beta, "d_cutoff": d_cutoff}
        for key, value in values.items():
            # inf or NaN (fps inf gave NaN keypoints) and non-positive rates are refused
            ok = isinstance(value, (int, float)) and math.isfinite(value)
            if not ok or value < 0 or (value == 0 and key != "beta") or value > 1e6:
                raise SmoothingParameterError(
                    None,
                    f"smooth.{key}",
                    "a finite positive number up to 1e6"
                    if key != "beta"
                    else "a finite number >= 0",
                    value,
                )
        self.fps = float(fps)
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset_after = int(reset_after)
        self._tracks: dict[int, _TrackFilter] = {}

    def smooth_keypoints(
        self, track_id: int, frame: int, keypoints: np.ndarray, height: float
    ) -> np.ndarray:
        """Filtered (J, 2) keypoints of ``track_id`` at ``frame`` (frames must increase)."""
        x = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
        st = self._tracks.get(track_id)
        if (
            st is None
            or frame <= st.frame
            or frame - st.frame > self.reset_after
            or st.x.shape != x.shape
            or not np.isfinite(x).all()
        ):
            self._tracks[track_id] = _TrackFilter(x.copy(), np.zeros_like(x), frame)
            return x.copy()
        dt = (frame - st.frame) / self.fps
        dx = (x - st.x) / dt
        dx_hat = st.dx + _alpha(self.d_cutoff, dt) * (dx - st.dx)
        speed = np.linalg.norm(dx_hat, axis=1, keepdims=True) / max(float(height), 1.0)
        cutoff = self.min_cutoff + self.beta * speed
        x_hat = st.x + _alpha(cutoff, dt) * (x - st.x)
        self._tracks[track_id] = _TrackFilter(x_hat, dx_hat, frame)
        return x_hat  # type: ignore[no-any-return]

    def __call__(self, frames: Iterable[Any]) -> list[Any]:
        return list(self.iter(frames))

    def iter(self, frames: Iterable[Any]) -> Iterator[Any]:
        """The frames with smoothed keypoints (rounded to 1/1000 px, as stored)."""
        for f in frames:
            persons = []
            for p in f.persons:
                if getattr(p, "hidden", False):  # not their pose: left as is, filter untouched
                    persons.append(p)
                    continue
                h = float(np.asarray(p.box, dtype=np.float64)[3])
                kp = self.smooth_keypoints(p.track_id, f.index, p.keypoints, h)
                persons.append(replace(p, keypoints=np.round(kp, 3)))
            yield replace(f, persons=persons)


def jitter(tracks: dict[int, list[tuple[int, np.ndarray, np.ndarray, float]]]) -> float:
    """Median keypoint acceleration, person heights per frame² (x100 = % of height).

    ``tracks``: per track id, (frame, keypoints (J, 2), scores (J,), person
    height) in frame order. The acceleration of a joint is the second difference
    over three consecutive frames, for joints scored >= 0.3 in all three.
    """
    acc: list[np.ndarray] = []
    for seq in tracks.values():
        for (f0, k0, s0, _), (f1, k1, s1, h1), (f2, k2, s2, _) in zip(
            seq, seq[1:], seq[2:], strict=False
        ):
            if f1 - f0 != 1 or f2 - f1 != 1 or h1 <= 0:
                continue
            ok = (s0 >= 0.3) & (s1 >= 0.3) & (s2 >= 0.3)
            a = np.linalg.norm(k2 - 2 * k1 + k0, axis=1)[ok] / h1
            acc.append(a)
    if not acc:
        return float("nan")
    return float(np.median(np.concatenate(acc)))


__all__ = ["OneEuroSmoother", "jitter"]
