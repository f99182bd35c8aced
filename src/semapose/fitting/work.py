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
* ``tracks.json`` and ``cache/``: read through
  :func:`semapose.fitting.tracks.load_runs_checked` and
  :func:`semapose.data.feature_store.check_feature_store` (the one schema check of
  each): a truncated, garbled or inconsistent file is an exit-2 line naming the file
  and the field.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from semapose.errors import InputError
from semapose.fitting import tracks as T
from semapose.io.atomic import atomic_write_json
from semapose.io.bounded import parse_json_text, read_bounded
from semapose.io.fingerprint import file_digest
from semapose.limits import MAX_JSON_BYTES, MAX_STATE_BYTES

__all__ = ["FINGERPRINT_FILE", "TRACKS_DIR", "fit_fingerprint", "prepare_work", "track_videos"]

FINGERPRINT_FILE = "fit.json"
TRACKS_DIR = "tracks"


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


def track_videos(videos: list[Path], out: Path, detector: str, progress: bool) -> list[T.TrackRun]:
    """Track runs of every video, each video's saved under ``tracks/`` as soon as it is done."""
    folder = out / TRACKS_DIR
    runs: list[T.TrackRun] = []
    for i, video in enumerate(videos):
        digest = file_digest(video)
        saved = folder / f"{i:04d}_{video.name}.json"
        key = {"video": str(video), "content": digest, "detector": detector}
        found = _saved_runs(saved, key)
        if found is None:
            found = T.track_video(video, detector=detector, min_length=5, progress=progress)
            atomic_write_json(saved, {**key, "runs": [asdict(r) for r in found]})
        runs += found
    return runs


def _saved_runs(path: Path, key: dict[str, Any]) -> list[T.TrackRun] | None:
    if not path.is_file():
        return None
    try:
        data = parse_json_text(read_bounded(path, MAX_JSON_BYTES, "a track file"), path)
    except InputError:
        return None  # torn: track this video again
    if not isinstance(data, dict) or {k: data.get(k) for k in key} != json.loads(json.dumps(key)):
        return None
    try:
        return T.runs_from_json(data.get("runs"), path)
    except InputError:
        return None
