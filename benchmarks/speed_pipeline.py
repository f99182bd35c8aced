"""``predict`` speed: end to end and per stage, feature cache vs recompute, latency vs people.

Usage::

    python benchmarks/speed_pipeline.py                    # both sections, tiny model
    python benchmarks/speed_pipeline.py --only people --hrnet   # adds HRNet-W32 256x192
    python benchmarks/speed_pipeline.py --quick

Sections (results in ``benchmarks/results/speed_pipeline.{json,md}``):

* ``predict``: :func:`semapose.inference.job.predict_source` (what ``semapose
  predict`` runs) on the real clips in ``/work/shared/data/videos`` (skipped with a
  message when missing), with the default detector (SSDLite) and the overlay video
  written; wall time per stage (decode, detect, backbone, temporal = decode_clip
  incl. head, write = overlay drawing + H.264 encoding, other = cropping, tracking,
  heatmap decoding, JSON) measured by wrapping those calls. Two modes with the same
  5-frame window: ``crop=track`` (ours: each frame encoded once per person, features
  cached and read by the 5 clips) and ``crop=key`` (as the paper and the peers crop:
  every clip re-crops and re-encodes its 5 frames with the key frame's box).
* ``people``: latency per frame of the temporal pipeline
  (:class:`~semapose.inference.pipeline.TemporalRunner`, flip test on) on a 1080p
  frame with 1, 3, 5, 10, 20 people (given boxes: no detector), both modes.

Weights are random unless ``--weights`` names a semapose checkpoint (the cost does
not depend on them; tracking does a little). No GPU here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    RESULTS,
    StageTimer,
    command_line,
    machine_info,
    machine_line,
    md_table,
    set_threads,
    write_results,
)
from speed import load_cfg  # noqa: E402

VIDEOS = Path("/work/shared/data/videos")
PEOPLE = (1, 3, 5, 10, 20)
#: published per-frame latency of DCPose vs people (as quoted in issue 9; A800 GPU)
DCPOSE_MS = {1: 150.0, 20: 721.0}


class TimedModel:
    """``encode_frames`` -> stage "backbone", ``decode_clip`` -> stage "temporal"."""

    def __init__(self, model: Any, timer: StageTimer) -> None:
        self.model, self.timer = model, timer

    def encode_frames(self, images: Any) -> Any:
        with self.timer("backbone"):
            return self.model.encode_frames(images)

    def decode_clip(self, feats: Any) -> Any:
        with self.timer("temporal"):
            return self.model.decode_clip(feats)


class TimedDetector:
    def __init__(self, detector: Any, timer: StageTimer) -> None:
        self.detector, self.timer = detector, timer

    def detect(self, frame: np.ndarray, frame_index: int | None = None) -> np.ndarray:
        with self.timer("detect"):
            return self.detector.detect(frame, frame_index)  # type: ignore[no-any-return]


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
    """Time frame decoding and the overlay writer inside ``predict_source``."""
    from semapose.inference import job
    from semapose.io.video import FrameSource

    orig_frames, orig_writer, orig_draw = FrameSource.frames, job._overlay_writer, job._draw

    def frames(self: Any, start: int = 0) -> Iterator[Any]:
        it = orig_frames(self, start)
        while True:
            with timer("decode"):
                frame = next(it, None)
            if frame is None:
                return
            yield frame

    def draw(fp: Any) -> np.ndarray:
        with timer("write"):
            return orig_draw(fp)  # type: ignore[no-any-return]

    FrameSource.frames = frames  # type: ignore[method-assign]
    job._overlay_writer = lambda path, fps: TimedWriter(orig_writer(path, fps), timer)
    job._draw = draw  # type: ignore[assignment]
    try:
        yield
    finally:
        FrameSource.frames = orig_frames  # type: ignore[method-assign]
        job._overlay_writer = orig_writer
        job._draw = orig_draw


def build(name: str, weights: str | None) -> tuple[Any, Any]:
    import torch

    from semapose.models.build import build_model

    torch.manual_seed(0)
    cfg = load_cfg(name)
    model = build_model(cfg).eval()
    if weights:
        from semapose.engine.checkpoint import load_weights

        load_weights(model, weights)
    return model, cfg


def options(cfg: Any, crop: str, flip: bool = True) -> Any:
    from semapose.inference.pipeline import RunnerOptions

    return RunnerOptions(
        input_size=tuple(cfg.data.image_size),
        heatmap_stride=cfg.data.heatmap_stride,
        sigma=cfg.data.sigma,
        offsets=tuple(cfg.data.offsets),
        bbox_enlarge=cfg.data.bbox_enlarge,
        flip_test=flip,
        refine=cfg.test.refine,
        batch_size=cfg.test.batch_size,
        crop=crop,
    )


# ----------------------------------------------------------------------------- predict


def section_predict(
    name: str, weights: str | None, quick: bool, only: list[str], max_frames: int | None
) -> dict[str, Any]:
    from semapose.inference.detectors import build_detector
    from semapose.inference.job import JobOptions, predict_source

    videos = sorted(VIDEOS.glob("*.mp4")) if VIDEOS.is_dir() else []
    if not videos:
        print(f"predict section skipped: no videos in {VIDEOS}")
        return {"skipped": f"no videos in {VIDEOS}"}
    if only:
        videos = [v for v in videos if v.name in only]
    if quick:
        videos = videos[-1:]
    model, cfg = build(name, weights)
    detector = build_detector("ssdlite")
    out: dict[str, Any] = {"model": name, "videos": {}}
    for video in videos:
        res: dict[str, Any] = {}
        for crop in ("track", "key"):
            timer = StageTimer()
            with tempfile.TemporaryDirectory() as tmp, instrumented(timer):
                job = JobOptions(
                    out_dir=Path(tmp), write_video=True, progress=False, max_frames=max_frames
                )
                r = predict_source(
                    video,
                    TimedModel(model, timer),
                    options(cfg, crop),
                    TimedDetector(detector, timer),
                    job,
                )
                people = _people(Path(tmp), video.stem)
            stages = {k: v for k, v in timer.seconds.items()}
            stages["other"] = max(0.0, r.seconds - sum(stages.values()))
            res[crop] = {
                "frames": r.frames,
                "seconds": r.seconds,
                "fps": r.frames / r.seconds,
                "ms_per_frame": {k: 1e3 * v / r.frames for k, v in stages.items()},
                "backbone_crops": r.stats.get("backbone_crops"),
                "people_per_frame": people / max(1, r.frames),
            }
        res["speedup_end_to_end"] = res["track"]["fps"] / res["key"]["fps"]
        ms_t, ms_k = res["track"]["ms_per_frame"], res["key"]["ms_per_frame"]
        res["speedup_model"] = (ms_k["backbone"] + ms_k["temporal"]) / (
            ms_t["backbone"] + ms_t["temporal"]
        )
        out["videos"][video.name] = res
    return out


def _people(out: Path, name: str) -> int:
    """People in the results: the final PoseTrack JSON, or the partial JSONL if stopped."""
    try:
        final = out / "posetrack" / f"{name}.json"
        if final.is_file():
            return len(json.loads(final.read_text()).get("annotations", []))
        lines = (out / ".partial" / name / "results.jsonl").read_text().splitlines()
        return sum(len(json.loads(line).get("persons", [])) for line in lines if line)
    except (OSError, ValueError):
        return 0


def md_predict(s: dict[str, Any]) -> str:
    if "skipped" in s:
        return f"### predict on real clips\n\nSkipped: {s['skipped']}."
    stages = ("decode", "detect", "backbone", "temporal", "write", "other")
    rows = []
    for v, r in s["videos"].items():
        for crop in ("track", "key"):
            x = r[crop]
            label = "cache (crop=track)" if crop == "track" else "recompute (crop=key, peers)"
            rows.append(
                [v, label, x["frames"], f"{x['people_per_frame']:.1f}", f"{x['fps']:.2f}"]
                + [f"{x['ms_per_frame'].get(k, 0.0):.0f}" for k in stages]
                + [x["backbone_crops"]]
            )
    head = ["video", "mode", "frames", "people/frame", "frames/s"]
    head += [f"{k} ms/frame" for k in stages] + ["backbone crops"]
    speed = [
        f"* {v}: end to end {r['speedup_end_to_end']:.2f}x, backbone+temporal "
        f"{r['speedup_model']:.2f}x faster with the cache"
        for v, r in s["videos"].items()
    ]
    return "\n".join(
        [
            f"### `predict` on real clips ({s['model']}, T=5, flip test, SSDLite detector, "
            "overlay video written)",
            "",
            md_table(head, rows),
            "",
            *speed,
        ]
    )


# ----------------------------------------------------------------------------- people


def section_people(names: list[str], weights: str | None, quick: bool) -> dict[str, Any]:
    from semapose.inference.pipeline import TemporalRunner
    from semapose.inference.results import TrackBox

    frame = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    out: dict[str, Any] = {}
    for name in names:
        model, cfg = build(name, weights if name.startswith("tiny") else None)
        big = not name.startswith("tiny")
        timed = 2 if (quick or big) else 5
        res: dict[str, Any] = {}
        for crop in ("track",) if big else ("track", "key"):
            per: dict[str, Any] = {}
            for n in PEOPLE[:2] if quick else PEOPLE:
                runner = TemporalRunner(model, options(cfg, crop))
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="predict,people")
    ap.add_argument("--model", default="tiny 128x96", help="speed.py model name")
    ap.add_argument("--hrnet", action="store_true", help="people section also for HRNet-W32")
    ap.add_argument("--weights", default=None, help="semapose checkpoint for the tiny model")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--videos", default="", help="comma list of file names (default: all)")
    ap.add_argument("--max-frames", type=int, default=None, help="per video (predict)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    path = args.out / "speed_pipeline.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    result.setdefault("sections", {})
    for sec in [s for s in args.only.split(",") if s]:
        t0 = time.perf_counter()
        if sec == "predict":
            videos = [v for v in args.videos.split(",") if v]
            data = section_predict(args.model, args.weights, args.quick, videos, args.max_frames)
        elif sec == "people":
            names = [args.model] + (["HRNet-W32 256x192"] if args.hrnet else [])
            data = section_people(names, args.weights, args.quick)
        else:
            ap.error(f"unknown section {sec}")
        result["sections"][sec] = {
            "data": data,
            "command": command_line(),
            "machine": machine_info(threads=args.threads),
            "quick": args.quick,
            "wall_s": time.perf_counter() - t0,
        }
    result["benchmark"] = "speed_pipeline"
    parts = ["# Prediction pipeline speed on CPU (no GPU in this environment)", ""]
    for sec, render in (("predict", md_predict), ("people", md_people)):
        s = result["sections"].get(sec)
        if s:
            parts += [
                render(s["data"]),
                "",
                f"Command: `{s['command']}`{' (quick)' if s['quick'] else ''}  ",
                f"Machine: {machine_line(s['machine'])}",
                "",
            ]
    write_results("speed_pipeline", result, "\n".join(parts), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
