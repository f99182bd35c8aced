"""``predict`` speed: end to end and per stage on the real clips, and latency vs people.

Usage::

    python benchmarks/speed_pipeline.py --only predict          # default model, two_people_72f
    python benchmarks/speed_pipeline.py --only predict --repeat 5 --videos basketball_300f.mp4
    python benchmarks/speed_pipeline.py --only people --hrnet   # latency vs people

Sections (results in ``benchmarks/results/speed_pipeline.{json,md}``):

* ``predict``: :func:`semapose.inference.job.predict_source` (what ``semapose
  predict`` runs) on real clips (``$SEMAPOSE_SHARED_DATA/videos``, default
  ``two_people_72f.mp4``) with the default model and detector, in five settings
  measured in the same run: the previous loop (detector on every frame, without
  and with the overlay video), the previous ``--detect-every 10`` (the tracker's
  re-anchoring requests answered at once by the full tiled detector), and the
  current default (``--detect-every 10``, requests wait 3 frames after the last
  detection and are answered by ``detect_near``: the full frame plus the tiles of
  small followed people), without and with the overlay.
  Per stage, ms per frame: decode (video decoding), detect, crop (affine
  warps + normalisation), backbone (``encode_frames``/``encode_with_outputs``),
  temporal (``decode_clip``, incl. the head), keypoints (heatmap decoding), write
  (overlay drawing + H.264 encoding), other (tracking, JSON, bookkeeping). Each
  setting runs ``--repeat`` times; the medians are reported (the machine is
  shared by several engineers: expect noise, compare settings within one run).
* ``people``: latency per frame of the temporal pipeline
  (:class:`~semapose.inference.pipeline.TemporalRunner`, flip test on) on a 1080p
  frame with 1, 3, 5, 10, 20 people (given boxes: no detector), tiny model.

No GPU here.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.cli import parser
from harness.machine import machine_info, set_threads
from harness.models import build_named
from harness.paths import videos_dir
from harness.report import load_sections, md_table, section_footer, section_record, write_results
from harness.road import TimedDetector, people_written
from harness.timing import StageTimer

PEOPLE = (1, 3, 5, 10, 20)
#: published per-frame latency of DCPose vs people (as quoted in issue 9; A800 GPU)
DCPOSE_MS = {1: 150.0, 20: 721.0}


class TimedModel:
    """``encode_frames``/``encode_with_outputs`` -> "backbone", ``decode_clip`` -> "temporal"."""

    def __init__(self, model: Any, timer: StageTimer) -> None:
        self.model, self.timer = model, timer
        if hasattr(model, "encode_with_outputs"):
            self.encode_with_outputs = self._encode_with_outputs

    def encode_frames(self, images: Any) -> Any:
        with self.timer("backbone"):
            return self.model.encode_frames(images)

    def _encode_with_outputs(self, images: Any) -> Any:
        with self.timer("backbone"):
            return self.model.encode_with_outputs(images)

    def decode_clip(self, feats: Any) -> Any:
        with self.timer("temporal"):
            return self.model.decode_clip(feats)


class TimedWriter:
    def __init__(self, writer: Any, timer: StageTimer) -> None:
        self.writer, self.timer = writer, timer

    def __enter__(self) -> TimedWriter:
        with self.timer("write"):
            self.writer.__enter__()
        return self

    def write(self, frame: np.ndarray) -> None:
        with self.timer("write"):
            self.writer.write(frame)

    def __exit__(self, *exc: Any) -> None:
        with self.timer("write"):
            self.writer.__exit__(*exc)


@contextlib.contextmanager
def instrumented(timer: StageTimer) -> Iterator[None]:
    """Time decoding, cropping, heatmap decoding and the overlay inside ``predict_source``."""
    from semapose.inference import job, pipeline
    from semapose.inference.decoder import PoseDecoder
    from semapose.io.video import FrameSource

    orig_frames, orig_writer, orig_draw = FrameSource.frames, job._overlay_writer, job._draw
    orig_crop, orig_decode = pipeline.crop_image, PoseDecoder.decode

    def frames(self: Any, start: int = 0) -> Iterator[Any]:
        it = orig_frames(self, start)
        while True:
            with timer("decode"):
                frame = next(it, None)
            if frame is None:
                return
            yield frame

    def draw(fp: Any, *a: Any) -> np.ndarray:
        with timer("write"):
            return orig_draw(fp, *a)  # type: ignore[no-any-return]

    def crop(*a: Any, **k: Any) -> Any:
        with timer("crop"):
            return orig_crop(*a, **k)

    def decode(self: Any, *a: Any, **k: Any) -> Any:
        with timer("keypoints"):
            return orig_decode(self, *a, **k)

    FrameSource.frames = frames  # type: ignore[method-assign]
    job._overlay_writer = lambda path, fps: TimedWriter(orig_writer(path, fps), timer)
    job._draw = draw  # type: ignore[assignment]
    pipeline.crop_image = crop  # type: ignore[assignment]
    PoseDecoder.decode = decode  # type: ignore[method-assign]
    try:
        yield
    finally:
        FrameSource.frames = orig_frames  # type: ignore[method-assign]
        job._overlay_writer = orig_writer
        job._draw = orig_draw
        pipeline.crop_image = orig_crop
        PoseDecoder.decode = orig_decode  # type: ignore[method-assign]


# ----------------------------------------------------------------------------- predict


#: (label, detector period, overlay video, requests answered by ``detect_near``, the
#: schedule's min_gap (None: its default))
SETTINGS = (
    ("previous: detector every frame", 1, False, False, None),
    ("previous: detector every frame", 1, True, False, None),
    ("previous: --detect-every 10, requests tiled at once", 10, False, False, 1),
    ("now: --detect-every 10", 10, False, True, None),
    ("now: --detect-every 10", 10, True, True, None),
)
STAGES = ("decode", "detect", "crop", "backbone", "temporal", "keypoints", "write", "other")


def section_predict(weights: str | None, videos: list[str], repeat: int) -> dict[str, Any]:
    from semapose.inference.job import JobOptions, predict_source
    from semapose.inference.predictor import Predictor
    from semapose.inference.stream import make_detector
    from semapose.inference.tracking import DetectionSchedule

    vdir = videos_dir()
    paths = [vdir / v for v in (videos or ["two_people_72f.mp4"]) if (vdir / v).is_file()]
    if not paths:
        print(f"predict section skipped: no videos in {vdir}")
        return {"skipped": f"no videos in {vdir}"}
    predictor = Predictor.create(weights, "cpu")
    detector = make_detector(None, None)
    out: dict[str, Any] = {"model": predictor.describe(), "videos": {}}
    for video in paths:
        res: dict[str, Any] = {}
        for label, every, overlay, near, gap in SETTINGS:
            runs: list[dict[str, Any]] = []
            for _ in range(repeat):
                timer = StageTimer()
                timed = TimedDetector(detector, timer, near, warm=False)  # as measured so far
                with tempfile.TemporaryDirectory() as tmp, instrumented(timer):
                    job = JobOptions(out_dir=Path(tmp), write_video=overlay, progress=False)
                    r = predict_source(
                        video,
                        TimedModel(predictor.loaded.model, timer),
                        predictor.options,
                        timed,
                        job,
                        schedule=DetectionSchedule(every, gap),
                    )
                    people = people_written(Path(tmp), video.stem)
                stages = dict(timer.seconds)
                stages["other"] = max(0.0, r.seconds - sum(stages.values()))
                runs.append(
                    {
                        "frames": r.frames,
                        "seconds": r.seconds,
                        "ms_per_frame": {k: 1e3 * stages.get(k, 0.0) / r.frames for k in STAGES},
                        "people_per_frame": people / max(1, r.frames),
                        "detector_calls": dict(timed.calls),
                    }
                )
            key = f"{label}, {'overlay' if overlay else 'no overlay'}"
            res[key] = {
                "detect_every": every,
                "overlay": overlay,
                "near": near,
                "frames": runs[0]["frames"],
                "people_per_frame": runs[0]["people_per_frame"],
                "detector_calls": runs[0]["detector_calls"],
                "fps_median": float(np.median([x["frames"] / x["seconds"] for x in runs])),
                "fps_runs": [x["frames"] / x["seconds"] for x in runs],
                "ms_per_frame_median": {
                    k: float(np.median([x["ms_per_frame"][k] for x in runs])) for k in STAGES
                },
            }
            print(key, f"{res[key]['fps_median']:.2f} frames/s", flush=True)
        out["videos"][video.name] = res
    return out


def _calls(x: dict[str, Any]) -> str:
    c = x.get("detector_calls")
    return f"{c['full']}+{c['near']}" if c else "-"


def md_predict(s: dict[str, Any]) -> str:
    if "skipped" in s:
        return f"### predict on real clips\n\nSkipped: {s['skipped']}."
    rows = []
    notes = []
    for v, r in s["videos"].items():
        for key, x in r.items():
            rows.append(
                [
                    v,
                    key,
                    x["frames"],
                    f"{x['people_per_frame']:.1f}",
                    _calls(x),
                    f"{x['fps_median']:.2f}",
                ]
                + [f"{x['ms_per_frame_median'][k]:.1f}" for k in STAGES]
            )
        by = {
            (x["detect_every"], x["overlay"], x.get("near", False)): x["fps_median"]
            for x in r.values()
        }
        for every, _, near in sorted(k for k in by if not k[1]):
            if (every, True, near) in by:
                extra = by[(every, False, near)] / by[(every, True, near)] - 1
                notes.append(
                    f"* {v}, detector every {every}: the overlay costs {100 * extra:.0f}% more time"
                )
        now = by.get((10, False, True))
        for ref, what in (((1, False, False), "loop"), ((10, False, False), "--detect-every 10")):
            if now is not None and ref in by:
                notes.append(f"* {v}: now {now / by[ref]:.2f}x the frames/s of the previous {what}")
    head = ["video", "setting", "frames", "people/frame", "detector calls (tiled+near)"]
    head += ["frames/s (median)"]
    head += [f"{k} ms/frame" for k in STAGES]
    return "\n".join(
        [
            f"### `predict` on real clips ({s['model']}, default detector SSDLite)",
            "",
            "Medians of the repeated runs, ms per frame per stage; the machine is shared "
            "with other engineers' jobs (load average in the machine line), so absolute "
            "numbers are pessimistic; the settings are measured in the same run.",
            "",
            md_table(head, rows),
            "",
            *notes,
        ]
    )


# ----------------------------------------------------------------------------- people


def section_people(names: list[str], weights: str | None, quick: bool) -> dict[str, Any]:
    from semapose.inference.pipeline import RunnerOptions, TemporalRunner
    from semapose.inference.results import TrackBox

    frame = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    out: dict[str, Any] = {}
    for name in names:
        model, cfg = build_named(name, weights if name.startswith("tiny") else None)
        big = not name.startswith("tiny")
        timed = 2 if (quick or big) else 5
        res: dict[str, Any] = {}
        for crop in ("track",) if big else ("track", "key"):
            per: dict[str, Any] = {}
            for n in PEOPLE[:2] if quick else PEOPLE:
                runner = TemporalRunner(
                    model, RunnerOptions.from_config(cfg, flip_test=True, crop=crop)
                )
                warm = runner.lookahead + 1  # the first key frame is emitted after these
                times = []
                for i in range(warm + timed):
                    boxes = [TrackBox(k, _box(k, i), 0.9) for k in range(n)]  # a 5x4 grid, drifting
                    t0 = time.perf_counter()
                    runner.push(i, frame, boxes)
                    if i >= warm:
                        times.append(time.perf_counter() - t0)
                per[str(n)] = {
                    "ms": 1e3 * float(np.median(times)),
                    "runs_ms": [1e3 * t for t in times],
                }
            res[crop] = per
        out[name] = res
    return out


def _box(k: int, i: int) -> np.ndarray:
    col, row = k % 5, k // 5
    return np.array([40.0 + 370 * col + 2 * i, 40.0 + 260 * row, 160.0, 240.0])


def md_people(s: dict[str, Any]) -> str:
    rows = []
    for name, res in s.items():
        for crop, per in res.items():
            label = "cache" if crop == "track" else "recompute (peers)"
            rows.append(
                [f"{name}, {label}"]
                + [f"{per[str(n)]['ms']:.0f}" if str(n) in per else "-" for n in PEOPLE]
            )
    rows.append(["DCPose, A800 GPU (published, as quoted in issue 9)", "150", "-", "-", "-", "721"])
    return "\n".join(
        [
            "### Latency per frame vs people in the frame (ms, median; T=5, flip test, 1080p "
            "frame, boxes given)",
            "",
            md_table(["model / mode"] + [f"{n} people" for n in PEOPLE], rows),
        ]
    )


# ----------------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, threads=2)
    ap.add_argument("--only", default="predict,people")
    ap.add_argument("--repeat", type=int, default=3, help="runs per predict setting (median)")
    ap.add_argument("--model", default="tiny 128x96", help="speed.py model name")
    ap.add_argument("--hrnet", action="store_true", help="people section also for HRNet-W32")
    ap.add_argument(
        "--weights", default=None, help="predict: as --weights (default model); people: tiny ckpt"
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--videos", default="", help="comma list of file names (default: all)")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    result = load_sections(args.out, "speed_pipeline")
    for sec in [s for s in args.only.split(",") if s]:
        t0 = time.perf_counter()
        if sec == "predict":
            videos = [v for v in args.videos.split(",") if v]
            data = section_predict(args.weights, videos, 1 if args.quick else args.repeat)
        elif sec == "people":
            names = [args.model] + (["HRNet-W32 256x192"] if args.hrnet else [])
            data = section_people(names, args.weights, args.quick)
        else:
            ap.error(f"unknown section {sec}")
        result["sections"][sec] = section_record(
            data, machine_info(threads=args.threads), args.quick, time.perf_counter() - t0
        )
    result["benchmark"] = "speed_pipeline"
    parts = ["# Prediction pipeline speed on CPU (no GPU in this environment)", ""]
    for sec, render in (("predict", md_predict), ("people", md_people)):
        s = result["sections"].get(sec)
        if s:
            parts += [render(s["data"]), "", *section_footer(s)]
    write_results("speed_pipeline", result, "\n".join(parts), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
