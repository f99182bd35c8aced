"""``semapose demo``: a synthetic degraded clip, the temporal model vs the single-frame one.

Everything is generated here (no network, no user data): a short multi-person
clip with occluders and motion blur and its exact ground truth. Person boxes are
the ground-truth boxes (the demo is about pose under degradation, not about the
detector). The temporal model runs through the same pipeline as ``predict``;
the single-frame baseline runs through the same pipeline with T = 1. Joints are
scored with PCKh@0.5 against the ground truth, and the side-by-side video marks
the joints the temporal model gets right where the single-frame model fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semapose.inference.results import FramePoses

#: green ring: joint recovered by the temporal model; red cross: single-frame miss
RECOVERED = (40, 220, 60)
MISSED = (230, 40, 40)


@dataclass
class DemoResult:
    clip: Path
    overlay: Path
    posetrack: Path
    coco: Path
    side_by_side: Path
    ground_truth: Path
    pckh_temporal: float
    pckh_single: float
    pckh_temporal_degraded: float
    pckh_single_degraded: float
    recovered: int
    frames: int
    notes: list[str] = field(default_factory=list)


@dataclass
class _GT:
    boxes: dict[int, np.ndarray]  # frame -> (K, 5) x1 y1 x2 y2 score
    people: dict[int, list[dict[str, Any]]]
    degraded: dict[int, set[int]]  # frame -> track ids hit by a degradation


def make_clip(
    out: Path, frames: int = 40, size: tuple[int, int] = (320, 240), seed: int = 3
) -> _GT:
    """Render the degraded clip to ``out/clip.mp4`` and return its ground truth."""
    from semapose.data.synthetic import iter_video
    from semapose.io.video import VideoWriter

    gt = _GT({}, {}, {})
    with VideoWriter(out / "clip.mp4", fps=12, crf=18) as writer:
        for fr in iter_video(seed, "val", 0, frames, size, (2, 3), "occluder,motion_blur", 0.6):
            writer.write(np.ascontiguousarray(fr.image[:, :, ::-1]))  # generator gives BGR
            boxes = [[*_xyxy(p["bbox"]), 1.0] for p in fr.people]
            gt.boxes[fr.t] = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
            gt.people[fr.t] = fr.people
            hit: set[int] = set()
            for d in fr.degradations:
                hit.update(int(t) for t in d.get("track_ids", []) or [])  # type: ignore[attr-defined]
            gt.degraded[fr.t] = hit
    return gt


def _xyxy(b: list[float]) -> list[float]:
    return [b[0], b[1], b[0] + b[2], b[1] + b[3]]


def _match(frame: FramePoses, people: list[dict[str, Any]]) -> list[tuple[Any, dict[str, Any]]]:
    """Pair predicted persons with GT persons by box (the boxes are the GT boxes)."""
    pairs = []
    for p in frame.persons:
        best, err = None, 1e9
        for g in people:
            e = float(np.abs(np.asarray(g["bbox"]) - p.box).sum())
            if e < err:
                best, err = g, e
        if best is not None and err < 2.0:
            pairs.append((p, best))
    return pairs


def joint_hits(frame: FramePoses, people: list[dict[str, Any]]) -> dict[tuple[int, int], bool]:
    """(GT track id, joint) -> within half the head size (PCKh@0.5), for annotated joints."""
    from semapose.evaluation.posetrack_map import DIST_THRESHOLD, HEAD_SIZE_FACTOR

    out = {}
    for p, g in _match(frame, people):
        kp = np.asarray(g["keypoints"], dtype=np.float64).reshape(-1, 3)
        hb = g["bbox_head"]
        thr = DIST_THRESHOLD * HEAD_SIZE_FACTOR * float(np.hypot(hb[2], hb[3]))
        for j in range(len(kp)):
            if kp[j, 2] > 0:
                d = float(np.hypot(*(p.keypoints[j] - kp[j, :2])))
                out[(int(g["track_id"]), j)] = d <= thr
    return out


def run_demo(
    out: Path,
    weights: str | None = None,
    single_weights: str | None = None,
    frames: int = 40,
    device: str = "cpu",
    progress: bool = False,
) -> DemoResult:
    """Generate, predict with both models, score and draw; see the module docstring."""
    from semapose.inference.detectors.boxfile import BoxFileDetector
    from semapose.inference.predictor import Predictor
    from semapose.io.atomic import atomic_write_json
    from semapose.weights.resolve import DEMO_SINGLE_WEIGHTS, DEMO_WEIGHTS

    out.mkdir(parents=True, exist_ok=True)
    temporal = Predictor.create(weights or DEMO_WEIGHTS, device)
    single = Predictor.create(single_weights or DEMO_SINGLE_WEIGHTS, device)
    gt = make_clip(out, frames)
    clip = out / "clip.mp4"
    atomic_write_json(out / "ground_truth.json", {str(k): v for k, v in gt.people.items()})
    pred_t: list[FramePoses] = []
    result = temporal.run_one(
        clip,
        out,
        detector_obj=BoxFileDetector(gt.boxes),
        progress=progress,
        checkpoint_every=0,
        on_frames=lambda fs: pred_t.extend(FramePoses(f.index, f.persons) for f in fs),
    )
    from semapose.inference.api import PoseEstimator

    est_s = PoseEstimator(single)
    pred_s = list(est_s.predict(clip, detector=BoxFileDetector(gt.boxes), return_images=True))
    scores = _score_and_draw(out / "side_by_side.mp4", pred_s, pred_t, gt)
    notes = list(temporal.loaded.notes)
    return DemoResult(
        clip=clip,
        overlay=result.paths.video,
        posetrack=result.paths.posetrack,
        coco=result.paths.coco,
        side_by_side=out / "side_by_side.mp4",
        ground_truth=out / "ground_truth.json",
        frames=len(pred_t),
        notes=notes,
        **scores,
    )


def _score_and_draw(
    path: Path, single: list[FramePoses], temporal: list[FramePoses], gt: _GT
) -> dict[str, Any]:
    import cv2

    from semapose.inference.outputs import draw_frame
    from semapose.io.video import VideoWriter
    from semapose.viz.draw import side_by_side

    tot = {"t": [0, 0], "s": [0, 0], "td": [0, 0], "sd": [0, 0]}
    recovered = 0
    with VideoWriter(path, fps=12, crf=20) as writer:
        for fs, ft in zip(single, temporal, strict=True):
            people = gt.people.get(fs.index, [])
            hs, ht = joint_hits(fs, people), joint_hits(ft, people)
            hit_ids = gt.degraded.get(fs.index, set())
            for key in ht:
                deg = key[0] in hit_ids
                for name, hits in (("t", ht), ("s", hs)):
                    ok = bool(hits.get(key, False))
                    tot[name][0] += ok
                    tot[name][1] += 1
                    if deg:
                        tot[name + "d"][0] += ok
                        tot[name + "d"][1] += 1
            assert fs.image is not None
            left = draw_frame(fs.image, fs.persons)
            right = draw_frame(fs.image, ft.persons)
            lookup_t = {p.track_id: p for p in ft.persons}
            for p, g in _match(fs, people):
                tid = int(g["track_id"])
                q = lookup_t.get(p.track_id)
                for j in range(len(p.keypoints)):
                    if (tid, j) in hs and not hs[(tid, j)]:
                        x, y = (int(round(v)) for v in p.keypoints[j])
                        cv2.drawMarker(left, (x, y), MISSED, cv2.MARKER_TILTED_CROSS, 9, 2)
                        if ht.get((tid, j)) and q is not None:
                            recovered += 1
                            xt, yt = (int(round(v)) for v in q.keypoints[j])
                            cv2.circle(right, (xt, yt), 7, RECOVERED, 2, cv2.LINE_AA)
            writer.write(side_by_side([left, right], ["single-frame", "temporal (MLSME+SMML)"]))

    def rate(k: str) -> float:
        return tot[k][0] / tot[k][1] if tot[k][1] else float("nan")

    return {
        "pckh_temporal": rate("t"),
        "pckh_single": rate("s"),
        "pckh_temporal_degraded": rate("td"),
        "pckh_single_degraded": rate("sd"),
        "recovered": recovered,
    }


__all__ = ["DemoResult", "joint_hits", "make_clip", "run_demo"]
