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
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import temporal_real as TR  # noqa: E402
from common import RESULTS, ROOT  # noqa: E402

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
    ("heatmap_warping", 0),
    ("temporal_difference", 2),
]


def work_dir() -> Path:
    return ROOT / "runs" / "temporal_real" / "full"


def build(variant: str, seed: int) -> tuple[Any, Any]:
    import torch

    from semapose.config import load_config
    from semapose.models.build import build_model

    cfg = load_config(None, TR._common() + VARIANTS[variant] + [f"train.seed={seed}"])
    torch.manual_seed(seed)
    return cfg, build_model(cfg).eval()


def key_only_(model: Any) -> None:
    """Feed ``model`` its key frame alone from now on (every supporting frame = the key)."""
    k = model.key_index
    decode = model.decode_clip
    model.decode_clip = lambda f: decode(f[:, k : k + 1].expand_as(f).contiguous())


def real_threshold(cfg: Any, cache: Any) -> float:
    return float(TR.PCK_FRACTION * cache.heatmap_size[0] / float(cfg.data.bbox_enlarge))


def evaluate(model: Any, cfg: Any, cache: Any, out: Path) -> dict[str, Any]:
    """Synthetic mAP (clip, key-only) and, per held-out real clip, the neighbour report."""
    import numpy as np

    from semapose.engine.neighbour_use import hits, neighbour_report, predict

    res: dict[str, Any] = {"synthetic": TR.eval_synthetic(model, cfg, cache, out)}
    decode = model.decode_clip
    key_only_(model)
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

    from semapose.data.unlabeled import FeatureCache
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
    cache = FeatureCache(work / "cache")
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
    t0, cpu0 = time.perf_counter(), time.process_time()
    log: list[dict[str, Any]] = []
    if variant != "zero_shot":
        log = fit_on_cache(model, cfg, cache, rows, fc, out_dir=out, resume=True)
    train_cpu = time.process_time() - cpu0
    model.eval()
    if variant != "zero_shot":
        save_partial_weights(model, cfg, out / "temporal.safetensors", step=str(steps))
    if variant in KEY_ONLY:
        key_only_(model)
    result = {
        "variant": variant,
        "seed": seed,
        "steps": steps,
        "fit": {k: v for k, v in fc.__dict__.items()},
        "train_wall_seconds": time.perf_counter() - t0,
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
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as fh:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", f"{variant}:{seed}", "--steps", str(steps)],
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        if proc.returncode != 0:
            print(f"{variant} seed {seed} failed (see {log})", file=sys.stderr)
            return None
    result: dict[str, Any] = json.loads(done.read_text())
    return result


# ----------------------------------------------------------------------------- report


def _mean_sd(values: list[Any]) -> tuple[float, float, int]:
    v = [float(x) for x in values if x is not None]
    if not v:
        return float("nan"), float("nan"), 0
    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else 0.0), len(v)


def _f(ms: tuple[float, float, int]) -> str:
    m, s, n = ms
    if m != m:
        return "n/a"
    return f"{m:.1f} ± {s:.1f}" if n > 1 else f"{m:.1f}"


def _get(d: Any, path: str) -> Any:
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def load_runs() -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for v in VARIANTS:
        for path in sorted((work_dir() / "neighbours").glob(f"{v}_s*/result.json")):
            r = json.loads(path.read_text())
            if r["variant"] == v:
                runs.setdefault(v, []).append(r)
    return runs


def cross_recovery(
    runs: dict[str, list[dict[str, Any]]], variant: str, reference: str, split: str
) -> tuple[float, float, int]:
    """Share of the joints ``reference`` loses (key blacked out) that ``variant`` recovers,
    seed by seed (same seed of both), mean ± sd."""
    import numpy as np

    from semapose.engine.neighbour_use import recovered_share

    shares = []
    ref_seeds = {r["seed"] for r in runs.get(reference, [])}
    for r in runs.get(variant, []):
        if r["seed"] not in ref_seeds:
            continue
        a = np.load(work_dir() / "neighbours" / f"{variant}_s{r['seed']}" / f"hits_{split}.npz")
        b = np.load(work_dir() / "neighbours" / f"{reference}_s{r['seed']}" / f"hits_{split}.npz")
        shares.append(recovered_share(a["blackout"], b["blackout"], a["counted"]))
    return _mean_sd(shares)


