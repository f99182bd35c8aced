"""Measure what ``--crop track`` (own-box crops, cached) costs in accuracy vs ``--crop key``.

``python benchmarks/crop_study.py WEIGHTS [--videos N] [--frames N]`` renders
synthetic val videos with occluders and motion blur, predicts them with the
ground-truth boxes three ways and prints PCKh@0.5 and the keypoint differences:

* ``track``: every frame cropped once with its own box, features reused (default);
* ``key``: every clip frame cropped with the key frame's box (the paper's clips);
* ``static``: the key frame's features in every slot, i.e. no temporal information,
  which shows how much the model uses its supporting frames at all: the
  track/key difference is only meaningful relative to that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.cli import parser
from harness.machine import set_threads
from semapose.inference.demo import _match


@dataclass
class ModeResult:
    mode: str
    pckh: float
    pckh_degraded: float
    mean_error: float  # in head-box units (PCKh threshold = 0.5)
    frames_per_s: float
    keypoints: np.ndarray  # (n, 2) matched predictions, same order in every mode


def _videos(count: int, frames: int, size: tuple[int, int]) -> list[Any]:
    from semapose.data.synthetic import iter_video

    return [
        list(iter_video(2026, "val", v, frames, size, (1, 3), "occluder,motion_blur", 0.5))
        for v in range(count)
    ]


def run_mode(predictor: Any, videos: list[Any], mode: str) -> ModeResult:
    from semapose.inference.pipeline import RunnerOptions, TemporalRunner
    from semapose.inference.results import TrackBox

    opts = RunnerOptions(**{**vars(predictor.options), "crop": "key" if mode == "key" else "track"})
    ok, deg, err, kps = [], [], [], []
    t0 = time.perf_counter()
    n_frames = 0
    for video in videos:
        runner = TemporalRunner(predictor.loaded.model, opts, predictor.device)
        if mode == "static":
            runner.slot_offsets = [0] * len(runner.slot_offsets)
        out = []
        for f in video:
            tracks = [TrackBox(p["track_id"], p["bbox"], 1.0) for p in f.people]
            out += runner.push(f.t, np.ascontiguousarray(f.image[:, :, ::-1]), tracks)
        out += runner.finish()
        n_frames += len(video)
        for pred in out:
            f = video[pred.index]
            hit = {int(t) for d in f.degradations for t in (d.get("track_ids") or [])}
            for p, g in _match(pred, f.people):
                kp = np.asarray(g["keypoints"], dtype=np.float64).reshape(-1, 3)
                hb = g["bbox_head"]
                thr = 0.5 * 0.6 * float(np.hypot(hb[2], hb[3]))
                for j in np.flatnonzero(kp[:, 2] > 0):
                    d = float(np.hypot(*(p.keypoints[j] - kp[j, :2])))
                    ok.append(d <= thr)
                    deg.append(int(g["track_id"]) in hit)
                    err.append(0.5 * d / thr)
                    kps.append(p.keypoints[j])
    dt = time.perf_counter() - t0
    oka, dega = np.asarray(ok), np.asarray(deg)
    return ModeResult(
        mode,
        float(oka.mean()),
        float(oka[dega].mean()) if dega.any() else float("nan"),
        float(np.mean(err)),
        n_frames / dt,
        np.asarray(kps),
    )


def main(argv: list[str] | None = None) -> None:

    from semapose.inference.loading import load_model
    from semapose.inference.predictor import Predictor

    ap = parser(__doc__, out=None, threads=1)
    ap.add_argument("weights", nargs="?", default=None)
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    predictor = Predictor.from_loaded(load_model(args.weights), "cpu")
    videos = _videos(args.videos, args.frames, (256, 192))
    results = {m: run_mode(predictor, videos, m) for m in ("track", "key", "static")}
    print(f"weights: {predictor.describe()}; {args.videos} videos x {args.frames} frames")
    for r in results.values():
        print(
            f"{r.mode:>6}: PCKh@0.5 {r.pckh:.4f}, on degraded persons {r.pckh_degraded:.4f}, "
            f"mean error {r.mean_error:.4f} head sizes, {r.frames_per_s:.1f} frames/s"
        )
    base = results["track"].keypoints
    for m in ("key", "static"):
        d = np.linalg.norm(base - results[m].keypoints, axis=1)
        print(
            f"track vs {m}: keypoints differ by {d.mean():.3f} px on average "
            f"(95th percentile {np.percentile(d, 95):.3f} px, max {d.max():.1f} px)"
        )


if __name__ == "__main__":  # pragma: no cover
    main()
