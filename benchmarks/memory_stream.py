"""Memory of ``predict`` on a long 1080p stream: is the peak flat?

Usage::

    python benchmarks/memory_stream.py                 # 10,000 frames of 1920x1080
    python benchmarks/memory_stream.py --frames 2000   # shorter

1. A child process writes an H.264 MP4 of ``--frames`` generated 1920x1080 frames
   (a smooth background and ``--people`` moving figures; cached in
   ``runs/bench_cache/``), so the generator's memory is not counted.
2. This process runs :func:`semapose.inference.job.predict_source` (what ``semapose
   predict`` runs: decode, boxes, tracker, feature-cached temporal inference,
   resumable JSONL + state, final PoseTrack/COCO JSON) on it, with the generator's
   boxes as the detections (a box file; no detector), the tiny model and no overlay
   video unless ``--write-video``.
3. Resident memory (``/proc/self/statm``) is sampled every 100 emitted frames and by a
   thread every 0.2 s; the peak (``ru_maxrss``) is read at the end.

Results: ``benchmarks/results/memory_stream.{json,md}`` and ``memory_stream.png``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.child import run_child
from harness.cli import parser
from harness.machine import command_line, machine_info, set_threads
from harness.memory import peak_rss_mb, rss_mb
from harness.models import build_named
from harness.paths import CACHE
from harness.report import md_table, provenance, write_results

SCRIPT = Path(__file__).resolve()
W, H = 1920, 1080


def person_boxes(i: int, people: int) -> np.ndarray:
    """(people, 5) x1, y1, x2, y2, score of the figures in frame ``i`` (deterministic)."""
    out = []
    for k in range(people):
        x = 100 + (k * 400 + 3 * i) % (W - 400)
        y = 300 + 40 * np.sin(0.05 * i + k)
        out.append([x, y, x + 220, y + 560, 0.95])
    return np.asarray(out, dtype=np.float32)


def frames(n: int, people: int) -> Iterator[np.ndarray]:
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([(xx * 255 // W), (yy * 255 // H), np.full_like(xx, 90)], -1).astype(np.uint8)
    for i in range(n):
        img = base.copy()
        for x1, y1, x2, y2, _ in person_boxes(i, people):
            cx, x1i, y1i, x2i, y2i = int((x1 + x2) / 2), int(x1), int(y1), int(x2), int(y2)
            img[y1i : y1i + 110, cx - 45 : cx + 45] = (230, 190, 160)  # head
            img[y1i + 110 : y2i - 220, x1i + 30 : x2i - 30] = (40, 60, 200)  # torso
            img[y2i - 220 : y2i, x1i + 40 : cx - 10] = (30, 30, 30)  # legs
            img[y2i - 220 : y2i, cx + 10 : x2i - 40] = (30, 30, 30)
        yield img


def generate(path: Path, n: int, people: int) -> None:
    from semapose.io.video import VideoWriter

    with VideoWriter(path, fps=25.0, preset="ultrafast") as writer:
        for img in frames(n, people):
            writer.write(img)


class Sampler(threading.Thread):
    """Samples RSS every ``period`` seconds; keeps the maximum and a time series."""

    def __init__(self, period: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.period, self.max = period, 0.0
        self.series: list[tuple[float, float]] = []
        self._stop_event = threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        while not self._stop_event.is_set():
            r = rss_mb()
            self.max = max(self.max, r)
            self.series.append((time.perf_counter() - self.t0, r))
            self._stop_event.wait(self.period)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def measure(video: Path, n: int, people: int, write_video: bool) -> dict[str, Any]:
    import torch

    from semapose.inference.detectors.boxfile import BoxFileDetector
    from semapose.inference.job import JobOptions, predict_source
    from semapose.inference.pipeline import RunnerOptions

    rss_start = rss_mb()
    model, cfg = build_named("tiny 128x96")
    det = BoxFileDetector({i: person_boxes(i, people) for i in range(n)})
    rss_ready = rss_mb()
    samples: list[tuple[int, float, float]] = []
    t0 = time.perf_counter()

    def on_frames(fs: list[Any]) -> None:
        for f in fs:
            if f.index % 100 == 0:
                samples.append((f.index, time.perf_counter() - t0, rss_mb()))

    sampler = Sampler()
    sampler.start()
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        job = JobOptions(out_dir=Path(tmp), write_video=write_video, progress=False)
        res = predict_source(
            video,
            model,
            RunnerOptions.from_config(cfg, flip_test=True, crop="track"),
            det,
            job,
            on_frames=on_frames,
        )
    sampler.stop()
    rss = np.array([s[2] for s in samples])
    idx = np.array([s[0] for s in samples])
    late = idx >= min(1000, n // 2)
    slope = float(np.polyfit(idx[late], rss[late], 1)[0] * 1000) if late.sum() > 2 else 0.0
    early = float(rss[idx <= 500].max()) if (idx <= 500).any() else float(rss[0])
    return {
        "frames": res.frames,
        "seconds": res.seconds,
        "fps": res.frames / res.seconds,
        "rss_start_mb": rss_start,
        "rss_model_ready_mb": rss_ready,
        "rss_early_mb": early,
        "rss_streaming_max_mb": float(rss.max()),
        "rss_last_sample_mb": float(rss[-1]),
        "rss_sampler_max_mb": sampler.max,
        "peak_rss_mb": peak_rss_mb(),
        "slope_mb_per_1000_frames": slope,
        "samples": samples,
        "sampler_series": sampler.series[:: max(1, len(sampler.series) // 2000)],
        "stats": res.stats,
    }


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    idx = [s[0] for s in r["samples"]]
    ax.plot(idx, [s[2] for s in r["samples"]], label="RSS every 100 frames")
    ax.axhline(r["peak_rss_mb"], color="r", linestyle="--", label="peak (ru_maxrss)")
    ax.set_xlabel("frame")
    ax.set_ylabel("resident memory (MiB)")
    ax.set_ylim(0, r["peak_rss_mb"] * 1.2)
    ax.set_title(f"predict on {r['frames']} frames of 1920x1080 (tiny model, CPU)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    from semapose.io.atomic import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, threads=1)
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--people", type=int, default=2)
    ap.add_argument("--write-video", action="store_true")
    ap.add_argument("--_generate", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._generate:
        path, n, people = args._generate
        generate(Path(path), int(n), int(people))
        print('{"ok": true}')
        return 0
    set_threads(args.threads)
    video = CACHE / f"stream_{W}x{H}_{args.frames}f_{args.people}p.mp4"
    t0 = time.perf_counter()
    if not video.is_file():
        video.parent.mkdir(parents=True, exist_ok=True)
        run_child(SCRIPT, ["--_generate", str(video), str(args.frames), str(args.people)])
    gen_s = time.perf_counter() - t0
    r = measure(video, args.frames, args.people, args.write_video)
    r.update(
        generate_s=gen_s,
        video_mb=video.stat().st_size / 2**20,
        write_video=args.write_video,
        people=args.people,
        command=command_line(),
        machine=machine_info(threads=args.threads),
    )
    frame_mb = W * H * 3 / 2**20
    rows = [
        ["after imports", f"{r['rss_start_mb']:.0f}"],
        ["model built, boxes loaded", f"{r['rss_model_ready_mb']:.0f}"],
        ["early (max over frames 0-500)", f"{r['rss_early_mb']:.0f}"],
        ["max while streaming (every 100 frames)", f"{r['rss_streaming_max_mb']:.0f}"],
        ["max while streaming (sampled every 0.2 s)", f"{r['rss_sampler_max_mb']:.0f}"],
        ["last sample", f"{r['rss_last_sample_mb']:.0f}"],
        ["peak of the whole run (ru_maxrss, incl. final JSON)", f"{r['peak_rss_mb']:.0f}"],
    ]
    md = "\n".join(
        [
            f"# Memory of `predict` on a long stream: {r['frames']} frames of {W}x{H}",
            "",
            f"Tiny model 128x96, T=5, flip test, {args.people} people per frame (boxes given), "
            f"overlay video {'written' if args.write_video else 'not written'}; "
            f"{r['fps']:.1f} frames/s, {r['seconds'] / 60:.1f} min. One decoded frame is "
            f"{frame_mb:.1f} MiB, so holding all {r['frames']} would need "
            f"{frame_mb * r['frames'] / 1024:.1f} GiB.",
            "",
            md_table(["resident memory", "MiB"], rows),
            "",
            f"Growth after frame 1000 (linear fit): {r['slope_mb_per_1000_frames']:.2f} MiB "
            "per 1000 frames.",
            "",
            *provenance(r["command"], r["machine"]),
        ]
    )
    write_results("memory_stream", r, md, args.out)
    plot(r, args.out / "memory_stream.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
