"""Aggregation, goal check, tables and curves of ``benchmarks/temporal_real.py``."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import temporal_real as TR
from harness.machine import machine_line
from harness.report import md_table
from harness.runs import fmt_mean_sd, get_path, mean_sd


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
        a: dict[str, Any] = {k: _ms([get_path(r, k) for r in rs]) for k in keys}
        for group in ("synthetic.by_type", "synthetic.by_severity", "real.degraded_input.by_type"):
            names = sorted({n for r in rs for n in (get_path(r, group) or {})})
            a[group] = {n: _ms([(get_path(r, group) or {}).get(n) for r in rs])[0] for n in names}
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
    name = next((v for v in TR.OURS if v in agg), None)
    single = agg.get("single_frame")
    if name is None or single is None:
        return {}
    ours = agg[name]
    pm = [v for v in TR.PIXEL_MOTION if v in agg]
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


def _ms(values: list[Any]) -> tuple[float, float]:
    """Mean and sd over seeds (None skipped)."""
    m, sd, _ = mean_sd(values)
    return m, sd


def _f(ms: tuple[float, float]) -> str:
    return fmt_mean_sd(*ms)


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
    order = [v for v in TR.VARIANTS if v in agg]
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
            f"## (2) Held-out real clip ({', '.join(TR.HELD_OUT)}), degraded by us: PCK vs the "
            "teacher on clean frames",
            "",
            f"PCK@{TR.PCK_FRACTION} of the person's height (= {thr:.2f} heatmap px = "
            f"{thr * 4:.1f} px of the 256 x 256 crop), over the {real0['joints']} joints the "
            f"teacher scores >= {TR.TEACHER_MIN_SCORE}. *Clean input*: the clean video "
            "(single-frame = 100 by definition for the untrained model). *Degraded input*: the "
            "video with our degradation spans; scored on all frames, on its clean frames and on "
            "its degraded frames.",
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
