"""The temporal module on BlazePose features, trained without labels on real video.

Usage::

    python benchmarks/temporal_real.py [--profile full|smoke] [--variants a,b] [--seeds 0,1,2]
                                       [--jobs 2] [--fresh]

Protocol (every variant: same cache, same batches, same steps; see docs/benchmarks.md):

1. Data. Synthetic video with exact ground truth (``semapose.data.synthetic``: a
   train and a test split, degraded by the generator) and the real clips of
   ``../shared/data/videos``: person tracks from ``predict``'s detector + tracker,
   degraded by us on spans of consecutive frames (:mod:`semapose.data.unlabeled`).
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
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.machine import command_line, machine_info, machine_line
from harness.paths import RESULTS, ROOT
from harness.report import md_table, write_results

_SHARED = os.environ.get("SEMAPOSE_SHARED_DATA")
VIDEOS = (Path(_SHARED) if _SHARED else ROOT.parent / "shared" / "data") / "videos"
HELD_OUT = ("two_people_72f",)
#: the real clips (their tracks) used for training
TRAIN_VIDEOS = ("basketball_300f", "street_pedestrians_5f")
#: a second held-out real clip: the tail of a training video, cut off with a gap of
#: frames used by neither side (``video: (last training frame, first test frame)``)
HELD_OUT_TAIL = {"basketball_300f": (199, 220)}
#: cache splits scored as held-out real clips, and their names in the tables
REAL_TESTS = {"real_test": "two_people_72f", "real_test2": "basketball_300f[220:]"}


def _common() -> list[str]:
    from semapose.engine.cache_fit import FIT_PRESET

    # each variant names its own temporal module and ours' options (FIT_PRESET's choice of
    # them is the shipped variant's)
    own = ("model.temporal=", "model.pixel_decoder=", "model.frame_fusion=")
    return [o for o in FIT_PRESET if not o.startswith(own)]


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
PCK_FRACTION = 0.1  # of the person's height
PRETRAIN_STEPS = 150
TEACHER_MIN_SCORE = 0.2


# ----------------------------------------------------------------------------- config


def make_config(profile: dict[str, Any], variant: str, seed: int = 0) -> Any:
    from semapose.config import load_config

    return load_config(
        None,
        _common() + VARIANTS[variant] + profile["overrides"] + [f"train.seed={seed}"],
    )


def build(profile: dict[str, Any], variant: str, seed: int = 0) -> tuple[Any, Any]:
    import torch

    from semapose.models.build import build_model

    cfg = make_config(profile, variant, seed)
    torch.manual_seed(seed)
    return cfg, build_model(cfg).eval()


# ----------------------------------------------------------------------------- data


def prepare(profile: dict[str, Any], work: Path) -> Path:
    """Synthetic data, real tracks and the shared feature cache (reused when present)."""
    from semapose.data import unlabeled as U
    from semapose.data.synthetic import generate_dataset

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
    U.make_cache(
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
    from semapose.data import unlabeled as U

    path = work / "tracks.json"
    if path.is_file():
        runs = U.load_runs(path)
    elif "real_frames" in profile:  # smoke: a generated clip, one fixed box
        runs = [smoke_video(work, int(profile["real_frames"]))]
        U.save_runs(path, runs)
    else:
        runs = []
        for name in TRAIN_VIDEOS + HELD_OUT:
            video = VIDEOS / f"{name}.mp4"
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
    from semapose.data.unlabeled import TrackRun

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

    from semapose.data.unlabeled import TrackRun

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

    from semapose.data.unlabeled import FeatureCache
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
    cache = FeatureCache(work / "cache")
    cfg, model = build(profile, variant, seed)
    train_rows = rows_of(cache, ("synthetic_train", "real_train"))
    if variant.endswith("_degkeys"):  # only clips whose key frame is degraded
        train_rows = train_rows[np.array([str(cache.rows["event"][r]) != "" for r in train_rows])]
    fc = CacheFitConfig(steps=profile["steps"], batch_size=profile["batch"], seed=seed)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
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
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - cpu0
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
    from semapose.data.unlabeled import FeatureCache
    from semapose.models.partial import load_partial_weights

    cache = FeatureCache(work / "cache")
    cfg, model = build(profile, variant, seed)
    if (out / "temporal.safetensors").is_file():
        load_partial_weights(model, out / "temporal.safetensors")
    model.eval()
    k = model.key_index
    decode = model.decode_clip
    model.decode_clip = lambda f: decode(f[:, k : k + 1].expand_as(f).contiguous())
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


def rows_of(cache: Any, splits: tuple[str, ...]) -> Any:
    ids = [i for i, c in enumerate(cache.clips) if c.get("split") in splits]
    return cache.rows_of(ids)


def gate_stats(model: Any) -> float | None:
    gate = getattr(model.temporal, "gate", None)
    return None if gate is None else float(gate.detach().abs().mean())


def predict_rows(model: Any, cfg: Any, cache: Any, rows: Any, clean: bool) -> tuple[Any, Any]:
    """Heatmap-pixel keypoints (N, J, 2) and scores (N, J) of the key frames ``rows``."""
    import numpy as np
    import torch

    from semapose.data.codec import decode_heatmaps

    coords, scores = [], []
    for i in range(0, len(rows), 16):
        keys = rows[i : i + 16]
        b = cache.batch(keys, cfg.data.offsets, clean=clean)
        with torch.no_grad():
            heat = model.decode_clip(b["feats"]).float().numpy()
        c, s = decode_heatmaps(heat, refine="dark", sigma=cfg.data.sigma)
        coords.append(c)
        scores.append(s)
    if not coords:
        return np.zeros((0, 17, 2)), np.zeros((0, 17))
    return np.concatenate(coords), np.concatenate(scores)


def eval_synthetic(model: Any, cfg: Any, cache: Any, out: Path) -> dict[str, Any]:
    """PoseTrack mAP on the synthetic test split with ground-truth boxes (no flip test)."""
    import numpy as np

    from semapose.data.transforms import invert_points
    from semapose.evaluation.posetrack_map import compute_map, match
    from semapose.evaluation.poseval_io import load_eval_set
    from semapose.evaluation.robustness import evaluate_by_degradation
    from semapose.io.posetrack_json import gt_images, write_posetrack18_predictions

    ids = [i for i, c in enumerate(cache.clips) if c.get("split") == "synthetic_test"]
    rows = cache.rows_of(ids)
    if len(rows) == 0:
        return {}
    coords, scores = predict_rows(model, cfg, cache, rows, clean=False)
    size = tuple(cache.index["image_size"])
    pts = invert_points(
        coords * cache.stride,
        cache.rows["center"][rows],
        cache.rows["scale"][rows],
        np.zeros(len(rows)),
        size,
    )
    files = sorted({cache.clips[i]["video"] for i in ids})
    per_image: dict[int, list[dict[str, Any]]] = {}
    for n, r in enumerate(rows):
        sc = scores[n]
        good = sc > 0.2
        per_image.setdefault(int(cache.rows["image_id"][r]), []).append(
            {
                "keypoints": pts[n].astype(np.float64),
                "scores": sc.astype(np.float64),
                "track_id": int(cache.clips[int(cache.rows["clip"][r])]["track_id"]),
                "score": float(sc[good].mean()) if good.any() else 0.0,
            }
        )
    preds = []
    for f in files:
        dest = out / "synthetic_predictions" / Path(f).name
        images = gt_images(f)
        mine = {int(im["id"]): per_image.get(int(im["id"]), []) for im in images}
        write_posetrack18_predictions(dest, images, mine)
        preds.append(dest)
    es = load_eval_set([Path(f) for f in files], preds)
    m = match(es)
    res: dict[str, Any] = {"mAP": compute_map(es, m).to_dict()["Mean"]}
    labels = es.frame_labels
    clean = np.array([lab is not None and len(lab) == 0 for lab in labels])
    degraded = np.array([lab is not None and len(lab) > 0 for lab in labels])
    res["clean"] = compute_map(es, m, clean).to_dict()["Mean"] if clean.any() else None
    res["degraded"] = compute_map(es, m, degraded).to_dict()["Mean"] if degraded.any() else None
    robust = evaluate_by_degradation(es, m)
    res["by_type"] = {k: v["Mean"] for k, v in robust["by_type"].items()}
    res["frames_by_type"] = {k: v["num_frames"] for k, v in robust["by_type"].items()}
    by_sev: dict[str, Any] = {}
    frames_sev: dict[str, int] = {}
    for s in range(1, 6):
        mask = np.array(
            [bool(lab) and any(int(e.get("severity", 0)) == s for e in lab) for lab in labels]
        )
        if mask.any():
            by_sev[str(s)] = compute_map(es, m, mask).to_dict()["Mean"]
            frames_sev[str(s)] = int(mask.sum())
    res["by_severity"], res["frames_by_severity"] = by_sev, frames_sev
    return res


def eval_real(model: Any, cfg: Any, cache: Any) -> dict[str, Any]:
    """PCK against the teacher's clean-frame keypoints on the held-out real clip(s)."""
    import numpy as np

    rows = rows_of(cache, ("real_test",))
    if len(rows) == 0:
        return {}
    kp = cache.rows["keypoints"][rows]
    w = cache.rows["weights"][rows] >= TEACHER_MIN_SCORE
    enlarge = float(cfg.data.bbox_enlarge)
    thr = PCK_FRACTION * cache.heatmap_size[0] / enlarge  # heatmap pixels
    events = np.array([str(e) for e in cache.rows["event"][rows]])
    out: dict[str, Any] = {"threshold_heatmap_px": thr, "joints": int(w.sum())}
    for name, clean in (("clean_input", True), ("degraded_input", False)):
        coords, _ = predict_rows(model, cfg, cache, rows, clean=clean)
        hit = (np.linalg.norm(coords - kp, axis=-1) <= thr) & w

        def pck(mask: Any, hit: Any = hit) -> float | None:
            n = int(w[mask].sum())
            return 100.0 * float(hit[mask].sum()) / n if n else None

        every = np.ones(len(rows), bool)
        res: dict[str, Any] = {"all": pck(every)}
        if not clean:
            res["clean_frames"] = pck(events == "")
            res["degraded_frames"] = pck(events != "")
            res["by_type"] = {t: pck(events == t) for t in sorted(set(events) - {""})}
            res["frames_by_type"] = {t: int((events == t).sum()) for t in sorted(set(events))}
        out[name] = res
    return out


