"""Issue 23's goal for the load road, measured by ``tools/import_walk.py``: every road
(predict --weights for each kind of value, from_pretrained, export, demo, train's
backbone weights) enters each file at most twice and climbs back up at most 5 times;
and what the one pass reads carries what building needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from blazepose_helpers import tflite_file
from semapose.errors import CheckpointError

ROOT = Path(__file__).resolve().parents[1]


def test_every_load_road_goes_down_once(tmp_path: Path) -> None:
    tflite_file()  # skips without the cached asset (the BlazePose roads need it)
    out = tmp_path / "walk.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "import_walk.py"), "--json", str(out)],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    roads = json.loads(out.read_text(encoding="utf-8"))
    assert len(roads) == 9, list(roads)
    for road, walk in roads.items():
        assert walk["climbs"] <= 5 and walk["max_entries"] <= 2, (road, walk)


def test_the_default_read_carries_its_backbone(tmp_path: Path) -> None:
    """One pass: the default's temporal+head file comes with its backbone's file read
    (the .tflite's cached conversion and the fitted head channels), nothing left to fetch."""
    from semapose.models.backbones.spec import OWN_FORMATS
    from semapose.weights.read import read_weights
    from semapose.weights.resolve import resolve_weights

    tflite_file()
    file = read_weights(resolve_weights(None), OWN_FORMATS)
    assert file.config is not None and file.meta.get("semapose_parts")
    assert file.references is not None and file.references.value == "blazepose_full"
    backbone = file.backbone
    assert backbone is not None and backbone.own is not None and backbone.conversion is not None
    assert "blazepose_head.safetensors" in backbone.companions
    assert backbone.config is None  # read as the backbone's weights, not as a model


def test_a_blazepose_backbone_file_of_another_suffix_goes_to_its_converter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As before the one pass: BlazePose's initial weights in any file but a safetensors
    are read by its converter, which names the file it cannot read."""
    from semapose.config import Config
    from semapose.models.build import build_model, load_pretrained

    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path / "cache"))
    cfg = Config()
    cfg.model.backbone = "blazepose"
    cfg.data.image_size = (256, 256)
    cfg.model.temporal = "none"
    cfg.data.offsets = []
    with torch.device("meta"):
        model = build_model(cfg)
    junk = tmp_path / "weights.pth"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(CheckpointError, match=r"weights\.pth: not a TFLite model file"):
        load_pretrained(model, "blazepose", str(junk))
