"""``evaluate`` on hostile inputs (issue 18): numbers given as strings, absurd or
non-finite coordinates, huge files, and hundreds of thousands of people in a frame
with ignore regions (memory bounded by chunking)."""

from __future__ import annotations

import copy
import json
import re
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semapose.cli import main
from semapose.errors import InputError
from semapose.evaluation import polygon
from semapose.evaluation.polygon import points_in_polygons
from semapose.evaluation.posetrack_map import evaluate_posetrack
from semapose.keypoints import POSETRACK_KEYPOINTS

SEQ = "000001_mpii_test"


def _pose(ox: float, oy: float) -> list[float]:
    kp: list[float] = []
    for j in range(len(POSETRACK_KEYPOINTS)):
        kp += [ox + 3.0 * j, oy + 2.0 * j, 1.0] if j not in (3, 4) else [0.0, 0.0, 0.0]
    return kp


def _doc(pred: bool, people: int = 1) -> dict[str, Any]:
    cats = [{"id": 1, "name": "person", "keypoints": list(POSETRACK_KEYPOINTS)}]
    images = [
        {
            "id": 10000010000,
            "file_name": f"images/val/{SEQ}/000000.jpg",
            "is_labeled": True,
            "ignore_regions_x": [[200.0, 300.0, 300.0, 200.0]],
            "ignore_regions_y": [[0.0, 0.0, 100.0, 100.0]],
        }
    ]
    anns = []
    for p in range(people):
        ann: dict[str, Any] = {"image_id": 10000010000, "track_id": p, "keypoints": _pose(10, 10)}
        if pred:
            ann["scores"] = [0.9] * 17
        else:
            ann["bbox_head"] = [0.0, 0.0, 20.0, 24.0]
        anns.append(ann)
    return {"images": images, "annotations": anns, "categories": cats}


def _write(tmp: Path, gt: Any, pred: Any) -> tuple[Path, Path]:
    for kind, doc in (("gt", gt), ("pred", pred)):
        (tmp / kind).mkdir(exist_ok=True)
        (tmp / kind / f"{SEQ}.json").write_text(json.dumps(doc))
    return tmp / "gt", tmp / "pred"


