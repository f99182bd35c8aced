"""Building the feature store that ``semapose fit`` trains on.

Every crop goes through the *frozen* backbone once (:func:`build_cache`): the clean
crop's features feed the teacher (the single-frame model: backbone + head) whose
keypoints, weighted by its own confidence (:func:`teacher_targets`), are the
pseudo-labels; a degraded crop's features are what the student sees. Features are
stored in fp16. :func:`make_cache` puts synthetic sets and real track runs
(:mod:`semapose.fitting.sources`) into one store, so every variant and seed then
trains on the same features and the backbone -- the expensive part -- runs once. The
layout, its check and its reader are :mod:`semapose.data.feature_store`.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semapose.data.feature_store import STORE_VERSION, FeatureStore
from semapose.data.synthetic import degrade as D
from semapose.fitting.sources import CropItem, plan_runs, real_items, synthetic_items
from semapose.fitting.tracks import TrackRun

__all__ = ["build_cache", "make_cache", "teacher_targets"]


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
        "version": STORE_VERSION,
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
) -> FeatureStore:
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
    return FeatureStore(out)
