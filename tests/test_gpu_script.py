"""benchmarks/gpu.sh: its CPU dry run executes every GPU check's code path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_script_dry_run_runs_every_check(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--dry-run", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["dry_run"] is True
    variants = {"single_frame", "temporal_difference", "heatmap_warping", "ours_full"}
    assert set(data["equality"]) == variants
    for v in variants:  # CPU against CPU: the same numbers
        assert data["equality"][v]["fp32_max_abs_diff"] == 0.0
        assert data["training_bf16"][v]["steps_per_s"] > 0
    keys = {
        f"{b}/{v}/{m}"
        for b in ("blazepose", "hrnet_w48")
        for v in ("single_frame", "ours_full")
        for m in ("eager", "compile")
    }
    assert set(data["throughput"]) == keys
    assert all("person_frames_per_s" in r for r in data["throughput"].values())
    # issue 26: the temporal training run at a larger setting, with its neighbour figures
    fit = data["temporal_fit"]
    assert "error" not in fit, fit.get("error")
    for name in ("ours", "adapter"):
        assert fit[name]["steps_per_s"] > 0 and "key_only_gap" in fit[name]


def test_gpu_script_refuses_to_measure_without_a_gpu(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():  # pragma: no cover - only meaningful without CUDA
        return
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--out", str(tmp_path / "g.json")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=120,
    )
    assert proc.returncode == 2 and "--dry-run" in proc.stderr
    assert not (tmp_path / "g.json").exists()
