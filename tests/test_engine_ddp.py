"""DDP on CPU (gloo, 2 processes started by torchrun) matches 1 process with the same
global batch: same per-step loss (mean over ranks) and the same final weights.

The toy model has no BatchNorm and no random masking in this test (``stochastic=False``):
BatchNorm statistics over a local batch of 2 differ from those over the global batch of
4 (SyncBatchNorm, ``train.sync_bn``, exists only on GPU), and the model's random draws
are seeded per (step, rank), so they differ between a 1- and a 2-process run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cli_helpers import torchrun_env

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    torch.set_num_threads(1)
    from engine_toy import ToyClips, ToyPose
    from semapose.config import load_config
    from semapose.engine.trainer import Trainer
    from semapose.engine.distributed import all_gather_objects, cleanup

    def main(out):
        cfg = load_config(None, [
            f"train.output_dir={out}", "train.batch_size=4", "train.epochs=2",
            "train.log_every=1", "train.checkpoint_every=0", "train.lr=1e-2",
            "train.backbone_lr=1e-2", "train.warmup_steps=2", "train.schedule=cosine",
            "data.num_workers=0", "train.plot=false",
        ])
        torch.manual_seed(0)
        model = ToyPose(stochastic=False)
        try:
            # a validation that needs every rank (like the real one, which gathers shards)
            evaluate = lambda m, step: {"mAP": float(sum(all_gather_objects(step)))}  # noqa: E731
            Trainer(cfg, model, ToyClips(n=20), evaluate=evaluate, progress=False).fit()
        finally:
            cleanup()

    if __name__ == "__main__":
        main(sys.argv[1])
    """
)


def _losses(out: Path) -> dict[int, float]:
    recs = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in recs if r["kind"] == "train"}


def _run_torchrun(script: Path, out: Path, nproc: int) -> None:
    env = torchrun_env(TESTS, SRC)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(script),
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    script = tmp_path / "train_toy.py"
    script.write_text(SCRIPT)
    one, two = tmp_path / "one", tmp_path / "two"
    namespace: dict = {}
    exec(compile(SCRIPT, str(script), "exec"), namespace)  # the 1-process run, in this process
    namespace["main"](str(one))
    _run_torchrun(script, two, 2)
    l1, l2 = _losses(one), _losses(two)
    assert sorted(l1) == sorted(l2) == list(range(1, 11))  # 20 samples / batch 4 x 2 epochs
    for step in l1:
        assert abs(l1[step] - l2[step]) <= 1e-5 * max(1.0, abs(l1[step])), step
    assert l1[10] < l1[1]  # it learns
    w1, w2 = load_file(str(one / "model.safetensors")), load_file(str(two / "model.safetensors"))
    for k in w1:
        torch.testing.assert_close(w1[k], w2[k], rtol=1e-5, atol=1e-6)
    events = [json.loads(x) for x in (two / "log.jsonl").read_text().splitlines()]
    assert events[0]["world_size"] == 2
    val = [(r["step"], r["mAP"]) for r in events if r["kind"] == "val"]
    assert val == [(5, 10.0), (10, 20.0)]  # both ranks validated; rank 0 logged the sum
    assert json.loads((two / "best.json").read_text())["step"] == 10
