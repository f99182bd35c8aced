"""Draw skeletons coloured by track id, boxes and ids on RGB uint8 frames (OpenCV).

All functions take and return RGB ``uint8`` arrays ``(H, W, 3)``; they draw on
a copy unless ``inplace=True``. Keypoints are in PoseTrack18 slot order by
default (``keypoints.POSETRACK_SKELETON``); joints scoring below ``threshold``
and limbs touching them are not drawn.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from semapose.keypoints import POSETRACK_SKELETON

Color = tuple[int, int, int]


def track_color(track_id: int) -> Color:
    """A stable, well-separated RGB colour for a track id (golden-ratio hue walk)."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def _line_width(image: np.ndarray) -> int:
    return max(1, round(max(image.shape[:2]) / 400))


def draw_pose(
    image: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray | None = None,
    color: Color = (0, 255, 0),
    threshold: float = 0.3,
    skeleton: Sequence[tuple[int, int]] = POSETRACK_SKELETON,
    thickness: int | None = None,
    inplace: bool = False,
) -> np.ndarray:
    """Draw one skeleton: limbs in ``color``, joints as filled dots with a dark rim."""
    import cv2

    out = image if inplace else image.copy()
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    sc = np.ones(len(kp)) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
    ok = (sc >= threshold) & np.isfinite(kp).all(axis=1)
    t = thickness or _line_width(out)
    pts = np.round(kp).astype(np.int64) if ok.any() else np.zeros((len(kp), 2), np.int64)
    for a, b in skeleton:
        if a < len(kp) and b < len(kp) and ok[a] and ok[b]:
            cv2.line(out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), color, t, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        p = tuple(map(int, pts[j]))
        cv2.circle(out, p, t + 2, (20, 20, 20), -1, cv2.LINE_AA)
        cv2.circle(out, p, t + 1, color, -1, cv2.LINE_AA)
    return out


def draw_box(
    image: np.ndarray,
    box_xyxy: Sequence[float] | np.ndarray,
    color: Color = (0, 255, 0),
    label: str | None = None,
    thickness: int | None = None,
    inplace: bool = False,
) -> np.ndarray:
    """Draw a rectangle (x1, y1, x2, y2) with an optional label above its top-left corner."""
    import cv2

    out = image if inplace else image.copy()
    x1, y1, x2, y2 = (int(round(float(v))) for v in list(box_xyxy)[:4])
    t = thickness or _line_width(out)
    cv2.rectangle(out, (x1, y1), (x2, y2), color, t, cv2.LINE_8)
    if label:
        draw_label(out, label, (x1, y1), color, inplace=True)
    return out


def draw_label(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    color: Color = (0, 255, 0),
    scale: float | None = None,
    inplace: bool = False,
) -> np.ndarray:
    """Text on a filled background in ``color``, bottom-left corner at ``origin`` (kept inside)."""
    import cv2

    out = image if inplace else image.copy()
    s = scale if scale is not None else max(0.4, max(out.shape[:2]) / 1600)
    th = max(1, round(s * 2))
    (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, s, th)
    x = int(np.clip(origin[0], 0, max(out.shape[1] - tw - 2, 0)))
    y = int(np.clip(origin[1], tht + base + 2, out.shape[0]))
    cv2.rectangle(out, (x, y - tht - base - 2), (x + tw + 2, y), color, -1)
    dark = sum(color) > 380
    fg = (0, 0, 0) if dark else (255, 255, 255)
    cv2.putText(out, text, (x + 1, y - base), cv2.FONT_HERSHEY_SIMPLEX, s, fg, th, cv2.LINE_AA)
    return out


def draw_dashed_box(
    image: np.ndarray,
    box_xyxy: Sequence[float] | np.ndarray,
    color: Color = (0, 255, 0),
    thickness: int | None = None,
    dash: int | None = None,
    inplace: bool = False,
) -> np.ndarray:
    """A dashed rectangle (x1, y1, x2, y2): how a person without a pose of their own
    (hidden behind someone) is drawn."""
    import cv2

    out = image if inplace else image.copy()
    x1, y1, x2, y2 = (float(v) for v in list(box_xyxy)[:4])
    t = thickness or _line_width(out)
    d = dash or max(4, 4 * t)
    corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1)]
    for (ax, ay), (bx, by) in zip(corners[:-1], corners[1:], strict=True):
        length = float(np.hypot(bx - ax, by - ay))
        for s in np.arange(0.0, length, 2 * d):
            e = min(s + d, length)
            p = (int(round(ax + (bx - ax) * s / max(length, 1e-9))),
                 int(round(ay + (by - ay) * s / max(length, 1e-9))))  # fmt: skip
            q = (int(round(ax + (bx - ax) * e / max(length, 1e-9))),
                 int(round(ay + (by - ay) * e / max(length, 1e-9))))  # fmt: skip
            cv2.line(out, p, q, color, t, cv2.LINE_8)
    return out


