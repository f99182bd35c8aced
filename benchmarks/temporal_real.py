"""The temporal module on BlazePose features, trained without labels on real video.

Usage::

    python benchmarks/temporal_real.py [--profile full|smoke] [--variants a,b] [--seeds 0,1,2]
                                       [--jobs 2] [--fresh]

Protocol (every variant: same cache, same batches, same steps; see docs/benchmarks.md):

1. Data. Synthetic video with exact ground truth (``semapose.data.synthetic``: a
   train and a test split, degraded by the generator) and the real clips of
   ``../shared/data/videos``: person tracks from ``predict``'s detector + tracker,
   degraded by us on spans of consecutive frames (:mod:`semapose.fitting`).
   ``two_people_72f`` is held out from training (measurement only).
2. Cache. Every crop goes once through the frozen BlazePose backbone (fp16 features);
   real crops get the teacher's targets (the single-frame model -- BlazePose features +
   its 17-slot head -- on the *clean* crop, weighted by its confidence); synthetic
   crops get the ground truth.
3. Training (per variant and seed): the temporal module and the head, on clips of
   the cache (synthetic train + real train mixed), ``steps`` x ``batch``.
4. Measurement. (1) synthetic test split, ground-truth boxes, no flip: PoseTrack mAP
   (our poseval-exact evaluator), all / clean / degraded frames, per type and
   severity. (2) held-out real clip degraded by us: PCK against the teacher's
   keypoints on the clean frames (threshold: a fraction of the person's height, the
   crop height / bbox enlargement), joints the teacher is sure of only, clean input
   vs degraded input, per degradation type.

Writes ``benchmarks/results/temporal_real[_PROFILE].{json,md}`` and the training
curves ``docs/figures/temporal_real_curves.png``. Work files (synthetic data, tracks,
the cache, per-run results) live in ``runs/temporal_real/PROFILE/`` and are reused.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from harness.cli import parser
from harness.machine import command_line, machine_info
from harness.models import build_fit_variant, key_only
from harness.paths import FIGURES, ROOT, videos_dir
from harness.report import write_results
from harness.runs import collect_runs, in_parallel, run_worker
from harness.timing import Clock
from temporal_real_eval import (
    PCK_FRACTION,
    TEACHER_MIN_SCORE,
    eval_real,
    eval_synthetic,
    gate_stats,
    rows_of,
)

HELD_OUT = ("two_people_72f",)
#: the real clips (their tracks) used for training
TRAIN_VIDEOS = ("basketball_300f", "street_pedestrians_5f")
#: a second held-out real clip: the tail of a training video, cut off with a gap of
#: frames used by neither side (``video: (last training frame, first test frame)``)
HELD_OUT_TAIL = {"basketball_300f": (199, 220)}
#: cache splits scored as held-out real clips, and their names in the tables
REAL_TESTS = {"real_test": "two_people_72f", "real_test2": "basketball_300f[220:]"}


VARIANTS: dict[str, list[str]] = {
    "zero_shot": ["model.temporal=none"],  # evaluated untrained
    "single_frame": ["model.temporal=none"],
    "temporal_difference": ["model.temporal=temporal_difference"],
    "heatmap_warping": [
        "model.temporal=heatmap_warping",
        "model.dim=16",
        "model.warp_dilations=[3]",
    ],
    "ours_full": ["model.temporal=mlsme_smml"],
    # changes within the paper's description (docs/paper_notes.md §7), seed 0 first
    "ours_pixel": ["model.temporal=mlsme_smml", "model.pixel_decoder=32"],
    "ours_pixel_pose01": ["model.temporal=mlsme_smml", "model.pixel_decoder=32", "loss.pose=0.1"],
    # MLSME pre-trained alone on its masked context reconstruction (PRETRAIN_STEPS), then
    # the same training as every variant
    "ours_pixel_pretrain": ["model.temporal=mlsme_smml", "model.pixel_decoder=32"],
    # trained only on clips whose key frame is degraded (same steps and batch size)
    "single_frame_degkeys": ["model.temporal=none"],
    "temporal_difference_degkeys": ["model.temporal=temporal_difference"],
    "ours_pixel_degkeys": ["model.temporal=mlsme_smml", "model.pixel_decoder=32"],
    # issue 26: pixel-wise fusion over the frames (benchmarks/temporal_neighbours.py trains it)
    "ours_fuse": ["model.temporal=mlsme_smml", "model.pixel_decoder=32", "model.frame_fusion=16"],
    "ours_no_masking": [
        "model.temporal=mlsme_smml",
        "model.patch_masking=false",
        "model.frame_masking=false",
    ],
}
PIXEL_MOTION = ("temporal_difference", "heatmap_warping")
#: the variant the goals are checked for: the shipped configuration, else the base one
OURS = ("ours_pixel", "ours_full")

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "synth_train": 12,
        "synth_test": 6,
        "synth_frames": 24,
        "synth_size": 256,
        "steps": 200,
        "batch": 8,
        "seeds": [0, 1, 2],
        "variants": ["single_frame", "temporal_difference", "heatmap_warping", "ours_full"],
        "overrides": [],
        "rate": 0.5,
    },
    # the pipeline end to end in about a minute: tiny backbone, tiny everything
    "smoke": {
        "synth_train": 2,
        "synth_test": 1,
        "synth_frames": 10,
        "synth_size": 128,
        "steps": 4,
        "batch": 2,
        "seeds": [0],
        "variants": ["single_frame", "temporal_difference", "ours_full"],
        "overrides": [
            "data.image_size=[64,64]",
            "model.backbone=tiny",
            "model.backbone_weights=",
            "model.cube_size=4",
        ],
        "rate": 0.5,
        "real_frames": 12,
    },
}
PRETRAIN_STEPS = 150
__all__ = ["PCK_FRACTION", "TEACHER_MIN_SCORE", "eval_real", "eval_synthetic", "rows_of"]


# ----------------------------------------------------------------------------- config


def build(profile: dict[str, Any], variant: str, seed: int = 0) -> tuple[Any, Any]:
    """The config and model (eval mode) of ``variant`` under ``profile``'s overrides."""
    return build_fit_variant(VARIANTS[variant] + profile["overrides"], seed)


