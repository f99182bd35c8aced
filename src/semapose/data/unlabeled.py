"""Unlabeled video for the temporal module: degraded person tracks and a feature cache.

Training without labels (teacher-student on the user's own footage):

1. :func:`track_video` -- person tracks from the detector + tracker of ``predict``.
2. :func:`plan_crop_events` -- per track, degradation *events* over spans of
   consecutive frames (the synthetic generator's types and severity tables, see
   :mod:`semapose.data.synthetic.degrade`), applied to the person crop by
   :func:`degrade_crop`: motion blur along the person's motion, defocus, an occluder
   sweeping across the person, noise, low light, compression, dropped frames.
3. :func:`build_cache` -- every crop goes through the *frozen* backbone once: the
   clean crop's features feed the teacher (the single-frame model: backbone + head)
   whose keypoints, weighted by its own confidence, are the pseudo-labels; a degraded
   crop's features are what the student sees. Features are stored in fp16.

Synthetic video with exact ground truth is a second source (:func:`synthetic_items`);
its frames are already degraded by the generator and its labels are the truth. Every
variant and seed then trains on the same cache (:class:`FeatureCache`), so the
backbone -- the expensive part -- runs once.

Cache layout (a folder, written atomically: built in ``NAME.partial`` and renamed):
``index.json`` (clips, shapes, provenance), ``inputs.npy`` (N, C, h, w) fp16 features
of what the student sees, ``clean.npy`` (M, C, h, w) fp16 clean features of the rows
whose input was degraded, ``rows.npz`` (per row: clip, frame, targets in heatmap
pixels, target weights, degradation type/severity, crop centre/scale, image id).
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from semapose.data.synthetic import degrade as D
from semapose.data.synthetic.render import Occluder, draw_occluder
from semapose.errors import InputError

__all__ = [
    "CROP_DEGRADATIONS",
    "CropItem",
    "FeatureCache",
    "TrackRun",
    "build_cache",
    "degrade_crop",
    "plan_crop_events",
    "plan_runs",
    "real_items",
    "render_targets",
    "synthetic_items",
    "track_video",
]

CROP_DEGRADATIONS: tuple[str, ...] = D.DEGRADATIONS
CACHE_VERSION = 1


# ----------------------------------------------------------------------------- degradations


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


# ----------------------------------------------------------------------------- sources


@dataclass
class TrackRun:
    """One person's consecutive frames in a video: frame indices and xywh boxes."""

    video: str
    track_id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)


def track_video(
    path: str | Path,
    detector: Any = "ssdlite",
    min_length: int = 8,
    max_people: int = 8,
    min_height: float = 48.0,
    progress: bool = False,
) -> list[TrackRun]:
    """Person tracks of a video with ``predict``'s detector and tracker (``progress``: a
    progress bar of the frames, the detector runs on each).

    Tracks are split where the tracker lost the person (runs of consecutive frames);
    runs shorter than ``min_length`` frames, people smaller than ``min_height`` pixels
    and all but the ``max_people`` largest people of a frame are left out.
    """
    from semapose.inference.detections import usable_detections
    from semapose.inference.stream import make_detector
    from semapose.inference.tracker import Tracker
    from semapose.io.video import FrameSource

    det = make_detector(detector=detector)
    tracker = Tracker.for_detector(det)
    runs: dict[int, TrackRun] = {}
    done: list[TrackRun] = []
    source = FrameSource(path)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=source.num_frames, desc=f"track {Path(path).name}", unit="frame",
                   dynamic_ncols=True)  # fmt: skip
    for frame in source.frames():
        if bar is not None:
            bar.update(1)
        boxes = usable_detections(
            det.detect(frame.image, frame.index), frame.image.shape[1], frame.image.shape[0], path
        )
        tracks = tracker.update(frame.index, boxes)
        seen = sorted(
            ((float(tb.box_xywh[3]), int(tb.track_id), tb.box_xywh) for tb in tracks),
            reverse=True,
        )[:max_people]
        for height, tid, box in seen:
            if height < min_height:
                continue
            run = runs.get(tid)
            if run is not None and run.frames[-1] != frame.index - 1:
                done.append(run)
                run = None
            if run is None:
                run = runs[tid] = TrackRun(str(path), tid)
            run.frames.append(frame.index)
            run.boxes.append([float(v) for v in box])
    if bar is not None:
        bar.close()
    done.extend(runs.values())
    done = [r for r in done if len(r.frames) >= min_length]
    return sorted(done, key=lambda r: (r.track_id, r.frames[0]))


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


