"""Tracking metrics, COCO AP, robustness by degradation, the prediction writer, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from semapose.cli import main
from semapose.errors import InputError
from semapose.evaluation import evaluate_posetrack, load_eval_set
from semapose.evaluation.coco_ap import evaluate_coco
from semapose.evaluation.polygon import points_in_polygons
from semapose.evaluation.random_sets import write_random_set
from semapose.evaluation.robustness import evaluate_by_degradation
from semapose.io.posetrack_json import (
    coco_results,
    gt_images,
    posetrack18_predictions,
    write_posetrack18_predictions,
)
from semapose.keypoints import POSETRACK15_KEYPOINTS

# ----------------------------------------------------------------------------- polygon


def test_polygon_strict_interior_like_shapely() -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    pts = np.array([[5, 5], [0, 5], [10, 10], [5, 0], [11, 5], [-1, -1], [9.999, 0.001]])
    inside = points_in_polygons(pts[:, 0], pts[:, 1], [square])
    # boundary points (edges, vertices) are not contained, as in shapely's contains
    assert inside.tolist() == [True, False, False, False, False, False, True]
    # a self-intersecting "bow tie": even-odd crossing rule
    bow = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], dtype=float)
    inside = points_in_polygons(np.array([2.0, 5.0, 8.0]), np.array([5.0, 2.0, 5.0]), [bow])
    assert inside.tolist() == [True, False, True]
    assert not points_in_polygons(np.array([1.0]), np.array([1.0]), [np.zeros((0, 2))]).any()


# ----------------------------------------------------------------------------- tracking

# Values computed by poseval itself (evaluateTracking, motmetrics 1.4) on write_random_set
# seed 11 (1 sequence, 20 frames, max 5 people, ties=False): MOTA per joint + total, and
# MOTP / precision / recall totals.
POSEVAL_MOTA_11 = [-83.3333333333, -85.7142857143, -120.0, -37.5, -87.5, -80.0, -42.8571428571,
                   12.5, -55.5555555556, -114.2857142857, -50.0, 20.0, -87.5, -12.5, -10.0,
                   -55.6164021164]  # fmt: skip
POSEVAL_TOTALS_11 = {"motp": 49.1749218081, "precision": 33.4074074074, "recall": 48.9047619048}


def test_tracking_matches_recorded_poseval_values(tmp_path: Path) -> None:
    pytest.importorskip("motmetrics")
    from semapose.evaluation.tracking import evaluate_tracking

    gt, pr = write_random_set(tmp_path, 11, n_seq=1, n_frames=20, max_people=5, ties=False)
    t = evaluate_tracking(load_eval_set(gt, pr))
    ours = [t["mota"]["per_joint"][n] for n in POSETRACK15_KEYPOINTS] + [t["mota"]["Total"]]
    assert np.max(np.abs(np.array(ours) - POSEVAL_MOTA_11)) < 1e-6
    for key, value in POSEVAL_TOTALS_11.items():
        assert t[key]["Total"] == pytest.approx(value, abs=1e-6)


def test_tracking_of_ground_truth_against_itself(tmp_path: Path) -> None:
    pytest.importorskip("motmetrics")
    from semapose.evaluation.tracking import evaluate_tracking

    gt, _ = write_random_set(tmp_path, 3, n_seq=2, n_frames=6, hard=False)
    t = evaluate_tracking(load_eval_set(gt, gt))
    assert t["mota"]["Total"] == pytest.approx(100.0)
    assert t["motp"]["Total"] == pytest.approx(100.0)
    assert t["precision"]["Total"] == pytest.approx(100.0)


# ----------------------------------------------------------------------------- COCO


def test_coco_ap_perfect_and_degraded(tmp_path: Path) -> None:
    gt, pr = write_random_set(tmp_path, 2, n_seq=2, n_frames=6, hard=False)
    perfect = evaluate_coco(load_eval_set(gt, gt))
    assert perfect["AP"] == pytest.approx(100.0)
    assert perfect["AR"] == pytest.approx(100.0)
    noisy = evaluate_coco(load_eval_set(gt, pr))
    assert 0.0 <= noisy["AP"] < 100.0
    assert noisy["AP50"] >= noisy["AP75"]


# ----------------------------------------------------------------------------- robustness


def _label_frames(gt_dir: Path) -> None:
    """Frame k of each sequence: clean if k % 3 == 0, blur s1 if 1, occluder s2 if 2."""
    for path in gt_dir.glob("*.json"):
        data = json.loads(path.read_text())
        for k, img in enumerate(data["images"]):
            img["semapose_degradations"] = [
                [],
                [{"type": "motion_blur", "severity": 1, "track_ids": None}],
                [{"type": "occluder", "severity": 2, "track_ids": [0]}],
            ][k % 3]
        path.write_text(json.dumps(data))


def test_by_degradation_subsets_are_frame_subsets(tmp_path: Path) -> None:
    gt, pr = write_random_set(tmp_path, 4, n_seq=2, n_frames=9, hard=False)
    _label_frames(gt)
    es = load_eval_set(gt, pr)
    rob = evaluate_by_degradation(es)
    assert set(rob["by_type"]) == {"motion_blur", "occluder"}
    assert rob["clean"]["num_frames"] == 6
    assert rob["by_type"]["motion_blur"]["num_frames"] == 6
    assert rob["by_severity"]["occluder"]["2"]["num_frames"] == 6
    # a subset score equals scoring only those frames' files
    sub = tmp_path / "clean"
    for side, src in (("gt", gt), ("pred", pr)):
        (sub / side).mkdir(parents=True)
        for path in src.glob("*.json"):
            data = json.loads(path.read_text())
            keep = {img["id"] for k, img in enumerate(data["images"]) if k % 3 == 0}
            data["images"] = [i for i in data["images"] if i["id"] in keep]
            data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
            (sub / side / path.name).write_text(json.dumps(data))
    direct = evaluate_posetrack(sub / "gt", sub / "pred")
    assert rob["clean"]["Mean"] == pytest.approx(direct["Mean"], abs=1e-9)


def test_by_degradation_needs_labels(tmp_path: Path) -> None:
    gt, pr = write_random_set(tmp_path, 4, n_seq=1, n_frames=4, hard=False)
    with pytest.raises(InputError, match="semapose_degradations"):
        evaluate_by_degradation(load_eval_set(gt, pr))


# ----------------------------------------------------------------------------- writer


def test_writer_roundtrip_scores_like_the_source(tmp_path: Path) -> None:
    gt_dir, pr_dir = write_random_set(tmp_path, 8, n_seq=1, n_frames=6, hard=False)
    name = next(gt_dir.glob("*.json")).name
    src = json.loads((pr_dir / name).read_text())
    people: dict[int, list[dict]] = {}
    for a in src["annotations"]:
        kp = np.array(a["keypoints"], dtype=float).reshape(17, 3)
        people.setdefault(a["image_id"], []).append(
            {"keypoints": kp[:, :2], "scores": np.array(a["scores"]), "track_id": a["track_id"]}
        )
    out = tmp_path / "written"
    write_posetrack18_predictions(out / name, gt_images(gt_dir / name), people)
    assert evaluate_posetrack(gt_dir, out) == evaluate_posetrack(gt_dir, pr_dir)


def test_writer_rules() -> None:
    images = [{"id": 1, "file_name": "a/000000.jpg"}, {"id": 2, "file_name": "a/000001.jpg"}]
    p = {"keypoints": np.zeros((17, 2)), "scores": np.full(17, 0.5), "track_id": -1}
    doc = posetrack18_predictions(images, {2: [p, dict(p), dict(p, track_id=0)]})
    assert [i["id"] for i in doc["images"]] == [1, 2]  # empty frames kept, GT order
    assert sorted(a["track_id"] for a in doc["annotations"]) == [0, 1, 2]
    with pytest.raises(InputError, match="unique track ids"):
        posetrack18_predictions(images, {1: [dict(p, track_id=3), dict(p, track_id=3)]})
    with pytest.raises(InputError, match="finite"):
        bad = dict(p, keypoints=np.full((17, 2), np.nan))
        posetrack18_predictions(images, {1: [bad]})
    with pytest.raises(InputError, match="image ids"):
        posetrack18_predictions(images, {7: [p]})
    res = coco_results([(5, dict(p, score=0.7))])
    assert res[0]["image_id"] == 5 and res[0]["score"] == 0.7 and len(res[0]["keypoints"]) == 51


# ----------------------------------------------------------------------------- CLI


def test_cli_writes_result_and_extras(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gt, pr = write_random_set(tmp_path, 9, n_seq=2, n_frames=6)
    _label_frames(gt)
    out = tmp_path / "RESULT.json"
    assert main(["evaluate", "--gt", str(gt), "--pred", str(pr), "--out", str(out),
                 "--coco", "--by-degradation"]) == 0  # fmt: skip
    res = json.loads(out.read_text())
    assert res == evaluate_posetrack(gt, pr)
    text = capsys.readouterr().out
    assert "Head" in text and "Mean" in text and "motion_blur" in text
    assert (tmp_path / "RESULT.coco.json").exists()
    assert (tmp_path / "RESULT.degradation.json").exists()


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gt, pr = write_random_set(tmp_path, 9, n_seq=1, n_frames=3)
    next(pr.glob("*.json")).unlink()
    assert main(["evaluate", "--gt", str(gt), "--pred", str(pr)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]


def test_real_posetrack18_sample_against_itself(posetrack18_sample: Path) -> None:
    gt_dir = posetrack18_sample / "annotations" / "val"
    res = evaluate_posetrack(gt_dir, gt_dir)
    assert res["Mean"] == pytest.approx(100.0)
