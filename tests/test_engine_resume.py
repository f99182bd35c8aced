"""Exact resume and NaN handling of the training engine (tiny toy model, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine_toy import ToyClips, ToyPose
from semapose.config import Config, load_config
from semapose.engine.checkpoint import last_checkpoint
from semapose.engine.trainer import NonFiniteLossError, Trainer


class Killed(Exception):
    pass


class KilledAt(Trainer):
    """Dies before optimisation step ``kill_at`` (as a SIGKILL would, nothing is flushed)."""

    kill_at = -1

    def train_step(self, batch):  # type: ignore[no-untyped-def]
        if self.step == self.kill_at:
            raise Killed
        return super().train_step(batch)


def _cfg(out: Path, *extra: str) -> Config:
    return load_config(
        None,
        [
            f"train.output_dir={out}",
            "train.batch_size=4",
            "train.epochs=3",
            "train.checkpoint_every=4",
            "train.log_every=1",
            "train.warmup_steps=3",
            "train.milestones=[1,2]",
            "train.gamma=0.5",
            "train.lr=1e-2",
            "train.backbone_lr=1e-3",
            "data.num_workers=0",
            *extra,
        ],
    )


def _model(seed: int = 0, **kw: int) -> ToyPose:
    torch.manual_seed(seed)
    return ToyPose(**kw)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model.safetensors"))


def _train_losses(out: Path) -> dict[int, float]:
    lines = (out / "log.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    return {r["step"]: r["loss"] for r in recs if r["kind"] == "train"}


@pytest.mark.parametrize(("kill_at", "workers"), [(5, 0), (11, 2)])
def test_killed_and_resumed_run_ends_with_identical_weights(
    tmp_path: Path, kill_at: int, workers: int
) -> None:
    # kill_at=5: resumes mid-epoch from step 4; kill_at=11: resumes from step 8 (epoch 1),
    # with DataLoader workers; both then cross epoch boundaries (6 steps/epoch).
    extra = [f"data.num_workers={workers}"]
    ref = tmp_path / "ref"
    Trainer(_cfg(ref, *extra), _model(), ToyClips(), progress=False).fit()

    run = tmp_path / "run"
    killed = KilledAt(_cfg(run, *extra), _model(), ToyClips(), progress=False)
    killed.kill_at = kill_at
    with pytest.raises(Killed):
        killed.fit()
    rec = last_checkpoint(run)
    assert rec is not None and 0 < rec["step"] < kill_at
    # a model with another random init: everything must come from the checkpoint
    Trainer(_cfg(run, *extra), _model(1234), ToyClips(), progress=False).fit(resume=True)

    a, b = _weights(ref), _weights(run)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the log of the resumed run is the uninterrupted run's log
    assert _train_losses(run) == _train_losses(ref)


def test_resume_without_checkpoint_starts_fresh(tmp_path: Path) -> None:
    out = tmp_path / "r"
    summary = Trainer(_cfg(out, "train.epochs=1"), _model(), ToyClips(), progress=False).fit(
        resume=True
    )
    assert summary["step"] == 6


def test_resume_of_finished_run_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "done"
    Trainer(_cfg(out, "train.epochs=1"), _model(), ToyClips(), progress=False).fit()
    before = _weights(out)
    s = Trainer(_cfg(out, "train.epochs=1"), _model(), ToyClips(), progress=False).fit(resume=True)
    assert s["step"] == 6
    after = _weights(out)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_nan_loss_stops_with_diagnostic_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "nan"
    model = _model(nan_at_call=6)  # the 6th forward (step index 5) returns a NaN term
    trainer = Trainer(_cfg(out, "train.checkpoint_every=5"), model, ToyClips(), progress=False)
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit()
    msg = str(info.value)
    assert "step 5 " in msg and "context=nan" in msg and "heatmap=" in msg
    assert "step_00000005" in msg
    rec = last_checkpoint(out)
    assert rec is not None and rec["step"] == 5
    weights = load_file(str(out / rec["weights"]))
    assert all(torch.isfinite(v).all() for v in weights.values())
    events = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "diverged"


def test_batch_must_split_over_processes_and_fit_the_data(tmp_path: Path) -> None:
    from semapose.errors import ConfigError

    with pytest.raises(ConfigError, match="train.batch_size"):
        Trainer(_cfg(tmp_path, "train.batch_size=100"), _model(), ToyClips(), progress=False)
