"""GPU check 4: a temporal training run at a larger setting than the CPU can afford.

Synthetic video with exact ground truth (generated on the machine: nothing to carry)
goes through the frozen BlazePose backbone into a feature cache; then ``ours`` (MLSME +
SMML + frame fusion, the configuration of ``benchmarks/temporal_neighbours.py``) and the
single-frame adapter of equal capacity (the same layers fed the key frame alone) train
with the same curriculum, steps and batches in bf16; the neighbour-use figures of
:mod:`semapose.engine.neighbour_use` are measured on the test split (PCK@0.1 of person
height against the ground truth): key-only gap, blacked-out key recovery, sensitivity.

BlazePose's weights come from the cached asset when present; otherwise the backbone is
random and the result says so (then the figures test the road, not accuracy).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from harness.models import fit_preset
from harness.models import key_only as feed_key_only

FUSE = ["model.temporal=mlsme_smml", "model.pixel_decoder=32", "model.frame_fusion=16"]


def _config(dry: bool, weights: str) -> Any:
    from semapose.config import load_config

    base = fit_preset(backbone=True) + [
        "model.backbone=blazepose",
        f"model.backbone_weights={weights}",
    ]
    if dry:
        base += ["model.backbone=tiny", "model.backbone_weights=", "data.image_size=[64,64]"]
        base += ["model.cube_size=4"]
    return load_config(None, base + FUSE)


def _weights_name(dry: bool) -> str:
    if dry:
        return ""
    try:
        from semapose.weights import assets

        return "blazepose_full" if assets.cached_asset("blazepose_full") is not None else ""
    except Exception:  # noqa: BLE001 - no asset machinery or no cache: random weights
        return ""


def check_temporal_fit(device: torch.device, dry: bool) -> dict[str, Any]:
    """Cache, two trainings (ours, adapter), neighbour figures; see the module docstring."""
    import numpy as np

    from semapose.data.synthetic import generate_dataset
    from semapose.engine.cache_fit import FIT_CURRICULUM, CacheFitConfig, fit_on_cache
    from semapose.engine.neighbour_use import neighbour_report
    from semapose.fitting.build import make_cache
    from semapose.models.build import build_model

    weights = _weights_name(dry)
    videos, frames, size = (2, 8, 128) if dry else (24, 32, 256)
    steps, batch = (2, 2) if dry else (600, 64)
    out: dict[str, Any] = {
        "backbone_weights": weights or "random",
        "steps": steps,
        "batch": batch,
        "curriculum": FIT_CURRICULUM,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        sets = []
        for split, n, seed in (("train", videos, 0), ("test", max(1, videos // 4), 1)):
            generate_dataset(
                root / "syn", n, frames, seed, size=(size, size), split=split, rate=0.4,
                write_video=False,
            )  # fmt: skip
            sets.append(
                (f"synthetic_{split}", sorted((root / "syn/annotations" / split).glob("*.json")))
            )
        cfg = _config(dry, weights)
        torch.manual_seed(0)
        teacher = build_model(cfg).to(device).eval()
        cache = make_cache(root / "cache", teacher, synthetic=sets, seed=0)
        out["cache_seconds"] = time.perf_counter() - t0
        out["cache_rows"] = len(cache)
        ids = [i for i, c in enumerate(cache.clips) if c["split"] == "synthetic_train"]
        test = [i for i, c in enumerate(cache.clips) if c["split"] == "synthetic_test"]
        rows, test_rows = cache.rows_of(ids), cache.rows_of(test)
        thr = 0.1 * cache.heatmap_size[0] / float(cfg.data.bbox_enlarge)
        for name, key_only in (("ours", False), ("adapter", True)):
            torch.manual_seed(0)
            model = build_model(cfg).to(device)
            fc = CacheFitConfig(
                steps=steps,
                batch_size=batch,
                key_only=key_only,
                degraded_key_share=FIT_CURRICULUM["degraded_key_share"],
                blackout=FIT_CURRICULUM["blackout"],
            )
            t1 = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                log = fit_on_cache(model, cfg, cache, rows, fc)
            seconds = time.perf_counter() - t1
            if key_only:
                feed_key_only(model)
            report, _ = neighbour_report(model, cache, test_rows, list(cfg.data.offsets), thr, 0.5)
            out[name] = {
                "train_seconds": seconds,
                "steps_per_s": steps / seconds,
                "last_loss": log[-1]["total"] if log else None,
                **report.to_dict(),
            }
        a, o = out["adapter"], out["ours"]
        if o["degraded_frames"] is not None and a["degraded_frames"] is not None:
            out["ours_minus_adapter_degraded"] = float(
                np.float64(o["degraded_frames"]) - a["degraded_frames"]
            )
    return out