def aggregate(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    keys = [
        "synthetic.mAP",
        "synthetic.clean",
        "synthetic.degraded",
        "synthetic_key_only.clean",
        "synthetic_key_only.degraded",
    ]
    for split in TR.REAL_TESTS:
        keys += [
            f"real.{split}.{k}"
            for k in (
                "clean_input",
                "degraded_frames",
                "degraded_frames_key_only",
                "key_only_gap",
                "blackout",
                "blackout_key_only",
                "occluded",
                "occluded_key_only",
                "recovered",
                "sensitivity",
            )
        ]
    agg: dict[str, Any] = {}
    for v, rs in runs.items():
        a: dict[str, Any] = {k: _mean_sd([_get(r, k) for r in rs]) for k in keys}
        a["seeds"] = sorted(r["seed"] for r in rs)
        a["train_wall_seconds"] = statistics.fmean(r["train_wall_seconds"] for r in rs)
        a["train_cpu_seconds"] = sum(r["train_cpu_seconds"] for r in rs)
        a["params"] = rs[0]["params"].get("temporal", 0)
        for split in TR.REAL_TESTS:
            types = sorted({t for r in rs for t in (_get(r, f"real.{split}.by_type") or {})})
            a[f"by_type.{split}"] = {
                t: _mean_sd([(_get(r, f"real.{split}.by_type") or {}).get(t) for r in rs])
                for t in types
            }
            for ref in ("adapter", "single_frame"):
                a[f"recovered_vs_{ref}.{split}"] = cross_recovery(runs, v, ref, split)
        agg[v] = a
    return agg


def goals(agg: dict[str, Any]) -> list[list[Any]]:
    """The issue's goals for ``ours``: each target, the measured figure, the shortfall."""
    if "ours" not in agg:
        return []
    o = agg["ours"]
    rows: list[list[Any]] = []

    def add(name: str, value: float, target: float) -> None:
        if value != value:  # a variant it needs has not been run
            rows.append([name, "n/a", f"{target:+.1f}", "not measured"])
            return
        short = "" if value >= target else f" (short by {target - value:.1f})"
        rows.append([name, f"{value:+.1f}", f"{target:+.1f}", "yes" if not short else "no" + short])

    def m(v: str, key: str) -> float:
        return float(agg[v][key][0]) if v in agg else float("nan")

    for split, clip in TR.REAL_TESTS.items():
        k = f"real.{split}.degraded_frames"
        add(
            f"{clip}: degraded PCK, ours - untrained single-frame",
            m("ours", k) - m("zero_shot", k),
            10,
        )
        add(f"{clip}: degraded PCK, ours - adapter", m("ours", k) - m("adapter", k), 5)
        add(f"{clip}: key-only gap", m("ours", f"real.{split}.key_only_gap"), 5)
        best = max((m(p, k) for p in PIXEL_MOTION if p in agg), default=float("nan"))
        add(f"{clip}: degraded PCK, ours - best pixel motion", m("ours", k) - best, 0)
        rec = o[f"recovered_vs_adapter.{split}"][0]
        add(f"{clip}: blacked-out key, % of the adapter's lost joints recovered", rec, 50)
        td = agg.get("temporal_difference", {}).get(f"recovered_vs_adapter.{split}")
        if td is not None:
            add(f"{clip}: recovered, ours - temporal difference", rec - td[0], 0)
    add(
        "synthetic degraded mAP, ours - adapter",
        m("ours", "synthetic.degraded") - m("adapter", "synthetic.degraded"),
        5,
    )
    add(
        "synthetic degraded key-only gap",
        m("ours", "synthetic.degraded") - m("ours", "synthetic_key_only.degraded"),
        3,
    )
    best = max((m(p, "synthetic.degraded") for p in PIXEL_MOTION if p in agg), default=float("nan"))
    add(
        "synthetic degraded mAP, ours - best pixel motion",
        m("ours", "synthetic.degraded") - best,
        0,
    )
    add(
        "synthetic clean mAP, ours - adapter",
        m("ours", "synthetic.clean") - m("adapter", "synthetic.clean"),
        -0.5,
    )
    return rows


def report(results: Path, seconds: float) -> dict[str, Any]:
    from common import command_line, machine_info, machine_line, md_table, write_results

    runs = load_runs()
    agg = aggregate(runs)
    order = [v for v in VARIANTS if v in agg]
    cpu = sum(a["train_cpu_seconds"] for a in agg.values()) / 60
    lines = [
        "# Does the temporal module use the neighbouring frames? (issue 26)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine_line(machine_info(threads=1))} (shared with other jobs)  ",
        f"Every trained variant: the same cache, {STEPS} steps x batch {BATCH} clips (T = 5, "
        "offsets -2..2), AdamW (temporal lr 1e-3, head lr 1e-4, cosine), frozen BlazePose; "
        f"curriculum {CURRICULUM} (half of each batch with a degraded key frame, 15 % of key "
        "frames blacked out); training CPU time over all runs "
        f"{cpu:.0f} min. `seeds` lists the seeds each variant has (CPU budget: not every "
        "variant got 3). Mean ± sd over seeds. `adapter` = our module with the same layers, "
        "trained and tested with every supporting frame replaced by the key frame "
        "(the single-frame adapter of equal capacity). Our numbers on our data, not the paper's.",
        "",
        "## Key-only gap: what the neighbours give",
        "",
        "PCK@0.1 of person height against the teacher's answer on the clean frame, on the "
        "degraded frames of each held-out real clip; *key only* = the same trained model "
        "with every supporting frame replaced by the key frame. Synthetic: PoseTrack mAP "
        "on the degraded frames of the synthetic test split (exact ground truth).",
        "",
    ]
    head = ["variant", "seeds", "synthetic degraded", "key only"]
    for clip in TR.REAL_TESTS.values():
        head += [f"{clip}: degraded", "key only", "gap"]
    body = []
    for v in order:
        a = agg[v]
        row = [
            v,
            ",".join(map(str, a["seeds"])),
            _f(a["synthetic.degraded"]),
            _f(a["synthetic_key_only.degraded"]),
        ]
        for split in TR.REAL_TESTS:
            row += [
                _f(a[f"real.{split}.degraded_frames"]),
                _f(a[f"real.{split}.degraded_frames_key_only"]),
                _f(a[f"real.{split}.key_only_gap"]),
            ]
        body.append(row)
    lines.append(md_table(head, body))
    lines += [
        "",
        "## Occluded-key recovery and neighbour sensitivity",
        "",
        "*Blacked out*: the key frame replaced by the backbone's features of an all-black "
        "crop, the supporting frames clean; PCK with the neighbours and key only, and the "
        "share of the joints the adapter (same seed) / the trained single-frame head loses "
        "there that the variant brings back within 0.1 of person height. *Occluded*: the "
        "cache's own occluder and dropped-frame events on the key frame, neighbours clean. "
        "*Sensitivity*: mean over degraded clips of the largest heatmap change when the "
        "neighbours are replaced by the key frame.",
        "",
    ]
    head = ["variant"]
    for clip in TR.REAL_TESTS.values():
        head += [
            f"{clip}: blacked out",
            "key only",
            "recovered vs adapter %",
            "vs single-frame %",
            "occluded",
            "key only",
            "sensitivity",
        ]
    body = []
    for v in order:
        a = agg[v]
        row = [v]
        for split in TR.REAL_TESTS:
            row += [
                _f(a[f"real.{split}.blackout"]),
                _f(a[f"real.{split}.blackout_key_only"]),
                _f(a[f"recovered_vs_adapter.{split}"]),
                _f(a[f"recovered_vs_single_frame.{split}"]),
                _f(a[f"real.{split}.occluded"]),
                _f(a[f"real.{split}.occluded_key_only"]),
                f"{a[f'real.{split}.sensitivity'][0]:.2g}",
            ]
        body.append(row)
    lines.append(md_table(head, body))
    lines += ["", "## Clean input and synthetic clean frames", ""]
    head = ["variant", "synthetic mAP all", "clean", "clean key only"]
    head += [f"{clip}: clean input" for clip in TR.REAL_TESTS.values()]
    body = [
        [
            v,
            _f(agg[v]["synthetic.mAP"]),
            _f(agg[v]["synthetic.clean"]),
            _f(agg[v]["synthetic_key_only.clean"]),
        ]
        + [_f(agg[v][f"real.{s}.clean_input"]) for s in TR.REAL_TESTS]
        for v in order
    ]
    lines.append(md_table(head, body))
    for split, clip in TR.REAL_TESTS.items():
        types = sorted({t for v in order for t in agg[v][f"by_type.{split}"]})
        if not types:
            continue
        lines += ["", f"Degraded frames of {clip} by type (PCK, mean over seeds):", ""]
        lines.append(
            md_table(
                ["variant", *types],
                [
                    [
                        v,
                        *[
                            _f(agg[v][f"by_type.{split}"].get(t, (float("nan"), 0.0, 0)))
                            for t in types
                        ],
                    ]
                    for v in order
                ],
            )
        )
    lines += ["", "## Cost", ""]
    lines.append(
        md_table(
            ["variant", "train s / run (wall, shared CPU)", "deploy params (temporal)"],
            [[v, f"{agg[v]['train_wall_seconds']:.0f}", agg[v]["params"]] for v in order],
        )
    )
    g = goals(agg)
    if g:
        lines += ["", "## The issue's goals, for `ours` (means over its seeds)", ""]
        lines.append(md_table(["goal", "measured", "target", "met"], g))
    result = {
        "command": command_line(),
        "machine": machine_info(threads=1),
        "steps": STEPS,
        "batch": BATCH,
        "curriculum": CURRICULUM,
        "wall_minutes": seconds / 60,
        "aggregate": agg,
        "goals": g,
        "runs": {
            v: [{k: x for k, x in r.items() if k != "log"} for r in rs] for v, rs in runs.items()
        },
    }
    write_results("temporal_neighbours", result, "\n".join(lines), results)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default="", help="comma-separated (default: the launch order)")
    ap.add_argument("--seeds", default="", help="comma-separated (default: the launch order)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--report-only", action="store_true", help="tables from the finished runs")
    ap.add_argument("--results", default=str(RESULTS))
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
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            list(pool.map(lambda j: launch(j[0], j[1], args.steps), jobs))
    report(Path(args.results), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
