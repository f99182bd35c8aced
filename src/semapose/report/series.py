"""What the report shows, computed from one run's written outputs (no model, no video decode).

:func:`load_run` reads ``<out>/posetrack/<name>.json`` (``semapose predict``'s file, with
its ``semapose`` block: weights, settings, speed) and gives per-track series:
frames where the person is output, ``hidden`` flags, keypoints, scores, boxes.
:func:`status_segments` turns a track into seen / hidden / lost spans;
:func:`joint_angles` gives knee, hip and elbow angles (degrees) per frame;
:func:`smoothed` runs the One-Euro filter of ``--smooth`` over the same poses, so the
page can show smoothing on and off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.keypoints import POSETRACK_KEYPOINTS

#: joints below this score are left out of trajectories and angles
MIN_SCORE = 0.3

#: angle at the middle joint of (a, joint, b), PoseTrack18 names
ANGLES: dict[str, tuple[str, str, str]] = {
    f"{side} {name}": (f"{side}_{a}", f"{side}_{j}", f"{side}_{b}")
    for side in ("left", "right")
    for name, (a, j, b) in {
        "knee": ("hip", "knee", "ankle"),
        "hip": ("shoulder", "hip", "knee"),
        "elbow": ("shoulder", "elbow", "wrist"),
    }.items()
}

#: joints whose trajectories are drawn
TRAJECTORY_JOINTS = ("left_wrist", "right_wrist", "left_ankle", "right_ankle")


@dataclass
class Track:
    """One track's outputs, in frame order."""

    track_id: int
    frames: np.ndarray  # (n,) int
    hidden: np.ndarray  # (n,) bool
    keypoints: np.ndarray  # (n, 17, 2)
    scores: np.ndarray  # (n, 17)
    boxes: np.ndarray  # (n, 4) x, y, w, h

    @property
    def posed(self) -> np.ndarray:
        return ~self.hidden


@dataclass
class Run:
    """One input's results as the report reads them."""

    name: str
    posetrack: Path
    frames: int
    fps: float
    meta: dict[str, Any] = field(default_factory=dict)
    tracks: dict[int, Track] = field(default_factory=dict)
    width: float = 0.0
    height: float = 0.0


def load_run(posetrack: Path) -> Run:
    """Read ``semapose predict``'s PoseTrack file (errors name the file and field)."""
    from semapose.io.jsonio import read_json

    doc = read_json(posetrack)
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise InputError(posetrack, "images", "a PoseTrack prediction file of semapose predict")
    found = doc.get("semapose")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    frame_of = {im.get("id"): i for i, im in enumerate(doc["images"])}
    per: dict[int, list[dict[str, Any]]] = {}
    for k, a in enumerate(doc.get("annotations", [])):
        if a.get("image_id") not in frame_of or "keypoints" not in a:
            raise InputError(
                posetrack, f"annotations[{k}]", "an image_id of `images` and keypoints"
            )
        per.setdefault(int(a.get("track_id", -1)), []).append(a)
    tracks = {}
    for tid, anns in sorted(per.items()):
        anns.sort(key=lambda a: frame_of[a["image_id"]])
        kp = np.asarray([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), -1, 3)
        tracks[tid] = Track(
            tid,
            np.asarray([frame_of[a["image_id"]] for a in anns], dtype=np.int64),
            np.asarray([bool(a.get("hidden", False)) for a in anns]),
            kp[:, :, :2],
            kp[:, :, 2],
            np.asarray([a.get("bbox", [0, 0, 0, 0]) for a in anns], dtype=np.float64),
        )
    speed = posetrack.parent.parent / "run" / posetrack.name  # written by predict beside it
    if speed.is_file():
        found_speed = read_json(speed)
        if isinstance(found_speed, dict):
            meta = {**meta, **{k: v for k, v in found_speed.items() if k not in meta}}
    fps = float(meta.get("fps") or 25.0)
    run = Run(posetrack.stem, posetrack, len(doc["images"]), fps, meta, tracks)
    boxes = [t.boxes for t in tracks.values() if len(t.boxes)]
    if boxes:
        b = np.concatenate(boxes)
        run.width = float(np.max(b[:, 0] + b[:, 2]))
        run.height = float(np.max(b[:, 1] + b[:, 3]))
    return run


