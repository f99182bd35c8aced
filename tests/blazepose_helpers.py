"""Where the BlazePose tests find pose_landmark_full.tflite (no tests here).

test_tflite, test_blazepose and test_blazepose_head import it; without the file they skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def tflite_file() -> Path:
    """pose_landmark_full.tflite: $SEMAPOSE_BLAZEPOSE_TFLITE or the asset cache (never fetches)."""
    env = os.environ.get("SEMAPOSE_BLAZEPOSE_TFLITE")
    if env and Path(env).is_file():
        return Path(env)
    from semapose.weights.assets import cached_asset

    found = cached_asset("blazepose_full")
    if found is None:
        pytest.skip("BlazePose .tflite not cached (run `semapose fetch blazepose_full`)")
    return found
