"""Shared builders for the prediction tests (tiny random models, videos, box files).

No tests here; the test_predict*/test_api*/test_export*/test_demo* files import it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SIZE = (64, 48)


def tiny_cfg(offsets: list[int] | None = None, temporal: str = "mlsme_smml") -> Any:
    from semapose.config import Config

    cfg = Config()
    cfg.data.image_size = SIZE
    cfg.data.offsets = [-2, -1, 1, 2] if offsets is None else list(offsets)
    cfg.model.temporal = temporal
    cfg.model.dim = 32
    cfg.model.heads = 2
    cfg.test.batch_size = 8
    return cfg


def tiny_model(cfg: Any, seed: int = 0) -> Any:
    import torch

    from semapose.models.build import build_model

    torch.manual_seed(seed)
    model = build_model(cfg).eval()
    # Random BN statistics make heatmaps less flat than a fresh init (more peaked argmaxes).
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
    return model


def save_checkpoint(path: Path, cfg: Any, seed: int = 0) -> Path:
    """A semapose checkpoint (safetensors with the config in its metadata)."""
    from semapose.config import to_dict
    from semapose.engine.checkpoint import save_weights

    save_weights(tiny_model(cfg, seed), path, {"semapose_config": json.dumps(to_dict(cfg))})
    return path


def make_video(path: Path, frames: int, width: int = 160, height: int = 120) -> Path:
    from video_helpers import write_synthetic_video

    return write_synthetic_video(path, frames, width, height, fps=10)


def moving_boxes(frames: int, persons: int = 2) -> dict[int, np.ndarray]:
    """frame -> (K, 5) x1, y1, x2, y2, score: persons drifting right, the last one leaving."""
    out = {}
    for i in range(frames):
        rows = []
        for p in range(persons):
            if p == persons - 1 and persons > 1 and i >= frames - 2:
                continue  # the last person disappears near the end
            x = 10 + 50 * p + 2 * i
            rows.append([x, 15 + 3 * p, x + 35, 15 + 3 * p + 80, 0.9 - 0.1 * p])
        out[i] = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    return out


def write_box_file(path: Path, boxes: dict[int, np.ndarray]) -> Path:
    """mmpose layout: image_id = frame index, bbox x, y, w, h."""
    items = [
        {
            "image_id": int(f),
            "category_id": 1,
            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
            "score": float(b[4]),
        }
        for f, bs in boxes.items()
        for b in bs
    ]
    path.write_text(json.dumps(items))
    return path


#: why a test that needs the default detector's weights is skipped
NO_SSDLITE = "ssdlite_person weights not available here (run `semapose fetch ssdlite_person`)"


def ssdlite_available() -> bool:
    """The default detector's weights are here (installed package or cached asset); no fetch."""
    from semapose.weights.assets import cached_asset

    return cached_asset("ssdlite_person") is not None
