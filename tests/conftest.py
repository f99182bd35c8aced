"""Shared fixtures: the real PoseTrack samples in ../shared/data (skip if absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    env = os.environ.get("SEMAPOSE_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the shared real samples; tests using it skip when it is missing."""
    root = _shared_data()
    if not root.is_dir():
        pytest.skip(f"real sample data not found at {root} (set SEMAPOSE_SHARED_DATA)")
    return root


@pytest.fixture(scope="session")
def posetrack18_sample(shared_data: Path) -> Path:
    root = shared_data / "posetrack18_sample"
    if not root.is_dir():
        pytest.skip(f"{root} is missing")
    return root


@pytest.fixture(autouse=True, scope="session")
def _few_threads() -> None:
    """Keep torch to one thread per test process: tests must not fight over 2 cores."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)
