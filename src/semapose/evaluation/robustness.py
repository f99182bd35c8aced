"""mAP per degradation type and severity, from the synthetic sets' per-frame labels.

Each GT image of a synthetic set carries ``"semapose_degradations": [{"type": T,
"severity": S, "track_ids": [ids] or null}, ...]`` (an empty list = a clean
frame). Subsets are **frames**: a frame counts for type T (and for (T, S)) when
it carries an entry of that type, whatever its ``track_ids``. Scoring a subset
of *people* would be wrong for poseval's AP: a correct prediction of a person
outside the subset would count as a false positive. Each subset is scored with
the poseval mAP restricted to its frames (assignment is per frame, so it is the
same as in the full evaluation). Frames without the field are in no subset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semapose.errors import InputError
from semapose.evaluation.posetrack_map import Matching, compute_map, match
from semapose.evaluation.poseval_io import EvalSet


def _entries(es: EvalSet, f: int) -> list[tuple[str, str]] | None:
    labels = es.frame_labels[f]
    if labels is None:
        return None
    where = f"frame {es.frame_names[f]!r} semapose_degradations"
    path = es.gt_files[int(es.frame_seq[f])]
    if not isinstance(labels, list):
        raise InputError(path, where, "a list of degradations", labels)
    out = []
    for k, e in enumerate(labels):
        if not isinstance(e, dict) or not isinstance(e.get("type"), str):
            raise InputError(path, f"{where}[{k}]", 'an object with a string "type"', e)
        sev = e.get("severity")
        if isinstance(sev, bool) or not isinstance(sev, (int, float)):
            raise InputError(path, f"{where}[{k}].severity", "a number", sev)
        out.append((e["type"], f"{sev:g}"))
    return out


def _subset(es: EvalSet, m: Matching, frames: np.ndarray, protocol: str) -> dict[str, Any]:
    res = compute_map(es, m, frames, protocol).to_dict()
    res["num_frames"] = int(frames.sum())
    return res


def evaluate_by_degradation(
    es: EvalSet, matching: Matching | None = None, protocol: str = "poseval"
) -> dict[str, Any]:
    """``{"clean": {...}, "by_type": {T: {...}}, "by_severity": {T: {S: {...}}}}``.

    Each value is a RESULT.json-style mAP dict plus ``num_frames``; types never
    seen in the labels are left out. ``unlabeled_frames`` counts frames without
    degradation labels.
    """
    if matching is None:
        matching = match(es)
    n = es.num_frames
    clean = np.zeros(n, dtype=bool)
    labeled = np.zeros(n, dtype=bool)
    by_type: dict[str, np.ndarray] = {}
    by_sev: dict[tuple[str, str], np.ndarray] = {}
    for f in range(n):
        entries = _entries(es, f)
        if entries is None:
            continue
        labeled[f] = True
        clean[f] = len(entries) == 0
        for t, s in entries:
            by_type.setdefault(t, np.zeros(n, dtype=bool))[f] = True
            by_sev.setdefault((t, s), np.zeros(n, dtype=bool))[f] = True
    if not labeled.any():
        raise InputError(
            None, "ground truth", 'per-frame "semapose_degradations" labels (a synthetic set)'
        )
    from semapose.data.synthetic.degrade import DEGRADATIONS  # the generator's names

    order = sorted(by_type, key=lambda t: (DEGRADATIONS + (t,)).index(t))
    result: dict[str, Any] = {
        "clean": _subset(es, matching, clean, protocol),
        "by_type": {t: _subset(es, matching, by_type[t], protocol) for t in order},
        "by_severity": {},
        "unlabeled_frames": int((~labeled).sum()),
    }
    for t in order:
        sevs = sorted((s for tt, s in by_sev if tt == t), key=float)
        result["by_severity"][t] = {
            s: _subset(es, matching, by_sev[(t, s)], protocol) for s in sevs
        }
    return result