# ----------------------------------------------------------------------------- the cache


def render_targets(
    keypoints: torch.Tensor, weights: torch.Tensor, size: tuple[int, int], sigma: float = 2.0
) -> torch.Tensor:
    """Gaussian heatmaps (..., J, h, w) peaking at 1 at ``keypoints`` (..., J, 2) heatmap px.

    Joints with weight 0 get empty maps (their loss weight is 0 too).
    """
    h, w = size
    ys = torch.arange(h, dtype=torch.float32).view(h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, w)
    kx = keypoints[..., 0, None, None].float()
    ky = keypoints[..., 1, None, None].float()
    g = torch.exp(-((xs - kx) ** 2 + (ys - ky) ** 2) / (2 * sigma**2))
    return g * (weights[..., None, None] > 0).float()


def teacher_targets(
    heatmaps: np.ndarray, stride: int, min_score: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Teacher heatmaps (N, J, h, w) -> keypoints (N, J, 2) in heatmap px and weights (N, J).

    The weight is the teacher's own confidence (its peak value, clipped to 0..1), and 0
    below ``min_score``: the student learns the teacher's sure joints only.
    """
    from semapose.data.codec import decode_heatmaps

    coords, scores = decode_heatmaps(heatmaps.astype(np.float32), refine="dark")
    w = np.clip(scores, 0.0, 1.0)
    w[w < min_score] = 0.0
    return coords.astype(np.float32), w.astype(np.float32)


def build_cache(
    out: str | Path,
    model: Any,
    clips: list[dict[str, Any]],
    items: Iterable[CropItem],
    *,
    num_rows: int,
    num_clean: int,
    batch: int = 16,
    progress: Callable[[int], None] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Encode every item with ``model`` (frozen backbone + head as teacher) into a cache folder.

    ``num_rows`` items are expected, ``num_clean`` of them with a clean crop (real
    video). Items without ground truth get the teacher's keypoints on the clean crop.
    The folder appears only when complete (built under ``OUT.partial``).
    """
    from semapose.data.transforms import normalize_image

    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    size = tuple(int(v) for v in model.image_size)
    stride = int(model.heatmap_stride)
    device = next(model.parameters()).device
    c = int(model.feature_channels)
    fh, fw = size[0] // model.feature_stride, size[1] // model.feature_stride
    try:  # a memory-mapped write to a full disk is a SIGBUS: check the space first
        from semapose.io.freespace import ensure_free_space

        ensure_free_space(out, 2 * c * fh * fw * (num_rows + max(num_clean, 0)))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    inputs = np.lib.format.open_memmap(tmp / "inputs.npy", "w+", np.float16, (num_rows, c, fh, fw))
    clean = np.lib.format.open_memmap(
        tmp / "clean.npy", "w+", np.float16, (max(num_clean, 0), c, fh, fw)
    )
    j = None
    cols: dict[str, list[Any]] = {
        k: []
        for k in ("clip", "frame", "event", "severity", "center", "scale", "image_id", "clean_row")
    }
    kps: list[np.ndarray] = []
    wts: list[np.ndarray] = []
    row = 0
    crow = 0
    model.eval()

    def encode(crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.stack([normalize_image(cr) for cr in crops])).to(device)
        with torch.no_grad():
            f = model.encode_frames(x)
            h = model.head(f)
        return f.float().cpu().numpy(), h.float().cpu().numpy()

    pending: list[CropItem] = []

    def flush() -> None:
        nonlocal row, crow, j
        if not pending:
            return
        f_in, h_in = encode([it.crop for it in pending])
        need = [i for i, it in enumerate(pending) if it.clean is not None]
        f_cl, h_cl = encode([pending[i].clean for i in need]) if need else (None, None)  # type: ignore[misc]
        heat = h_in.copy()
        for n, i in enumerate(need):
            heat[i] = h_cl[n]  # type: ignore[index]
        t_kp, t_w = teacher_targets(heat, stride)
        for i, it in enumerate(pending):
            if row >= num_rows:
                raise ValueError(f"more than the {num_rows} announced cache rows")
            inputs[row] = f_in[i].astype(np.float16)
            cr = -1
            if it.clean is not None:
                clean[crow] = f_cl[need.index(i)].astype(np.float16)  # type: ignore[index]
                cr, crow = crow, crow + 1
            if it.keypoints is not None and it.visible is not None:
                kp = (it.keypoints / stride).astype(np.float32)
                wt = it.visible.astype(np.float32)
            else:
                kp, wt = t_kp[i], t_w[i]
            kps.append(kp)
            wts.append(wt)
            for k, v in (
                ("clip", it.clip),
                ("frame", it.frame),
                ("event", it.event),
                ("severity", it.severity),
                ("center", it.center),
                ("scale", it.scale),
                ("image_id", it.image_id),
                ("clean_row", cr),
            ):
                cols[k].append(v)
            row += 1
        if progress is not None:
            progress(len(pending))
        pending.clear()

    for item in items:
        pending.append(item)
        if len(pending) >= batch:
            flush()
    flush()
    if row != num_rows or crow != num_clean:
        raise ValueError(f"cache expected {num_rows}/{num_clean} rows, got {row}/{crow}")
    inputs.flush()
    clean.flush()
    np.savez(
        tmp / "rows.npz",
        clip=np.asarray(cols["clip"], np.int32),
        frame=np.asarray(cols["frame"], np.int32),
        event=np.asarray(cols["event"], dtype="U16"),
        severity=np.asarray(cols["severity"], np.int8),
        center=np.asarray(cols["center"], np.float64).reshape(-1, 2),
        scale=np.asarray(cols["scale"], np.float64).reshape(-1, 2),
        image_id=np.asarray(cols["image_id"], np.int64),
        clean_row=np.asarray(cols["clean_row"], np.int64),
        keypoints=np.stack(kps).astype(np.float32) if kps else np.zeros((0, 0, 2), np.float32),
        weights=np.stack(wts).astype(np.float32) if wts else np.zeros((0, 0), np.float32),
    )
    index = {
        "version": CACHE_VERSION,
        "image_size": list(size),
        "heatmap_stride": stride,
        "feature_shape": [c, fh, fw],
        "clips": clips,
        **(meta or {}),
    }
    (tmp / "index.json").write_text(json.dumps(index, indent=1))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


class FeatureCache:
    """A built cache: clips of rows, and batches of (features, target heatmaps, weights)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        index_file = self.path / "index.json"
        if not index_file.is_file():
            raise InputError(self.path, "index.json", "a feature cache folder", "no index.json")
        self.index = json.loads(index_file.read_text())
        if self.index.get("version") != CACHE_VERSION:
            raise InputError(index_file, "version", str(CACHE_VERSION), self.index.get("version"))
        self.inputs = np.load(self.path / "inputs.npy", mmap_mode="r")
        self.clean = np.load(self.path / "clean.npy", mmap_mode="r")
        rows = np.load(self.path / "rows.npz")
        self.rows = {k: rows[k] for k in rows.files}
        self.clips: list[dict[str, Any]] = self.index["clips"]
        self.stride = int(self.index["heatmap_stride"])
        h, w = self.index["image_size"]
        self.heatmap_size = (h // self.stride, w // self.stride)
        # row of each (clip, frame)
        self.length = np.zeros(len(self.clips), np.int64)
        for cid, fr in zip(self.rows["clip"], self.rows["frame"], strict=True):
            self.length[cid] = max(self.length[cid], fr + 1)
        self.row_of = [np.full(int(n), -1, np.int64) for n in self.length]
        for r, (cid, fr) in enumerate(zip(self.rows["clip"], self.rows["frame"], strict=True)):
            self.row_of[int(cid)][int(fr)] = r

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def rows_of(self, clip_ids: Iterable[int]) -> np.ndarray:
        ids = set(int(c) for c in clip_ids)
        return np.array([r for r in range(len(self)) if int(self.rows["clip"][r]) in ids], np.int64)

    def window(self, row: int, offsets: Sequence[int]) -> np.ndarray:
        """Rows of the clip ordered by offset around ``row`` (key at offset 0; borders repeat)."""
        cid = int(self.rows["clip"][row])
        fr = int(self.rows["frame"][row])
        n = int(self.length[cid])
        frames = sorted([*offsets, 0])
        return self.row_of[cid][[min(max(fr + o, 0), n - 1) for o in frames]]

    def features(self, rows: np.ndarray, clean: bool = False) -> torch.Tensor:
        """(len(rows), C, h, w) float32; ``clean`` reads the clean version where one exists."""
        order = np.argsort(rows, kind="stable")
        got = np.asarray(self.inputs[rows[order]], dtype=np.float32)
        if clean:
            cr = self.rows["clean_row"][rows[order]]
            has = cr >= 0
            if has.any():
                got[has] = np.asarray(self.clean[cr[has]], dtype=np.float32)
        out = np.empty_like(got)
        out[order] = got
        return torch.from_numpy(out)

    def batch(
        self, keys: np.ndarray, offsets: Sequence[int], sigma: float = 2.0, clean: bool = False
    ) -> dict[str, torch.Tensor]:
        """Clips around ``keys``: ``feats`` (B,T,C,h,w), ``heatmaps`` (B,T,J,h',w'), ``weights``."""
        win = np.stack([self.window(int(r), offsets) for r in keys])  # (B, T)
        b, t = win.shape
        flat = win.reshape(-1)
        feats = self.features(flat, clean).unflatten(0, (b, t))
        kp = torch.from_numpy(self.rows["keypoints"][flat])
        wt = torch.from_numpy(self.rows["weights"][flat])
        heat = render_targets(kp, wt, self.heatmap_size, sigma)
        return {
            "feats": feats,
            "heatmaps": heat.unflatten(0, (b, t)),
            "weights": wt.unflatten(0, (b, t)),
        }


def make_cache(
    out: str | Path,
    model: Any,
    *,
    runs: Sequence[TrackRun] = (),
    run_splits: Sequence[str] | None = None,
    synthetic: Sequence[tuple[str, Sequence[Path]]] = (),
    seed: int = 0,
    degrade: str | Sequence[str] | None = "all",
    rate: float = 0.5,
    max_length: int = 4,
    enlarge: float = 1.25,
    batch: int = 16,
    progress: bool = False,
) -> FeatureCache:
    """One cache holding synthetic sets (``(split, annotation files)``) and real track runs.

    Each clip records its ``source`` (synthetic/real) and ``split``; real runs are
    degraded by :func:`plan_runs` (``degrade``: the generator's ``TYPE[:SEV],...``
    syntax). Items are encoded in the order synthetic, then real.
    """
    size = (int(model.image_size[0]), int(model.image_size[1]))
    clips: list[dict[str, Any]] = []
    streams: list[Iterable[CropItem]] = []
    for split, files in synthetic:
        table, items = synthetic_items(list(files), len(clips), size, enlarge)
        for c in table:
            c["split"] = split
        clips += table
        streams.append(items)
    ids = list(range(len(clips), len(clips) + len(runs)))
    splits = list(run_splits) if run_splits is not None else ["train"] * len(runs)
    for run, split in zip(runs, splits, strict=True):
        clips.append(
            {
                "name": f"{Path(run.video).name}/{run.track_id}@{run.frames[0]}",
                "source": "real",
                "split": split,
                "video": run.video,
                "track_id": run.track_id,
                "first_frame": run.frames[0],
                "length": len(run.frames),
            }
        )
    choices = D.parse_degrade(degrade)
    plans = plan_runs(runs, ids, seed=seed, choices=choices, rate=rate, max_length=max_length)
    streams.append(real_items(runs, ids, plans, size, seed=seed, enlarge=enlarge))
    num_rows = sum(int(c["length"]) for c in clips)
    num_clean = sum(ev is not None for p in plans.values() for ev in p)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=num_rows, desc="encode", unit="crop", dynamic_ncols=True)
    try:
        build_cache(
            out,
            model,
            clips,
            itertools.chain(*streams),
            num_rows=num_rows,
            num_clean=num_clean,
            batch=batch,
            progress=bar.update if bar is not None else None,
            meta={
                "seed": seed,
                "degrade": degrade,
                "rate": rate,
                "max_length": max_length,
                "bbox_enlarge": enlarge,
            },
        )
    finally:
        if bar is not None:
            bar.close()
    return FeatureCache(out)


def save_runs(path: str | Path, runs: Sequence[TrackRun]) -> None:
    """Track runs as JSON (atomic), so that a rerun can skip detection and tracking."""
    from dataclasses import asdict

    from semapose.io.atomic import atomic_write_json

    atomic_write_json(path, [asdict(r) for r in runs])


def load_runs(path: str | Path) -> list[TrackRun]:
    data = json.loads(Path(path).read_text())
    return [TrackRun(**r) for r in data]
