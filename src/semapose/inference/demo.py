"""``semapose demo``: a synthetic degraded clip, the temporal model vs the single-frame one.

Everything is generated here (no network, no user data): a short multi-person
clip with occluders and motion blur and its exact ground truth. Person boxes are
the ground-truth boxes (the demo is about pose under degradation, not about the
detector). The temporal model runs through the same pipeline as ``predict``; so do
the single-frame baseline (T = 1) and, as the honest baseline of the temporal
model, the *same temporal weights fed the key frame alone* (every supporting frame
replaced by the key frame): what that pass gets right needs no neighbouring frame.
Joints are scored with PCKh@0.5 against the ground truth. The side-by-side video has
three titled panels (single-frame | temporal, key frame alone | temporal with its
neighbours); red crosses mark the single-frame model's misses, green rings the
joints the neighbours brought back (right with the neighbours, wrong with the key
frame alone), and ``neighbours_frame.png`` is the frame where they brought back
the most.
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
    #: the same temporal weights fed the key frame alone
    pckh_key_only: float = float("nan")
    pckh_key_only_degraded: float = float("nan")
    #: joints right with the neighbours and wrong with the key frame alone
    neighbour_recovered: int = 0
    #: the frame where the neighbours brought back the most joints, and its picture
    neighbour_frame: int = -1
    neighbour_png: Path | None = None
    titles: list[str] = field(default_factory=list)
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
    key_only = Predictor.create(weights or DEMO_WEIGHTS, device)
    _feed_key_only(key_only.loaded.model)
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
    est_k = PoseEstimator(key_only)
    pred_k = list(est_k.predict(clip, detector=BoxFileDetector(gt.boxes)))
    titles = [
        f"single-frame ({single.loaded.source})",
        f"{temporal.loaded.source}: key frame alone",
        f"{temporal.loaded.source}: with its neighbours",
    ]
    scores = _score_and_draw(out, pred_s, pred_k, pred_t, gt, titles)
    notes = list(temporal.loaded.notes)
    return DemoResult(
        clip=clip,
        overlay=result.paths.video,
        posetrack=result.paths.posetrack,
        coco=result.paths.coco,
        side_by_side=out / "side_by_side.mp4",
        ground_truth=out / "ground_truth.json",
        frames=len(pred_t),
        titles=titles,
        notes=notes,
        **scores,
    )


def _feed_key_only(model: Any) -> None:
    """From now on ``model`` sees every supporting frame replaced by the key frame."""
    k = model.key_index if hasattr(model, "key_index") else None
    decode = model.decode_clip

    def key_only(feats: Any) -> Any:
        key = feats.shape[1] // 2 if k is None else k
        return decode(feats[:, key : key + 1].expand_as(feats).contiguous())

    model.decode_clip = key_only


def _score_and_draw(
    out: Path,
    single: list[FramePoses],
    key_only: list[FramePoses],
    temporal: list[FramePoses],
    gt: _GT,
    titles: list[str],
) -> dict[str, Any]:
    import cv2

    from semapose.inference.outputs import draw_frame
    from semapose.io.atomic import atomic_path
    from semapose.io.video import VideoWriter
    from semapose.viz.draw import side_by_side

    tot = {k: [0, 0] for k in ("t", "s", "k", "td", "sd", "kd")}
    recovered = neighbour_recovered = 0
    best, best_n, best_img = -1, 0, None
    with VideoWriter(out / "side_by_side.mp4", fps=12, crf=20) as writer:
        for fs, fk, ft in zip(single, key_only, temporal, strict=True):
            people = gt.people.get(fs.index, [])
            hs, hk, ht = (joint_hits(f, people) for f in (fs, fk, ft))
            hit_ids = gt.degraded.get(fs.index, set())
            for key in ht:
                deg = key[0] in hit_ids
                for name, hits in (("t", ht), ("s", hs), ("k", hk)):
                    ok = bool(hits.get(key, False))
                    tot[name][0] += ok
                    tot[name][1] += 1
                    if deg:
                        tot[name + "d"][0] += ok
                        tot[name + "d"][1] += 1
            assert fs.image is not None
            left = draw_frame(fs.image, fs.persons)
            middle = draw_frame(fs.image, fk.persons)
            right = draw_frame(fs.image, ft.persons)
            lookup_t = {p.track_id: p for p in ft.persons}
            for p, g in _match(fs, people):
                tid = int(g["track_id"])
                for j in range(len(p.keypoints)):
                    if (tid, j) in hs and not hs[(tid, j)]:
                        x, y = (int(round(v)) for v in p.keypoints[j])
                        cv2.drawMarker(left, (x, y), MISSED, cv2.MARKER_TILTED_CROSS, 9, 2)
                        recovered += bool(ht.get((tid, j)))
            here = 0
            for p, g in _match(ft, people):
                tid = int(g["track_id"])
                q = lookup_t.get(p.track_id)
                for j in range(len(p.keypoints)):
                    if ht.get((tid, j)) and not hk.get((tid, j), False) and q is not None:
                        here += 1
                        xt, yt = (int(round(v)) for v in q.keypoints[j])
                        cv2.circle(right, (xt, yt), 7, RECOVERED, 2, cv2.LINE_AA)
            neighbour_recovered += here
            panel = side_by_side([left, middle, right], titles)
            if here > best_n:
                best, best_n, best_img = fs.index, here, panel
            writer.write(panel)
    png = None
    if best_img is not None:
        png = out / "neighbours_frame.png"
        with atomic_path(png) as tmp:  # keeps the .png suffix
            cv2.imwrite(str(tmp), np.ascontiguousarray(best_img[:, :, ::-1]))

    def rate(k: str) -> float:
        return tot[k][0] / tot[k][1] if tot[k][1] else float("nan")

    return {
        "pckh_temporal": rate("t"),
        "pckh_single": rate("s"),
        "pckh_key_only": rate("k"),
        "pckh_temporal_degraded": rate("td"),
        "pckh_single_degraded": rate("sd"),
        "pckh_key_only_degraded": rate("kd"),
        "recovered": recovered,
        "neighbour_recovered": neighbour_recovered,
        "neighbour_frame": best,
        "neighbour_png": png,
    }


__all__ = ["DemoResult", "joint_hits", "make_clip", "run_demo"]