# ----------------------------------------------------------------------------- data


def prepare(profile: dict[str, Any], work: Path) -> Path:
    """Synthetic data, real tracks and the shared feature cache (reused when present)."""
    from semapose.data.synthetic import generate_dataset
    from semapose.fitting.build import make_cache

    cache = work / "cache"
    if (cache / "index.json").is_file():
        return cache
    size = int(profile["synth_size"])
    syn = work / "synthetic"
    sets = []
    for split, n, seed in (
        ("train", profile["synth_train"], 0),
        ("test", profile["synth_test"], 1),
    ):
        ann = syn / "annotations" / split
        if not ann.is_dir():
            generate_dataset(
                syn,
                n,
                profile["synth_frames"],
                seed,
                size=(size, size),
                split=split,
                rate=0.4,
                write_video=False,
            )
        sets.append((f"synthetic_{split}", sorted(ann.glob("*.json"))))
    runs, splits = real_runs(profile, work)
    _, model = build(profile, "single_frame")
    t0 = time.perf_counter()
    make_cache(
        cache,
        model,
        runs=runs,
        run_splits=splits,
        synthetic=sets,
        seed=0,
        rate=profile["rate"],
        progress=True,
    )
    (work / "cache_seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
    return cache


def real_runs(profile: dict[str, Any], work: Path) -> tuple[list[Any], list[str]]:
    from semapose.fitting import tracks as U

    path = work / "tracks.json"
    if path.is_file():
        runs = U.load_runs_checked(path)
    elif "real_frames" in profile:  # smoke: a generated clip, one fixed box
        runs = [smoke_video(work, int(profile["real_frames"]))]
        U.save_runs(path, runs)
    else:
        runs = []
        for name in TRAIN_VIDEOS + HELD_OUT:
            video = videos_dir() / f"{name}.mp4"
            if video.is_file():
                runs += U.track_video(video, min_length=5)
        runs = split_tails(runs)
        U.save_runs(path, runs)
    splits = []
    for r in runs:
        stem = Path(r.video).stem
        if stem in HELD_OUT or "smoke" in r.video:
            splits.append("real_test")
        elif stem in HELD_OUT_TAIL and r.frames[0] >= HELD_OUT_TAIL[stem][1]:
            splits.append("real_test2")
        else:
            splits.append("real_train")
    return runs, splits


def split_tails(runs: list[Any], min_length: int = 5) -> list[Any]:
    """Cut the runs of ``HELD_OUT_TAIL`` videos into a training head and a held-out tail."""
    from semapose.fitting.tracks import TrackRun

    out = []
    for r in runs:
        cut = HELD_OUT_TAIL.get(Path(r.video).stem)
        if cut is None:
            out.append(r)
            continue
        head = [i for i, f in enumerate(r.frames) if f <= cut[0]]
        tail = [i for i, f in enumerate(r.frames) if f >= cut[1]]
        for idx in (head, tail):
            if len(idx) >= min_length:
                frames, boxes = [r.frames[i] for i in idx], [r.boxes[i] for i in idx]
                out.append(TrackRun(r.video, r.track_id, frames, boxes))
    return out


def smoke_video(work: Path, frames: int) -> Any:
    import cv2
    import numpy as np

    from semapose.fitting.tracks import TrackRun

    folder = work / "smoke_video"
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(frames):
        img = np.full((120, 100, 3), 60, np.uint8)
        cv2.rectangle(img, (30 + 2 * t, 20), (60 + 2 * t, 100), (200, 180, 40), -1)
        cv2.imwrite(str(folder / f"{t:06d}.jpg"), img)
    return TrackRun(
        str(folder),
        0,
        list(range(frames)),
        [[28.0 + 2 * t, 18.0, 34.0, 84.0] for t in range(frames)],
    )


# ----------------------------------------------------------------------------- one run


def run_one(profile_name: str, variant: str, seed: int, work: Path) -> dict[str, Any]:
    """Train one variant/seed on the cache, evaluate it; cached in ``work/runs``."""
    import numpy as np
    import torch

    from semapose.data.feature_store import FeatureStore
    from semapose.engine.cache_fit import CacheFitConfig, fit_on_cache
    from semapose.models.partial import save_partial_weights

    torch.set_num_threads(1)
    profile = PROFILES[profile_name]
    out = work / "runs" / f"{variant}_s{seed}"
    done = out / "result.json"
    if done.is_file():
        result: dict[str, Any] = json.loads(done.read_text())
        if "key_only" not in result:  # added later: eval only, from the saved weights
            result["key_only"] = key_only_eval(profile, variant, seed, work, out)
            from semapose.io.atomic import atomic_write_json

            atomic_write_json(done, result, indent=1)
        return result
    out.mkdir(parents=True, exist_ok=True)
    cache = FeatureStore(work / "cache")
    cfg, model = build(profile, variant, seed)
    train_rows = rows_of(cache, ("synthetic_train", "real_train"))
    if variant.endswith("_degkeys"):  # only clips whose key frame is degraded
        train_rows = train_rows[np.array([str(cache.rows["event"][r]) != "" for r in train_rows])]
    fc = CacheFitConfig(steps=profile["steps"], batch_size=profile["batch"], seed=seed)
    clock = Clock()
    if variant == "zero_shot":
        log: list[dict[str, Any]] = []
    else:
        if variant.endswith("_pretrain"):  # MLSME first: masked context reconstruction only
            import dataclasses

            only_context = dataclasses.replace(cfg.loss, heatmap=0.0, pose=0.0, context=1.0)
            pre_cfg = dataclasses.replace(cfg, loss=only_context)
            pre = dataclasses.replace(fc, steps=PRETRAIN_STEPS, head_lr=0.0)
            fit_on_cache(
                model, pre_cfg, cache, train_rows, pre, out_dir=out / "pretrain", resume=True
            )
            for p in model.head.parameters():  # the pre-training froze the head; unfreeze
                p.requires_grad_(True)
        log = fit_on_cache(model, cfg, cache, train_rows, fc, out_dir=out, resume=True)
    train_s, train_cpu = clock.wall, clock.cpu
    model.eval()
    result = {
        "variant": variant,
        "seed": seed,
        "train_seconds": train_s,
        "train_cpu_seconds": train_cpu,
        "log": log,
        "synthetic": eval_synthetic(model, cfg, cache, out),
        "real": eval_real(model, cfg, cache),
        "params": model.param_count(inference_only=True),
        "gate": gate_stats(model),
    }
    if variant != "zero_shot":
        save_partial_weights(model, cfg, out / "temporal.safetensors")
    result["key_only"] = key_only_eval(profile, variant, seed, work, out)
    from semapose.io.atomic import atomic_write_json

    atomic_write_json(done, result, indent=1)
    del np
    return result


def key_only_eval(
    profile: dict[str, Any], variant: str, seed: int, work: Path, out: Path
) -> dict[str, Any]:
    """The trained model with every supporting frame replaced by the key frame.

    What is left of a variant's gain without any temporal information: the part its
    extra capacity on the key frame's features explains.
    """
    from semapose.data.feature_store import FeatureStore
    from semapose.models.partial import load_partial_weights

    cache = FeatureStore(work / "cache")
    cfg, model = build(profile, variant, seed)
    if (out / "temporal.safetensors").is_file():
        load_partial_weights(model, out / "temporal.safetensors")
    model.eval()
    key_only(model)
    syn = eval_synthetic(model, cfg, cache, out / "key_only")
    real = eval_real(model, cfg, cache)
    return {
        "synthetic": {key: syn.get(key) for key in ("mAP", "clean", "degraded")},
        "real": {
            "clean_input": real.get("clean_input", {}),
            "degraded_input": {
                key: real.get("degraded_input", {}).get(key)
                for key in ("all", "clean_frames", "degraded_frames")
            },
        },
    }


def launch(profile: str, variant: str, seed: int, work: Path) -> dict[str, Any]:
    """One run's result: reused when finished, else made by this script's worker."""
    done = work / "runs" / f"{variant}_s{seed}" / "result.json"
    if not done.is_file() or "key_only" not in json.loads(done.read_text()):
        args = ["--profile", profile, "--work", str(work), "--one", f"{variant}:{seed}"]
        proc = run_worker(__file__, args)
        if proc.returncode != 0:
            raise RuntimeError(f"{variant} seed {seed} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.read_text())
    return result


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, out="--results")
    ap.add_argument("--profile", default="full", choices=sorted(PROFILES))
    ap.add_argument("--variants", default="")
    ap.add_argument("--seeds", default="")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--fresh", action="store_true", help="redo the runs (not the cache)")
    ap.add_argument("--work", default="")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    profile = dict(PROFILES[args.profile])
    work = Path(args.work) if args.work else ROOT / "runs" / "temporal_real" / args.profile
    work.mkdir(parents=True, exist_ok=True)
    if args.one:
        variant, seed = args.one.split(":")
        run_one(args.profile, variant, int(seed), work)
        return 0
    variants = args.variants.split(",") if args.variants else list(profile["variants"])
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(profile["seeds"])
    profile["seeds"] = seeds
    t0 = time.perf_counter()
    cache = prepare(profile, work)
    if args.fresh:
        import shutil

        for v in variants:
            for s in seeds:
                shutil.rmtree(work / "runs" / f"{v}_s{s}", ignore_errors=True)
    jobs = [("zero_shot", 0)] + [(v, s) for s in seeds for v in variants]
    in_parallel(lambda j: launch(args.profile, j[0], j[1], work), jobs, args.jobs)
    # every finished run of the work folder counts (a variant may have fewer seeds than
    # another when the CPU budget ran out; the tables say how many)
    runs = collect_runs(work / "runs", VARIANTS)
    results = [r for rs in runs.values() for r in rs]
    from semapose.data.feature_store import FeatureStore

    fc = FeatureStore(cache)
    secs = (
        (work / "cache_seconds.txt").read_text().strip()
        if (work / "cache_seconds.txt").is_file()
        else "?"
    )
    from temporal_real_report import _train_seconds, aggregate, markdown, plot, verdict

    agg = aggregate(runs)
    result = {
        "command": command_line(),
        "machine": machine_info(threads=1),
        "profile": profile,
        "cache": {
            "rows": len(fc),
            "clean_rows": int(fc.clean.shape[0]),
            "seconds": secs,
            "clips": len(fc.clips),
        },
        "wall_minutes": (time.perf_counter() - t0) / 60,
        "train_cpu_minutes": sum(r["train_cpu_seconds"] for r in results) / 60,
        "train_wall_minutes": sum(_train_seconds(r) for r in results) / 60,
        "runs": runs,
        "aggregate": agg,
        "verdict": verdict(agg),
    }
    name = "temporal_real" if args.profile == "full" else f"temporal_real_{args.profile}"
    if args.profile == "full":
        plot(result, FIGURES / "temporal_real_curves.png")
    write_results(name, result, markdown(result), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
