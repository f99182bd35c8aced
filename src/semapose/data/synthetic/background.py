"""Procedural backgrounds: outdoor gradients, indoor walls and floors, textures, clutter.

A background is drawn once per video on a canvas twice the frame size; each
frame takes its view of it through the camera's pan/zoom (``cv2.warpAffine``),
so the background moves consistently with the people.
"""

from __future__ import annotations

import cv2
import numpy as np


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int, ch: int = 3) -> np.ndarray:
    """Smooth noise in [0, 1]-ish, mostly brightness with a little colour (like real textures)."""
    small = rng.random((max(2, h // cell), max(2, w // cell), ch)).astype(np.float32)
    if ch == 3:
        grey = small.mean(axis=2, keepdims=True)
        small = grey + 0.35 * (small - grey)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return out.reshape(h, w, ch)


def _rand_color(rng: np.random.Generator, lo: int = 20, hi: int = 235) -> tuple[int, int, int]:
    """A random colour, pulled toward grey (real scenes are rarely fully saturated)."""
    c = rng.integers(lo, hi, size=3).astype(np.float64)
    k = rng.uniform(0.2, 0.8)
    c = c * (1 - k) + c.mean() * k
    return int(c[0]), int(c[1]), int(c[2])


def make_background(
    rng: np.random.Generator, width: int, height: int, horizon: float
) -> np.ndarray:
    """A (2H, 2W, 3) uint8 BGR canvas; scene pixel (x, y) is canvas pixel (x + W/2, y + H/2)."""
    h, w = 2 * height, 2 * width
    hz = int(horizon + height / 2)
    yy = np.arange(h, dtype=np.float32)[:, None, None]
    kind = int(rng.integers(0, 4))
    top = np.array(_rand_color(rng), dtype=np.float32)
    bottom = np.array(_rand_color(rng), dtype=np.float32)
    if kind == 0:  # outdoor: sky gradient over textured ground
        sky_hi = np.array(_rand_color(rng, 120, 250), dtype=np.float32)
        t = np.clip(yy / max(1, hz), 0, 1)
        img = sky_hi * (1 - t) + top * t
        ground = bottom * (0.75 + 0.5 * _smooth_noise(rng, h, w, 6))
        img = np.where(yy > hz, ground, img)
    elif kind == 1:  # indoor: textured wall, floor with planks
        wall = top * (0.8 + 0.4 * _smooth_noise(rng, h, w, 24))
        floor = bottom * (0.8 + 0.3 * _smooth_noise(rng, h, w, 10))
        img = np.where(yy > hz, floor, wall)
        period = int(rng.integers(12, 40))
        img[hz:, ::period] *= 0.7
        if rng.random() < 0.5:  # wall stripes or bricks
            step = int(rng.integers(8, 30))
            img[:hz:step] *= 0.8
            img[:hz, :: step * 2] *= 0.85
    elif kind == 2:  # multi-octave natural texture
        img = sum(
            (s * _smooth_noise(rng, h, w, c) for s, c in ((0.5, 64), (0.3, 16), (0.2, 4))),
            start=np.zeros((h, w, 3), np.float32),
        )
        img = top * 0.3 + img * (bottom + 40) * 1.2
    else:  # vertical gradient with a grating
        frac = yy / h
        img = top * (1 - frac) + bottom * frac
        wavelength = rng.uniform(6, 30)
        ang = rng.uniform(0, np.pi)
        xx = np.arange(w, dtype=np.float32)[None, :, None]
        grating = np.sin((np.cos(ang) * xx + np.sin(ang) * yy) * 2 * np.pi / wavelength)
        img = img * (1 + 0.15 * grating)
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    canvas = np.array(np.broadcast_to(canvas, (h, w, 3)), dtype=np.uint8, copy=True)
    _clutter(rng, canvas, hz)
    return canvas


def _clutter(rng: np.random.Generator, canvas: np.ndarray, hz: int) -> None:
    """Random objects, including limb-like capsules and blobs that distract a detector."""
    h, w = canvas.shape[:2]
    n = int(rng.integers(0, 40))
    scale = h / 512.0
    for _ in range(n):
        color = _rand_color(rng)
        kind = int(rng.integers(0, 5))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        size = int(rng.integers(4, 60) * scale) + 2
        if kind == 0:
            cv2.rectangle(
                canvas, (x, y), (x + size, y + int(size * rng.uniform(0.3, 3))), color, -1
            )
        elif kind == 1:
            cv2.circle(canvas, (x, y), size // 2 + 1, color, -1, cv2.LINE_AA)
        elif kind == 2:  # capsule, like a limb
            ang = rng.uniform(0, np.pi)
            x2, y2 = int(x + size * 1.5 * np.cos(ang)), int(y + size * 1.5 * np.sin(ang))
            cv2.line(canvas, (x, y), (x2, y2), color, max(2, size // 4), cv2.LINE_AA)
        elif kind == 3:  # post / tree trunk standing on the ground
            top = int(rng.integers(0, max(1, hz)))
            cv2.rectangle(
                canvas,
                (x, top),
                (x + max(3, size // 3), hz + int(rng.integers(0, h - hz + 1))),
                color,
                -1,
            )
        else:
            pts = rng.integers(-size, size + 1, size=(5, 2)) + np.array([x, y])
            cv2.fillPoly(canvas, [pts.astype(np.int32)], color, cv2.LINE_AA)
