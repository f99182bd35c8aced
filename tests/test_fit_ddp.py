"""``semapose fit`` under ``torchrun --nproc_per_node 2`` (gloo, CPU) gives the weights of one
process with the same global batch.

Tolerance: rtol 1e-4, atol 1e-5 on every tensor after 4 steps (the two runs sum the
same per-clip gradients in a different order: all-reduce of two half-batch means vs one
full-batch mean). Randomness that is drawn per rank -- MLSME's masks, BatchNorm
statistics over a local batch -- is switched off here (``model.patch_masking=false``,
``model.frame_masking=false``, ``model.pixel_decoder=0``); the batches and the
curriculum's blackouts are drawn for the global batch and split by rank, so they agree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cli_helpers import FIT_TINY_SET, torchrun_env
from semapose.cli import main
from test_fit_cli import videos  # noqa: F401  (the module-scoped fixture)

SRC = Path(__file__).resolve().parents[1] / "src"
EXACT = [
    "model.patch_masking=false",
    "model.frame_masking=false",
    "model.pixel_decoder=0",
]


@pytest.mark.slow
def test_fit_two_gloo_processes_match_one(videos: Path, tmp_path: Path) -> None:  # noqa: F811
    common = ["--steps", "4", "--no-progress", "--blackout", "0.5", *FIT_TINY_SET, *EXACT]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["fit", str(videos), "--out", str(one), "--batch", "4", *common]) == 0
    # the random tiny teacher is sure of no joint (every target weight 0: nothing would
    # train); pretend it is sure of all, then train again on that cache, in both runs
    rows_file = one / "cache" / "rows.npz"
    rows = dict(np.load(rows_file))
    rows["weights"][:] = 1.0
    np.savez(rows_file, **rows)
    for name in ("fit_state.pt", "temporal.safetensors"):
        (one / name).unlink()
    shutil.copytree(one / "cache", two / "cache")
    shutil.copy(one / "tracks.json", two / "tracks.json")
    # the record of the inputs the work files belong to (issue 24): without it fit starts over
    shutil.copy(one / "fit.json", two / "fit.json")
    assert main(["fit", str(videos), "--out", str(one), "--batch", "4", *common]) == 0
    env = torchrun_env(SRC)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "semapose.cli",
        "fit",
        str(videos),
        "--out",
        str(two),
        "--batch",
        "2",  # clips per process: the same global batch of 4
        "--device",
        "cpu",
        *common,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w1 = load_file(str(one / "temporal.safetensors"))
    w2 = load_file(str(two / "temporal.safetensors"))
    assert w1.keys() == w2.keys()
    for k in w1:
        torch.testing.assert_close(w1[k], w2[k], rtol=1e-4, atol=1e-5, msg=k)
    # trained: the weights are not the freshly built model's
    from semapose.config import load_config
    from semapose.engine.cache_fit import FIT_PRESET
    from semapose.models.build import build_model
    from semapose.models.partial import deploy_state

    torch.manual_seed(0)
    fresh = deploy_state(build_model(load_config(None, [*FIT_PRESET, *FIT_TINY_SET[1:], *EXACT])))
    assert any(not torch.equal(fresh[k], w1[k]) for k in w1)
