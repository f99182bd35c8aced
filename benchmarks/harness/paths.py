"""Folders every benchmark uses: the repository, its results and cache, the shared data."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "runs" / "bench_cache"
FIGURES = ROOT / "docs" / "figures"


def shared_data() -> Path:
    """``$SEMAPOSE_SHARED_DATA``, else ``../shared/data`` beside the repository."""
    env = os.environ.get("SEMAPOSE_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def videos_dir() -> Path:
    """The real clips (``two_people_72f.mp4``, ``basketball_300f.mp4``, ...)."""
    return shared_data() / "videos"


def posetrack_sample() -> Path:
    """The PoseTrack18 sample (images, annotations, its detection file)."""
    return shared_data() / "posetrack18_sample"


def missing(path: Path) -> str:
    """The one line a script prints when shared data it needs is absent."""
    return f"{path} is missing (set SEMAPOSE_SHARED_DATA)"