def draw_persons(
    image: np.ndarray,
    persons: Iterable[Any],
    threshold: float = 0.3,
    box_format: str = "xywh",
    show_boxes: bool = True,
    show_ids: bool = True,
    skeleton: Sequence[tuple[int, int]] = POSETRACK_SKELETON,
    draw_hidden: bool = True,
    landmark_skeleton: Sequence[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Draw every person of a frame, coloured by ``track_id``.

    ``persons``: objects (or dicts) with ``track_id``, ``box`` (``box_format``
    ``"xywh"`` or ``"xyxy"``) and optionally ``keypoints`` (J, 2), ``scores`` (J,),
    ``hidden`` and ``landmarks`` (L, 4: x, y, visibility, presence). A hidden person
    (kept by the tracker without a pose of their own) gets a dashed box labelled
    ``id N hidden`` and no skeleton, or nothing with ``draw_hidden=False``.
    Landmarks (with ``landmark_skeleton``) are drawn as thin limbs and small dots where
    visibility reaches ``threshold``.
    """
    out = image.copy()
    for p in persons:
        tid = int(_get(p, "track_id", 0))
        color = track_color(tid)
        hidden = bool(_get(p, "hidden", False))
        if hidden and not draw_hidden:
            continue
        kp = _get(p, "keypoints", None)
        if kp is not None and not hidden:
            lm = _get(p, "landmarks", None)
            if lm is not None and landmark_skeleton is not None:
                draw_landmarks(out, lm, color, threshold, landmark_skeleton)
            draw_pose(out, kp, _get(p, "scores", None), color, threshold, skeleton, inplace=True)
        box = _get(p, "box", None)
        if box is not None and (show_boxes or show_ids):
            b = np.asarray(box, dtype=np.float64).reshape(-1)[:4]
            if box_format == "xywh":
                b = np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]])
            t = max(1, _line_width(out) // 2)
            if show_boxes and hidden:
                draw_dashed_box(out, b, color, thickness=t, inplace=True)
            elif show_boxes:
                draw_box(out, b, color, thickness=t, inplace=True)
            if show_ids and hidden:  # at the box's foot: the top is usually the other's label
                draw_label(out, f"id {tid} hidden", (int(b[0]), int(b[3])), color, inplace=True)
            elif show_ids:
                draw_label(out, f"id {tid}", (int(b[0]), int(b[1])), color, inplace=True)
    return out


def draw_landmarks(
    image: np.ndarray,
    landmarks: np.ndarray,
    color: Color,
    threshold: float,
    skeleton: Sequence[tuple[int, int]],
) -> np.ndarray:
    """Draw (L, 4) landmarks (x, y, visibility, presence) in place: thin limbs, small dots
    (feet and hands, the points beyond the 17 joints, e.g. BlazePose's heels and toes)."""
    import cv2

    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 4)
    ok = (lm[:, 2] >= threshold) & np.isfinite(lm[:, :2]).all(axis=1)
    pts = np.round(np.nan_to_num(lm[:, :2])).astype(np.int64)
    t = max(1, _line_width(image) // 2)
    light = tuple(int(c + (255 - c) * 0.5) for c in color)
    for a, b in skeleton:
        if a < len(lm) and b < len(lm) and ok[a] and ok[b]:
            pa, pb = tuple(map(int, pts[a])), tuple(map(int, pts[b]))
            cv2.line(image, pa, pb, light, t, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(image, tuple(map(int, pts[j])), t + 1, light, -1, cv2.LINE_AA)
    return image


def _get(obj: Any, name: str, default: Any) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def side_by_side(
    panels: Sequence[np.ndarray], titles: Sequence[str] | None = None, gap: int = 4
) -> np.ndarray:
    """Concatenate RGB panels horizontally (resized to the first one's height), titled.

    The result has even width and height, ready for :class:`~semapose.io.video.VideoWriter`.
    """
    import cv2

    if not panels:
        raise ValueError("side_by_side needs at least one panel")
    h = int(panels[0].shape[0])
    cols: list[np.ndarray] = []
    for i, p in enumerate(panels):
        if p.shape[0] != h:
            w = max(1, round(p.shape[1] * h / p.shape[0]))
            p = cv2.resize(p, (w, h), interpolation=cv2.INTER_AREA)
        else:
            p = p.copy()
        if titles is not None and i < len(titles) and titles[i]:
            draw_label(p, titles[i], (0, 0), (30, 30, 30), inplace=True)
        cols.append(p)
        if gap and i < len(panels) - 1:
            cols.append(np.full((h, gap, 3), 255, dtype=np.uint8))
    out = np.concatenate(cols, axis=1)
    ph, pw = out.shape[0] % 2, out.shape[1] % 2
    if ph or pw:
        out = np.pad(out, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return out
