"""Degradations over spans of frames, severity 1-5, labelled per frame and per person.

A video's degradations are planned up front as non-overlapping *events*: a type,
a severity held constant over the event (as in a real video, not re-drawn per
frame), a span of a few frames and, for the person-level types, the track ids it
hits. Between events there are at least two clean frames, so a model that looks
at neighbouring frames can recover what a single degraded frame lost.

Types (severity tables are below; sizes scale with the frame or the person):

- ``motion_blur``: per person, a line kernel along the person's actual image
  velocity (camera motion included), length a fraction of the person's height;
  the blurred person is composited over the background it sweeps across.
- ``defocus``: whole frame, disk kernel (COCO-C/ImageNet-C style radii).
- ``occluder``: per person, an object drawn in front of the person that crosses
  their box during the event; joints under it become hidden (v=1).
- ``noise``: whole frame, Gaussian noise (ImageNet-C sigmas).
- ``compression``: whole frame, JPEG re-encoding at low quality, at reduced
  resolution for the higher levels (a low-bitrate video).
- ``low_light``: whole frame, darkened with a gamma curve plus sensor noise and
  8-bit quantisation.
- ``frame_drop``: whole frame: the frame repeats the previous delivered frame
  (a dropped frame / duplicate) while the label keeps the true pose at this
  time. The event is ``severity`` frames long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from semapose.data.synthetic import skeleton as sk
from semapose.data.synthetic.render import PARTS_PER_PERSON, Occluder, person_extent
from semapose.data.synthetic.scene import Scene
from semapose.errors import InputError

DEGRADATIONS: tuple[str, ...] = (
    "motion_blur",
    "defocus",
    "occluder",
    "noise",
    "compression",
    "low_light",
    "frame_drop",
)
PER_PERSON: frozenset[str] = frozenset({"motion_blur", "occluder"})

# severity tables, index 0 = severity 1
BLUR_LENGTH = (0.05, 0.08, 0.12, 0.17, 0.24)  # of the person's height in pixels
DEFOCUS_RADIUS = (1.5, 2.5, 3.5, 5.0, 7.0)  # pixels at 256 px frame side
NOISE_SIGMA = (0.08, 0.12, 0.18, 0.26, 0.38)  # of the 0-255 range
JPEG_QUALITY = (30, 20, 12, 8, 5)
JPEG_SCALE = (1.0, 1.0, 0.8, 0.6, 0.45)
LOW_LIGHT_GAIN = (0.5, 0.35, 0.22, 0.14, 0.08)
LOW_LIGHT_GAMMA = (1.1, 1.2, 1.35, 1.5, 1.7)
LOW_LIGHT_NOISE = (2.0, 3.0, 4.0, 5.0, 6.0)
OCCLUDER_WIDTH = (0.25, 0.35, 0.5, 0.7, 0.9)  # of the person's box width
OCCLUDER_HEIGHT = (0.35, 0.5, 0.65, 0.8, 1.0)  # of the person's box height


@dataclass
class Event:
    type: str
    severity: int
    start: int
    length: int
    track_ids: list[int] | None
    occluder: dict[str, float] | None = None

    def covers(self, t: int) -> bool:
        return self.start <= t < self.start + self.length


def parse_degrade(spec: str | Sequence[str] | None) -> list[tuple[str, int | None]]:
    """``None``/"all" -> every type at random severity; "none"/[] -> clean.

    Otherwise ``"TYPE[:SEVERITY],..."`` (or a list of such items); a missing
    severity is drawn per event from 1-5.
    """
    if spec is None:
        return [(t, None) for t in DEGRADATIONS]
    items = (
        [s.strip() for s in spec.split(",")]
        if isinstance(spec, str)
        else [str(s).strip() for s in spec]
    )
    items = [s for s in items if s]
    if items in ([], ["none"]):
        return []
    if items == ["all"]:
        return [(t, None) for t in DEGRADATIONS]
    out: list[tuple[str, int | None]] = []
    for item in items:
        name, _, sev = item.partition(":")
        if name not in DEGRADATIONS:
            raise InputError(
                None, "--degrade", f"one of {', '.join(DEGRADATIONS)}, 'all' or 'none'", item
            )
        level: int | None = None
        if sev:
            if not sev.isdigit() or not 1 <= int(sev) <= 5:
                raise InputError(None, "--degrade", "a severity from 1 to 5 (TYPE:SEVERITY)", item)
            level = int(sev)
        out.append((name, level))
    return out


def visible_tracks(scene: Scene, t: int) -> list[int]:
    """Track ids of people with at least a third of their extent inside frame ``t``."""
    out = []
    for tr in scene.people:
        x1, y1, x2, y2 = person_extent(tr, t)
        area = max(1e-6, (x2 - x1) * (y2 - y1))
        ix = max(0.0, min(x2, scene.width) - max(x1, 0.0))
        iy = max(0.0, min(y2, scene.height) - max(y1, 0.0))
        if ix * iy >= area / 3:
            out.append(tr.track_id)
    return out


def occluder_params(rng: np.random.Generator) -> dict[str, float]:
    """Random look and path of a sweeping occluder (shape, direction, height, tilt, colour,
    stripes), drawn in a fixed order so a seed gives the same occluder everywhere."""
    return {
        "kind": float(rng.integers(0, 3)),
        "dir": float(rng.choice([-1.0, 1.0])),
        "dy": float(rng.uniform(-0.25, 0.25)),
        "angle": float(rng.uniform(-20, 20)),
        "b": float(rng.integers(20, 230)),
        "g": float(rng.integers(20, 230)),
        "r": float(rng.integers(20, 230)),
        "stripes": float(rng.integers(0, 5)),
    }


def plan_events(
    rng: np.random.Generator,
    scene: Scene,
    choices: list[tuple[str, int | None]],
    rate: float = 0.35,
) -> list[Event]:
    """Non-overlapping events covering about ``rate`` of the frames."""
    if not choices or rate <= 0:
        return []
    frames = scene.frames
    mean_len = 3.5
    mean_gap = max(2.0, mean_len * (1 - rate) / max(rate, 1e-3))
    gap_lo, gap_hi = max(2, int(round(0.5 * mean_gap))), max(2, int(round(1.5 * mean_gap)))
    events: list[Event] = []
    t = int(rng.integers(1, gap_hi + 1))
    while t < frames:
        typ, sev = choices[int(rng.integers(len(choices)))]
        severity = int(rng.integers(1, 6)) if sev is None else sev
        length = severity if typ == "frame_drop" else int(rng.integers(2, 7))
        length = min(length, frames - t)
        ids: list[int] | None = None
        occ: dict[str, float] | None = None
        if typ in PER_PERSON:
            present = visible_tracks(scene, min(frames - 1, t + length // 2))
            if not present:
                t += 1
                continue
            if typ == "occluder":
                ids = [int(rng.choice(present))]
                occ = occluder_params(rng)
            else:
                k = int(rng.integers(1, len(present) + 1))
                ids = sorted(int(i) for i in rng.choice(present, size=k, replace=False))
        events.append(Event(typ, severity, t, length, ids, occ))
        t += length + int(rng.integers(gap_lo, gap_hi + 1))
    return events


def frame_label(event: Event | None, scene: Scene, t: int) -> list[dict[str, object]]:
    """The ``semapose_degradations`` entry of frame ``t``."""
    if event is None:
        return []
    if event.track_ids is None:
        return [{"type": event.type, "severity": event.severity, "track_ids": None}]
    present = set(visible_tracks(scene, t))
    ids = [i for i in event.track_ids if i in present]
    if not ids:
        return []
    return [{"type": event.type, "severity": event.severity, "track_ids": ids}]


def occluders_for(
    event: Event | None, scene: Scene, t: int, label: list[dict[str, object]]
) -> list[Occluder]:
    """The occluder object of an ``occluder`` event at frame ``t`` (crossing the person's box)."""
    if event is None or event.type != "occluder" or not label or event.occluder is None:
        return []
    p = event.occluder
    tid = (event.track_ids or [0])[0]
    track = next(tr for tr in scene.people if tr.track_id == tid)
    mid = event.start + event.length // 2
    mx1, my1, mx2, my2 = person_extent(track, mid)
    x1, y1, x2, y2 = person_extent(track, t)
    bw, bh = mx2 - mx1, my2 - my1
    s = event.severity - 1
    q = (t - event.start + 0.5) / event.length
    if p["dir"] < 0:
        q = 1 - q
    kind = int(p["kind"])
    w = OCCLUDER_WIDTH[s] * bw
    h = OCCLUDER_HEIGHT[s] * bh
    if kind == 0:  # a bar / pole: narrow and tall
        w, h = 0.6 * w, 1.3 * bh
    cx = x1 + (0.2 + 0.6 * q) * (x2 - x1)
    cy = 0.5 * (y1 + y2) + p["dy"] * (y2 - y1) * (1 - OCCLUDER_HEIGHT[s])
    color = (int(p["b"]), int(p["g"]), int(p["r"]))
    return [
        Occluder(kind, (cx, cy), (w, h), p["angle"] if kind != 2 else 0.0, color, int(p["stripes"]))
    ]


def _line_kernel(length: int, angle: float) -> np.ndarray:
    size = length if length % 2 == 1 else length + 1
    k = np.zeros((size, size), np.float32)
    c = (size - 1) / 2.0
    dx, dy = np.cos(angle) * c, np.sin(angle) * c
    one = 1 << 4
    cv2.line(
        k,
        (int(round((c - dx) * one)), int(round((c - dy) * one))),
        (int(round((c + dx) * one)), int(round((c + dy) * one))),
        1.0,
        1,
        cv2.LINE_AA,
        4,
    )
    return k / max(float(k.sum()), 1e-6)


def _disk_kernel(radius: float) -> np.ndarray:
    r = int(np.ceil(radius))
    size = 2 * r + 1
    k = np.zeros((size, size), np.float32)
    one = 1 << 4
    cv2.circle(k, (r * one, r * one), int(round(radius * one)), 1.0, -1, cv2.LINE_AA, 4)
    return k / max(float(k.sum()), 1e-6)


def _velocity(scene: Scene, tid: int, t: int) -> np.ndarray:
    track = next(tr for tr in scene.people if tr.track_id == tid)
    a, b = max(0, t - 1), min(scene.frames - 1, t + 1)
    if a == b:
        return np.zeros(2)
    d = (track.points[b] - track.points[a]) / (b - a)  # per joint, px/frame
    body = sk.POSETRACK_FROM_INTERNAL
    v = d[[j for j in body if j >= 0]]
    mean = v.mean(axis=0)
    if float(np.hypot(*mean)) >= 0.3:
        return mean
    fastest = v[int(np.argmax(np.hypot(v[:, 0], v[:, 1])))]
    return fastest


def motion_blur(
    frame: np.ndarray,
    bg: np.ndarray,
    label: np.ndarray,
    scene: Scene,
    tid: int,
    t: int,
    severity: int,
) -> np.ndarray:
    """Blur one person along their velocity; the smear covers the background behind them."""
    slot = next(i for i, tr in enumerate(scene.people) if tr.track_id == tid)
    track = scene.people[slot]
    v = _velocity(scene, tid, t)
    angle = float(np.arctan2(v[1], v[0])) if float(np.hypot(*v)) > 1e-3 else 0.0
    height = track.body.height * float(track.px_per_m[t])
    length = int(
        round(min(BLUR_LENGTH[severity - 1] * height, 0.35 * min(scene.width, scene.height)))
    )
    length = max(3, length)
    kernel = _line_kernel(length, angle)
    x1, y1, x2, y2 = person_extent(track, t)
    pad = length
    ix1, iy1 = max(0, int(x1) - pad), max(0, int(y1) - pad)
    ix2, iy2 = min(scene.width, int(x2) + pad + 1), min(scene.height, int(y2) + pad + 1)
    if ix2 - ix1 < 2 or iy2 - iy1 < 2:
        return frame
    base = 1 + slot * PARTS_PER_PERSON
    lab = label[iy1:iy2, ix1:ix2]
    m = ((lab >= base) & (lab < base + PARTS_PER_PERSON)).astype(np.float32)[:, :, None]
    f = frame[iy1:iy2, ix1:ix2].astype(np.float32)
    behind = f * (1 - m) + bg[iy1:iy2, ix1:ix2].astype(np.float32) * m
    smear = cv2.filter2D(f * m, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    alpha = cv2.filter2D(m, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    alpha = alpha.reshape(m.shape)
    out = frame.copy()
    out[iy1:iy2, ix1:ix2] = np.clip(smear + (1 - alpha) * behind + 0.5, 0, 255).astype(np.uint8)
    return out


def apply_frame(
    frame: np.ndarray,
    bg: np.ndarray,
    label_buf: np.ndarray,
    scene: Scene,
    t: int,
    labels: list[dict[str, object]],
    previous: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Apply this frame's degradations (``labels``) to the clean render ``frame``."""
    out = frame
    for item in labels:
        typ = str(item["type"])
        s = int(item["severity"])  # type: ignore[call-overload]
        if typ == "motion_blur":
            for tid in item["track_ids"] or []:  # type: ignore[attr-defined]
                out = motion_blur(out, bg, label_buf, scene, int(tid), t, s)
        elif typ == "defocus":
            r = DEFOCUS_RADIUS[s - 1] * min(scene.width, scene.height) / 256.0
            out = cv2.filter2D(out, -1, _disk_kernel(r), borderType=cv2.BORDER_REFLECT)
        elif typ == "noise":
            noise = rng.standard_normal(out.shape, dtype=np.float32) * (NOISE_SIGMA[s - 1] * 255.0)
            out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        elif typ == "compression":
            out = _compress(out, s)
        elif typ == "low_light":
            x = (out.astype(np.float32) / 255.0) ** LOW_LIGHT_GAMMA[s - 1] * (
                255.0 * LOW_LIGHT_GAIN[s - 1]
            )
            x += rng.standard_normal(out.shape, dtype=np.float32) * LOW_LIGHT_NOISE[s - 1]
            out = np.clip(x + 0.5, 0, 255).astype(np.uint8)
        elif typ == "frame_drop" and previous is not None:
            out = previous.copy()
        # "occluder" is drawn by the renderer
    return out


def _compress(img: np.ndarray, severity: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = JPEG_SCALE[severity - 1]
    src = img
    if scale < 1.0:
        src = cv2.resize(
            img, (max(8, int(w * scale)), max(8, int(h * scale))), interpolation=cv2.INTER_AREA
        )
    ok, buf = cv2.imencode(".jpg", src, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY[severity - 1]])
    if not ok:  # pragma: no cover - cv2 always encodes uint8 BGR
        return img
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if dec is None:  # pragma: no cover
        return img
    if dec.shape[:2] != (h, w):
        dec = cv2.resize(dec, (w, h), interpolation=cv2.INTER_LINEAR)
    return dec
