"""``semapose export --format onnx``: two graphs that reproduce PyTorch's heatmaps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_predict_helpers import SIZE, save_checkpoint, tiny_cfg, tiny_model

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from semapose.cli import main  # noqa: E402
from semapose.inference.export import HEATMAP_TOLERANCE  # noqa: E402


def test_export_cli_writes_two_graphs_that_match_pytorch(tmp_path: Path, capsys) -> None:
    cfg = tiny_cfg()
    ckpt = save_checkpoint(tmp_path / "tiny.safetensors", cfg, seed=3)
    out = tmp_path / "onnx"
    assert main(["export", "--weights", str(ckpt), "--format", "onnx", "--out", str(out)]) == 0
    assert "ONNX Runtime vs PyTorch" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_frames"] == 5 and manifest["key_index"] == 2
    assert manifest["max_abs_diff_heatmaps"] <= HEATMAP_TOLERANCE

    # independent check: full clip model vs encoder.onnx -> decoder.onnx, new batch sizes
    model = tiny_model(cfg, seed=3)
    rng = np.random.default_rng(7)
    clip = rng.standard_normal((3, 5, 3, *SIZE)).astype(np.float32)
    enc = ort.InferenceSession(str(out / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(out / "decoder.onnx"), providers=["CPUExecutionProvider"])
    feats = enc.run(None, {"images": clip.reshape(15, 3, *SIZE)})[0]
    heat = dec.run(None, {"features": feats.reshape(3, 5, *feats.shape[1:])})[0]
    with torch.inference_mode():
        expected = model(torch.from_numpy(clip)).numpy()
    assert heat.shape == expected.shape == (3, 17, SIZE[0] // 4, SIZE[1] // 4)
    assert np.abs(heat - expected).max() <= HEATMAP_TOLERANCE
    assert np.abs(expected).max() > 10 * HEATMAP_TOLERANCE  # the comparison is not vacuous


def test_export_of_a_broken_checkpoint_is_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nope")
    assert main(["export", "--weights", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.safetensors" in err[0]
