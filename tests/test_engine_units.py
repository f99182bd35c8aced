"""Unit tests of the engine's parts: sampler, schedule, optimiser groups, checkpoints, logs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine_toy import ToyPose
from semapose.config import load_config
from semapose.engine import checkpoint as ckpt
from semapose.engine.logging import RunLogger, read_log
from semapose.engine.optim import build_optimizer, build_scheduler, lr_factor_fn
from semapose.engine.seeding import (
    ResumableDistributedSampler,
    SeededDataset,
    derive_seed,
    rng_state,
    set_rng_state,
)
from semapose.engine.trainer import combine_losses
from semapose.errors import CheckpointError


def _sampler(rank: int, world: int, local: int, **kw: int) -> ResumableDistributedSampler:
    return ResumableDistributedSampler(
        50, num_replicas=world, rank=rank, local_batch=local, seed=3, **kw
    )


def test_ranks_together_see_the_single_process_batches() -> None:
    one = list(_sampler(0, 1, 8))
    r0, r1 = list(_sampler(0, 2, 4)), list(_sampler(1, 2, 4))
    assert len(one) == 48 and len(r0) == len(r1) == 24  # full global batches only
    for s in range(6):
        global_batch = set(one[8 * s : 8 * (s + 1)])
        assert set(r0[4 * s : 4 * (s + 1)]) | set(r1[4 * s : 4 * (s + 1)]) == global_batch


def test_sampler_order_depends_on_epoch_and_skips_on_resume() -> None:
    s = _sampler(0, 1, 5)
    s.set_epoch(0)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    assert e0 != e1 and sorted(e0) == sorted(e1) == list(range(50))
    s.set_start(15)
    assert list(s) == e1[15:] and len(s) == 35
    limited = _sampler(0, 1, 4, samples_per_epoch=10)
    assert len(list(limited)) == 8 and limited.steps_per_epoch == 2


def test_seeded_dataset_is_a_pure_function_of_seed_epoch_index() -> None:
    class Noisy(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> float:
            return float(np.random.random() + torch.rand(()).item())

    ds = SeededDataset(Noisy(), seed=1)
    a = [ds[i] for i in range(4)]
    torch.manual_seed(99)
    np.random.seed(99)
    assert [ds[i] for i in reversed(range(4))] == a[::-1]
    ds.set_epoch(1)
    assert [ds[i] for i in range(4)] != a
    assert derive_seed(1, "x") == derive_seed(1, "x") != derive_seed(2, "x")


def test_rng_state_roundtrip_through_weights_only_load(tmp_path: Path) -> None:
    torch.manual_seed(5)
    np.random.seed(5)
    state = rng_state()
    path = tmp_path / "rng.pt"
    torch.save(state, path)
    want = (np.random.random(), torch.rand(3))
    set_rng_state(torch.load(path, weights_only=True))
    got = (np.random.random(), torch.rand(3))
    assert want[0] == got[0] and torch.equal(want[1], got[1])


def test_schedule_warmup_multistep_and_cosine() -> None:
    cfg = load_config(None, ["train.warmup_steps=10", "train.milestones=[2,3]", "train.gamma=0.1"])
    f = lr_factor_fn(cfg.train, steps_per_epoch=100, total_steps=400)
    assert f(0) == pytest.approx(0.001) and f(5) == pytest.approx(0.5005)
    assert f(10) == 1.0 and f(199) == 1.0
    assert f(200) == pytest.approx(0.1) and f(300) == pytest.approx(0.01)
    cos = load_config(None, ["train.schedule=cosine", "train.min_lr_factor=0.1"]).train
    g = lr_factor_fn(cos, steps_per_epoch=10, total_steps=100)
    assert g(0) == 1.0 and g(50) == pytest.approx(0.55) and g(100) == pytest.approx(0.1)


def test_optimizer_groups_backbone_lr_and_no_decay() -> None:
    cfg = load_config(None, ["train.lr=1e-3", "train.backbone_lr=1e-5"])
    model = ToyPose()
    opt = build_optimizer(model, cfg.train)
    by_name = {g["name"]: g for g in opt.param_groups}
    assert by_name["backbone"]["lr"] == 1e-5 and by_name["head"]["lr"] == 1e-3
    assert by_name["head_no_decay"]["weight_decay"] == 0.0
    assert any(p is model.mask_token for p in by_name["head_no_decay"]["params"])
    n_params = sum(len(g["params"]) for g in opt.param_groups)
    assert n_params == len(list(model.parameters()))
    sched = build_scheduler(opt, cfg.train, steps_per_epoch=10, total_steps=100)
    assert sched.get_last_lr()[0] in (1e-3, 1e-5)
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    names = {g["name"] for g in build_optimizer(model, cfg.train).param_groups}
    assert not any(n.startswith("backbone") for n in names)


def test_combine_losses_uses_the_configured_weights() -> None:
    cfg = load_config(None, ["loss.context=0.5", "loss.pose=0"])
    terms = {"heatmap": torch.tensor(2.0), "context": torch.tensor(4.0), "pose": torch.tensor(8.0)}
    assert float(combine_losses(terms, cfg.loss)) == pytest.approx(4.0)


def test_checkpoint_roundtrip_pointer_and_pruning(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ToyPose()
    for i, name in enumerate(["step_1", "step_2", "step_3"]):
        state = {k: {} for k in ckpt.STATE_KEYS} | {"step": i + 1, "epoch": 0, "step_in_epoch": 0}
        ckpt.save_checkpoint(tmp_path, name, model, state, {"note": "x"})
        ckpt.prune_checkpoints(tmp_path, keep=2, protect={name})
    files = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert files == [
        "step_2.safetensors",
        "step_2.state.pt",
        "step_3.safetensors",
        "step_3.state.pt",
    ]
    rec = ckpt.last_checkpoint(tmp_path)
    assert rec is not None and rec["step"] == 3
    assert ckpt.read_training_state(tmp_path / rec["state"])["step"] == 3
    torch.manual_seed(1)
    other = ToyPose()
    meta = ckpt.load_weights(other, tmp_path / rec["weights"])
    assert meta["note"] == "x"
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters(), strict=True)
    )
    assert not list(tmp_path.rglob(".*tmp*"))  # no temporary files left behind


def test_checkpoint_errors_are_checkpoint_errors(tmp_path: Path) -> None:
    model = ToyPose()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00\x01truncated")
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        ckpt.load_weights(model, bad)
    with pytest.raises(CheckpointError, match="no such file"):
        ckpt.load_weights(model, tmp_path / "missing.safetensors")
    ckpt.save_weights(torch.nn.Linear(2, 2), tmp_path / "lin.safetensors")
    with pytest.raises(CheckpointError, match="missing"):
        ckpt.load_weights(model, tmp_path / "lin.safetensors")
    pickled = tmp_path / "evil.state.pt"
    torch.save({"x": object()}, pickled)  # a pickled arbitrary object: refused
    with pytest.raises(CheckpointError):
        ckpt.read_training_state(pickled)
    (tmp_path / "last.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="last.json"):
        ckpt.last_checkpoint(tmp_path)


def test_logger_jsonl_plot_and_resume_truncation(tmp_path: Path) -> None:
    log = RunLogger(tmp_path, progress=False)
    for step in range(1, 6):
        log.log("train", step, step / 5, {"loss": 1.0 / step, "heatmap": 0.5 / step, "lr": 0.1})
    log.log("val", 5, 1.0, {"mAP": 12.5, "bad": float("nan")})
    assert log.plot() == tmp_path / "curves.png"
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    log.close()
    recs = read_log(tmp_path / "log.jsonl")
    assert len(recs) == 6 and recs[-1]["mAP"] == 12.5 and recs[-1]["bad"] == "nan"
    json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])
    with open(tmp_path / "log.jsonl", "a") as fh:
        fh.write('{"kind": "train", "st')  # torn line from a kill
    RunLogger(tmp_path, progress=False, resume_step=3).close()
    assert [r["step"] for r in read_log(tmp_path / "log.jsonl")] == [1, 2, 3]


def test_export_weights_copies_best_with_config_sidecar(tmp_path: Path) -> None:
    run = tmp_path / "run"
    model = ToyPose()
    cfg = {"train": {"lr": 0.5}, "model": {"backbone_weights": "/init/hrnet.pth"}}
    ckpt.save_weights(model, run / "model.safetensors", {"semapose_config": json.dumps(cfg)})
    (run / "best.json").write_text(json.dumps({"metric": "mAP", "value": 42.0}))
    dest = ckpt.export_weights(run, tmp_path / "w" / "tiny.safetensors", {"minutes": 3})
    side = json.loads(dest.with_suffix(".json").read_text())
    # the trained file must not need its initialisation checkpoint to load
    trained = {"train": {"lr": 0.5}, "model": {"backbone_weights": ""}}
    assert side["config"] == trained and side["best"]["value"] == 42.0 and side["minutes"] == 3
    other = ToyPose()
    meta = ckpt.load_weights(other, dest)
    assert json.loads(meta["semapose_config"]) == trained
    assert meta["init_backbone_weights"] == "/init/hrnet.pth"
