"""Start-up of ``semapose predict``: time to the first frame and the cost of the first frames.

Usage::

    python benchmarks/startup.py                       # two_people_72f, default model
    python benchmarks/startup.py --video basketball_300f.mp4 --frames 60 --tag after

Runs what ``semapose predict`` runs (:func:`semapose.inference.job.predict_source`, default
detector, no overlay) in a fresh process and times: importing torch and loading the
model, building the detector, and every frame's step split into detector / model
(encode + decode) / other, with which kind of detection ran (tiled ``full``, ``near``
re-anchoring, none). Reports the median step of frames 0-29 against frames 30 on, the
job's warm-up (``--no-warm-up``: skipped, as before it existed), the time to frame 30, and
``frames_shown_slow``: after how many frames a progress bar's rate (tqdm's moving
average) first comes within 1.5x of the steady time per frame. On a shared, loaded
machine the wall-clock times are noisy; the CPU times of the process (``*_cpu_*``,
``time.process_time``: this process's work, all its threads) are what to compare. Results:
``benchmarks/results/startup_<tag>.{json,md}``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.cli import parser
from harness.machine import command_line, machine_info, set_threads
from harness.paths import missing, videos_dir
from harness.report import md_table, provenance, write_results
from harness.road import TimedDetector


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, threads=2)
    ap.add_argument("--video", default="two_people_72f.mp4")
    ap.add_argument("--frames", type=int, default=72)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--tag", default="now", help="results file suffix (before / after)")
    ap.add_argument(
        "--no-warm-up",
        action="store_true",
        help="skip the job's warm-up (the behaviour before it existed), for comparison",
    )
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    set_threads(args.threads)
    import torch  # noqa: F401

    t_torch = time.perf_counter()
    from semapose.inference import job as job_mod
    from semapose.inference.pipeline import TemporalRunner
    from semapose.inference.predictor import Predictor
    from semapose.inference.stream import make_detector

    video = videos_dir() / args.video
    if not video.is_file():
        print(missing(video))
        return 1
    predictor = Predictor.create(args.weights, "cpu")
    t_model = time.perf_counter()
    det = TimedDetector(make_detector(None, None))
    t_det = time.perf_counter()

    model_time: dict[int, float] = {}
    orig_push = TemporalRunner.push_frame

    def push_frame(self: Any, index: int, *a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        out = orig_push(self, index, *a, **k)
        model_time[index] = time.perf_counter() - t0
        return out

    steps: dict[int, float] = {}
    cpu_steps: dict[int, float] = {}
    from semapose.inference.stream import PoseStream

    orig_step = PoseStream.step

    def step(self: Any, index: int, *a: Any, **k: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        out = orig_step(self, index, *a, **k)
        steps[index] = time.perf_counter() - t0
        cpu_steps[index] = time.process_time() - c0
        return out

    warm_seconds: list[float] = []
    orig_warm = job_mod.warm_up

    warm_cpu: list[float] = []

    def warm(*a: Any, **k: Any) -> float:
        c0 = time.process_time()
        seconds = 0.0 if args.no_warm_up else orig_warm(*a, **k)
        warm_seconds.append(seconds)
        warm_cpu.append(time.process_time() - c0)
        return seconds

    TemporalRunner.push_frame = push_frame  # type: ignore[method-assign]
    PoseStream.step = step  # type: ignore[method-assign]
    job_mod.warm_up = warm  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            predictor.run_one(
                video, Path(tmp), detector_obj=det, write_video=False, progress=False,
                max_frames=args.frames,
            )  # fmt: skip
            t_run = time.perf_counter() - t0
    finally:
        TemporalRunner.push_frame = orig_push  # type: ignore[method-assign]
        PoseStream.step = orig_step  # type: ignore[method-assign]
        job_mod.warm_up = orig_warm  # type: ignore[assignment]
    frames = sorted(steps)
    per = []
    for f in frames:
        kind, dt = det.log.get(f, ("-", 0.0))
        per.append(
            {
                "frame": f,
                "step_ms": 1e3 * steps[f],
                "detector": kind,
                "detector_ms": 1e3 * dt,
                "model_ms": 1e3 * model_time.get(f, 0.0),
                "step_cpu_ms": 1e3 * cpu_steps[f],
            }
        )
    early = [p["step_ms"] for p in per if p["frame"] < 30]
    late = [p["step_ms"] for p in per if p["frame"] >= 30]
    steady = float(np.median(late)) if late else float(np.median(early))
    shown = _shown_rate([p["step_ms"] for p in per])
    slow_shown = _until_steady(shown, steady)
    cpu = [p["step_cpu_ms"] for p in per]
    cpu_early, cpu_late = cpu[:30], cpu[30:]
    cpu_steady = float(np.median(cpu_late)) if cpu_late else float(np.median(cpu_early))
    cpu_shown = _shown_rate(cpu)
    cpu_slow = _until_steady(cpu_shown, cpu_steady)
    summary = {
        "warm_up_s": sum(warm_seconds),
        "warm_up_cpu_s": sum(warm_cpu),
        "first_frame_cpu_ms": cpu[0] if cpu else None,
        "median_step_cpu_ms_frames_0_29": float(np.median(cpu_early)) if cpu_early else None,
        "median_step_cpu_ms_frames_30_on": cpu_steady,
        "frames_shown_slow_cpu": cpu_slow,
        "to_frame_30_cpu_s": sum(cpu_early) / 1e3 + sum(warm_cpu),
        "frames_shown_slow": slow_shown,
        "to_frame_30_s": sum(p["step_ms"] for p in per[:30]) / 1e3 + sum(warm_seconds),
        "import_torch_s": t_torch - t_start,
        "load_model_s": t_model - t_torch,
        "build_detector_s": t_det - t_model,
        "run_s": t_run,
        "first_frame_ms": per[0]["step_ms"] if per else None,
        "median_step_ms_frames_0_29": float(np.median(early)) if early else None,
        "median_step_ms_frames_30_on": float(np.median(late)) if late else None,
        "mean_step_ms_frames_0_29": float(np.mean(early)) if early else None,
        "mean_step_ms_frames_30_on": float(np.mean(late)) if late else None,
        "detector_calls_0_29": {
            k: sum(1 for p in per if p["frame"] < 30 and p["detector"] == k)
            for k in ("full", "near")
        },
        "detector_calls_30_on": {
            k: sum(1 for p in per if p["frame"] >= 30 and p["detector"] == k)
            for k in ("full", "near")
        },
    }
    rows = [
        [p["frame"], f"{p['step_ms']:.0f}", f"{p['step_cpu_ms']:.0f}", p["detector"],
         f"{p['detector_ms']:.0f}", f"{p['model_ms']:.0f}"]
        for p in per[:40]
    ]  # fmt: skip
    info = machine_info(threads=args.threads)
    md = "\n".join(
        [
            f"# Start-up of predict ({args.tag})",
            "",
            f"Model: {predictor.describe()}; {args.video}, first {len(per)} frames; no overlay.",
            "",
            md_table(["quantity", "value"], [[k, _show(v)] for k, v in summary.items()]),
            "",
            "First 40 frames (ms):",
            "",
            md_table(["frame", "step", "step CPU", "detector", "detector ms", "model ms"], rows),
            "",
            *provenance(command_line(), info),
        ]
    )
    write_results(
        f"startup_{args.tag}",
        {"summary": summary, "frames": per, "command": command_line(), "machine": info},
        md,
        args.out,
    )
    print(md)
    return 0


def _until_steady(shown: list[float], steady: float) -> int:
    """Frames before a progress bar's shown time per frame first comes within 1.5x of the
    steady one (0: from the first frame)."""
    for i, r in enumerate(shown):
        if r <= 1.5 * steady:
            return i
    return len(shown)


def _shown_rate(step_ms: list[float], smoothing: float = 0.3) -> list[float]:
    """ms/frame a progress bar shows after each frame: tqdm's exponential moving average
    (``smoothing`` 0.3) of the time per frame, updated every frame."""
    out: list[float] = []
    ema = None
    for dt in step_ms:
        ema = dt if ema is None else smoothing * dt + (1 - smoothing) * ema
        out.append(ema)
    return out


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


if __name__ == "__main__":
    sys.exit(main())
