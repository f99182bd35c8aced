"""Produce ``src/semapose/weights/blazepose_temporal.safetensors`` (the shipped temporal weights).

Usage::

    python tools/train_blazepose_temporal.py [--seed 0] [--steps 1000] [--out PATH]

Trains (or reuses the finished, identical run of) variant ``ours`` of
``benchmarks/temporal_neighbours.py`` -- MLSME + SMML + pixel-wise frame fusion over
frozen BlazePose features, the curriculum of ``semapose fit``, synthetic train split +
the real training clips, ``two_people_72f`` and the tail of ``basketball_300f`` held
out -- and writes its temporal module and head with the provenance in the file's
metadata: the command, the git commit, the training settings and the run's held-out
figures (degraded-frame PCK with and without neighbours, key-only gap).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
DEST = ROOT / "src" / "semapose" / "weights" / "blazepose_temporal.safetensors"


def main(argv: list[str] | None = None) -> int:
    import temporal_neighbours as N
    import temporal_real as TR
    from semapose.models.partial import load_partial_weights, save_partial_weights

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=N.STEPS)
    ap.add_argument("--out", default=str(DEST))
    args = ap.parse_args(argv)
    TR.prepare(dict(TR.PROFILES["full"]), N.work_dir())
    result = N.run_one("ours", args.seed, args.steps)
    run = N.work_dir() / "neighbours" / f"ours_s{args.seed}"
    cfg, model = N.build("ours", args.seed)
    load_partial_weights(model, run / "temporal.safetensors")
    # deploy setting of the shipped BlazePose weights: no flip test (2x the backbone's
    # cost; `predict --flip` turns it on), as for `blazepose`
    cfg = dataclasses.replace(cfg, test=dataclasses.replace(cfg.test, flip_test=False))
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    held_out = {
        clip: {
            k: result["real"][split].get(k)
            for k in ("degraded_frames", "degraded_frames_key_only", "key_only_gap", "blackout")
        }
        for split, clip in TR.REAL_TESTS.items()
        if split in result.get("real", {})
    }
    provenance = {
        "tool": "tools/train_blazepose_temporal.py " + " ".join(argv or sys.argv[1:]),
        "git_commit": commit,
        "variant": "ours (benchmarks/temporal_neighbours.py)",
        "seed": args.seed,
        "steps": args.steps,
        "batch": N.BATCH,
        "curriculum": N.CURRICULUM,
        "held_out_pck_at_0.1_height_vs_teacher": held_out,
    }
    save_partial_weights(
        model,
        cfg,
        args.out,
        step=str(args.steps),
        semapose_trained_on=(
            "synthetic train split + real clips basketball_300f[:200], street_pedestrians_5f "
            "(two_people_72f and basketball_300f[220:] held out); "
            f"{args.steps} steps x {N.BATCH} clips, seed {args.seed}, curriculum "
            f"{N.CURRICULUM}; benchmarks/temporal_neighbours.py variant ours"
        ),
        semapose_provenance=json.dumps(provenance),
    )
    print(json.dumps(provenance, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
