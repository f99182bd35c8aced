"""Accuracy under degradation: every temporal variant on the same tiny backbone, data and budget.

Usage::

    python benchmarks/accuracy.py --profile quick   # < 10 min on 2 CPU cores (a smoke run)
    python benchmarks/accuracy.py --profile full    # about 35 min on 2 CPU cores
    # follow-ups on the full profile's data and stage 1 (docs/benchmarks.md):
    python benchmarks/accuracy.py --profile full_t5 \
        --variants single_frame,temporal_difference,ours_no_masking,ours_full
    python benchmarks/accuracy.py --profile full_long \
        --variants single_frame,temporal_difference,ours_full

Protocol (the same for every variant; docs/benchmarks.md explains the choices):

1. Synthetic degraded video (``semapose.data.synthetic.generate_dataset``): a
   ``train`` split and held-out ``val`` and ``test`` splits (different per-split
   seeds, so no video is shared), generated once into ``runs/bench_cache/``.
2. Stage 1, per seed: the tiny backbone + head trained single-frame from scratch
   (the stand-in for a COCO-pretrained backbone).
3. Stage 2, per seed and variant: that backbone **frozen** (the paper preset's
   choice), the variant's temporal module (and the head) trained for the same
   number of steps with the same batches: single-frame (head only), temporal
   difference, deformable (heatmap-)warping, ours without masking, ours
   patch-level only, ours frame-level only, ours with concatenation instead of
   SMML, ours full.
4. PoseTrack mAP (our poseval-exact evaluator, ground-truth boxes, flip test) on
   the val and test splits: all frames, clean frames, degraded frames, per
   degradation type, per (type, severity) and per severity over all types.

Runs are separate processes (``--jobs`` at a time, one torch thread each); a
finished run's ``result.json`` is reused unless ``--fresh``. Results:
``benchmarks/results/accuracy_<profile>.{json,md}`` and
``accuracy_<profile>_severity.png``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from accuracy_report import aggregate, markdown, plot, verdict
from harness.child import children_cpu_s, run_child
from harness.cli import parser
from harness.machine import command_line, machine_info
from harness.paths import CACHE
from harness.report import write_results
from harness.runs import in_parallel
from harness.scoring import map_by_severity

SCRIPT = Path(__file__).resolve()
BASE_CONFIG = SCRIPT.parents[1] / "configs" / "synthetic_cpu_tiny.yaml"

#: variant name -> config overrides (on top of the profile's)
VARIANTS: dict[str, list[str]] = {
    "single_frame": ["model.temporal=none", "data.offsets=[]"],
    "temporal_difference": ["model.temporal=temporal_difference"],
    "heatmap_warping": ["model.temporal=heatmap_warping"],
    "ours_no_masking": ["model.patch_masking=false", "model.frame_masking=false"],
    "ours_patch_only": ["model.mlsme_levels=patch"],
    "ours_frame_only": ["model.mlsme_levels=frame"],
    "ours_concat": ["model.fusion=concat"],
    "ours_full": [],
}

#: config overrides every profile shares (96x72 crops, T = 3, 3x3 cubes, 1 of 3 frames masked)
_OVERRIDES = [
    "data.image_size=[96,72]",
    "data.offsets=[-1,1]",
    "model.cube_size=3",
    "model.frame_mask_ratio=0.34",
]

PROFILES: dict[str, dict[str, Any]] = {
    # a few steps on a few videos: checks that the script runs end to end (seconds)
    "smoke": {
        "data": {"train": 3, "val": 2, "test": 2, "frames": 12, "size": [256, 192]},
        "people": [1, 2],
        "rate": 0.5,
        "seeds": [0],
        "stage1_steps": 4,
        "stage2_steps": 3,
        "batch": 8,
        "overrides": _OVERRIDES,
    },
    # under 10 minutes on 2 cores: checks the whole protocol; too short to rank variants
    "quick": {
        "data": {"train": 16, "val": 3, "test": 4, "frames": 16, "size": [256, 192]},
        "people": [1, 3],
        "rate": 0.4,
        "seeds": [0, 1],
        "stage1_steps": 80,
        "stage2_steps": 12,
        "batch": 16,
        "overrides": _OVERRIDES,
    },
    # about 35 minutes on 2 cores with --jobs 2 (the heatmap-warping baseline dominates)
    "full": {
        "data": {"train": 48, "val": 8, "test": 12, "frames": 24, "size": [256, 192]},
        "people": [1, 3],
        "rate": 0.4,
        "seeds": [0, 1],
        "stage1_steps": 500,
        "stage2_steps": 250,
        "batch": 16,
        "overrides": _OVERRIDES,
    },
}
# Follow-ups on the full profile's data and stage 1 (``reuse``), one change each:
# a 5-frame window reaching 3 frames away (past the 2-6 frame degradation events) ...
PROFILES["full_t5"] = {
    **PROFILES["full"],
    "reuse": "full",
    "overrides": [
        "data.image_size=[96,72]",
        "data.offsets=[-3,-1,1,3]",
        "model.cube_size=3",
        "model.frame_mask_ratio=0.4",
    ],
}
# ... and 4x the stage-2 steps, one seed: is it the budget?
PROFILES["full_long"] = {**PROFILES["full"], "reuse": "full", "seeds": [0], "stage2_steps": 1000}


# ----------------------------------------------------------------------------- data


def prepare_data(profile: dict[str, Any], root: Path) -> Path:
    """Generate the train/val/test splits once (a marker file restarts an interrupted run)."""
    from semapose.data.synthetic import generate_dataset
    from semapose.io.atomic import atomic_write_json

    d = profile["data"]
    spec = {**d, "people": profile["people"], "rate": profile["rate"], "seed": 0}
    marker, done = root / ".incomplete", root / "spec.json"
    if done.is_file() and not marker.exists() and json.loads(done.read_text()) == spec:
        return root
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_json(marker, {"note": "generation in progress or interrupted"})
    for split in ("train", "val", "test"):
        generate_dataset(
            root,
            d[split],
            d["frames"],
            0,
            size=tuple(d["size"]),
            people=tuple(profile["people"]),
            degrade="all",
            split=split,
            rate=profile["rate"],
            write_video=False,
        )
    atomic_write_json(done, spec, indent=1)
    marker.unlink()
    return root


# ----------------------------------------------------------------------------- one run


def _config(spec: dict[str, Any]) -> Any:
    from semapose.config import load_config

    root = Path(spec["data_root"])
    steps = int(spec["steps"])
    over = [
        f"data.root={root}",
        f"data.train_annotations={root / 'annotations' / 'train'}",
        f"data.val_annotations={root / 'annotations' / 'val'}",
        "data.num_workers=0",
        f"train.output_dir={spec['out']}",
        f"train.seed={spec['seed']}",
        "train.epochs=100000",
        f"train.max_steps={steps}",
        f"train.batch_size={spec['batch']}",
        "train.schedule=cosine",
        f"train.warmup_steps={max(1, steps // 10)}",
        "train.val_every_epochs=0",
        "train.checkpoint_every=0",
        "train.plot=false",
        "train.cpu_threads=1",
        "train.max_minutes=0",
        "train.log_every=20",
        "test.batch_size=32",
        *spec["overrides"],
    ]
    if spec["stage"] == 1:
        over += [
            "model.temporal=none",
            "data.offsets=[]",
            "train.lr=2e-3",
            "train.backbone_lr=2e-3",
        ]
    else:
        over += [
            f"model.backbone_weights={spec['weights']}",
            "model.freeze_backbone=true",
            "train.lr=1e-3",
            "loss.mask_warmup_epochs=0.0",
            *VARIANTS[spec["variant"]],
        ]
    # ``extra``: overrides that win over everything above (diagnostic runs)
    return load_config(BASE_CONFIG, over + list(spec.get("extra", [])))


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one (stage, variant, seed) and score it on val and test (worker process)."""
    import torch

    from semapose.data.loader import build_dataset
    from semapose.engine.seeding import derive_seed, seed_all
    from semapose.engine.trainer import Trainer
    from semapose.models.build import build_model

    torch.set_num_threads(1)
    cfg = _config(spec)
    out = Path(spec["out"])
    train_set = build_dataset(cfg, "train")
    seed_all(derive_seed(cfg.train.seed, "init"))
    model = build_model(cfg)
    params = model.param_count(inference_only=True)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    flops = model.flops_per_clip()
    trainer = Trainer(cfg, model, train_set, evaluate=None, progress=False)
    start = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - start
    result: dict[str, Any] = {
        "spec": spec,
        "train_wall_s": round(wall, 1),
        "steps": trainer.step,
        "samples_per_s": round(trainer.step * cfg.train.batch_size / wall, 2),
        "params_deploy": params,
        "params_trainable": trainable,
        "flops_per_clip": flops,
        "eval": {},
    }
    if spec["stage"] == 2:
        model.eval()
        for split in ("val", "test"):
            result["eval"][split] = evaluate_split(cfg, model, Path(spec["data_root"]), split, out)
    from semapose.io.atomic import atomic_write_json

    atomic_write_json(out / "result.json", result, indent=1)
    return result


