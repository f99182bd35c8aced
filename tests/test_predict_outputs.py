"""Prediction output files: streamed writers give exactly the in-memory documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from semapose.inference.outputs import (
    coco_results,
    posetrack_document,
    write_coco_results,
    write_posetrack,
)
from semapose.inference.results import FramePoses, PersonPose


def _frames(n: int) -> list[FramePoses]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        persons = [
            PersonPose(
                track_id=k,
                box=np.array([10.0 * k - 5, 20.0, 30.0, 60.0]),  # negative x stays
                box_score=0.9,
                keypoints=rng.normal(100, 50, (17, 2)),
                scores=rng.uniform(0, 1, 17),
            )
            for k in range(i % 3)  # frames with 0, 1, 2 persons
        ]
        out.append(FramePoses(i, persons))
    return out


def test_streamed_posetrack_file_equals_document(tmp_path: Path) -> None:
    frames = _frames(7)
    meta = {"weights": "w", "frames": 7}
    expected = json.dumps(posetrack_document(frames, tmp_path, "000342_mpii_test", meta)) + "\n"

    reads = []

    def again() -> Iterator[FramePoses]:
        reads.append(1)
        return iter(frames)  # one-shot, like the JSONL reader

    write_posetrack(tmp_path / "a.json", again, tmp_path, "000342_mpii_test", meta, n=7)
    write_posetrack(tmp_path / "b.json", frames, tmp_path, "000342_mpii_test", meta)
    assert (tmp_path / "a.json").read_text() == expected
    assert (tmp_path / "b.json").read_text() == expected
    assert len(reads) == 2  # images, then annotations: nothing kept between the passes
    doc = json.loads(expected)
    assert [im["nframes"] for im in doc["images"]] == [7] * 7
    # PoseTrack's own files write the video number zero-padded ("000342"), image ids 1VVVVVVFFFF
    assert {im["vid_id"] for im in doc["images"]} == {"000342"}
    assert doc["images"][3]["id"] == 10003420003
    assert len(doc["annotations"]) == sum(i % 3 for i in range(7))


def test_streamed_coco_file_equals_list(tmp_path: Path) -> None:
    frames = _frames(5)
    write_coco_results(tmp_path / "c.json", iter(frames), "clip")
    assert json.loads((tmp_path / "c.json").read_text()) == coco_results(frames, "clip")
    write_coco_results(tmp_path / "empty.json", iter([]), "clip")
    assert json.loads((tmp_path / "empty.json").read_text()) == []
