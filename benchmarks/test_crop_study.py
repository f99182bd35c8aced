"""crop_study's three crop modes (beside the script: tests/ never imports it)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _tiny_model() -> tuple[Any, Any]:
    """A random tiny model (64x48 crops, T = 5) and its config."""
    from harness.models import tiny_cfg, tiny_model

    cfg = tiny_cfg()
    return tiny_model(cfg), cfg


def test_crop_study_runs_the_three_modes_on_the_same_joints() -> None:
    from crop_study import _videos, run_mode
    from semapose.inference.loading import LoadedModel
    from semapose.inference.predictor import Predictor

    model, cfg = _tiny_model()
    predictor = Predictor.from_loaded(LoadedModel(model, cfg, True, "tiny"), flip=False)
    videos = _videos(1, 5, (128, 96))
    res = [run_mode(predictor, videos, m) for m in ("track", "key", "static")]
    assert len({len(r.keypoints) for r in res}) == 1 and len(res[0].keypoints) > 0
    assert all(0.0 <= r.pckh <= 1.0 and np.isfinite(r.mean_error) for r in res)