def status_segments(track: Track, gap: int = 1) -> list[tuple[str, int, int]]:
    """(status, first frame, last frame) spans: ``seen`` (a pose of their own), ``hidden``
    (kept while someone hides them), ``lost`` (not output between two appearances)."""
    spans: list[tuple[str, int, int]] = []
    prev = None
    for f, h in zip(track.frames.tolist(), track.hidden.tolist(), strict=True):
        status = "hidden" if h else "seen"
        if prev is not None and f - prev > gap:
            spans.append(("lost", prev + 1, f - 1))
        if spans and spans[-1][0] == status and spans[-1][2] == f - 1:
            spans[-1] = (status, spans[-1][1], f)
        else:
            spans.append((status, f, f))
        prev = f
    return spans


def _index(name: str) -> int:
    return POSETRACK_KEYPOINTS.index(name)


def joint_angles(track: Track, min_score: float = MIN_SCORE) -> dict[str, np.ndarray]:
    """Angle (degrees, 0-180) at each of :data:`ANGLES`'s joints per output frame; NaN where a
    joint scores below ``min_score`` or the person is hidden."""
    out = {}
    for label, (a, j, b) in ANGLES.items():
        ia, ij, ib = _index(a), _index(j), _index(b)
        u = track.keypoints[:, ia] - track.keypoints[:, ij]
        v = track.keypoints[:, ib] - track.keypoints[:, ij]
        nu, nv = np.linalg.norm(u, axis=1), np.linalg.norm(v, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.sum(u * v, axis=1) / (nu * nv)
        angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        ok = (track.scores[:, [ia, ij, ib]].min(axis=1) >= min_score) & track.posed
        out[label] = np.where(ok & (nu > 0) & (nv > 0), angle, np.nan)
    return out


def trajectory(track: Track, joint: str, min_score: float = MIN_SCORE) -> np.ndarray:
    """(n, 2) image x, y of ``joint`` per output frame; NaN where it is not confident."""
    j = _index(joint)
    ok = (track.scores[:, j] >= min_score) & track.posed
    return np.where(ok[:, None], track.keypoints[:, j], np.nan)


def smoothed(run: Run) -> dict[int, Track]:
    """The run's tracks through the One-Euro filter of ``--smooth`` (default parameters,
    the run's frame rate): what ``--smooth`` would have written."""
    from semapose.inference.results import FramePoses, PersonPose
    from semapose.inference.smoothing import OneEuroSmoother

    by_frame: dict[int, list[PersonPose]] = {}
    for t in run.tracks.values():
        for i, f in enumerate(t.frames.tolist()):
            by_frame.setdefault(f, []).append(
                PersonPose(t.track_id, t.boxes[i], 1.0, t.keypoints[i], t.scores[i], t.hidden[i])
            )
    frames = [FramePoses(f, by_frame.get(f, [])) for f in range(run.frames)]
    out_kp: dict[int, list[np.ndarray]] = {tid: [] for tid in run.tracks}
    for fp in OneEuroSmoother(fps=run.fps).iter(frames):
        for p in fp.persons:
            out_kp[p.track_id].append(np.asarray(p.keypoints, dtype=np.float64))
    result = {}
    for tid, t in run.tracks.items():
        kp = np.stack(out_kp[tid]) if out_kp[tid] else t.keypoints
        result[tid] = Track(tid, t.frames, t.hidden, kp, t.scores, t.boxes)
    return result


__all__ = [
    "ANGLES",
    "MIN_SCORE",
    "TRAJECTORY_JOINTS",
    "Run",
    "Track",
    "joint_angles",
    "load_run",
    "smoothed",
    "status_segments",
    "trajectory",
]
