"""Aggregation, goal check, tables and figure of ``benchmarks/accuracy.py``."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from harness.machine import machine_line
from harness.report import md_table
from harness.runs import mean_sd

PIXEL_MOTION_BASELINES = ("temporal_difference", "heatmap_warping")


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
    """Mean, sd and the values over seeds (None and NaN skipped)."""
    return mean_sd(values, drop_nan=True, exact=True)


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
