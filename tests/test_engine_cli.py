"""``semapose train`` end to end on a generated synthetic set (tiny model, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from semapose.cli import main
from semapose.config import Config

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "train.synth_train_videos=1",
    "train.synth_val_videos=1",
    "train.synth_frames=6",
    "train.synth_size=[128,96]",
    "train.synth_people=[1,2]",
    "data.image_size=[32,24]",
    "model.cube_size=2",
    "model.dim=16",
    "model.head_channels=8",
    "train.batch_size=4",
    "train.epochs=1",
    "train.val_every_epochs=1",
    "train.checkpoint_every=1",
    "train.log_every=1",
    "train.max_minutes=0",
    "train.plot=false",
    "data.num_workers=0",
    "test.batch_size=16",
]


@pytest.mark.slow
def test_train_command_generates_data_trains_validates_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = [
        "train",
        str(REPO / "configs" / "synthetic_cpu_tiny.yaml"),
        f"data.root={tmp_path / 'data'}",
        *TINY,
        "--output-dir",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    assert (tmp_path / "data" / "annotations" / "val").is_dir()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] >= 1
    final = summary["final"]
    assert {"mAP", "mAP_clean", "Head", "Ankle"} <= set(final)
    result = json.loads((out / "val_result.json").read_text())
    assert result["posetrack"]["Mean"] == pytest.approx(final["mAP"])
    recs = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    train = [r for r in recs if r["kind"] == "train"]
    assert train and {"loss", "heatmap", "context", "pose", "lr", "grad_norm"} <= set(train[0])
    assert (out / "best.safetensors").is_file() and (out / "best.json").is_file()
    assert list((out / "val_predictions").glob("*.json"))
    with safe_open(str(out / "model.safetensors"), framework="pt") as fh:
        cfg = json.loads(fh.metadata()["semapose_config"])
    assert cfg["data"]["image_size"] == [32, 24]

    # the weights alone rebuild the model
    from semapose.config import from_dict
    from semapose.engine.checkpoint import load_weights
    from semapose.models.build import build_model

    config = from_dict(Config, cfg, "<metadata>")
    model = build_model(config)
    load_weights(model, out / "model.safetensors")

    # the real clip dataset's augmentation is a function of (seed, epoch, index) only
    from semapose.data.loader import build_dataset
    from semapose.engine.seeding import SeededDataset

    seeded = SeededDataset(build_dataset(config, "train"), seed=7)
    n = len(seeded)
    first = [seeded[i]["images"] for i in range(n)]
    again = [seeded[i]["images"] for i in reversed(range(n))][::-1]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    seeded.set_epoch(1)
    assert not all(torch.equal(a, seeded[i]["images"]) for i, a in enumerate(first))

    # validation itself is right: ground-truth heatmaps decode to (nearly) 100 mAP
    _oracle_validation_scores_high(config, tmp_path / "oracle")

    # resuming a finished run does nothing and succeeds
    before = load_file(str(out / "model.safetensors"))
    assert main([*args, "--resume"]) == 0
    after = load_file(str(out / "model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert json.loads((out / "summary.json").read_text())["final"] == final


def test_train_command_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(REPO / "configs" / "synthetic_cpu_tiny.yaml")
    assert main(["train", cfg, "train.lrr=1"]) == 2
    err = capsys.readouterr().err
    assert "train.lrr" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "annotations" / "train").mkdir(parents=True)
    bad = ["train", cfg, f"data.root={empty}", f"train.output_dir={tmp_path / 'o'}"]
    assert main(bad) == 2
    assert "error" in capsys.readouterr().err


class _Oracle(torch.nn.Module):
    """A clip model that answers each crop with the ground-truth heatmaps of the nearest
    validation crop (the prediction road crops each frame with its own box, the dataset
    with the same box: the nearest crop is the same person's)."""

    def __init__(self, crops: torch.Tensor, heatmaps: torch.Tensor, key: int) -> None:
        super().__init__()
        self.crops, self.heatmaps, self.key = crops, heatmaps, key
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def encode_frames(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def decode_clip(self, feats: torch.Tensor) -> torch.Tensor:
        key = feats[:, self.key]
        dist = (key[:, None] - self.crops[None]).abs().flatten(2).mean(-1)
        return self.heatmaps[dist.argmin(1)]


def _oracle_validation_scores_high(config: Config, out: Path) -> None:
    import dataclasses

    from semapose.data.loader import build_dataset
    from semapose.engine.run import build_validator

    cfg = dataclasses.replace(
        config,
        test=dataclasses.replace(config.test, flip_test=False, batch_size=4),
        train=dataclasses.replace(config.train, output_dir=str(out)),
    )
    validator = build_validator(cfg)
    val_set = build_dataset(cfg, "val")
    key = val_set.key_index
    items = [val_set[i] for i in validator.indices]
    crops = torch.stack([it["images"][key] for it in items])
    heat = torch.stack([it["heatmaps"][key] for it in items])
    metrics = validator(_Oracle(crops, heat, key), step=0)
    assert metrics["mAP"] > 90, metrics
    assert (out / "val_predictions").is_dir() and (out / "val_result.json").is_file()
