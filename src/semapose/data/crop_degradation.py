"""Degradation of person crops over spans of frames (``semapose fit``'s degraded views).

:func:`plan_crop_events` plans, for one person's run of consecutive frames, degradation
*events* over short spans with clean frames between them; :func:`degrade_crop` applies
an event to the person crop of one frame: motion blur along the person's motion,
defocus, an occluder sweeping across the person, noise, low light, compression,
dropped frames. Types and severity tables are the synthetic generator's
(:mod:`semapose.data.synthetic.degrade`), sized to a crop instead of a frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from semapose.data.synthetic import degrade as D
from semapose.data.synthetic.render import Occluder, draw_occluder

__all__ = ["CROP_DEGRADATIONS", "degrade_crop", "plan_crop_events"]

CROP_DEGRADATIONS: tuple[str, ...] = D.DEGRADATIONS


def plan_crop_events(
    rng: np.random.Generator,
    frames: int,
    choices: Sequence[tuple[str, int | None]],
    rate: float = 0.5,
    max_length: int = 4,
) -> list[D.Event]:
    """Non-overlapping events over ``frames`` frames, covering about ``rate`` of them.

    Spans are 1..``max_length`` frames (``frame_drop``: ``min(severity, max_length)``),
    separated by at least one clean frame, so neighbours can carry what a span lost.
    """
    if not choices or rate <= 0 or frames <= 0:
        return []
    mean_len = (1 + max_length) / 2
    mean_gap = max(1.0, mean_len * (1 - rate) / max(rate, 1e-3))
    gap_hi = max(1, int(round(2 * mean_gap)) - 1)
    events: list[D.Event] = []
    t = int(rng.integers(0, gap_hi + 1))
    while t < frames:
        typ, sev = choices[int(rng.integers(len(choices)))]
        severity = int(rng.integers(1, 6)) if sev is None else int(sev)
        if typ == "frame_drop":
            length = min(severity, max_length)
            t = max(t, 1)  # a dropped frame repeats an earlier one
        else:
            length = int(rng.integers(1, max_length + 1))
        length = min(length, frames - t)
        if length <= 0:
            break
        occ = None
        if typ == "occluder":
            occ = D.occluder_params(rng)
        events.append(D.Event(typ, severity, t, length, None, occ))
        t += length + int(rng.integers(1, gap_hi + 1))
    return events


def degrade_crop(
    crop: np.ndarray,
    event: D.Event,
    t: int,
    previous: np.ndarray | None,
    velocity: tuple[float, float],
    rng: np.random.Generator,
    enlarge: float = 1.25,
) -> np.ndarray:
    """Degrade an RGB uint8 person crop (H, W, 3) at frame ``t`` of ``event``.

    ``previous``: the crop as delivered at the frame before (``frame_drop`` repeats
    it); ``velocity``: the person's image motion in crop pixels per frame (motion blur
    follows it). The person fills about ``1/enlarge`` of the crop, which sizes the
    blur length and the occluder like the synthetic generator sizes them.
    """
    s = int(event.severity)
    if not 1 <= s <= 5:
        raise ValueError(f"severity must be 1..5, got {s}")
    h, w = crop.shape[:2]
    person_h = h / enlarge
    out = crop
    if event.type == "motion_blur":
        vx, vy = velocity
        angle = math.atan2(vy, vx) if math.hypot(vx, vy) > 1e-3 else 0.0
        length = max(3, int(round(min(D.BLUR_LENGTH[s - 1] * person_h, 0.35 * min(h, w)))))
        out = cv2.filter2D(crop, -1, D._line_kernel(length, angle), borderType=cv2.BORDER_REFLECT)
    elif event.type == "defocus":
        r = D.DEFOCUS_RADIUS[s - 1] * min(h, w) / 256.0
        out = cv2.filter2D(crop, -1, D._disk_kernel(r), borderType=cv2.BORDER_REFLECT)
    elif event.type == "noise":
        noise = rng.standard_normal(crop.shape, dtype=np.float32) * (D.NOISE_SIGMA[s - 1] * 255.0)
        out = np.clip(crop.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    elif event.type == "compression":
        bgr = np.ascontiguousarray(crop[..., ::-1])
        out = np.ascontiguousarray(D._compress(bgr, s)[..., ::-1])
    elif event.type == "low_light":
        x = (crop.astype(np.float32) / 255.0) ** D.LOW_LIGHT_GAMMA[s - 1] * (
            255.0 * D.LOW_LIGHT_GAIN[s - 1]
        )
        x += rng.standard_normal(crop.shape, dtype=np.float32) * D.LOW_LIGHT_NOISE[s - 1]
        out = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    elif event.type == "frame_drop":
        out = (previous if previous is not None else crop).copy()
    elif event.type == "occluder":
        out = crop.copy()
        p = event.occluder or {}
        q = (t - event.start + 0.5) / max(1, event.length)
        if p.get("dir", 1.0) < 0:
            q = 1 - q
        pw, ph = w / enlarge, person_h
        x1 = 0.5 * (w - pw)
        kind = int(p.get("kind", 1))
        ow, oh = D.OCCLUDER_WIDTH[s - 1] * pw, D.OCCLUDER_HEIGHT[s - 1] * ph
        if kind == 0:
            ow, oh = 0.6 * ow, 1.3 * ph
        cx = x1 + (0.2 + 0.6 * q) * pw
        cy = 0.5 * h + p.get("dy", 0.0) * ph * (1 - D.OCCLUDER_HEIGHT[s - 1])
        color = (int(p.get("r", 128)), int(p.get("g", 128)), int(p.get("b", 128)))
        occ = Occluder(
            kind,
            (cx, cy),
            (ow, oh),
            p.get("angle", 0.0) if kind != 2 else 0.0,
            color,
            int(p.get("stripes", 0)),
        )
        draw_occluder(out, np.zeros(crop.shape[:2], np.uint8), occ)
    else:
        raise ValueError(f"unknown degradation {event.type!r}")
    return out
