"""Generate synthetic videos with exact ground truth, in memory or as PoseTrack18 folders.

Seeds: every random draw comes from ``numpy.random.SeedSequence(seed,
spawn_key=(split_code, video_index, stream))`` with split codes train=0, val=1,
test=2 (other split names: 3 + crc32(name) mod 10**6) and streams 0 = scene
(people, motion, camera, background), 1 = degradation plan, (2, t) = per-frame
noise. The scene stream never depends on the degradation settings, so the same
seed with and without ``degrade`` renders the same people, and only labelled
frames differ. Video ids: train 100000+i, val 200000+i, test 300000+i (others
400000+i); sequence names ``<vid_id>_synth_<split>``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semapose.data.synthetic import skeleton as sk
from semapose.data.synthetic.background import make_background
from semapose.data.synthetic.degrade import (
    Event,
    apply_frame,
    frame_label,
    occluders_for,
    parse_degrade,
    plan_events,
)
from semapose.data.synthetic.render import OCCLUDER_LABEL, render_frame
from semapose.data.synthetic.scene import PersonTrack, Scene, sample_scene
from semapose.data.synthetic.visibility import joint_visibility
from semapose.data.synthetic.writer import SequenceWriter, categories
from semapose.errors import InputError
from semapose.io.posetrack_json import image_entry, posetrack_image_id
from semapose.limits import MAX_SYNTH_FRAMES as MAX_FRAMES
from semapose.limits import MAX_SYNTH_VIDEOS as MAX_VIDEOS

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
HEAD_DIAG_PER_SEGMENT = 1 / 0.7  # PoseTrack18 head boxes: diagonal = |top - bottom| / 0.7
MIN_LABELLED_JOINTS = 3


def split_code(split: str) -> int:
    if split in SPLIT_CODES:
        return SPLIT_CODES[split]
    return 3 + zlib.crc32(split.encode("utf-8")) % 10**6


def video_id(split: str, index: int) -> int:
    base = {"train": 100000, "val": 200000, "test": 300000}.get(split, 400000)
    return base + index


def sequence_name(split: str, index: int) -> str:
    return f"{video_id(split, index):06d}_synth_{split}"


@dataclass
class FrameResult:
    t: int
    image: np.ndarray  # (H, W, 3) uint8 BGR, degraded
    clean: np.ndarray  # the same frame before degradation
    people: list[dict[str, Any]]  # annotations (PoseTrack18 fields, no ids yet)
    ignore: list[list[tuple[float, float]]]  # polygons of people too hidden to annotate
    degradations: list[dict[str, object]]


def _person_box(
    track: PersonTrack, t: int, width: int, height: int
) -> tuple[float, float, float, float]:
    """Tight box (x1, y1, x2, y2) of the drawn figure, clipped to the image."""
    pts = track.points[t]
    body_pts = np.delete(pts, [sk.HEAD_CENTER, sk.HEAD_FWD, sk.CHEST], axis=0)
    ppm = float(track.px_per_m[t])
    m = 0.05 * track.body.height * track.body.limb_scale * ppm
    hr = 0.5 * track.body.head * ppm
    hc = pts[sk.HEAD_CENTER]
    x1 = min(float(body_pts[:, 0].min()) - m, float(hc[0]) - hr)
    y1 = min(float(body_pts[:, 1].min()) - m, float(hc[1]) - hr)
    x2 = max(float(body_pts[:, 0].max()) + m, float(hc[0]) + hr)
    y2 = max(float(body_pts[:, 1].max()) + m, float(hc[1]) + hr)
    return max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)


def head_box(track: PersonTrack, t: int) -> list[float]:
    """PoseTrack-style head box (x, y, w, h): around head_bottom..head_top, diag = length/0.7."""
    pts = track.points[t]
    hb, ht = pts[sk.HEAD_BOTTOM], pts[sk.HEAD_TOP]
    axis = ht - hb
    # 3D head length at the head's depth; never shorter than the drawn segment
    scale = float(track.px_per_m[t]) * float(
        track.depth[t, sk.PELVIS] / track.depth[t, sk.HEAD_CENTER]
    )
    length = max(track.body.head * scale, float(np.hypot(axis[0], axis[1])))
    ang = float(np.arctan2(axis[1], axis[0]))
    # a head-shaped rectangle (length x 0.8 length) along the head axis, axis-aligned extents
    ex = abs(np.cos(ang)) * length + abs(np.sin(ang)) * 0.8 * length
    ey = abs(np.sin(ang)) * length + abs(np.cos(ang)) * 0.8 * length
    k = length * HEAD_DIAG_PER_SEGMENT / float(np.hypot(ex, ey))
    w, h = ex * k, ey * k
    c = 0.5 * (hb + ht)
    return [_r(c[0] - w / 2), _r(c[1] - h / 2), _r(w), _r(h)]


def _r(v: float) -> float:
    return round(float(v), 2)


def _annotate(
    scene: Scene, label: np.ndarray, t: int
) -> tuple[list[dict[str, Any]], list[list[tuple[float, float]]]]:
    people: list[dict[str, Any]] = []
    ignore: list[list[tuple[float, float]]] = []
    for slot, tr in enumerate(scene.people):
        x1, y1, x2, y2 = _person_box(tr, t, scene.width, scene.height)
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        vis = joint_visibility(label, tr, slot, t)
        labelled = int((vis > 0).sum())
        if labelled < MIN_LABELLED_JOINTS or x2 - x1 < 4 or y2 - y1 < 4:
            ignore.append([(_r(x1), _r(y1)), (_r(x2), _r(y1)), (_r(x2), _r(y2)), (_r(x1), _r(y2))])
            continue
        kps: list[float] = []
        for s, j in enumerate(sk.POSETRACK_FROM_INTERNAL):
            if vis[s] > 0:
                kps += [_r(tr.points[t, j, 0]), _r(tr.points[t, j, 1]), int(vis[s])]
            else:
                kps += [0, 0, 0]
        people.append(
            {
                "bbox_head": head_box(tr, t),
                "keypoints": kps,
                "track_id": tr.track_id,
                "bbox": [_r(x1), _r(y1), _r(x2 - x1), _r(y2 - y1)],
                "scores": [],
                "category_id": 1,
                "iscrowd": False,
                "num_keypoints": labelled,
            }
        )
    return people, ignore


def _with_occluded_people(
    labels: list[dict[str, object]], people: list[dict[str, Any]], label_buf: np.ndarray
) -> list[dict[str, object]]:
    """An occluder's label also names everyone else it hides a joint of."""
    ids = set(labels[0]["track_ids"] or [])  # type: ignore[call-overload]
    h, w = label_buf.shape
    for p in people:
        k = np.asarray(p["keypoints"], dtype=np.float64).reshape(-1, 3)
        for x, y, v in k:
            if v > 0 and 0 <= x < w and 0 <= y < h and label_buf[int(y), int(x)] == OCCLUDER_LABEL:
                ids.add(int(p["track_id"]))
                break
    return [{**labels[0], "track_ids": sorted(ids)}]


