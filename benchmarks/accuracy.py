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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.child import run_child
from harness.machine import command_line, machine_info, machine_line
from harness.paths import CACHE, RESULTS
from harness.report import md_table, write_results

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
PIXEL_MOTION_BASELINES = ("temporal_difference", "heatmap_warping")

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

    import numpy as np
    import torch

    from semapose.data.loader import build_dataset
    from semapose.engine.validate import Validator
    from semapose.evaluation.posetrack_map import compute_map, match
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
    matching = match(es)
    by_sev: dict[str, tuple[float | None, int]] = {}
    for s in range(1, 6):
        mask = np.array(
            [bool(lab) and any(int(e.get("severity", 0)) == s for e in lab) for lab in _labels(es)]
        )
        if mask.any():
            mean = compute_map(es, matching, mask).to_dict()["Mean"]
            by_sev[str(s)] = (mean, int(mask.sum()))
    res["by_severity"] = {s: m for s, (m, _) in by_sev.items()}
    res["frames_by_severity"] = {s: n for s, (_, n) in by_sev.items()}
    return res


def _labels(es: Any) -> list[list[dict[str, Any]]]:
    return [lab if isinstance(lab, list) else [] for lab in es.frame_labels]


# ----------------------------------------------------------------------------- driver


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished worker processes of this invocation."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(ru.ru_utime + ru.ru_stime, 1)


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


def diagnostics(out: Path) -> dict[str, float]:
    """Last logged training heatmap loss and the mean |gate| of the temporal residual."""
    res: dict[str, float] = {}
    log = out / "log.jsonl"
    if log.is_file():
        train = [r for r in map(json.loads, log.read_text().splitlines()) if r["kind"] == "train"]
        if train:  # mean of the last three logged steps (one batch each)
            res["final_train_heatmap"] = statistics.mean(r["heatmap"] for r in train[-3:])
    weights = out / "model.safetensors"
    if weights.is_file():
        from safetensors.numpy import load_file

        gate = load_file(str(weights)).get("temporal.gate")
        if gate is not None:
            res["gate_abs_mean"] = float(abs(gate).mean())
    return res


def _mean_sd(values: list[float | None]) -> tuple[float, float, list[float]]:
    vals = [float(v) for v in values if v is not None and v == v]
    if not vals:
        return float("nan"), float("nan"), []
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return statistics.mean(vals), sd, vals


