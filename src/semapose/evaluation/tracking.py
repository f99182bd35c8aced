"""poseval's multi-person pose tracking metrics (MOTA, MOTP, precision, recall).

Computed per joint with ``motmetrics`` (optional extra ``semapose[track]``) from
the same assignment as the mAP, with poseval's quirks:

* a joint is a tracked object; GT joint j of person g and predicted joint j of
  prediction p may pair only if their normalised distance is <= 0.5 (the
  distance is the motmetrics cost, NaN forbids the pair);
* frames where the GT or the prediction has no person give one dummy object
  (id 0) and one dummy hypothesis (id 0) that cannot pair: a miss and a false
  positive per joint;
* the last frame of each sequence (after clean-up) is skipped; a sequence with a
  single frame is skipped (poseval crashes on it);
* counts are summed over sequences per joint; MOTA = 1 - (misses + switches +
  FP) / objects, MOTP = 1 - sum(distance) / matches, precision = matches /
  (matches + FP), recall = matches / objects (all in percent); "Total" is the
  mean over joints that are not NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semapose.errors import InputError, SemaposeError
from semapose.evaluation.posetrack_map import (
    DIST_THRESHOLD,
    Matching,
    _json_num,
    match,
)
from semapose.evaluation.poseval_io import NUM_JOINTS, EvalSet
from semapose.keypoints import POSETRACK15_GROUPS, POSETRACK15_KEYPOINTS

_MID = ["num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections"]


def _frame_inputs(
    es: EvalSet, m: Matching, f: int, pair_start: np.ndarray
) -> list[tuple[list[int], list[int], np.ndarray]]:
    g0, g1 = int(es.gt_start[f]), int(es.gt_start[f + 1])
    p0, p1 = int(es.pr_start[f]), int(es.pr_start[f + 1])
    if g1 == g0 or p1 == p0:
        return [([0], [0], np.full((1, 1), np.nan))] * NUM_JOINTS
    ng, npr = g1 - g0, p1 - p0
    block = slice(int(pair_start[f]), int(pair_start[f]) + ng * npr)
    dist = m.pair_dist[block].reshape(npr, ng, NUM_JOINTS)  # prediction-major pairs
    out = []
    for j in range(NUM_JOINTS):
        gi = np.flatnonzero(es.gt_has[g0:g1, j])
        pi = np.flatnonzero(es.pr_has[p0:p1, j])
        d = dist[pi][:, gi, j].T  # (GT, prediction)
        d = np.where(d <= DIST_THRESHOLD, d, np.nan)
        out.append(
            (es.gt_track[g0 + gi].tolist(), es.pr_track[p0 + pi].tolist(), np.asarray(d, float))
        )
    return out


def evaluate_tracking(es: EvalSet, matching: Matching | None = None) -> dict[str, Any]:
    """MOTA / MOTP / precision / recall per joint and in total (percent), as poseval."""
    try:
        import motmetrics as mm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SemaposeError("--track needs motmetrics: pip install 'semapose[track]'") from exc
    sides = (
        ("ground truth", es.gt_has_track, es.gt_start),
        ("prediction", es.pr_has_track, es.pr_start),
    )
    for name, has, start in sides:
        if not has.all():  # name the first frame with an untracked person
            frame = int(np.searchsorted(start, int(np.argmin(has)), side="right")) - 1
            seq = es.seq_names[int(es.frame_seq[frame])]
            raise InputError(
                f"{seq}.json ({name})",
                f"image {es.frame_names[frame]!r}",
                "a track_id on every person for --track",
            )
    if matching is None:
        matching = match(es)
    n_pairs = np.diff(es.pr_start) * np.diff(es.gt_start)
    pair_start = np.concatenate([[0], np.cumsum(n_pairs)])
    mid = {k: np.zeros(NUM_JOINTS) for k in [*_MID, "sumD"]}
    mh = mm.metrics.create()
    for seq in np.unique(es.frame_seq):
        frames = np.flatnonzero(es.frame_seq == seq)[:-1]  # poseval skips the last frame
        if len(frames) == 0:
            continue
        accs = [mm.MOTAccumulator(auto_id=True) for _ in range(NUM_JOINTS)]
        for f in frames:
            for j, (oids, hids, d) in enumerate(_frame_inputs(es, matching, int(f), pair_start)):
                accs[j].update(oids, hids, d)
        for j, acc in enumerate(accs):
            res = mh.compute(acc, metrics=_MID, return_dataframe=False, name="acc")
            for k in _MID:
                mid[k][j] += res[k]
            s = acc.events["D"].sum()
            mid["sumD"][j] += 0 if np.isnan(s) else s
    return _final(mid)


def _final(mid: dict[str, np.ndarray]) -> dict[str, Any]:
    mota, motp, pre, rec = (np.zeros(NUM_JOINTS) for _ in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(NUM_JOINTS):
            num_obj = mid["num_objects"][j] if mid["num_objects"][j] > 0 else np.nan
            fp = mid["num_false_positives"][j]
            mota[j] = 100 * (1.0 - (mid["num_misses"][j] + mid["num_switches"][j] + fp) / num_obj)
            det = mid["num_detections"][j]
            s = mid["sumD"][j]
            motp[j] = 0.0 if det == 0 or np.isnan(s) else 100 * (1.0 - s / det)
            total = fp + det if fp + det > 0 else np.nan
            pre[j] = 100 * (1.0 * det / total)
            rec[j] = 100 * (1.0 * det / num_obj)
    out: dict[str, Any] = {}
    for name, vals in (("mota", mota), ("motp", motp), ("precision", pre), ("recall", rec)):
        col = vals.reshape(-1, 1)
        idxs = np.argwhere(~np.isnan(col[:, 0]))
        total_v = float(col[idxs, 0].mean()) if len(idxs) else float("nan")
        entry: dict[str, Any] = {
            "per_joint": {n: _json_num(v) for n, v in zip(POSETRACK15_KEYPOINTS, vals, strict=True)}
        }
        for g, idx in POSETRACK15_GROUPS.items():
            entry[g] = _json_num(float(vals[list(idx)].mean()))
        entry["Total"] = _json_num(total_v)
        out[name] = entry
    out["counts"] = {k: mid[k].tolist() for k in _MID}
    return out
