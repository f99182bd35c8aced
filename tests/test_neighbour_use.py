"""Neighbour-use diagnostics (issue 26): a trained temporal model must not be constant in
its supporting frames, and the diagnostics must see the difference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cli_helpers import SMALL_TEMPORAL
from semapose.config import load_config
from semapose.engine.cache_fit import CacheFitConfig, blank_features, draw_keys, fit_on_cache
from semapose.engine.neighbour_use import feed_features, neighbour_report, recovered_share
from semapose.models.build import build_model
from test_temporal_unlabeled import _cache

FUSE = [*SMALL_TEMPORAL, "model.pixel_decoder=8", "model.frame_fusion=8"]


def _model(overrides: list[str]):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    cfg = load_config(None, overrides)
    return cfg, build_model(cfg).eval()


def _blackout_loss(model, cache, rows, offsets, key_only: bool) -> float:  # type: ignore[no-untyped-def]
    b = cache.batch(rows, offsets)
    feats = feed_features(model, cache, rows, offsets, "blackout", key_only)
    k = model.key_index
    with torch.no_grad():
        pred = model.decode_clip(feats)
    return float(((pred - b["heatmaps"][:, k]) ** 2).mean())


def test_trained_frame_fusion_uses_its_neighbours(tmp_path: Path) -> None:
    cfg, model = _model(FUSE)
    cache = _cache(tmp_path, model)
    cache.rows["weights"][:] = 1.0  # a random tiny teacher is sure of nothing; pretend it is
    rows = np.arange(len(cache))
    offsets = list(cfg.data.offsets)
    thr = 2.0
    # untrained: the single-frame model bit for bit, so no sensitivity at all
    report0, _ = neighbour_report(model, cache, rows, offsets, thr)
    assert report0.sensitivity == 0.0 and report0.key_only_gap == 0.0
    before = _blackout_loss(model, cache, rows, offsets, key_only=False)
    fc = CacheFitConfig(steps=40, batch_size=4, warmup_steps=2, lr=3e-3, head_lr=0.0, blackout=1.0)
    fit_on_cache(model, cfg, cache, rows, fc)
    report, per_joint = neighbour_report(model, cache, rows, offsets, thr)
    # not constant in the neighbours, and they help where the key frame is lost
    assert report.sensitivity > 1e-5
    with_n = _blackout_loss(model, cache, rows, offsets, key_only=False)
    alone = _blackout_loss(model, cache, rows, offsets, key_only=True)
    assert with_n < alone and with_n < before
    assert report.key_only_gap == report.degraded_frames - report.degraded_frames_key_only  # type: ignore[operator]
    assert set(per_joint) >= {"counted", "blackout", "blackout_key_only", "degraded"}


def test_key_only_feeding_and_curriculum_draws() -> None:
    cfg, model = _model(FUSE)
    rng = np.random.default_rng(0)
    rows, deg = np.arange(100), np.arange(90, 100)
    keys = draw_keys(rng, rows, deg, 8, 0.5)
    assert len(keys) == 8 and np.isin(keys[4:], deg).all()
    same = draw_keys(np.random.default_rng([0, 3]), rows, deg, 8, 0.0)
    assert np.array_equal(same, np.random.default_rng([0, 3]).choice(rows, size=8, replace=False))
    blank = blank_features(model)
    assert blank.shape == (model.feature_channels, 16, 16)
    # a model fed its key frame alone: the frame fusion's support map is the key frame
    feats = torch.randn(2, 5, model.feature_channels, 16, 16)
    with torch.no_grad():
        model.temporal.mix.fill_(1.0)  # type: ignore[union-attr]
        copies = feats[:, 2:3].expand_as(feats).contiguous()
        out = model.temporal(copies)
        ref = model.temporal.pixel(torch.cat([feats[:, 2], torch.zeros_like(feats[:, 2])], 1))  # type: ignore[union-attr,operator]
    assert out.shape == feats[:, 2].shape and torch.isfinite(ref).all()
    w = model.temporal.frame_weights(feats)  # type: ignore[operator]
    assert w is not None and torch.allclose(w.sum(1), torch.ones(2, 16, 16))
    counted = np.ones((2, 3), bool)
    ours = np.array([[1, 1, 0], [0, 1, 1]], bool)
    ref_hits = np.array([[1, 0, 0], [0, 0, 1]], bool)
    assert recovered_share(ours, ref_hits, counted) == 50.0
