"""Person crops to encode for ``semapose fit``: tracked people in real video, degraded
over spans of frames (:func:`plan_runs`, :func:`real_items`), and synthetic video with
exact ground truth (:func:`synthetic_items`; its frames are already degraded by the
generator and its labels are the truth)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from semapose.data.crop_degradation import degrade_crop, plan_crop_events
from semapose.data.synthetic import degrade as D
from semapose.errors import InputError
from semapose.fitting.tracks import TrackRun

__all__ = ["CropItem", "plan_runs", "real_items", "synthetic_items"]


@dataclass
class CropItem:
    """One person crop to encode: its clip, the RGB crop and (optionally) its labels."""

    clip: int
    frame: int
    crop: np.ndarray  # (H, W, 3) RGB uint8, what the student sees
    clean: np.ndarray | None  # the clean crop when ``crop`` is degraded (real video)
    center: np.ndarray
    scale: np.ndarray
    keypoints: np.ndarray | None = None  # (J, 2) ground truth in crop-input pixels
    visible: np.ndarray | None = None  # (J,) ground-truth weights
    event: str = ""
    severity: int = 0
    image_id: int = -1


def _crop(
    image: np.ndarray, box: Sequence[float], size: tuple[int, int], enlarge: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from semapose.data import transforms as T

    center, scale = T.box_to_center_scale(np.asarray(box, np.float64), size, enlarge)
    m = T.get_affine_matrix(center, scale, 0.0, size)
    return T.crop(image, m, size), center, scale, m


def plan_runs(
    runs: Sequence[TrackRun],
    clip_ids: Sequence[int],
    *,
    seed: int,
    choices: Sequence[tuple[str, int | None]],
    rate: float = 0.5,
    max_length: int = 4,
) -> dict[int, list[D.Event | None]]:
    """The event active at each frame of each run (None = clean), seeded per clip id."""
    plans: dict[int, list[D.Event | None]] = {}
    for cid, run in zip(clip_ids, runs, strict=True):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(cid, 0)))
        active: list[D.Event | None] = [None] * len(run.frames)
        for event in plan_crop_events(rng, len(run.frames), choices, rate, max_length):
            for k in range(event.start, event.start + event.length):
                active[k] = event
        plans[cid] = active
    return plans


def real_items(
    runs: Sequence[TrackRun],
    clip_ids: Sequence[int],
    plans: dict[int, list[D.Event | None]],
    size: tuple[int, int],
    *,
    seed: int,
    enlarge: float = 1.25,
) -> Iterator[CropItem]:
    """Crops of tracked people, degraded as ``plans`` says (one pass over each video)."""
    from semapose.io.video import FrameSource

    by_video: dict[str, list[tuple[int, TrackRun]]] = {}
    for cid, run in zip(clip_ids, runs, strict=True):
        by_video.setdefault(run.video, []).append((cid, run))
    for video, todo in by_video.items():
        prev: dict[int, np.ndarray] = {}
        rng_of = {
            cid: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(cid, 1)))
            for cid, _ in todo
        }
        first = min(r.frames[0] for _, r in todo)
        last = max(r.frames[-1] for _, r in todo)
        for frame in FrameSource(video).frames(first):
            if frame.index > last:
                break
            for cid, run in todo:
                k = frame.index - run.frames[0]
                if not 0 <= k < len(run.frames):
                    continue
                crop, center, scale, m = _crop(frame.image, run.boxes[k], size, enlarge)
                ev = plans[cid][k]
                seen = crop
                if ev is not None:
                    vel = _box_velocity(run, k, m)
                    seen = degrade_crop(crop, ev, k, prev.get(cid), vel, rng_of[cid], enlarge)
                prev[cid] = seen
                yield CropItem(
                    cid,
                    k,
                    seen,
                    crop if ev is not None else None,
                    center,
                    scale,
                    event=ev.type if ev is not None else "",
                    severity=ev.severity if ev is not None else 0,
                )


def _box_velocity(run: TrackRun, k: int, m: np.ndarray) -> tuple[float, float]:
    """The box centre's motion at frame ``k`` in crop pixels per frame."""
    a, b = max(0, k - 1), min(len(run.frames) - 1, k + 1)
    if a == b:
        return (0.0, 0.0)
    ca = np.array(run.boxes[a][:2]) + 0.5 * np.array(run.boxes[a][2:])
    cb = np.array(run.boxes[b][:2]) + 0.5 * np.array(run.boxes[b][2:])
    v = (cb - ca) / (b - a)
    d = m[:, :2] @ v
    return (float(d[0]), float(d[1]))


def synthetic_items(
    ann_files: Sequence[Path],
    first_clip: int,
    size: tuple[int, int],
    enlarge: float = 1.25,
    min_length: int = 4,
) -> tuple[list[dict[str, Any]], Iterator[CropItem]]:
    """Crops of a synthetic PoseTrack18 set with ground-truth boxes and keypoints.

    Returns the clip table (one clip per (sequence, track) run) and the items.
    """
    from semapose.data import transforms as T

    clips: list[dict[str, Any]] = []
    plan: list[tuple[Path, dict[int, dict[str, Any]], list[dict[str, Any]]]] = []
    for path in ann_files:
        data = json.loads(Path(path).read_text())
        images = sorted(data["images"], key=lambda im: int(im["frame_id"]))
        pos = {int(im["id"]): i for i, im in enumerate(images)}
        people: dict[int, dict[int, dict[str, Any]]] = {}
        for a in data["annotations"]:
            if a.get("bbox") and sum(a["keypoints"][2::3]) > 0:
                people.setdefault(int(a["track_id"]), {})[pos[int(a["image_id"])]] = a
        for tid, frames in sorted(people.items()):
            ks = sorted(frames)
            start = 0
            for i in range(1, len(ks) + 1):
                if i == len(ks) or ks[i] != ks[i - 1] + 1:
                    run = {k: frames[k] for k in ks[start:i]}
                    if len(run) >= min_length:
                        clips.append(
                            {
                                "name": f"{Path(path).stem}/{tid}",
                                "source": "synthetic",
                                "video": str(path),
                                "track_id": tid,
                                "length": len(run),
                            }
                        )
                        plan.append((Path(path), run, images))
                    start = i

    def items() -> Iterator[CropItem]:
        for n, (path, run, images) in enumerate(plan):
            root = path.parents[2]  # <root>/annotations/<split>/<seq>.json
            for k, (p, a) in enumerate(sorted(run.items())):
                im = images[p]
                bgr = cv2.imread(str(root / im["file_name"]), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise InputError(root / im["file_name"], "image", "a readable image", "none")
                crop, center, scale, m = _crop(bgr[..., ::-1], a["bbox"], size, enlarge)
                kp = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
                labs = im.get("semapose_degradations") or []
                yield CropItem(
                    first_clip + n,
                    k,
                    crop,
                    None,
                    center,
                    scale,
                    keypoints=T.transform_points(kp[:, :2], m),
                    visible=(kp[:, 2] > 0).astype(np.float32),
                    event=str(labs[0]["type"]) if labs else "",
                    severity=int(labs[0]["severity"]) if labs else 0,
                    image_id=int(im["id"]),
                )

    return clips, items()