# ----------------------------------------------------------------------------- driver


def _mean_sd(values: list[float | None]) -> tuple[float, float]:
    v = [x for x in values if x is not None]
    if not v:
        return float("nan"), float("nan")
    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)


def _get(d: dict[str, Any], path: str) -> Any:
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _train_seconds(run: dict[str, Any]) -> float:
    """Training wall time from the run's log, summed over resumed sessions (a session that
    restarted its clock shows as a drop in ``seconds``)."""
    total, last = 0.0, 0.0
    for rec in run["log"]:
        if rec["seconds"] < last:
            total += last
        last = rec["seconds"]
    return total + last


def aggregate(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    keys = [
        "synthetic.mAP",
        "synthetic.clean",
        "synthetic.degraded",
        "real.clean_input.all",
        "real.degraded_input.all",
        "real.degraded_input.clean_frames",
        "real.degraded_input.degraded_frames",
        "key_only.synthetic.degraded",
        "key_only.synthetic.clean",
        "key_only.real.degraded_input.degraded_frames",
    ]
    agg: dict[str, Any] = {}
    for variant, rs in runs.items():
        a: dict[str, Any] = {k: _mean_sd([_get(r, k) for r in rs]) for k in keys}
        for group in ("synthetic.by_type", "synthetic.by_severity", "real.degraded_input.by_type"):
            names = sorted({n for r in rs for n in (_get(r, group) or {})})
            a[group] = {n: _mean_sd([(_get(r, group) or {}).get(n) for r in rs])[0] for n in names}
        a["train_seconds"] = statistics.fmean(_train_seconds(r) for r in rs)
        a["train_cpu_seconds"] = sum(r["train_cpu_seconds"] for r in rs)
        a["params"] = rs[0]["params"]
        a["gate"] = (
            statistics.fmean(g for g in [r["gate"] for r in rs] if g is not None)
            if any(r["gate"] is not None for r in rs)
            else None
        )
        agg[variant] = a
    return agg


def verdict(agg: dict[str, Any]) -> dict[str, Any]:
    name = next((v for v in OURS if v in agg), None)
    single = agg.get("single_frame")
    if name is None or single is None:
        return {}
    ours = agg[name]
    pm = [v for v in PIXEL_MOTION if v in agg]
    best = max(pm, key=lambda v: agg[v]["synthetic.degraded"][0]) if pm else None
    g = {
        "synthetic_degraded_gain_vs_single": ours["synthetic.degraded"][0]
        - single["synthetic.degraded"][0],
        "real_degraded_pck_gain_vs_single": ours["real.degraded_input.degraded_frames"][0]
        - single["real.degraded_input.degraded_frames"][0],
        "synthetic_clean_gap_vs_single": ours["synthetic.clean"][0] - single["synthetic.clean"][0],
        "best_pixel_motion": best,
        "ours": name,
    }
    if best is not None:
        g["synthetic_degraded_gap_vs_best_pixel_motion"] = (
            ours["synthetic.degraded"][0] - agg[best]["synthetic.degraded"][0]
        )
        g["real_degraded_gap_vs_best_pixel_motion"] = (
            ours["real.degraded_input.degraded_frames"][0]
            - agg[best]["real.degraded_input.degraded_frames"][0]
        )
    g["goal_synthetic_plus5"] = g["synthetic_degraded_gain_vs_single"] >= 5
    g["goal_real_plus10"] = g["real_degraded_pck_gain_vs_single"] >= 10
    g["goal_level_with_pixel_motion"] = (
        best is None or g["synthetic_degraded_gap_vs_best_pixel_motion"] >= 0
    )
    g["goal_clean_not_lower"] = g["synthetic_clean_gap_vs_single"] >= 0
    return g


def _f(ms: tuple[float, float]) -> str:
    m, s = ms
    return "n/a" if m != m else f"{m:.1f} ± {s:.1f}"


def markdown(result: dict[str, Any]) -> str:
    agg = result["aggregate"]
    p = result["profile"]
    lines = [
        "# Temporal module on BlazePose features, trained without labels",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {machine_line(result['machine'])} (shared with other jobs)  ",
        f"Cache: {result['cache']['rows']} person-frames ({result['cache']['clean_rows']} with a "
        f"degraded and a clean version), built once in {result['cache']['seconds']} s; "
        f"training: {result['train_wall_minutes']:.1f} min of wall time over all runs (1 thread "
        f"each, 2 at a time), {result['train_cpu_minutes']:.1f} min of process CPU time "
        "(a run interrupted and resumed counts only its last session).",
        "",
        "The tables aggregate every finished run in `runs/temporal_real/full/runs/` (the "
        "`seeds` column says how many each variant has; runs were launched by several "
        "invocations, each reusing the cache and the finished runs). Every variant: the same "
        f"cache, {p['steps']} steps x batch {p['batch']} clips (T = 5, offsets -2..2), "
        "AdamW (temporal lr 1e-3, head lr 1e-4, cosine), frozen BlazePose backbone; the head "
        "starts from BlazePose's heatmap channels and every temporal residual from exactly "
        "zero. `zero_shot` = BlazePose + head as ported, untrained; `single_frame` = its head "
        "trained the same way. Mean ± sd over seeds. Our numbers on our data, not the paper's.",
        "",
        "## (1) Synthetic test split: PoseTrack mAP, ground-truth boxes, no flip test",
        "",
    ]
    order = [v for v in VARIANTS if v in agg]
    lines.append(
        md_table(
            ["variant", "seeds", "all", "clean", "degraded"],
            [
                [
                    v,
                    len(result["runs"][v]),
                    _f(agg[v]["synthetic.mAP"]),
                    _f(agg[v]["synthetic.clean"]),
                    _f(agg[v]["synthetic.degraded"]),
                ]
                for v in order
            ],
        )
    )
    types = sorted({t for v in order for t in agg[v]["synthetic.by_type"]})
    first = result["runs"][order[0]][0]["synthetic"]
    lines += ["", "By degradation type (mean over seeds; frames in brackets):", ""]
    lines.append(
        md_table(
            ["variant", *[f"{t} ({first['frames_by_type'].get(t, 0)})" for t in types]],
            [
                [v, *[agg[v]["synthetic.by_type"].get(t, float("nan")) for t in types]]
                for v in order
            ],
        )
    )
    sev = sorted({s for v in order for s in agg[v]["synthetic.by_severity"]})
    lines += ["", "By severity, all types pooled (mean over seeds; frames in brackets):", ""]
    lines.append(
        md_table(
            ["variant", *[f"sev {s} ({first['frames_by_severity'].get(s, 0)})" for s in sev]],
            [
                [v, *[agg[v]["synthetic.by_severity"].get(s, float("nan")) for s in sev]]
                for v in order
            ],
        )
    )
    real0 = result["runs"][order[0]][0]["real"]
    if real0:
        thr = real0["threshold_heatmap_px"]
        lines += [
            "",
            f"## (2) Held-out real clip ({', '.join(HELD_OUT)}), degraded by us: PCK vs the "
            "teacher on clean frames",
            "",
            f"PCK@{PCK_FRACTION} of the person's height (= {thr:.2f} heatmap px = "
            f"{thr * 4:.1f} px of the 256 x 256 crop), over the {real0['joints']} joints the "
            f"teacher scores >= {TEACHER_MIN_SCORE}. *Clean input*: the clean video (single-frame "
            "= 100 by definition for the untrained model). *Degraded input*: the video with our "
            "degradation spans; scored on all frames, on its clean frames and on its degraded "
            "frames.",
            "",
        ]
        lines.append(
            md_table(
                [
                    "variant",
                    "clean input",
                    "degraded input: all",
                    "clean frames",
                    "degraded frames",
                ],
                [
                    [
                        v,
                        _f(agg[v]["real.clean_input.all"]),
                        _f(agg[v]["real.degraded_input.all"]),
                        _f(agg[v]["real.degraded_input.clean_frames"]),
                        _f(agg[v]["real.degraded_input.degraded_frames"]),
                    ]
                    for v in order
                ],
            )
        )
        rtypes = sorted({t for v in order for t in agg[v]["real.degraded_input.by_type"]})
        fr = real0["degraded_input"]["frames_by_type"]
        lines += ["", "Degraded frames by type (PCK, mean over seeds; frames in brackets):", ""]
        lines.append(
            md_table(
                ["variant", *[f"{t} ({fr.get(t, 0)})" for t in rtypes]],
                [
                    [
                        v,
                        *[
                            agg[v]["real.degraded_input.by_type"].get(t, float("nan"))
                            for t in rtypes
                        ],
                    ]
                    for v in order
                ],
            )
        )
    lines += [
        "",
        "## Does a variant use the neighbouring frames? (key-only evaluation)",
        "",
        "The same trained models with every supporting frame replaced by the key frame: "
        "what remains of the gain needs no temporal information.",
        "",
    ]
    lines.append(
        md_table(
            [
                "variant",
                "synthetic degraded: clip",
                "key only",
                "real degraded frames: clip",
                "key only",
            ],
            [
                [
                    v,
                    _f(agg[v]["synthetic.degraded"]),
                    _f(agg[v]["key_only.synthetic.degraded"]),
                    _f(agg[v]["real.degraded_input.degraded_frames"]),
                    _f(agg[v]["key_only.real.degraded_input.degraded_frames"]),
                ]
                for v in order
            ],
        )
    )
    lines += ["", "## Training cost and size", ""]
    lines.append(
        md_table(
            ["variant", "train s / run", "deploy params (temporal)", "mean abs gate"],
            [
                [
                    v,
                    agg[v]["train_seconds"],
                    agg[v]["params"].get("temporal", 0),
                    agg[v]["gate"] if agg[v]["gate"] is not None else "n/a",
                ]
                for v in order
            ],
        )
    )
    if result.get("verdict"):
        lines += ["", "## Goal check", "", "```", json.dumps(result["verdict"], indent=1), "```"]
    lines += ["", "![training curves](../../docs/figures/temporal_real_curves.png)"]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from semapose.io.atomic import atomic_path

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))

    def base_of(variant: str) -> dict[int, dict[int, float]]:
        # the single-frame run trained on the same batches (degraded-key runs draw others)
        name = "single_frame_degkeys" if variant.endswith("_degkeys") else "single_frame"
        return {
            r["seed"]: {x["step"]: x["heatmap"] for x in r["log"]}
            for r in result["runs"].get(name, [])
        }

    colors = plt.get_cmap("tab20")
    for i, (variant, rs) in enumerate(result["runs"].items()):
        style = "--" if variant.endswith("_degkeys") else "-"
        for r in rs:
            if not r["log"]:
                continue
            steps = [x["step"] for x in r["log"]]
            label = variant if r["seed"] == rs[0]["seed"] else None
            c = colors(i % 20)
            ax[0].plot(
                steps, [x["total"] * 1e3 for x in r["log"]], style, color=c, alpha=0.8, label=label
            )
            ref = base_of(variant).get(r["seed"])
            if ref:
                ratio = [x["heatmap"] / ref[x["step"]] for x in r["log"] if x["step"] in ref]
                ax[1].plot(steps[: len(ratio)], ratio, style, color=c, alpha=0.8)
    ax[0].set_yscale("log")
    ax[0].set_title("total training loss (x1e-3, log scale)")
    ax[1].set_title("key-frame heatmap loss / single-frame's, same batches")
    for a in ax:
        a.set_xlabel("step")
    ax[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def launch(profile: str, variant: str, seed: int, work: Path) -> dict[str, Any]:
    done = work / "runs" / f"{variant}_s{seed}" / "result.json"
    if not done.is_file() or "key_only" not in json.loads(done.read_text()):
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--profile",
                profile,
                "--work",
                str(work),
                "--one",
                f"{variant}:{seed}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{variant} seed {seed} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.read_text())
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="full", choices=sorted(PROFILES))
    ap.add_argument("--variants", default="")
    ap.add_argument("--seeds", default="")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--fresh", action="store_true", help="redo the runs (not the cache)")
    ap.add_argument("--work", default="")
    ap.add_argument("--results", default=str(RESULTS))
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
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda j: launch(args.profile, j[0], j[1], work), jobs))
    # every finished run of the work folder counts (a variant may have fewer seeds than
    # another when the CPU budget ran out; the tables say how many)
    runs: dict[str, list[dict[str, Any]]] = {}
    for v in VARIANTS:
        for path in sorted((work / "runs").glob(f"{v}_s*/result.json")):
            r = json.loads(path.read_text())
            if r["variant"] == v:
                runs.setdefault(v, []).append(r)
    results = [r for rs in runs.values() for r in rs]
    from semapose.data.unlabeled import FeatureCache

    fc = FeatureCache(cache)
    secs = (
        (work / "cache_seconds.txt").read_text().strip()
        if (work / "cache_seconds.txt").is_file()
        else "?"
    )
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
    out = Path(args.results)
    if args.profile == "full":
        plot(result, ROOT / "docs" / "figures" / "temporal_real_curves.png")
    write_results(name, result, markdown(result), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
