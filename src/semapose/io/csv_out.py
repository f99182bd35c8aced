"""CSV export of predictions: one row per frame, person and joint (spreadsheet/pandas friendly).

Columns: ``frame`` (0-based index), ``file_name`` (frame folders; empty for
videos), ``track_id``, ``joint`` (0-16, PoseTrack18 slot order), ``joint_name``,
``x``, ``y`` (image pixels), ``score`` (the joint's score), ``box_x``,
``box_y``, ``box_w``, ``box_h`` (the person's box, pixels), ``box_score``,
``hidden`` (1: the tracker keeps the person's id and box while someone hides them;
no pose of their own, joint scores 0), ``kind`` (``joint``: the 17 evaluated
joints; ``landmark``: the backbone's own landmarks, BlazePose's 33 with
``predict --landmarks 33``, ``joint`` their index, ``score`` empty), ``visibility``
and ``presence`` (landmark rows only).
Read with ``pandas.read_csv(path)``; ``df.pivot_table`` gives one column per joint.
Written atomically and streamed (the frames are read once, never all in memory).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from semapose.io.atomic import atomic_text_file

COLUMNS: tuple[str, ...] = (
    "frame",
    "file_name",
    "track_id",
    "joint",
    "joint_name",
    "x",
    "y",
    "score",
    "box_x",
    "box_y",
    "box_w",
    "box_h",
    "box_score",
    "hidden",
    "kind",
    "visibility",
    "presence",
)


def _num(v: Any) -> str:
    return f"{round(float(v), 3):g}"


#: first characters that make a spreadsheet read a cell as a formula (OWASP's list)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: str) -> str:
    """A text cell that a spreadsheet shows as text: a leading ``'`` before a formula
    start (a frame named ``=HYPERLINK(...).jpg`` reached the CSV unescaped)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(frames: Iterable[Any]) -> Iterator[list[str]]:
    """Rows (without the header) of ``frames`` (``FramePoses``-like), in order."""
    from semapose.keypoints import BLAZEPOSE_KEYPOINTS, POSETRACK_KEYPOINTS

    for f in frames:
        for p in sorted(f.persons, key=lambda p: p.track_id):
            box = [_num(v) for v in p.box]
            hidden = "1" if getattr(p, "hidden", False) else "0"
            head = [str(f.index), text_cell(f.file_name), str(p.track_id)]
            tail = [*box, _num(p.box_score), hidden]
            for j, ((x, y), s) in enumerate(zip(p.keypoints, p.scores, strict=True)):
                name = POSETRACK_KEYPOINTS[j] if j < len(POSETRACK_KEYPOINTS) else str(j)
                yield [*head, str(j), name, _num(x), _num(y), _num(s), *tail, "joint", "", ""]
            landmarks = getattr(p, "landmarks", None)
            for j, (x, y, vis, pres) in enumerate(() if landmarks is None else landmarks):
                name = BLAZEPOSE_KEYPOINTS[j] if j < len(BLAZEPOSE_KEYPOINTS) else str(j)
                yield [*head, str(j), name, _num(x), _num(y), "", *tail, "landmark"] + [
                    _num(vis),
                    _num(pres),
                ]


def write_csv(path: str | Path, frames: Iterable[Any]) -> int:
    """Write the CSV atomically (``frames`` read once); returns the number of rows."""
    n = 0
    with atomic_text_file(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in csv_rows(frames):
            writer.writerow(row)
            n += 1
    return n


__all__ = ["COLUMNS", "csv_rows", "write_csv"]