def evaluate_split(cfg: Any, model: Any, root: Path, split: str, out: Path) -> dict[str, Any]:
    """mAP on ``split``: all, clean, degraded, by type, by (type, severity), by severity."""
    import dataclasses

    import torch

    from semapose.data.loader import build_dataset
    from semapose.engine.validate import Validator
    from semapose.evaluation.posetrack_map import match
    from semapose.evaluation.poseval_io import gt_files_in, load_eval_set

    ann = root / "annotations" / split
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, val_annotations=str(ann)))
    dataset = build_dataset(cfg, "val")
    gts = gt_files_in(ann)
    v = Validator(cfg, dataset, gts, out / split, by_degradation=True)
    with torch.no_grad():
        metrics = v(model, 0)
    report = json.loads((out / split / "val_result.json").read_text())
    robust = report.get("by_degradation", {})
    res: dict[str, Any] = {
        "mAP": metrics.get("mAP"),
        "clean": metrics.get("mAP_clean"),
        "degraded": metrics.get("mAP_degraded"),
        "by_type": {k: r["Mean"] for k, r in robust.get("by_type", {}).items()},
        "frames_by_type": {k: r["num_frames"] for k, r in robust.get("by_type", {}).items()},
        "by_type_severity": {
            t: {s: r["Mean"] for s, r in sev.items()}
            for t, sev in robust.get("by_severity", {}).items()
        },
    }
    # severity over all types: frames that carry a degradation of that severity
    preds = [out / split / "val_predictions" / p.name for p in v.gt_files]
    es = load_eval_set(v.gt_files, preds)
    res["by_severity"], res["frames_by_severity"] = map_by_severity(es, match(es))
    return res


