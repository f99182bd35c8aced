"""Load PoseTrack ground truth and predictions exactly as poseval does.

This is deliberately separate from the training readers in
:mod:`semapose.data.posetrack`: those build clean training records, while the
evaluator must reproduce poseval's *evaluation semantics* bit for bit, quirks
included. What poseval (``eval_helpers.load_data_dir`` + ``convert.py``) does,
and what this module reproduces:

* GT files are the ``*.json`` files of the GT folder in ``glob`` order (the file
  order decides how equal scores are ranked, so it is kept); each prediction file
  has the same name in the prediction folder. Frames are paired by position.
* PoseTrack2018 files are converted to the PoseTrack2017 layout first: frames are
  the ``images`` of the *first* video in the file (video = first ``_`` token of the
  image's folder name), people are the ``annotations`` with that ``image_id``; a
  landmark is dropped only when x, y and visibility are all 0 (a joint at x=0,y=0
  with visibility 1, or at negative coordinates, is kept); landmark scores come
  from the ``scores`` list (missing or empty: score -9999); only the 15 poseval
  joints are kept (the ears are dropped). PoseTrack2017 ``annolist`` files are
  used as they are (every listed point is present).
* GT frames without any annotated person are dropped together with the
  prediction frame at the same position; people without a point list are removed.
* Points inside the GT frame's ignore regions are removed from GT and
  predictions; people left without any point are removed (only in frames that
  have ignore regions).
* A joint of a person is the first of its points with that joint id.

Rejected like poseval: a missing prediction file, a different number of frames,
duplicate track ids in a prediction frame, track ids >= 10000.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.evaluation.polygon import points_in_polygons
from semapose.evaluation.poseval_formats import (
    MAX_TRACK_ID,
    MIN_SCORE,
    NUM_JOINTS,
    _Frame,
    _Side,
    parse_file,
)

__all__ = ["MAX_TRACK_ID", "MIN_SCORE", "NUM_JOINTS", "EvalSet", "load_eval_set"]

PROTOCOLS = ("poseval", "posetrack21")


@dataclass
class EvalSet:
    """GT and predictions after poseval's loading and clean-up, as flat arrays.

    Frames are in evaluation order; people of frame ``f`` are rows
    ``start[f]:start[f+1]`` of the per-person arrays (in file order).
    """

    seq_names: list[str]
    frame_seq: np.ndarray  # (F,) index into seq_names
    frame_names: list[str]
    frame_labels: list[Any]  # per frame: the GT image's "semapose_degradations" or None
    gt_start: np.ndarray  # (F+1,)
    gt_xy: np.ndarray  # (G, 15, 2)
    gt_has: np.ndarray  # (G, 15) bool
    gt_head: np.ndarray  # (G, 4) x1, y1, x2, y2 (NaN if the person has no head box)
    gt_track: np.ndarray  # (G,) int64, offset by sequence index * MAX_TRACK_ID
    gt_has_track: np.ndarray  # (G,) bool
    gt_box: np.ndarray  # (G, 4) person box x, y, w, h (NaN if not given; COCO AP only)
    pr_start: np.ndarray  # (F+1,)
    pr_xy: np.ndarray  # (P, 15, 2)
    pr_has: np.ndarray  # (P, 15) bool
    pr_score: np.ndarray  # (P, 15) float64 (NaN where absent)
    pr_track: np.ndarray  # (P,)
    pr_has_track: np.ndarray  # (P,)
    gt_files: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return len(self.frame_seq)


# ----------------------------------------------------------------------------- pairing


def gt_files_in(gt: str | Path | Sequence[str | Path]) -> list[Path]:
    """GT files: a folder's ``*.json`` in poseval's (``glob``) order, or the given list."""
    if isinstance(gt, (str, Path)):
        gt = Path(gt)
        if gt.is_dir():
            files = [Path(p) for p in glob.glob(os.path.join(str(gt), "*.json"))]
            if not files:
                raise InputError(gt, "", "a folder with PoseTrack *.json ground-truth files")
            return files
        if not gt.exists():
            raise InputError(gt, "", "an existing ground-truth folder or file", "no such path")
        return [gt]
    return [Path(p) for p in gt]


def pred_files_for(gt_files: list[Path], pred: str | Path | Sequence[str | Path]) -> list[Path]:
    """Prediction file of each GT file: same base name in the prediction folder."""
    if isinstance(pred, (str, Path)):
        pred = Path(pred)
        if pred.is_dir():
            return [pred / g.name for g in gt_files]
        if len(gt_files) == 1:
            return [pred]
        raise InputError(pred, "", "a prediction folder (several ground-truth files)")
    out = [Path(p) for p in pred]
    if len(out) != len(gt_files):
        raise InputError(None, "prediction files", f"{len(gt_files)} files", len(out))
    return out


def load_eval_set(
    gt: str | Path | Sequence[str | Path],
    pred: str | Path | Sequence[str | Path],
    protocol: str = "poseval",
) -> EvalSet:
    """Read GT and prediction files and apply poseval's clean-up (see module docstring)."""
    if protocol not in PROTOCOLS:
        raise InputError(None, "protocol", " or ".join(PROTOCOLS), protocol)
    gt_files = gt_files_in(gt)
    pred_files = pred_files_for(gt_files, pred)
    gts, prs = _Side(), _Side()
    frames: list[_Frame] = []
    frame_seq: list[int] = []
    seq_names: list[str] = []
    for si, (gpath, ppath) in enumerate(zip(gt_files, pred_files, strict=True)):
        if not ppath.exists():
            raise InputError(ppath, "", f"a prediction file for {gpath}", "no such file")
        n_gt_rects, n_pr_rects = len(gts.rect_frame), len(prs.rect_frame)
        gframes = parse_file(gpath, gts, len(frames), protocol)
        pframes = parse_file(ppath, prs, len(frames), protocol)
        if len(pframes) != len(gframes):
            raise InputError(
                ppath,
                "",
                f"{len(gframes)} frames like the ground truth {gpath.name}",
                f"{len(pframes)} frames",
            )
        _check_unique_tracks(prs, n_pr_rects, pframes, len(frames), ppath)
        # poseval makes track ids unique across sequences: id + file_index * MAX_TRACK_ID
        for side, start in ((gts, n_gt_rects), (prs, n_pr_rects)):
            for r in range(start, len(side.rect_track)):
                side.rect_track[r] += si * MAX_TRACK_ID
        frames.extend(gframes)
        frame_seq.extend([si] * len(gframes))
        seq_names.append(gpath.name.split(".")[0])
    return _build(frames, np.array(frame_seq, dtype=np.int64), seq_names, gts, prs, gt_files)


