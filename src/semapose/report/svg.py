"""Small inline SVG charts of our own (no chart library, nothing fetched at view time)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: chart size in CSS pixels
WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 36, 26


@dataclass
class Line:
    """One polyline: ``y`` per ``x``; NaN breaks the line."""

    label: str
    color: str
    x: np.ndarray
    y: np.ndarray
    #: CSS class (``raw`` / ``smooth`` for the smoothing switch)
    cls: str = ""
    dashed: bool = False


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=raw)
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + step * 1e-9, step)]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"


class Axes:
    """Maps data to chart pixels for an x range (frames) and a y range."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float, invert_y: bool = False):
        self.x0, self.x1 = x0, max(x1, x0 + 1)
        self.y0, self.y1 = y0, y1 if y1 > y0 else y0 + 1
        self.invert_y = invert_y

    def px(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        t = (y - self.y0) / (self.y1 - self.y0)
        if self.invert_y:
            t = 1 - t
        return HEIGHT - BOTTOM - t * (HEIGHT - TOP - BOTTOM)

    def frame(self, y_label: str, x_label: str = "frame") -> str:
        parts = [
            f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
            f'height="{HEIGHT - TOP - BOTTOM}" fill="#fff" stroke="#ccc"/>'
        ]
        for t in _ticks(self.x0, self.x1):
            x = self.px(t)
            parts.append(
                f'<line x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" '
                f'y2="{HEIGHT - BOTTOM + 4}" '
                f'stroke="#888"/><text x="{x:.1f}" y="{HEIGHT - 8}" class="tick" '
                f'text-anchor="middle">{_fmt(t)}</text>'
            )
        for t in _ticks(self.y0, self.y1, 4):
            y = self.py(t)
            parts.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#eee"/>'
                f'<text x="{LEFT - 4}" y="{y + 4:.1f}" class="tick" text-anchor="end">'
                f"{_fmt(t)}</text>"
            )
        parts.append(
            f'<text x="{LEFT}" y="12" class="axis">{_esc(y_label)}</text>'
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" class="axis" text-anchor="end">'
            f"{_esc(x_label)}</text>"
        )
        return "".join(parts)


def _cursor(axes: Axes) -> str:
    """The vertical line the page script moves with the video's current frame."""
    return (
        f'<line class="cursor" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
        f'data-x0="{axes.x0}" data-x1="{axes.x1}" data-left="{LEFT}" '
        f'data-width="{WIDTH - LEFT - RIGHT}" stroke="#222" stroke-width="1" opacity="0"/>'
    )


def line_chart(
    lines: Sequence[Line],
    x_range: tuple[float, float],
    y_range: tuple[float, float] | None = None,
    y_label: str = "",
    invert_y: bool = False,
    title: str = "",
) -> str:
    """An SVG line chart with a legend; lines broken at NaN."""
    ys = [ln.y[np.isfinite(ln.y)] for ln in lines]
    finite = np.concatenate(ys) if ys else np.zeros(0)
    if y_range is None:
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        y_range = (lo - pad, hi + pad)
    axes = Axes(x_range[0], x_range[1], y_range[0], y_range[1], invert_y)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{_esc(title or y_label)}">',
        axes.frame(y_label),
    ]
    for ln in lines:
        dash = ' stroke-dasharray="5 3"' if ln.dashed else ""
        for seg in _segments(ln.x, ln.y):
            pts = " ".join(f"{axes.px(x):.1f},{axes.py(y):.1f}" for x, y in seg)
            if len(seg) == 1:
                x, y = seg[0]
                parts.append(
                    f'<circle class="{ln.cls}" cx="{axes.px(x):.1f}" cy="{axes.py(y):.1f}" r="1.5" '
                    f'fill="{ln.color}"/>'
                )
            else:
                parts.append(
                    f'<polyline class="{ln.cls}" points="{pts}" fill="none" stroke="{ln.color}" '
                    f'stroke-width="1.5"{dash}/>'
                )
    parts.append(_cursor(axes))
    parts.append(_legend(lines))
    parts.append("</svg>")
    return "".join(parts)