def _with(doc: dict[str, Any], change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    change(doc)
    return doc


def _kp(i: int, v: Any) -> Any:
    return lambda d: d["annotations"][0]["keypoints"].__setitem__(i, v)


def _score(i: int, v: Any) -> Any:
    return lambda d: d["annotations"][0]["scores"].__setitem__(i, v)


def test_base_documents_score_100(tmp_path: Path) -> None:
    gt, pred = _write(tmp_path, _doc(False), _doc(True))
    assert evaluate_posetrack(gt, pred)["Mean"] == 100.0


PRED_CASES = {
    "keypoint as a string": (_kp(0, "10.0"), "annotations[0].keypoints"),
    "every keypoint a string": (
        lambda d: d["annotations"][0].__setitem__(
            "keypoints", [str(v) for v in d["annotations"][0]["keypoints"]]
        ),
        "annotations[0].keypoints",
    ),
    "score as a string": (_score(3, "0.9"), "annotations[0].scores"),
    "keypoint as a boolean": (
        lambda d: d["annotations"][0].__setitem__("keypoints", [True] * 51),
        "annotations[0].keypoints",
    ),
    "x of 1e300": (_kp(0, 1e300), "annotations[0].keypoints"),
    "y of -1e30": (_kp(1, -1e30), "annotations[0].keypoints"),
    "integer beyond float range": (_kp(0, 10**400), "annotations[0].keypoints"),
}


@pytest.mark.parametrize("case", list(PRED_CASES))
def test_evaluate_refuses_bad_prediction_numbers(tmp_path: Path, capsys: Any, case: str) -> None:
    change, where = PRED_CASES[case]
    gt, pred = _write(tmp_path, _doc(False), _with(_doc(True), change))
    rc = main(["evaluate", "--gt", str(gt), "--pred", str(pred)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1
    assert f"{SEQ}.json: {where}: expected" in err, err


GT_CASES = {
    "GT keypoint as a string": (_kp(4, "12"), "annotations[0].keypoints"),
    "GT head box of 1e300": (
        lambda d: d["annotations"][0].__setitem__("bbox_head", [0, 0, 1e300, 24]),
        "annotations[0].bbox_head",
    ),
    "ignore region at 1e300": (
        lambda d: d["images"][0]["ignore_regions_x"][0].__setitem__(1, 1e300),
        "ignore_regions",
    ),
    "ignore region with a string": (
        lambda d: d["images"][0]["ignore_regions_y"][0].__setitem__(1, "0"),
        "ignore_regions",
    ),
}


@pytest.mark.parametrize("case", list(GT_CASES))
def test_evaluate_refuses_bad_ground_truth_numbers(tmp_path: Path, case: str) -> None:
    change, where = GT_CASES[case]
    gt, pred = _write(tmp_path, _with(_doc(False), change), _doc(True))
    with pytest.raises(InputError, match=re.escape(where)) as info:
        evaluate_posetrack(gt, pred)
    assert f"{SEQ}.json" in str(info.value)


def test_negative_and_large_but_real_coordinates_are_kept(tmp_path: Path) -> None:
    doc = _with(_doc(True), _kp(0, -5000.0))
    doc = _with(doc, _kp(3, 9.9e6))
    gt, pred = _write(tmp_path, _doc(False), doc)
    assert 0.0 <= evaluate_posetrack(gt, pred)["Mean"] <= 100.0


def test_evaluation_files_have_a_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from semapose.evaluation import poseval_formats

    gt, pred = _write(tmp_path, _doc(False), _doc(True, people=300))
    monkeypatch.setattr(poseval_formats, "MAX_FILE_BYTES", 50_000)
    rc = main(["evaluate", "--gt", str(gt), "--pred", str(pred)])
    err = capsys.readouterr().err
    assert rc == 2 and f"pred/{SEQ}.json: expected a file of at most 0 MiB" in err, err


# ----------------------------------------------------------------------------- polygon memory


def test_chunked_point_in_polygon_equals_the_whole_computation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(0)
    polys = [rng.uniform(0, 100, size=(k, 2)) for k in (3, 7, 25)]
    polys.append(np.array([[10, 10], [60, 10], [60, 60], [10, 60]], dtype=np.float64))
    px = np.concatenate([rng.uniform(-10, 110, 3000), [10.0, 35.0, 60.0]])
    py = np.concatenate([rng.uniform(-10, 110, 3000), [35.0, 10.0, 35.0]])
    whole = points_in_polygons(px, py, polys)
    monkeypatch.setattr(polygon, "MAX_PAIRS", 37)
    assert np.array_equal(points_in_polygons(px, py, polys), whole)
    assert whole.any() and not whole.all()
    square = points_in_polygons(px[-3:], py[-3:], polys[-1:])
    assert not square.any()  # points on the boundary are outside, as in shapely


def test_point_in_polygon_memory_is_bounded() -> None:
    """200,000 points against a 200-edge ignore region: 40M (point, edge) pairs, which
    took several GB at once before; now a bounded chunk at a time."""
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    ring = np.stack([500 + 400 * np.cos(angles), 500 + 400 * np.sin(angles)], axis=1)
    rng = np.random.default_rng(1)
    px, py = rng.uniform(0, 1000, 200_000), rng.uniform(0, 1000, 200_000)
    tracemalloc.start()
    try:
        inside = points_in_polygons(px, py, [ring])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MiB"
    r = np.hypot(px - 500, py - 500)
    assert np.array_equal(inside[r < 390], np.ones((r < 390).sum(), bool))
    assert not inside[r > 401].any()