def aggregate(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Mean, sd and per-seed values of every metric, per variant and split."""
    agg: dict[str, Any] = {}
    for variant, rs in runs.items():
        a: dict[str, Any] = {
            "train_wall_s": _mean_sd([r["train_wall_s"] for r in rs])[0],
            "samples_per_s": _mean_sd([r["samples_per_s"] for r in rs])[0],
            "params_deploy": rs[0]["params_deploy"],
            "params_trainable": rs[0]["params_trainable"],
            "flops_per_clip": rs[0]["flops_per_clip"],
        }
        diag = [diagnostics(Path(r["spec"]["out"])) for r in rs]
        for key in ("final_train_heatmap", "gate_abs_mean"):
            a[key] = _mean_sd([d.get(key) for d in diag])[0]
        for split in ("val", "test"):
            evs = [r["eval"][split] for r in rs]
            s: dict[str, Any] = {}
            for key in ("mAP", "clean", "degraded"):
                m, sd, vals = _mean_sd([e[key] for e in evs])
                s[key] = {"mean": m, "sd": sd, "seeds": vals}
            for group in ("by_type", "by_severity"):
                names = sorted({k for e in evs for k in e[group]})
                s[group] = {}
                for k in names:
                    m, sd, vals = _mean_sd([e[group].get(k) for e in evs])
                    s[group][k] = {"mean": m, "sd": sd, "seeds": vals}
            s["frames_by_type"] = evs[0]["frames_by_type"]
            s["frames_by_severity"] = evs[0]["frames_by_severity"]
            a[split] = s
        agg[variant] = a
    return agg


def verdict(agg: dict[str, Any], split: str = "test") -> dict[str, Any]:
    ours = agg.get("ours_full")
    if ours is None:
        return {}
    base = [b for b in PIXEL_MOTION_BASELINES if b in agg]
    others = [v for v in agg if v != "ours_full"]
    best_motion = max(base, key=lambda b: agg[b][split]["degraded"]["mean"]) if base else None
    best_clean = max(others, key=lambda b: agg[b][split]["clean"]["mean"]) if others else None
    best_deg = max(others, key=lambda b: agg[b][split]["degraded"]["mean"]) if others else None
    d = ours[split]["degraded"]["mean"]
    c = ours[split]["clean"]["mean"]
    out: dict[str, Any] = {"split": split}
    if best_motion:
        gap = d - agg[best_motion][split]["degraded"]["mean"]
        out.update(best_pixel_motion=best_motion, degraded_gap_vs_pixel_motion=gap)
        out["goal_degraded_plus5"] = bool(gap >= 5.0)
    if best_deg:
        out.update(best_other_degraded=best_deg)
        out["ahead_of_all_on_degraded"] = bool(d > agg[best_deg][split]["degraded"]["mean"])
    if best_clean:
        gap = c - agg[best_clean][split]["clean"]["mean"]
        out.update(best_other_clean=best_clean, clean_gap=gap, goal_not_behind_clean=gap >= 0)
    return out


def markdown(result: dict[str, Any]) -> str:
    agg, prof = result["variants"], result["profile"]
    lines = [
        f"# Accuracy under degradation, profile `{result['profile_name']}` (synthetic video)",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {machine_line(result['machine'])}  ",
        f"Wall time of this invocation: {result['wall_s'] / 60:.1f} min ({result['jobs']} runs "
        f"at a time; {result['reused_runs']} finished runs reused from `runs/bench_cache/`); "
        f"CPU time of the runs made: {result['cpu_s_of_runs'] / 60:.1f} min.",
        "",
        f"Data: train {prof['data']['train']} / val {prof['data']['val']} / test "
        f"{prof['data']['test']} videos x {prof['data']['frames']} frames, "
        f"{prof['data']['size'][0]}x{prof['data']['size'][1]}, {prof['people'][0]}-"
        f"{prof['people'][1]} people, all degradation types, rate {prof['rate']}. "
        f"Seeds {prof['seeds']}. Stage 1 (single-frame backbone+head from scratch): "
        f"{prof['stage1_steps']} steps; stage 2 (backbone frozen, variant trained): "
        f"{prof['stage2_steps']} steps; batch {prof['batch']}; overrides "
        f"`{' '.join(prof['overrides'])}`.",
        "",
        "PoseTrack mAP (our poseval-exact evaluator, ground-truth boxes, flip test), "
        "mean ± sd over seeds. These are our numbers on our synthetic data, not the paper's.",
        "",
    ]
    for split in ("test", "val"):
        rows = []
        for v, a in agg.items():
            s = a[split]
            rows.append(
                [v]
                + [f"{s[k]['mean']:.1f} ± {s[k]['sd']:.1f}" for k in ("mAP", "clean", "degraded")]
            )
        lines += [f"## {split} split", "", md_table(["variant", "all", "clean", "degraded"], rows)]
        types = sorted({t for a in agg.values() for t in a[split]["by_type"]})
        rows = [[v] + [_fmt(a[split]["by_type"].get(t)) for t in types] for v, a in agg.items()]
        nf = next(iter(agg.values()))[split]["frames_by_type"]
        lines += ["", "By degradation type (mean over seeds; frames in brackets):", ""]
        lines += [md_table(["variant"] + [f"{t} ({nf.get(t, 0)})" for t in types], rows)]
        sevs = sorted({s for a in agg.values() for s in a[split]["by_severity"]}, key=int)
        ns = next(iter(agg.values()))[split]["frames_by_severity"]
        rows = [
            [v, f"{a[split]['clean']['mean']:.1f}"]
            + [_fmt(a[split]["by_severity"].get(s)) for s in sevs]
            for v, a in agg.items()
        ]
        lines += ["", "By severity, all types pooled (mean over seeds; frames in brackets):", ""]
        lines += [
            md_table(["variant", "clean"] + [f"sev {s} ({ns.get(s, 0)})" for s in sevs], rows)
        ]
        lines.append("")
    rows = []
    for v, a in agg.items():
        f = a["flops_per_clip"]
        rows.append(
            [
                v,
                f"{a['train_wall_s']:.0f}",
                f"{a['samples_per_s']:.1f}",
                f"{a['params_trainable'] / 1e6:.3f}",
                f"{a['params_deploy']['temporal'] / 1e6:.3f}",
                f"{f['temporal'] / 1e9:.3f}",
                f"{f['total'] / 1e9:.3f}",
                f"{1e3 * a['final_train_heatmap']:.3f}",
                f"{a['gate_abs_mean']:.3f}",
            ]
        )
    lines += [
        "## Training cost (stage 2, per seed, mean)",
        "",
        md_table(
            [
                "variant",
                "wall s",
                "samples/s",
                "trainable params (M)",
                "temporal params, deploy (M)",
                "temporal GFLOPs/clip",
                "total GFLOPs/clip (T frames)",
                "last train heatmap loss (x1e-3)",
                "mean abs gate (init 0.1)",
            ],
            rows,
        ),
        "",
        f"Stage 1 (shared by all variants of a seed): {result['stage1_wall_s']:.0f} s per seed.",
        "Wall times are on a shared 2-core machine with other jobs running: compare them "
        "only within this table.",
        "",
        "## Goal check (test split)",
        "",
        "```",
        json.dumps(result["verdict"], indent=1),
        "```",
    ]
    return "\n".join(lines)


def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry or entry["mean"] != entry["mean"]:
        return "n/a"
    return f"{entry['mean']:.1f}"


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, split in zip(axes, ("test", "val"), strict=True):
        for v, a in result["variants"].items():
            s = a[split]
            xs, ys = [0], [s["clean"]["mean"]]
            for sev in sorted(s["by_severity"], key=int):
                xs.append(int(sev))
                ys.append(s["by_severity"][sev]["mean"])
            style = "-" if v.startswith("ours") else "--"
            width = 2.5 if v == "ours_full" else 1.2
            ax.plot(xs, ys, style, marker="o", linewidth=width, label=v)
        ax.set_xticks(range(6))
        ax.set_xticklabels(["clean", "1", "2", "3", "4", "5"])
        ax.set_xlabel("degradation severity (all types pooled)")
        ax.set_title(f"{split} split")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PoseTrack mAP (ours, synthetic)")
    axes[1].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"mAP vs severity, profile {result['profile_name']} (mean over seeds)")
    fig.tight_layout()
    from semapose.io.atomic import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    ap.add_argument("--variants", default="", help="comma list (default: all)")
    ap.add_argument("--seeds", default="", help="comma list (default: the profile's)")
    ap.add_argument("--fresh", action="store_true", help="do not reuse finished runs")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, default=RESULTS)
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
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda s: launch(s, args.fresh), stage1.values()))
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
        done = list(pool.map(lambda s: launch(s, args.fresh), specs))
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for spec in specs:
        runs[spec["variant"]].append(json.loads((Path(spec["out"]) / "result.json").read_text()))
    del done
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
        "cpu_s_of_runs": _children_cpu_s(),
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