def _segments(x: np.ndarray, y: np.ndarray) -> list[list[tuple[float, float]]]:
    segs: list[list[tuple[float, float]]] = []
    cur: list[tuple[float, float]] = []
    prev_x = None
    for xv, yv in zip(x.tolist(), y.tolist(), strict=True):
        if not np.isfinite(yv) or (prev_x is not None and xv - prev_x > 1):
            if cur:
                segs.append(cur)
            cur = []
        if np.isfinite(yv):
            cur.append((xv, yv))
        prev_x = xv
    if cur:
        segs.append(cur)
    return segs


def _legend(lines: Sequence[Line]) -> str:
    """One entry per colour (a smoothed twin shares its raw line's colour: it is named once,
    plus one "dashed: smoothed" entry), so the legend fits the chart."""
    seen: dict[str, tuple[str, str, bool]] = {}
    colors: set[str] = set()
    dashed_too = False
    for ln in lines:
        if ln.dashed and ln.color in colors:
            dashed_too = True
            continue
        colors.add(ln.color)
        seen.setdefault(ln.label, (ln.color, ln.cls, ln.dashed))
    if dashed_too:
        seen["dashed: smoothed"] = ("#555", "smooth", True)
    parts = []
    x = LEFT + 6
    for label, (color, cls, dashed) in seen.items():
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(
            f'<g class="{cls}"><line x1="{x}" y1="{TOP - 9}" x2="{x + 16}" y2="{TOP - 9}" '
            f'stroke="{color}" stroke-width="2"{dash}/><text x="{x + 20}" y="{TOP - 5}" '
            f'class="legend">{_esc(label)}</text></g>'
        )
        x += 28 + 7 * len(label)
    return "".join(parts)


#: colours of the timeline's states
STATUS_COLORS = {"seen": "#2e7d32", "hidden": "#f9a825", "lost": "#bdbdbd"}


def timeline(rows: Sequence[tuple[str, str, Sequence[tuple[str, int, int]]]], frames: int) -> str:
    """One row per track: (label, colour, [(status, first, last), ...]) over ``frames``."""
    row_h = 22
    height = TOP + BOTTOM + row_h * max(1, len(rows))
    axes = Axes(0, max(frames - 1, 1), 0, 1)
    width = WIDTH - LEFT - RIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="timeline of ids">'
    ]
    scale = width / max(frames, 1)
    for r, (label, color, spans) in enumerate(rows):
        y = TOP + r * row_h
        parts.append(
            f'<text x="{LEFT - 4}" y="{y + 15}" class="tick" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{LEFT - 2}" y="{y + 4}" width="2" height="{row_h - 8}" fill="{color}"/>'
        )
        for status, a, b in spans:
            x = LEFT + a * scale
            w = max((b - a + 1) * scale, 1.0)
            h = row_h - 8 if status != "lost" else 4
            yy = y + 4 if status != "lost" else y + row_h / 2 - 2
            parts.append(
                f'<rect class="st-{status}" x="{x:.2f}" y="{yy:.1f}" width="{w:.2f}" height="{h}" '
                f'fill="{STATUS_COLORS[status]}"><title>{_esc(label)}: {status} frames {a}-{b}'
                "</title></rect>"
            )
    bottom = height - BOTTOM
    for t in _ticks(0, max(frames - 1, 1)):
        x = LEFT + t * scale
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 18}" class="tick" '
            f'text-anchor="middle">{_fmt(t)}</text>'
        )
    parts.append(
        f'<line class="cursor" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" '
        f'data-x0="0" data-x1="{frames}" data-left="{LEFT}" data-width="{width}" '
        'stroke="#222" opacity="0"/>'
    )
    parts.append("</svg>")
    _ = axes
    return "".join(parts)


__all__ = ["HEIGHT", "Line", "STATUS_COLORS", "WIDTH", "line_chart", "timeline"]
