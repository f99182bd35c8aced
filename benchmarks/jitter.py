"""Keypoint jitter and accuracy: single-frame vs temporal model, with and without One-Euro.

Usage::

    python benchmarks/jitter.py                 # 60-frame synthetic clip, 3 models
    python benchmarks/jitter.py --frames 120 --seeds 3,4

A synthetic clip with exact ground truth (``semapose.inference.demo.make_clip``:
2-3 walking people, occluders and motion blur, 320x240, 12 frames/s) is run with
ground-truth boxes through each model; each result is scored raw and after
:class:`semapose.inference.smoothing.OneEuroSmoother` (defaults, the clip's
frame rate). Columns: PCKh@0.5 (PoseTrack's head-size rule), mean joint error
(px) and jitter (median acceleration of confident joints, % of the person's
height per frame², persons moving < 2% of their height per frame, the same rule
as ``benchmarks/tracking_real.py``); the ground truth's own jitter (true motion)
is the floor. Models: the bundled temporal tiny model (T=3, synthetic-trained),
its single-frame twin, and the default model (BlazePose, single-frame).
Results: ``benchmarks/results/jitter.{json,md}``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from harness.cli import parser
from harness.machine import command_line, machine_info, set_threads
from harness.report import md_table, provenance, write_results


def _series(frames: list[Any]) -> dict[int, list[tuple[int, np.ndarray, np.ndarray, float]]]:
    """Per track: (frame, keypoints, scores, height) of persons moving slowly."""
    out: dict[int, list[tuple[int, np.ndarray, np.ndarray, float]]] = {}
    last: dict[int, tuple[int, np.ndarray]] = {}
    for f in frames:
        for p in f.persons:
            box = np.asarray(p.box, dtype=np.float64)
            c = box[:2] + box[2:] / 2
            prev = last.get(p.track_id)
            last[p.track_id] = (f.index, c)
            if prev is None or prev[0] != f.index - 1 or box[3] <= 0:
                continue
            if np.hypot(*(c - prev[1])) / box[3] < 0.02:
                kp = np.asarray(p.keypoints, dtype=np.float64)
                out.setdefault(p.track_id, []).append((f.index, kp, np.asarray(p.scores), box[3]))
    return out


def _gt_frames(gt: Any) -> list[Any]:
    from semapose.inference.results import FramePoses, PersonPose

    frames = []
    for t in sorted(gt.people):
        persons = []
        for g in gt.people[t]:
            kp = np.asarray(g["keypoints"], dtype=np.float64).reshape(-1, 3)
            sc = np.where(kp[:, 2] > 0, 1.0, 0.0)
            persons.append(
                PersonPose(int(g["track_id"]), np.asarray(g["bbox"]), 1.0, kp[:, :2], sc)
            )
        frames.append(FramePoses(t, persons))
    return frames


def score(frames: list[Any], gt: Any) -> dict[str, float]:
    from semapose.inference.demo import _match, joint_hits
    from semapose.inference.smoothing import jitter

    hits: list[bool] = []
    errors: list[float] = []
    for f in frames:
        people = gt.people.get(f.index, [])
        hits += list(joint_hits(f, people).values())
        for p, g in _match(f, people):
            kp = np.asarray(g["keypoints"], dtype=np.float64).reshape(-1, 3)
            ok = kp[:, 2] > 0
            errors += list(np.hypot(*(p.keypoints[ok] - kp[ok, :2]).T))
    return {
        "pckh": 100 * float(np.mean(hits)) if hits else float("nan"),
        "error_px": float(np.mean(errors)) if errors else float("nan"),
        "jitter": 100 * jitter(_series(frames)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, threads=1)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seeds", default="3", help="comma list of clip seeds")
    args = ap.parse_args(argv)
    set_threads(args.threads)

    from semapose.inference.api import PoseEstimator
    from semapose.inference.demo import make_clip
    from semapose.inference.detectors.boxfile import BoxFileDetector
    from semapose.inference.predictor import Predictor
    from semapose.inference.smoothing import OneEuroSmoother
    from semapose.weights.resolve import DEMO_SINGLE_WEIGHTS, DEMO_WEIGHTS

    models = {
        "tiny temporal (T=3, bundled)": DEMO_WEIGHTS,
        "tiny single-frame (bundled)": DEMO_SINGLE_WEIGHTS,
        "BlazePose (default, single-frame)": None,
    }
    rows: list[list[Any]] = []
    data: dict[str, Any] = {}
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        with tempfile.TemporaryDirectory() as tmp:
            gt = make_clip(Path(tmp), args.frames, seed=seed)
            clip = Path(tmp) / "clip.mp4"
            truth = score(_gt_frames(gt), gt)
            rows.append([seed, "ground truth", "-", "100.0", "0.00", f"{truth['jitter']:.2f}"])
            for label, weights in models.items():
                est = PoseEstimator(Predictor.create(weights, "cpu"))
                raw = list(est.predict(clip, detector=BoxFileDetector(gt.boxes)))
                smooth = OneEuroSmoother(fps=12.0)(raw)
                for mode, frames in (("raw", raw), ("One-Euro", smooth)):
                    s = score(frames, gt)
                    data[f"{seed}/{label}/{mode}"] = s
                    rows.append(
                        [
                            seed,
                            label,
                            mode,
                            f"{s['pckh']:.1f}",
                            f"{s['error_px']:.2f}",
                            f"{s['jitter']:.2f}",
                        ]
                    )
                    print(rows[-1], flush=True)
    info = machine_info(threads=args.threads)
    md = "\n".join(
        [
            "# Keypoint jitter and accuracy (synthetic clip with exact ground truth)",
            "",
            f"{args.frames} frames, 320x240, 12 frames/s, occluders and motion blur, "
            "ground-truth boxes. Jitter: median acceleration of confident joints of slowly "
            "moving persons, % of person height per frame²; One-Euro: semapose defaults.",
            "",
            md_table(["seed", "model", "keypoints", "PCKh@0.5 %", "error px", "jitter"], rows),
            "",
            *provenance(command_line(), info),
        ]
    )
    write_results("jitter", {"results": data, "command": command_line(), "machine": info}, md,
                  args.out)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
