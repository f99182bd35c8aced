"""Memory of ``evaluate``'s ignore-region test with many people in one frame.

Usage::

    python benchmarks/eval_memory.py                  # 10k, 50k, 200k people
    python benchmarks/eval_memory.py --people 10000

poseval drops every keypoint inside a frame's ignore regions. The test used to
build (points x polygon edges) arrays for the whole frame at once; it now runs in
chunks of ``semapose.evaluation.polygon.MAX_PAIRS`` (point, edge) pairs. Each
configuration runs in a fresh child process: ``points_in_polygons`` on
``people x 15`` random keypoints of a 1920x1080 frame against one 40-vertex ignore
region, chunked (as shipped) and as one chunk (the previous behaviour; only up to
50k people, beyond it needs several GB). Reported: peak resident memory above the
process's baseline (``ru_maxrss``) and wall seconds, median of ``--repeat`` runs.

Results: ``benchmarks/results/eval_memory.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from harness.child import run_child
from harness.cli import parser
from harness.machine import command_line, machine_info, machine_line
from harness.memory import peak_rss_mb
from harness.report import md_table, write_results

OLD_LIMIT = 50_000


def child(people: int, whole: bool) -> None:
    import numpy as np

    from semapose.evaluation import polygon

    rng = np.random.default_rng(0)
    px = rng.uniform(0, 1920, people * 15)
    py = rng.uniform(0, 1080, people * 15)
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    ring = np.stack([960 + 500 * np.cos(t), 540 + 300 * np.sin(t)], axis=1)
    if whole:
        polygon.MAX_PAIRS = 1 << 62  # one chunk: the previous behaviour
    base = peak_rss_mb()
    start = time.perf_counter()
    inside = polygon.points_in_polygons(px, py, [ring])
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "peak_above_base_mb": round(peak_rss_mb() - base, 1),
                "seconds": round(seconds, 3),
                "inside": int(inside.sum()),
            }
        )
    )


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--people", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1] == "whole")
        return
    rows, results = [], []
    for people in args.people:
        for mode in ("chunked", "whole"):
            if mode == "whole" and people > OLD_LIMIT:
                continue
            runs = [
                run_child(Path(__file__), ["--child", str(people), mode])
                for _ in range(args.repeat)
            ]
            assert len({r["inside"] for r in runs}) == 1
            peak = statistics.median(r["peak_above_base_mb"] for r in runs)
            secs = statistics.median(r["seconds"] for r in runs)
            results.append(
                {
                    "people": people,
                    "mode": mode,
                    "peak_above_base_mb": peak,
                    "seconds": secs,
                    "inside": runs[0]["inside"],
                    "runs": runs,
                }
            )
            rows.append([f"{people:,}", f"{people * 15:,}", mode, f"{peak:.1f}", f"{secs:.2f}"])
    info = machine_info(threads=1)
    md = (
        "### evaluate: ignore-region test, many people in one frame\n\n"
        + md_table(["people", "keypoints", "mode", "peak MiB above base", "seconds"], rows)
        + f"\n\n40-vertex ignore region; median of {args.repeat} fresh processes. "
        + "'whole' is the previous one-chunk computation. "
        + f"Machine shared with other work: {machine_line(info)}.\n\n`{command_line()}`\n"
    )
    write_results("eval_memory", {"machine": info, "results": results}, md, args.out)


if __name__ == "__main__":
    main()
