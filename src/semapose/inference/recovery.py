"""Damaged partial results on ``predict --resume``: back to the last intact record.

A job's partial folder holds ``results.jsonl`` (one finished key frame per
line, frames 0, 1, 2, ...), ``detections.jsonl`` (one processed frame per line,
with the number of key frames emitted after it) and ``state.json`` (the byte
lengths of both files that are complete). A disk error, a copy cut short or a
hand edit can shorten or garble either file. :func:`recovered_state` checks
both files against the state and, when they disagree, returns the latest state
that the intact beginnings of both files still support: the first ``m``
processed frames whose emitted key frames are all intact. Any frame is a valid
resume point (the job may save after every frame), so the resumed run again
equals an uninterrupted one; only the frames after the damage are computed again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from semapose.errors import shown_path


def _intact(path: Path, limit: int, check: Callable[[Any, int], bool]) -> list[tuple[int, Any]]:
    """``(end offset, record)`` of the leading lines of ``path`` (within ``limit`` bytes)
    that are complete, parse as JSON and pass ``check(record, position)``."""
    out: list[tuple[int, Any]] = []
    if limit <= 0 or not path.is_file():
        return out
    with open(path, "rb") as fh:
        end = 0
        while end < limit:
            line = fh.readline(limit - end)
            if not line.endswith(b"\n"):
                break  # torn last line, or the file ends before the state says
            try:
                record = json.loads(line)
                ok = check(record, len(out))
            except (ValueError, TypeError, KeyError, IndexError):
                ok = False
            if not ok:
                break
            end += len(line)
            out.append((end, record))
    return out


def _result_ok(record: Any, position: int) -> bool:
    from semapose.inference.results import FramePoses

    return (
        isinstance(record, dict)
        and record.get("frame") == position
        and FramePoses.from_json(record).index == position
    )


def _detection_ok(record: Any, position: int) -> bool:
    import numpy as np

    if not isinstance(record, dict) or record.get("frame") != position:
        return False
    emitted = record.get("emitted")
    if not isinstance(emitted, int) or isinstance(emitted, bool) or emitted < 0:
        return False
    boxes = record.get("boxes")
    if boxes is not None:
        np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
    return True


def recovered_state(state: dict[str, Any], partial: Path) -> dict[str, Any]:
    """``state`` when the partial files in ``partial`` hold everything it counts, else the
    latest consistent earlier state (possibly frame 0), with a one-line note on stderr."""
    results, detections = partial / "results.jsonl", partial / "detections.jsonl"
    res_bytes, det_bytes = int(state["results_bytes"]), int(state["detections_bytes"])
    res = _intact(results, res_bytes, _result_ok)
    dets = _intact(detections, det_bytes, _detection_ok)
    if (res[-1][0] if res else 0) == res_bytes and (dets[-1][0] if dets else 0) == det_bytes:
        return state
    frames = keys = 0
    for _, record in dets:
        if keys + record["emitted"] > len(res):
            break
        keys += record["emitted"]
        frames += 1
    print(
        f"semapose: note: {shown_path(partial)}: the saved partial results are damaged or "
        f"shortened (frames {int(state['next_frame'])} saved, {len(res)} intact results); "
        f"resuming from frame {frames}",
        file=sys.stderr,
    )
    return {
        **state,
        "next_frame": frames,
        "next_key": keys,
        "results_bytes": res[keys - 1][0] if keys else 0,
        "detections_bytes": dets[frames - 1][0] if frames else 0,
    }


__all__ = ["recovered_state"]
