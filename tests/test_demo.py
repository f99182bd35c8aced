"""``semapose demo``: files written, paths printed, scores computed (tiny random weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_predict_helpers import save_checkpoint, tiny_cfg

pytest.importorskip("torch")

from semapose.cli import main  # noqa: E402
from semapose.io.video import FrameSource  # noqa: E402


def test_demo_writes_videos_and_json(tmp_path: Path, capsys) -> None:
    temporal = save_checkpoint(tmp_path / "t.safetensors", tiny_cfg())
    single = save_checkpoint(tmp_path / "s.safetensors", tiny_cfg(temporal="none"), seed=1)
    out = tmp_path / "demo"
    rc = main(
        [
            "demo",
            "--out",
            str(out),
            "--weights",
            str(temporal),
            "--single-weights",
            str(single),
            "--frames",
            "10",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    for rel in (
        "clip.mp4",
        "video/clip.mp4",
        "side_by_side.mp4",
        "posetrack/clip.json",
        "coco/clip.json",
        "ground_truth.json",
    ):
        assert (out / rel).is_file(), rel
        assert str(out / rel) in printed
    assert "PCKh@0.5" in printed
    clip, sbs = FrameSource(out / "clip.mp4"), FrameSource(out / "side_by_side.mp4")
    assert sum(1 for _ in sbs.frames()) == 10
    assert sbs.width > 2 * clip.width - 10  # two panels
    # issue 26: the temporal weights' own key-frame-alone pass is the third panel
    assert sbs.width > 3 * clip.width - 10
    assert "key frame alone" in printed and "panels: single-frame" in printed


def test_demo_without_bundled_weights_says_what_to_do(tmp_path: Path, capsys, monkeypatch) -> None:
    from semapose.weights import resolve

    monkeypatch.setattr(resolve, "BUNDLED_DIR", tmp_path / "no_weights_here")
    assert main(["demo", "--out", str(tmp_path / "d"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "bundled weights" in err and "--weights" in err
