"""Sample figure: one scene, clean and under each degradation, with the ground truth drawn."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from semapose.data.synthetic.degrade import DEGRADATIONS
from semapose.data.synthetic.generate import FrameResult, iter_video
from semapose.io.atomic import atomic_write_bytes
from semapose.keypoints import POSETRACK_SKELETON

_COLORS = ((60, 220, 60), (60, 160, 255), (255, 120, 60), (220, 60, 220), (60, 220, 220))


def draw_ground_truth(image: np.ndarray, people: list[dict[str, object]]) -> np.ndarray:
    """Skeleton, joints (filled = visible, ring = hidden), person and head boxes."""
    out = image.copy()
    for person in people:
        color = _COLORS[int(person["track_id"]) % len(_COLORS)]  # type: ignore[call-overload]
        k = np.asarray(person["keypoints"], dtype=np.float64).reshape(-1, 3)
        x, y, w, h = (float(v) for v in person["bbox"])  # type: ignore[attr-defined]
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), color, 1)
        hx, hy, hw, hh = (float(v) for v in person["bbox_head"])  # type: ignore[attr-defined]
        cv2.rectangle(out, (int(hx), int(hy)), (int(hx + hw), int(hy + hh)), (255, 255, 255), 1)
        for a, b in POSETRACK_SKELETON:
            if k[a, 2] > 0 and k[b, 2] > 0:
                cv2.line(
                    out,
                    (int(k[a, 0]), int(k[a, 1])),
                    (int(k[b, 0]), int(k[b, 1])),
                    color,
                    1,
                    cv2.LINE_AA,
                )
        for x_, y_, v in k:
            if v == 2:
                cv2.circle(out, (int(x_), int(y_)), 2, (0, 0, 255), -1, cv2.LINE_AA)
            elif v == 1:
                cv2.circle(out, (int(x_), int(y_)), 3, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def _caption(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((22, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, tile], axis=0)


def _first_degraded(frames: list[FrameResult], typ: str) -> FrameResult | None:
    hits = [f for f in frames if any(d["type"] == typ for d in f.degradations)]
    if not hits:
        return None
    return hits[len(hits) // 2] if typ != "frame_drop" else hits[-1]


def _context_row(seed: int, size: tuple[int, int], frames: int) -> list[np.ndarray]:
    """Clean neighbours around a severe event: what a temporal model can use."""
    video = list(iter_video(seed, "val", 0, frames, size, (2, 3), "occluder:5", rate=0.3))
    starts = [f.t for f in video if f.degradations and f.t > 0 and not video[f.t - 1].degradations]
    for t0 in starts:
        t1 = t0
        while t1 + 1 < len(video) and video[t1 + 1].degradations:
            t1 += 1
        if t1 + 1 >= len(video) or t1 == t0:
            continue
        picks = [
            (t0 - 1, "clean neighbour"),
            (t0, "occluder:5"),
            (t1, "occluder:5"),
            (t1 + 1, "clean neighbour"),
        ]
        return [
            _caption(draw_ground_truth(video[t].image, video[t].people), f"t={t} {name}")
            for t, name in picks
        ]
    return []


def make_sample_figure(
    path: str | Path,
    seed: int = 3,
    size: tuple[int, int] = (256, 256),
    severity: int = 4,
    frames: int = 40,
) -> Path:
    """Write a PNG grid: the clean frame and each degradation at ``severity``."""
    tiles = []
    clean_done = False
    for typ in DEGRADATIONS:
        video = list(
            iter_video(seed, "val", 0, frames, size, (2, 3), f"{typ}:{severity}", rate=0.5)
        )
        hit = _first_degraded(video, typ)
        if hit is None:
            continue
        if not clean_done:
            tiles.append(_caption(draw_ground_truth(hit.clean, hit.people), f"clean (t={hit.t})"))
            clean_done = True
        ids = hit.degradations[0]["track_ids"]
        who = "frame" if ids is None else f"ids {ids}"
        tiles.append(
            _caption(draw_ground_truth(hit.image, hit.people), f"{typ}:{severity} {who} t={hit.t}")
        )
    while len(tiles) % 4:
        tiles.append(np.full_like(tiles[0], 255))
    tiles += _context_row(seed, size, frames)
    rows = [np.concatenate(tiles[i : i + 4], axis=1) for i in range(0, len(tiles), 4)]
    grid = np.concatenate(rows, axis=0)
    ok, buf = cv2.imencode(".png", grid)
    if not ok:  # pragma: no cover
        raise RuntimeError("PNG encoding failed")
    path = Path(path)
    atomic_write_bytes(path, buf.tobytes())
    return path
