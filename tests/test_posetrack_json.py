"""io/posetrack_json.py: the one home of image ids, entries and the streaming writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from semapose.io.posetrack_json import (
    coco_results,
    image_id,
    parse_image_id,
    posetrack_image_id,
    prediction_annotation,
    write_array,
    write_coco_results,
    write_document,
)


def test_image_ids_round_trip() -> None:
    iid = posetrack_image_id(342, 17)
    assert iid == 10_003_420_017 and parse_image_id(iid) == (342, 17)
    assert image_id("000342_mpii_test", 17) == iid
    assert image_id("my_clip", 17) == 17 and parse_image_id(17) is None


def test_streamed_document_bytes_equal_json_dumps(tmp_path: Path) -> None:
    doc = {"images": [{"id": 1}, {"id": 2}], "annotations": [], "categories": [{"id": 1}]}
    fields = [(k, iter(v)) if k != "categories" else (k, v) for k, v in doc.items()]
    write_document(tmp_path / "a.json", fields)
    assert (tmp_path / "a.json").read_text() == json.dumps(doc) + "\n"
    write_array(tmp_path / "b.json", (x for x in [{"a": 1}, {"b": 2.5}]))
    assert (tmp_path / "b.json").read_text() == json.dumps([{"a": 1}, {"b": 2.5}]) + "\n"


def test_one_coco_entry_for_predict_and_evaluation(tmp_path: Path) -> None:
    p = {
        "keypoints": np.full((17, 2), 1.23456),
        "scores": np.full(17, 0.123456),
        "track_id": 3,
        "box": [1.0, 2.0, 3.0, 4.0],
        "score": 0.98765,
    }
    (entry,) = coco_results([(7, p)])
    assert entry["keypoints"][:3] == [1.235, 1.235, 0.1235] and entry["score"] == 0.9877
    assert entry["track_id"] == 3 and entry["bbox"] == [1.0, 2.0, 3.0, 4.0]
    write_coco_results(tmp_path / "c.json", [(7, p)])
    assert json.loads((tmp_path / "c.json").read_text()) == [entry]
    ann = prediction_annotation(7, p)
    assert ann["keypoints"] == entry["keypoints"] and ann["scores"][0] == 0.1235
