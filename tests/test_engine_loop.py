"""The one training loop (engine/loop.py): ``fit`` trains with the engine's optimiser
builder, schedule and training-state format; a source of cached features is only a
data source."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import torch

from cli_helpers import SMALL_TEMPORAL
from semapose.config import load_config
from semapose.engine.cache_fit import CacheFitConfig, fit_loop
from semapose.engine.checkpoint import STATE_KEYS, read_training_state
from semapose.engine.fit_state import load_fit_state, save_fit_state
from semapose.engine.loop import Batch
from semapose.engine.optim import Schedule, lr_factor
from semapose.engine.seeding import derive_seed
from semapose.models.build import build_model

SMALL = [*SMALL_TEMPORAL, "model.backbone=tiny", "model.backbone_weights="]


class RandomFeatures:
    """Features, targets and weights drawn from (seed, step): a stand-in feature cache."""

    loss_method = "feature_loss_terms"

    def __init__(self, model: Any, steps: int) -> None:
        self.steps_per_epoch = steps
        t, c = model.num_frames, model.feature_channels
        h, w = (s // model.feature_stride for s in model.image_size)
        hh, hw = (s // model.heatmap_stride for s in model.image_size)
        self.shapes = ((2, t, c, h, w), (2, t, 17, hh, hw), (2, t, 17))

    def batches(self, epoch: int, start: int) -> Iterator[Batch]:
        for step in range(start, self.steps_per_epoch):
            g = torch.Generator().manual_seed(step)
            feats, heatmaps, weights = (torch.rand(s, generator=g) for s in self.shapes)
            yield feats, heatmaps, weights

    def step_seed(self, epoch: int, step: int, rank: int) -> int:
        return derive_seed(0, "test", step, rank)


class Hooks:
    def __init__(self, loop: Any, stop_at: int = -1) -> None:
        self.loop, self.stop_at = loop, stop_at

    def train_step(self, batch: Batch) -> dict[str, float]:
        return self.loop.train_step(batch, self)  # type: ignore[no-any-return]

    def epoch_start(self, epoch: int) -> None:
        pass

    def after_step(self, values: dict[str, float]) -> None:
        if self.loop.step == self.stop_at:
            self.loop.total_steps = self.stop_at

    def epoch_end(self, epoch: int) -> None:
        pass

    def diverged(self, what: str, values: dict[str, float]) -> Exception:
        return FloatingPointError(what)


def _model() -> Any:
    torch.manual_seed(0)
    cfg = load_config(None, SMALL)
    return cfg, build_model(cfg)


def test_warmup_cosine_reaches_the_lr_after_warmup_then_decays_to_the_floor() -> None:
    s = Schedule(kind="warmup_cosine", total_steps=25, warmup_steps=5, min_lr_factor=0.1)
    assert [lr_factor(i, s) for i in range(5)] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert lr_factor(5, s) == 1.0 and lr_factor(15, s) == pytest.approx(0.55)
    assert lr_factor(25, s) == pytest.approx(0.1) and lr_factor(99, s) == pytest.approx(0.1)


def test_fit_loop_groups_the_temporal_module_and_head_and_freezes_a_zero_lr() -> None:
    cfg, model = _model()
    fc = CacheFitConfig(steps=4, lr=1e-3, head_lr=1e-4, weight_decay=0.5)
    loop = fit_loop(model, cfg, RandomFeatures(model, 4), fc)
    groups = {g["name"]: g for g in loop.optimizer.param_groups}
    assert list(groups) == ["temporal", "head"]
    assert groups["temporal"]["lr"] == pytest.approx(1e-3 * 0.05)  # warmup step 0 of 20
    assert all(g["weight_decay"] == 0.5 for g in groups.values())  # no no-decay split
    assert len(groups["temporal"]["params"]) == len(list(model.temporal.parameters()))
    cfg, model = _model()
    loop = fit_loop(model, cfg, RandomFeatures(model, 4), CacheFitConfig(steps=4, head_lr=0.0))
    assert [g["name"] for g in loop.optimizer.param_groups] == ["temporal"]
    assert not any(p.requires_grad for p in model.head.parameters())


def test_a_fit_state_is_the_engine_training_state_and_resumes_exactly(tmp_path: Path) -> None:
    fc = CacheFitConfig(steps=4, warmup_steps=1)
    cfg, straight = _model()
    loop = fit_loop(straight, cfg, RandomFeatures(straight, 4), fc)
    loop.run(Hooks(loop))
    cfg, first = _model()
    loop = fit_loop(first, cfg, RandomFeatures(first, 4), fc)
    loop.run(Hooks(loop, stop_at=2))
    assert loop.step == 2
    path = tmp_path / "fit_state.pt"
    save_fit_state(path, loop, first, [{"step": 2, "seconds": 0.5}], fc)
    state = read_training_state(path)
    assert set(STATE_KEYS) <= set(state) and state["fit_config"] == asdict(fc)
    cfg, resumed = _model()
    loop = fit_loop(resumed, cfg, RandomFeatures(resumed, 4), fc)
    assert load_fit_state(path, resumed, loop, fc) == [{"step": 2, "seconds": 0.5}]
    assert loop.step == 2
    loop.run(Hooks(loop))
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