def _seq(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def iter_video(
    seed: int,
    split: str,
    index: int,
    frames: int,
    size: tuple[int, int] = (256, 256),
    people: tuple[int, int] = (1, 3),
    degrade: str | Sequence[str] | None = None,
    rate: float = 0.35,
) -> Iterator[FrameResult]:
    """Frames of one synthetic video, rendered and degraded one at a time."""
    width, height = size
    code = split_code(split)
    scene_rng = _seq(seed, code, index, 0)
    scene = sample_scene(scene_rng, width, height, frames, people)
    background = make_background(scene_rng, width, height, scene.camera.horizon)
    events = plan_events(_seq(seed, code, index, 1), scene, parse_degrade(degrade), rate)
    active: list[Event | None] = [None] * frames
    for event in events:
        for t in range(event.start, event.start + event.length):
            active[t] = event
    previous: np.ndarray | None = None
    for t in range(frames):
        ev = active[t]
        labels = frame_label(ev, scene, t)
        occ = occluders_for(ev, scene, t, labels)
        clean, label_buf, bg = render_frame(scene, background, t, occ)
        annots, ignore = _annotate(scene, label_buf, t)
        if occ:
            labels = _with_occluded_people(labels, annots, label_buf)
        image = clean
        if labels:
            noise_rng = _seq(seed, code, index, 2, t)
            image = apply_frame(clean, bg, label_buf, scene, t, labels, previous, noise_rng)
        previous = image
        yield FrameResult(t, image, clean, annots, ignore, labels)


def _check(
    videos: int,
    frames: int,
    size: tuple[int, int],
    people: tuple[int, int],
    split: str,
    video: bool,
) -> None:
    if not 1 <= videos <= MAX_VIDEOS:
        raise InputError(None, "videos", f"an integer from 1 to {MAX_VIDEOS}", videos)
    if not 1 <= frames <= MAX_FRAMES:
        raise InputError(None, "frames", f"an integer from 1 to {MAX_FRAMES}", frames)
    w, h = size
    if not (32 <= w <= 4096 and 32 <= h <= 4096):
        raise InputError(None, "size", "WxH with each side from 32 to 4096", f"{w}x{h}")
    if video and (w % 2 or h % 2):
        raise InputError(None, "size", "even width and height (H.264 video needs them)", f"{w}x{h}")
    lo, hi = people
    if not 0 <= lo <= hi <= 20:
        raise InputError(None, "people", "MIN-MAX with 0 <= MIN <= MAX <= 20", f"{lo}-{hi}")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", split):
        raise InputError(
            None, "split", "a name of letters, digits, _ or - (train, val, test)", split
        )


def generate_dataset(
    out_dir: str | Path,
    videos: int,
    frames: int,
    seed: int,
    size: tuple[int, int] = (256, 256),
    people: tuple[int, int] = (1, 3),
    degrade: str | Sequence[str] | None = None,
    split: str = "train",
    *,
    rate: float = 0.35,
    write_video: bool = True,
    progress: bool = False,
) -> list[Path]:
    """Write ``videos`` sequences of ``frames`` frames as a PoseTrack18 folder; returns the files.

    ``degrade``: None or "all" = every degradation type at random severities,
    "none" = clean, or "TYPE[:SEVERITY],..."; ``rate`` = fraction of frames degraded.
    """
    size = (int(size[0]), int(size[1]))
    people = (int(people[0]), int(people[1]))
    _check(videos, frames, size, people, split, write_video)
    if seed < 0:
        raise InputError(None, "seed", "a non-negative integer", seed)
    if not 0.0 <= rate <= 1.0:
        raise InputError(None, "rate", "a fraction from 0 to 1", rate)
    parse_degrade(degrade)  # validate before writing anything
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise InputError(root, "--out", "a folder (or a path to create one)", "an existing file")
    try:
        return _generate(
            root, videos, frames, seed, size, people, degrade, split, rate, write_video, progress
        )
    except OSError as exc:
        raise InputError(
            root, "--out", "a writable folder", f"{type(exc).__name__}: {exc}"
        ) from exc


def _generate(
    root: Path,
    videos: int,
    frames: int,
    seed: int,
    size: tuple[int, int],
    people: tuple[int, int],
    degrade: str | Sequence[str] | None,
    split: str,
    rate: float,
    write_video: bool,
    progress: bool,
) -> list[Path]:
    files: list[Path] = []
    from tqdm import tqdm

    with tqdm(
        total=videos * frames, disable=not progress, unit="frame", desc=f"synth {split}"
    ) as bar:
        for index in range(videos):
            vid = video_id(split, index)
            seq = sequence_name(split, index)
            images: list[dict[str, Any]] = []
            annotations: list[dict[str, Any]] = []
            with SequenceWriter(root, split, seq, size, write_video) as writer:
                for fr in iter_video(seed, split, index, frames, size, people, degrade, rate):
                    fid = posetrack_image_id(vid, fr.t)
                    writer.add_frame(fr.t, fr.image)
                    images.append(
                        image_entry(
                            fid,
                            writer.file_name(fr.t),
                            f"{vid:06d}",
                            frames,
                            has_no_densepose=True,
                            ignore_regions_y=[[p[1] for p in poly] for poly in fr.ignore],
                            ignore_regions_x=[[p[0] for p in poly] for poly in fr.ignore],
                            width=size[0],
                            height=size[1],
                            semapose_degradations=fr.degradations,
                        )
                    )
                    for ann in fr.people:
                        annotations.append(
                            {**ann, "image_id": fid, "id": fid * 100 + int(ann["track_id"])}
                        )
                    bar.update(1)
                doc = {
                    "categories": categories(),
                    "images": images,
                    "annotations": annotations,
                    "semapose_synthetic": {
                        "generator": "semapose synth",
                        "seed": seed,
                        "split": split,
                        "video_index": index,
                        "size": list(size),
                        "people": list(people),
                        "degrade": degrade
                        if isinstance(degrade, str) or degrade is None
                        else list(degrade),
                        "rate": rate,
                    },
                }
                files += writer.finish(doc)
    return files
