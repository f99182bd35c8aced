"""The work files of ``semapose fit`` in ``--out``, checked before use (issue 24).

* ``fit.json``: the fingerprint of the inputs (each video's size and SHA-256 digest,
  :mod:`semapose.io.fingerprint`) and of every option that shapes the tracks and the
  cache (detector, ``--degrade``, ``--rate``, ``--seed``, ``--set``). When it differs
  from this run's, the tracks, the cache and the training state belong to other inputs
  (another video folder, another ``--degrade`` trained on the old tracks and cache
  before): they are removed, with one note, and built again.
* ``tracks/<n>_<name>.json``: the tracking of one video, saved as soon as that video is
  done and reused while its digest and detector match, so a corrupt video sorted last
  no longer throws away the tracking of all the earlier ones.
* ``tracks.json`` and ``cache/``: read through :func:`load_runs_checked` and
  :func:`check_cache` (the one schema check of each): a truncated, garbled or
  inconsistent file is an exit-2 line naming the file and the field.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.io.atomic import atomic_write_json
from semapose.io.bounded import parse_json_text, read_bounded
from semapose.io.fingerprint import file_digest
from semapose.limits import MAX_JSON_BYTES, MAX_STATE_BYTES

FINGERPRINT_FILE = "fit.json"
TRACKS_DIR = "tracks"
_HINT = "(delete it to build it again)"


def fit_fingerprint(args: Any, videos: list[Path]) -> dict[str, Any]:
    """Everything the tracks and the cache depend on (content of the videos included)."""
    return {
        "videos": [{"name": v.name, **file_digest(v)} for v in videos],
        "detector": args.detector or "ssdlite",
        "degrade": args.degrade,
        "rate": args.rate,
        "seed": args.seed,
        "overrides": list(args.overrides),
    }


def prepare_work(out: Path, fingerprint: dict[str, Any]) -> None:
    """Remove the tracks, cache and state of other inputs; record this run's fingerprint."""
    record = out / FINGERPRINT_FILE
    derived = [out / "tracks.json", out / "cache", out / "cache.partial", out / "fit_state.pt"]
    old: Any = None
    if record.is_file():
        try:
            old = parse_json_text(read_bounded(record, MAX_STATE_BYTES, "a fit record"), record)
        except InputError:
            old = None
    if old == json.loads(json.dumps(fingerprint)):
        return
    present = [p for p in derived if p.exists()]
    if present:
        what = _difference(old, fingerprint)
        print(
            f"semapose fit: note: {out}: the work files are of other inputs ({what}); "
            "tracking, cache and training start over",
            file=sys.stderr,
        )
        for p in present:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
    atomic_write_json(record, fingerprint, indent=1)


def _difference(old: Any, new: dict[str, Any]) -> str:
    if not isinstance(old, dict):
        return f"no {FINGERPRINT_FILE}"
    keys = [k for k in new if old.get(k) != new[k]]
    return "other " + ", ".join(keys) if keys else "other settings"


def track_videos(videos: list[Path], out: Path, detector: str, progress: bool) -> list[Any]:
    """Track runs of every video, each video's saved under ``tracks/`` as soon as it is done."""
    from semapose.data import unlabeled as U

    folder = out / TRACKS_DIR
    runs: list[Any] = []
    for i, video in enumerate(videos):
        digest = file_digest(video)
        saved = folder / f"{i:04d}_{video.name}.json"
        key = {"video": str(video), "content": digest, "detector": detector}
        found = _saved_runs(saved, key)
        if found is None:
            found = U.track_video(video, detector=detector, min_length=5, progress=progress)
            from dataclasses import asdict

            atomic_write_json(saved, {**key, "runs": [asdict(r) for r in found]})
        runs += found
    return runs


def _saved_runs(path: Path, key: dict[str, Any]) -> list[Any] | None:
    if not path.is_file():
        return None
    try:
        data = parse_json_text(read_bounded(path, MAX_JSON_BYTES, "a track file"), path)
    except InputError:
        return None  # torn: track this video again
    if not isinstance(data, dict) or {k: data.get(k) for k in key} != json.loads(json.dumps(key)):
        return None
    try:
        return runs_from_json(data.get("runs"), path)
    except InputError:
        return None


def runs_from_json(data: Any, path: Path) -> list[Any]:
    """Track runs from their JSON form, every field checked (the schema of ``tracks.json``)."""
    from semapose.data.unlabeled import TrackRun

    if not isinstance(data, list):
        raise InputError(path, "top level", f"a list of track runs {_HINT}", type(data).__name__)
    runs = []
    fields = {"video", "track_id", "frames", "boxes"}
    for i, r in enumerate(data):
        where = f"[{i}]"
        if not isinstance(r, dict) or set(r) != fields:
            got = sorted(r) if isinstance(r, dict) else type(r).__name__
            raise InputError(path, where, f"a run with keys {sorted(fields)} {_HINT}", got)
        if not isinstance(r["video"], str) or not isinstance(r["track_id"], int):
            raise InputError(path, where, f"a video name and an integer track_id {_HINT}", r)
        frames, boxes = r["frames"], r["boxes"]
        ok = isinstance(frames, list) and isinstance(boxes, list) and len(frames) == len(boxes)
        ok = ok and len(frames) > 0
        ok = ok and all(isinstance(f, int) and not isinstance(f, bool) and f >= 0 for f in frames)
        ok = ok and all(b - a == 1 for a, b in zip(frames, frames[1:], strict=False))
        if ok:
            for b in boxes:
                arr = np.asarray(b, dtype=object)
                good = arr.shape == (4,) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                    for v in b
                )
                ok = ok and good and b[2] > 0 and b[3] > 0
        if not ok:
            raise InputError(
                path,
                where,
                f"consecutive frame indices and as many finite x, y, w, h boxes {_HINT}",
                r,
            )
        runs.append(TrackRun(r["video"], r["track_id"], list(frames), [list(b) for b in boxes]))
    return runs


