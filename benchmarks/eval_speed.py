"""Speed of ``semapose evaluate`` (poseval-exact mAP) at PoseTrack18-val size.

Usage::

    python benchmarks/eval_speed.py [--sequences 170] [--frames 40] [--max-people 20]
                                    [--runs 3] [--coco] [--track]

Generates a random GT/prediction set (``semapose.evaluation.random_sets``; default
170 sequences, ~30 labeled frames each, ~50k GT people, with ignore regions,
unlabeled frames and missing joints), then times, as the median over
``--runs``: loading + poseval clean-up, the assignment, the AP, and the whole
``evaluate_posetrack`` call. Prints a table and saves
``benchmarks/results/eval_speed.{json,md}``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from harness.cli import parser
from harness.machine import command_line, load_average
from harness.report import write_results
from harness.timing import Clock

CPU_TIMES: dict[str, list[float]] = {}


def _timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Result and wall seconds; the process CPU seconds go to CPU_TIMES[fn name]."""
    with Clock() as clock:
        out = fn(*args, **kwargs)
    CPU_TIMES.setdefault(fn.__name__, []).append(clock.cpu)
    return out, clock.wall


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--sequences", type=int, default=170)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--max-people", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--coco", action="store_true", help="also time the pycocotools OKS AP")
    ap.add_argument("--track", action="store_true", help="also time the motmetrics tracking")
    ap.add_argument("--data", type=Path, help="reuse DATA/gt and DATA/pred instead of generating")
    args = ap.parse_args(argv)

    from semapose.evaluation.posetrack_map import compute_map, evaluate_posetrack, match
    from semapose.evaluation.poseval_io import load_eval_set
    from semapose.evaluation.random_sets import write_random_set

    rows: dict[str, list[float]] = {"load + clean-up": [], "assignment": [], "AP": [], "total": []}
    if args.coco:
        rows["COCO OKS AP"] = []
    if args.track:
        rows["tracking (motmetrics)"] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.data is not None:
            tmp, t_gen = str(args.data), 0.0
        else:
            _, t_gen = _timed(
                write_random_set, tmp, 7, n_seq=args.sequences, n_frames=args.frames,
                max_people=args.max_people,
            )  # fmt: skip
        gt_dir, pr_dir = Path(tmp) / "gt", Path(tmp) / "pred"
        size_mb = sum(f.stat().st_size for f in Path(tmp).rglob("*.json")) / 1e6
        for _ in range(args.runs):
            es, t_load = _timed(load_eval_set, gt_dir, pr_dir)
            m, t_match = _timed(match, es)
            _, t_ap = _timed(compute_map, es, m)
            _, t_total = _timed(evaluate_posetrack, gt_dir, pr_dir)
            rows["load + clean-up"].append(t_load)
            rows["assignment"].append(t_match)
            rows["AP"].append(t_ap)
            rows["total"].append(t_total)
            if args.coco:
                from semapose.evaluation.coco_ap import evaluate_coco

                rows["COCO OKS AP"].append(_timed(evaluate_coco, es)[1])
            if args.track:
                from semapose.evaluation.tracking import evaluate_tracking

                rows["tracking (motmetrics)"].append(_timed(evaluate_tracking, es, m)[1])
    sizes = {
        "sequences": len(es.seq_names),
        "frames_evaluated": int(es.num_frames),
        "gt_people": int(len(es.gt_has)),
        "pred_people": int(len(es.pr_has)),
        "json_mb": round(size_mb, 1),
        "generation_s": round(t_gen, 2),
    }
    med = {k: statistics.median(v) for k, v in rows.items()}
    cpu = {k: statistics.median(v) for k, v in CPU_TIMES.items() if k != "write_random_set"}
    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "load_average_1min": load_average(),
    }
    print(f"data: {sizes}")
    lines = ["| step | wall seconds (median) |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in med.items()]
    lines += ["", "| function | process CPU seconds (median) |", "|---|---|"]
    lines += [f"| `{k}` | {v:.2f} |" for k, v in cpu.items()]
    table = "\n".join(lines)
    print(table)
    result = {"data": sizes, "seconds": med, "cpu_seconds": cpu, "all_runs": rows, "env": env}
    md = (
        "# Evaluation speed (poseval-exact mAP)\n\n"
        f"Generated set: {sizes['sequences']} sequences, {sizes['frames_evaluated']} labeled "
        f"frames, {sizes['gt_people']} GT people, {sizes['pred_people']} predicted people "
        f"({sizes['json_mb']} MB of JSON). {env['cpus']} CPUs (1-min load average "
        f"{env['load_average_1min']} while measuring: wall times include waiting for a "
        f"shared CPU), Python {env['python']}, median of {env['runs']} runs.\n\n"
        f"Command: `{command_line()}`\n\n" + table + "\n"
    )
    write_results("eval_speed", result, md, args.out, show=False)
    print(json.dumps(med))
    return 0


if __name__ == "__main__":
    sys.exit(main())