# ----------------------------------------------------------------------------- driver


#: run folders whose finished result was reused by this invocation
REUSED: list[str] = []


def launch(spec: dict[str, Any], fresh: bool) -> dict[str, Any]:
    out = Path(spec["out"])
    done = out / "result.json"
    if done.is_file() and not fresh:
        old = json.loads(done.read_text())
        if old.get("spec") == spec:
            REUSED.append(str(out))
            return old  # type: ignore[no-any-return]
    out.mkdir(parents=True, exist_ok=True)
    spec_file = out / "spec.json"
    spec_file.write_text(json.dumps(spec))
    return run_child(SCRIPT, ["--_worker", str(spec_file)])


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    ap.add_argument("--variants", default="", help="comma list (default: all)")
    ap.add_argument("--seeds", default="", help="comma list (default: the profile's)")
    ap.add_argument("--fresh", action="store_true", help="do not reuse finished runs")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--_worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._worker:
        result = run_one(json.loads(args._worker.read_text()))
        print(json.dumps({"ok": True, "train_wall_s": result["train_wall_s"]}))
        return 0
    profile = dict(PROFILES[args.profile])
    if args.seeds:
        profile["seeds"] = [int(s) for s in args.seeds.split(",")]
    variants = [v for v in args.variants.split(",") if v] or list(VARIANTS)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    t0 = time.perf_counter()
    base = profile.get("reuse", args.profile)  # share data and stage 1 with that profile
    data_root = prepare_data(profile, args.cache / f"accuracy_{base}_data")
    stage1_dir = args.cache / f"accuracy_{base}_runs"
    runs_dir = args.cache / f"accuracy_{args.profile}_runs"
    common = {
        "data_root": str(data_root),
        "batch": profile["batch"],
        "overrides": profile["overrides"],
    }
    stage1 = {
        seed: {
            **common,
            "stage": 1,
            "variant": "stage1",
            "seed": seed,
            "steps": profile["stage1_steps"],
            "out": str(stage1_dir / f"stage1_seed{seed}"),
        }
        for seed in profile["seeds"]
    }
    in_parallel(lambda s: launch(s, args.fresh), stage1.values(), args.jobs)
    specs = [
        {
            **common,
            "stage": 2,
            "variant": v,
            "seed": seed,
            "steps": profile["stage2_steps"],
            "weights": str(Path(stage1[seed]["out"]) / "model.safetensors"),
            "out": str(runs_dir / f"{v}_seed{seed}"),
        }
        for v in variants
        for seed in profile["seeds"]
    ]
    # the slowest variants first, so that the pool ends together
    slow = ("heatmap_warping", "temporal_difference")
    specs.sort(key=lambda s: slow.index(s["variant"]) if s["variant"] in slow else 9)
    in_parallel(lambda s: launch(s, args.fresh), specs, args.jobs)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for spec in specs:
        runs[spec["variant"]].append(json.loads((Path(spec["out"]) / "result.json").read_text()))
    agg = aggregate(runs)
    result = {
        "benchmark": "accuracy",
        "profile_name": args.profile,
        "profile": profile,
        "command": command_line(),
        "machine": machine_info(threads=1),
        "jobs": args.jobs,
        "wall_s": time.perf_counter() - t0,
        "reused_runs": len(REUSED),
        "cpu_s_of_runs": children_cpu_s(),
        "stage1_wall_s": statistics.mean(
            json.loads((Path(s["out"]) / "result.json").read_text())["train_wall_s"]
            for s in stage1.values()
        ),
        "variants": agg,
        "verdict": verdict(agg),
        "runs": {v: [r["eval"] for r in rs] for v, rs in runs.items()},
    }
    write_results(f"accuracy_{args.profile}", result, markdown(result), args.out)
    plot(result, args.out / f"accuracy_{args.profile}_severity.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
