"""``semapose fit``: a folder of videos -> temporal weights, end to end with a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cli_helpers import FIT_TINY_SET
from semapose.cli import main


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One synthetic person walking (the default detector finds rendered people)."""
    from semapose.data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("fitdata")
    generate_dataset(
        root / "synth", 1, 10, 3, size=(256, 192), people=(1, 1), degrade="none", split="val"
    )
    folder = root / "videos"
    folder.mkdir()
    (root / "synth" / "videos" / "val" / "200000_synth_val.mp4").rename(folder / "clip.mp4")
    return folder


def test_fit_writes_weights_that_load_and_resumes(
    videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from semapose.config import load_config
    from semapose.engine.cache_fit import FIT_PRESET
    from semapose.models.build import build_model
    from semapose.models.partial import load_partial_weights

    out = tmp_path / "fit"
    args = ["fit", str(videos), "--out", str(out), "--steps", "4", "--batch", "2"]
    assert main([*args, "--no-progress", *FIT_TINY_SET]) == 0
    err = capsys.readouterr().err
    # the final report is for people; the same summary is a JSON file beside the weights
    summary = json.loads((out / "fit_summary.json").read_text())
    assert summary["tracks"] >= 1 and summary["person_frames"] >= 5
    assert "fit finished" in err and "semapose predict VIDEO --weights" in err
    assert not err.strip().splitlines()[-1].startswith("{")
    # fitted as the shipped default runs: its crop, flip and decoder settings
    from semapose.commands.fit import shipped_settings

    assert summary["settings"]["test.flip_test"] is False
    assert summary["settings"]["model.pixel_decoder"] == 32
    # issue 26: the final report says whether the neighbours are used
    assert "key-only gap" in err and "untrained single-frame" in err
    figures = summary["neighbours"]
    for key in ("key_only_gap", "blackout", "blackout_key_only", "recovered", "sensitivity"):
        assert key in figures
    weights = out / "temporal.safetensors"
    for name in ("tracks.json", "cache/index.json", "fit_state.pt"):
        assert (out / name).is_file()
    state = torch.load(out / "fit_state.pt", weights_only=True)
    assert state["step"] == 4
    cfg = load_config(None, [*FIT_PRESET, *shipped_settings(), *FIT_TINY_SET[1:]])
    model = build_model(cfg)
    meta = load_partial_weights(model, weights)
    assert json.loads(meta["semapose_config"])["model"]["temporal"] == "mlsme_smml"
    from semapose.inference.loading import load_model

    loaded = load_model(str(out))  # what `predict --weights DIR` does
    assert loaded.temporal and loaded.cfg.model.temporal == "mlsme_smml"
    from safetensors.torch import load_file

    before = load_file(str(weights))
    # the same command again: every stage is found done (tracks, cache, step 4), same weights
    assert main([*args, "--no-progress", *FIT_TINY_SET]) == 0
    after = load_file(str(weights))
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # other training settings cannot continue this folder's state: one line, exit 2
    capsys.readouterr()
    assert main([*args, "--lr", "0.5", "--no-progress", *FIT_TINY_SET]) == 2
    assert "fit_config" in capsys.readouterr().err


def test_fit_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "nope" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["fit", str(empty), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "empty" in err and "video" in err
    assert main(["fit", str(empty), "--out", str(tmp_path / "o"), "--steps", "0"]) == 2
    for flag in ("--blackout", "--degraded-keys"):
        assert main(["fit", str(empty), "--out", str(tmp_path / "o"), flag, "1.5"]) == 2
        assert flag in capsys.readouterr().err
