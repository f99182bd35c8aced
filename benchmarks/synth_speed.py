"""Speed of the synthetic data generator (``semapose synth``), frames per second.

Usage::

    python benchmarks/synth_speed.py [--runs 3] [--videos 4] [--frames 50] [--size 256x256]

Measures, in this one process, (a) rendering + degradation in memory and (b) the
whole ``generate_dataset`` pipeline writing a PoseTrack18 folder (JPEG frames,
JSON, H.264 MP4), each as the median over ``--runs`` runs with different seeds.
Prints a table and saves ``benchmarks/results/synth_speed.{json,md}``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile

from harness.cli import parser
from harness.machine import load_average
from harness.report import write_results
from harness.timing import Clock


def _render_rate(videos: int, frames: int, size: tuple[int, int], seed: int) -> tuple[float, float]:
    """(wall-clock frames/s, frames per CPU-second of this process)."""
    from semapose.data.synthetic import iter_video

    n = 0
    with Clock() as clock:
        for i in range(videos):
            for _ in iter_video(seed, "train", i, frames, size, (1, 3), None):
                n += 1
    return n / clock.wall, n / clock.cpu


def _write_rate(
    videos: int, frames: int, size: tuple[int, int], seed: int, video: bool
) -> tuple[float, float]:
    from semapose.data.synthetic import generate_dataset

    with tempfile.TemporaryDirectory() as tmp, Clock() as clock:
        generate_dataset(tmp, videos, frames, seed, size=size, write_video=video)
    n = videos * frames
    return n / clock.wall, n / clock.cpu


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--size", default="256x256")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    size = (w, h)
    names = ("render + degrade (memory)", "write, JPEG + JSON", "write, JPEG + JSON + MP4")
    rows: dict[str, list[float]] = {k: [] for k in names}
    cpu_rows: dict[str, list[float]] = {k: [] for k in names}
    for run in range(args.runs):
        seed = 1000 + run
        measured = (
            _render_rate(args.videos, args.frames, size, seed),
            _write_rate(args.videos, args.frames, size, seed, False),
            _write_rate(args.videos, args.frames, size, seed, True),
        )
        for k, (wall, cpu) in zip(names, measured, strict=True):
            rows[k].append(wall)
            cpu_rows[k].append(cpu)
    load = load_average()
    result = {
        "benchmark": "synth_speed",
        "size": list(size),
        "videos": args.videos,
        "frames": args.frames,
        "runs": args.runs,
        "people": [1, 3],
        "degrade": "all (rate 0.35)",
        "frames_per_second_median": {k: round(statistics.median(v), 1) for k, v in rows.items()},
        "frames_per_second_runs": {k: [round(x, 1) for x in v] for k, v in rows.items()},
        "frames_per_cpu_second_median": {
            k: round(statistics.median(v), 1) for k, v in cpu_rows.items()
        },
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "load_average_1min_at_end": load,
        },
    }
    lines = [
        f"# Synthetic generator speed ({w}x{h}, {args.videos} videos x {args.frames} frames, "
        f"1-3 people, all degradations, median of {args.runs} runs, one process)",
        "",
        "| stage | frames/s (median, wall clock) | runs | frames per CPU-second (median) |",
        "|---|---:|---|---:|",
    ]
    for k, v in rows.items():
        runs = ", ".join(f"{x:.1f}" for x in v)
        lines.append(
            f"| {k} | {statistics.median(v):.1f} | {runs} | {statistics.median(cpu_rows[k]):.1f} |"
        )
    lines += [
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, 1-min load {load:.2f} at the end.",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    write_results("synth_speed", result, table, args.out, show=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