def _check_unique_tracks(
    side: _Side, start: int, frames: list[_Frame], f0: int, path: Path
) -> None:
    seen: dict[tuple[int, int], int] = {}
    for r in range(start, len(side.rect_frame)):
        if not side.rect_has_track[r]:
            continue
        key = (side.rect_frame[r], side.rect_track[r])
        if key in seen:
            f = side.rect_frame[r] - f0
            raise InputError(
                path,
                f"frame {f} ({frames[f].name})",
                "unique track ids within a frame",
                f"track id {side.rect_track[r]} twice",
            )
        seen[key] = r


# ----------------------------------------------------------------------------- clean-up


def _arrays(side: _Side) -> tuple[np.ndarray, ...]:
    rect_frame = np.array(side.rect_frame, dtype=np.int64)
    has_points = np.array(side.rect_has_points, dtype=bool)
    if side.pt_data:
        pt_rect = np.concatenate(side.pt_rect)
        pt = np.concatenate(side.pt_data, axis=0)
    else:
        pt_rect, pt = np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    return rect_frame, has_points, pt_rect, pt


def _build(
    frames: list[_Frame],
    frame_seq: np.ndarray,
    seq_names: list[str],
    gts: _Side,
    prs: _Side,
    gt_files: list[Path],
) -> EvalSet:
    n_frames = len(frames)
    frame_keep = np.array([f.n_rects > 0 for f in frames], dtype=bool).reshape(n_frames)
    sides = []
    for side in (gts, prs):
        rect_frame, has_points, pt_rect, pt = _arrays(side)
        rect_keep = has_points & frame_keep[rect_frame] if len(rect_frame) else has_points
        pt_keep = rect_keep[pt_rect] if len(pt_rect) else np.zeros(0, dtype=bool)
        sides.append([rect_frame, rect_keep, pt_rect, pt, pt_keep])
    # ignore regions: drop points inside, then people left without points.
    # Rects are stored frame by frame and points rect by rect: slice by searchsorted.
    ignore_frames = [f for f in np.flatnonzero(frame_keep) if frames[f].ignore]
    for rect_frame, rect_keep, pt_rect, pt, pt_keep in sides:
        pt_frame = rect_frame[pt_rect]
        for f in ignore_frames:
            r0, r1 = np.searchsorted(rect_frame, [f, f + 1])
            if r0 == r1:
                continue
            p0, p1 = np.searchsorted(pt_frame, [f, f + 1])
            sel = p0 + np.flatnonzero(pt_keep[p0:p1])
            inside = points_in_polygons(pt[sel, 1], pt[sel, 2], frames[f].ignore)
            pt_keep[sel[inside]] = False
            remaining = np.bincount(pt_rect[p0:p1][pt_keep[p0:p1]] - r0, minlength=r1 - r0)
            rect_keep[r0:r1] &= remaining > 0
    new_frame = np.cumsum(frame_keep) - 1
    out: dict[str, np.ndarray] = {}
    for name, side, (rect_frame, rect_keep, pt_rect, pt, pt_keep) in zip(
        ("gt", "pr"), (gts, prs), sides, strict=True
    ):
        kept = np.flatnonzero(rect_keep)
        n = len(kept)
        new_rect = np.full(len(rect_keep), -1, dtype=np.int64)
        new_rect[kept] = np.arange(n)
        counts = np.bincount(new_frame[rect_frame[kept]], minlength=int(frame_keep.sum()))
        out[f"{name}_start"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        xy = np.zeros((n, NUM_JOINTS, 2))
        has = np.zeros((n, NUM_JOINTS), dtype=bool)
        score = np.full((n, NUM_JOINTS), np.nan)
        jid = pt[:, 0]
        use = pt_keep & np.isin(jid, np.arange(NUM_JOINTS))
        sel = np.flatnonzero(use)
        if len(sel):
            key = new_rect[pt_rect[sel]] * NUM_JOINTS + jid[sel].astype(np.int64)
            _, first = np.unique(key, return_index=True)  # first point with that id wins
            s = sel[first]
            r, j = new_rect[pt_rect[s]], jid[s].astype(np.int64)
            xy[r, j] = pt[s, 1:3]
            has[r, j] = True
            score[r, j] = pt[s, 3]
        out[f"{name}_xy"], out[f"{name}_has"], out[f"{name}_score"] = xy, has, score
        out[f"{name}_track"] = np.array(side.rect_track, dtype=np.int64).reshape(-1)[kept]
        out[f"{name}_has_track"] = np.array(side.rect_has_track, dtype=bool).reshape(-1)[kept]
        out[f"{name}_head"] = np.array(side.rect_head, dtype=np.float64).reshape(-1, 4)[kept]
        out[f"{name}_box"] = np.array(side.rect_box, dtype=np.float64).reshape(-1, 4)[kept]
    kept_frames = np.flatnonzero(frame_keep)
    return EvalSet(
        seq_names=seq_names,
        frame_seq=frame_seq[kept_frames] if n_frames else np.zeros(0, dtype=np.int64),
        frame_names=[frames[f].name for f in kept_frames],
        frame_labels=[frames[f].labels for f in kept_frames],
        gt_start=out["gt_start"],
        gt_xy=out["gt_xy"],
        gt_has=out["gt_has"],
        gt_head=out["gt_head"],
        gt_track=out["gt_track"],
        gt_has_track=out["gt_has_track"],
        gt_box=out["gt_box"],
        pr_start=out["pr_start"],
        pr_xy=out["pr_xy"],
        pr_has=out["pr_has"],
        pr_score=out["pr_score"],
        pr_track=out["pr_track"],
        pr_has_track=out["pr_has_track"],
        gt_files=[str(p) for p in gt_files],
    )
