"""Does the temporal module take from the neighbouring frames what the key frame lost? (issue 26)

Usage::

    python benchmarks/temporal_neighbours.py [--variants a,b] [--seeds 0,1,2] [--jobs 2]
                                             [--steps N] [--report-only]

Same data and cache as ``benchmarks/temporal_real.py`` (synthetic train/test split with
exact ground truth; real clips tracked by ``predict``'s detector + tracker and degraded
by us; the teacher = the single-frame model on the clean crop). Held out from training:
``two_people_72f`` and the tail of ``basketball_300f`` (frames >= 220; its frames
200..219 are used by neither side).

Every trained variant gets the same steps, batch, seeds and *curriculum*: half of
every batch has a degraded key frame, and 15 % of the key frames are replaced by the
features of an all-black crop (the person lost; the target stays the clean answer), so
that only the neighbours can lower the loss there. Variants:

* ``zero_shot`` -- BlazePose + its head, untrained.
* ``single_frame`` -- the head alone trained (no temporal layers).
* ``adapter`` -- **the single-frame adapter of equal capacity**: *our* module, the same
  layers, trained and tested with every supporting frame replaced by the key frame.
* ``ours`` -- MLSME + SMML + pixel-wise frame fusion (``model.frame_fusion``).
* ``ours_nofuse`` -- MLSME + SMML as shipped before issue 26 (pixel decoder), same curriculum.
* ``temporal_difference``, ``heatmap_warping`` -- the pixel-motion baselines.

Figures (docs/benchmarks.md): synthetic test mAP (clean / degraded frames) with and
without neighbours; on each held-out real clip, PCK@0.1 of person height against the
teacher on degraded frames with and without neighbours (the *key-only gap*), the
*occluded-key recovery* (key blacked out / occluded, neighbours clean) and the
*neighbour sensitivity* (:mod:`semapose.engine.neighbour_use`).

Writes ``benchmarks/results/temporal_neighbours.{json,md}``; runs live in
``runs/temporal_real/full/neighbours/`` (resumable: a killed run continues from its
checkpoint, a finished one is reused).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import temporal_real as TR
from harness.cli import parser
from harness.models import build_fit_variant, key_only
from harness.paths import ROOT
from harness.runs import in_parallel, run_worker
from harness.timing import Clock

FUSE = ["model.temporal=mlsme_smml", "model.pixel_decoder=32", "model.frame_fusion=16"]
VARIANTS: dict[str, list[str]] = {
    "zero_shot": ["model.temporal=none"],
    "single_frame": ["model.temporal=none"],
    "adapter": FUSE,
    "ours": FUSE,
    "ours_nofuse": ["model.temporal=mlsme_smml", "model.pixel_decoder=32"],
    "temporal_difference": ["model.temporal=temporal_difference"],
    "heatmap_warping": [
        "model.temporal=heatmap_warping",
        "model.dim=16",
        "model.warp_dilations=[3]",
    ],
}
#: variants trained and tested on the key frame alone
KEY_ONLY = ("adapter",)
PIXEL_MOTION = ("temporal_difference", "heatmap_warping")
STEPS = 1000
BATCH = 8
CURRICULUM = {"degraded_key_share": 0.5, "blackout": 0.15}
#: launch order: the comparison that matters first, then seeds, then the rest
ORDER = [
    ("ours", 0),
    ("adapter", 0),
    ("ours", 1),
    ("temporal_difference", 0),
    ("single_frame", 0),
    ("adapter", 1),
    ("ours", 2),
    ("adapter", 2),
    ("temporal_difference", 1),
    ("ours_nofuse", 0),
    ("temporal_difference", 2),
    ("heatmap_warping", 0),
]


def work_dir() -> Path:
    return ROOT / "runs" / "temporal_real" / "full"


def build(variant: str, seed: int) -> tuple[Any, Any]:
    return build_fit_variant(VARIANTS[variant], seed)


def real_threshold(cfg: Any, cache: Any) -> float:
    return float(TR.PCK_FRACTION * cache.heatmap_size[0] / float(cfg.data.bbox_enlarge))


def evaluate(model: Any, cfg: Any, cache: Any, out: Path) -> dict[str, Any]:
    """Synthetic mAP (clip, key-only) and, per held-out real clip, the neighbour report."""
    import numpy as np

    from semapose.engine.neighbour_use import hits, neighbour_report, predict

    res: dict[str, Any] = {"synthetic": TR.eval_synthetic(model, cfg, cache, out)}
    decode = key_only(model)
    ko = TR.eval_synthetic(model, cfg, cache, out / "key_only")
    model.decode_clip = decode
    res["synthetic_key_only"] = {k: ko.get(k) for k in ("mAP", "clean", "degraded")}
    thr = real_threshold(cfg, cache)
    offsets = list(cfg.data.offsets)
    res["real"] = {}
    for split in TR.REAL_TESTS:
        rows = TR.rows_of(cache, (split,))
        if len(rows) == 0:
            continue
        report, per_joint = neighbour_report(model, cache, rows, offsets, thr, TR.TEACHER_MIN_SCORE)
        counted = per_joint["counted"]
        events = np.array([str(e) for e in cache.rows["event"][rows]])
        _, c_clean = predict(model, cache, rows, offsets, "clean")
        clean_hit = hits(c_clean, cache, rows, thr) & counted
        entry = report.to_dict()
        entry["clean_input"] = 100.0 * clean_hit.sum() / max(1, counted.sum())
        deg_hit = np.zeros_like(counted)
        deg_hit[events != ""] = per_joint["degraded"]
        entry["by_type"] = {
            t: 100.0 * (deg_hit & counted)[events == t].sum() / max(1, counted[events == t].sum())
            for t in sorted(set(events) - {""})
        }
        entry["threshold_heatmap_px"] = thr
        res["real"][split] = entry
        np.savez_compressed(out / f"hits_{split}.npz", **per_joint)
    return res


def run_one(variant: str, seed: int, steps: int) -> dict[str, Any]:
    import torch

    from semapose.data.feature_store import FeatureStore
    from semapose.engine.cache_fit import CacheFitConfig, fit_on_cache
    from semapose.io.atomic import atomic_write_json
    from semapose.models.partial import save_partial_weights

    torch.set_num_threads(1)
    work = work_dir()
    out = work / "neighbours" / f"{variant}_s{seed}"
    done = out / "result.json"
    if done.is_file():
        result: dict[str, Any] = json.loads(done.read_text())
        return result
    out.mkdir(parents=True, exist_ok=True)
    cache = FeatureStore(work / "cache")
    cfg, model = build(variant, seed)
    rows = TR.rows_of(cache, ("synthetic_train", "real_train"))
    fc = CacheFitConfig(
        steps=steps,
        batch_size=BATCH,
        seed=seed,
        key_only=variant in KEY_ONLY,
        checkpoint_every=50,
        **CURRICULUM,
    )
    clock = Clock()
    log: list[dict[str, Any]] = []
    if variant != "zero_shot":
        log = fit_on_cache(model, cfg, cache, rows, fc, out_dir=out, resume=True)
    train_cpu = clock.cpu
    model.eval()
    if variant != "zero_shot":
        save_partial_weights(model, cfg, out / "temporal.safetensors", step=str(steps))
    if variant in KEY_ONLY:
        key_only(model)
    result = {
        "variant": variant,
        "seed": seed,
        "steps": steps,
        "fit": {k: v for k, v in fc.__dict__.items()},
        "train_wall_seconds": clock.wall,
        "train_cpu_seconds": train_cpu,
        "log": log,
        "params": model.param_count(inference_only=True),
        **evaluate(model, cfg, cache, out),
    }
    atomic_write_json(done, result, indent=1)
    return result


def launch(variant: str, seed: int, steps: int) -> dict[str, Any] | None:
    done = work_dir() / "neighbours" / f"{variant}_s{seed}" / "result.json"
    state = done.parent / "fit_state.pt"
    # a run another invocation is training (its checkpoint is recent): wait for it
    while not done.is_file() and state.is_file() and time.time() - state.stat().st_mtime < 600:
        time.sleep(30)
    if not done.is_file():
        log = done.parent.parent / f"{variant}_s{seed}.log"
        proc = run_worker(__file__, ["--one", f"{variant}:{seed}", "--steps", str(steps)], log)
        if proc.returncode != 0:
            print(f"{variant} seed {seed} failed (see {log})", file=sys.stderr)
            return None
    result: dict[str, Any] = json.loads(done.read_text())
    return result


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, out="--results")
    ap.add_argument("--variants", default="", help="comma-separated (default: the launch order)")
    ap.add_argument("--seeds", default="", help="comma-separated (default: the launch order)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--report-only", action="store_true", help="tables from the finished runs")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        variant, seed = args.one.split(":")
        run_one(variant, int(seed), args.steps)
        return 0
    t0 = time.perf_counter()
    TR.prepare(dict(TR.PROFILES["full"]), work_dir())
    jobs = [("zero_shot", 0), *ORDER]
    if args.variants:
        keep = args.variants.split(",")
        jobs = [j for j in jobs if j[0] in keep]
    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",")]
        jobs = [j for j in jobs if j[1] in seeds]
    if not args.report_only:
        in_parallel(lambda j: launch(j[0], j[1], args.steps), jobs, args.jobs)
    from temporal_neighbours_report import report

    report(args.out, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