def load_runs_checked(path: Path) -> list[Any]:
    """``tracks.json`` read through the bounded reader and :func:`runs_from_json`."""
    return runs_from_json(
        parse_json_text(read_bounded(path, MAX_JSON_BYTES, "tracks.json"), path), path
    )


def check_cache(folder: Path) -> None:
    """The one schema check of a feature cache folder (``index.json``, ``inputs.npy``,
    ``clean.npy``, ``rows.npz``) before :class:`~semapose.data.unlabeled.FeatureCache`
    maps it: InputError naming the file and the field."""
    from semapose.data.unlabeled import CACHE_VERSION

    index_file = folder / "index.json"
    index = parse_json_text(read_bounded(index_file, MAX_JSON_BYTES, "a cache index"), index_file)
    if not isinstance(index, dict):
        raise InputError(
            index_file, "top level", f"a cache index object {_HINT}", type(index).__name__
        )
    if index.get("version") != CACHE_VERSION:
        raise InputError(index_file, "version", f"{CACHE_VERSION} {_HINT}", index.get("version"))

    def positive_ints(key: str, n: int) -> list[int]:
        v = index.get(key)
        if not (
            isinstance(v, list)
            and len(v) == n
            and all(isinstance(x, int) and not isinstance(x, bool) and 0 < x <= 1 << 16 for x in v)
        ):
            raise InputError(index_file, key, f"{n} positive integers {_HINT}", v)
        return v

    stride = index.get("heatmap_stride")
    if not isinstance(stride, int) or isinstance(stride, bool) or not 1 <= stride <= 64:
        raise InputError(index_file, "heatmap_stride", f"an integer from 1 to 64 {_HINT}", stride)
    size = positive_ints("image_size", 2)
    shape = positive_ints("feature_shape", 3)
    if any(s < stride for s in size):
        raise InputError(
            index_file, "image_size", f"sizes of at least heatmap_stride {_HINT}", size
        )
    clips = index.get("clips")
    if not isinstance(clips, list) or not all(isinstance(c, dict) for c in clips):
        raise InputError(
            index_file, "clips", f"a list of clip records {_HINT}", type(clips).__name__
        )
    arrays = {}
    for name in ("inputs.npy", "clean.npy"):
        try:
            arrays[name] = np.load(folder / name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(
                folder / name, "", f"a complete .npy array {_HINT}", str(exc)[:80]
            ) from None
        a = arrays[name]
        if a.ndim != 4 or list(a.shape[1:]) != shape or a.dtype != np.float16:
            raise InputError(
                folder / name,
                "",
                f"float16 features of shape (N, {', '.join(map(str, shape))}) {_HINT}",
                f"{a.dtype} {a.shape}",
            )
    n = arrays["inputs.npy"].shape[0]
    try:
        with np.load(folder / "rows.npz", allow_pickle=False) as rows:
            cols = {k: rows[k] for k in rows.files}
    except Exception as exc:  # zip/npy errors of every kind: a damaged file
        raise InputError(
            folder / "rows.npz", "", f"a readable .npz file {_HINT}", str(exc)[:80]
        ) from None
    for key in ("clip", "frame", "clean_row", "keypoints", "weights"):
        if key not in cols or len(cols[key]) != n:
            raise InputError(
                folder / "rows.npz",
                key,
                f"{n} rows (one per cached crop) {_HINT}",
                None if key not in cols else len(cols[key]),
            )
    clip, frame, clean_row = cols["clip"], cols["frame"], cols["clean_row"]
    if n and (
        clip.min() < 0 or clip.max() >= len(clips) or frame.min() < 0 or frame.max() > 1 << 24
    ):
        raise InputError(
            folder / "rows.npz", "clip/frame", f"indices of the {len(clips)} clips {_HINT}"
        )
    if n and (clean_row.min() < -1 or clean_row.max() >= arrays["clean.npy"].shape[0]):
        raise InputError(folder / "rows.npz", "clean_row", f"-1 or a row of clean.npy {_HINT}")
    for key in ("keypoints", "weights"):
        if cols[key].dtype.kind != "f" or not np.isfinite(cols[key]).all():
            raise InputError(folder / "rows.npz", key, f"finite numbers {_HINT}")


__all__ = [
    "check_cache",
    "fit_fingerprint",
    "load_runs_checked",
    "prepare_work",
    "runs_from_json",
    "track_videos",
]
