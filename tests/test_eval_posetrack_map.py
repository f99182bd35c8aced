"""PoseTrack mAP: hand-computed cases, poseval-recorded cases, GT vs itself, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semapose.errors import InputError
from semapose.evaluation import compute_map, evaluate_posetrack, load_eval_set
from semapose.evaluation.posetrack_map import rank_ap
from semapose.evaluation.random_sets import write_random_set
from semapose.keypoints import POSETRACK15_KEYPOINTS, POSETRACK_KEYPOINTS

NAMES = list(POSETRACK15_KEYPOINTS)
SLOT = {n: POSETRACK_KEYPOINTS.index(n) for n in NAMES}
CATS = [{"id": 1, "name": "person", "keypoints": list(POSETRACK_KEYPOINTS)}]


def person(xy: dict[str, tuple[float, float]], **extra: Any) -> dict[str, Any]:
    """A PT18 annotation from {joint name: (x, y)}; other slots unannotated."""
    kp = [0.0] * 51
    for n, (x, y) in xy.items():
        kp[3 * SLOT[n] : 3 * SLOT[n] + 3] = [x, y, 1]
    return {"keypoints": kp, **extra}


def full_pose(ox: float, oy: float) -> dict[str, tuple[float, float]]:
    return {n: (ox + 7.0 * k, oy + 3.0 * k) for k, n in enumerate(NAMES)}


def seq_files(
    tmp: Path, frames: list[tuple[list[dict], list[dict]]], name: str = "000001_mpii_test"
) -> tuple[Path, Path]:
    """Write GT/pred PT18 files; frames = [(gt_people, pred_people)], people get image ids."""
    imgs, gts, prs = [], [], []
    for f, (gp, pp) in enumerate(frames):
        iid = 10000010000 + f
        imgs.append({"id": iid, "file_name": f"images/val/{name}/{f:06d}.jpg"})
        for t, p in enumerate(gp):
            gts.append({"image_id": iid, "track_id": t, "bbox_head": [0, 0, 30, 40], **p})
        for t, p in enumerate(pp):
            prs.append({"image_id": iid, "track_id": t, **p})
    (tmp / "gt").mkdir(exist_ok=True)
    (tmp / "pred").mkdir(exist_ok=True)
    gt = {"images": imgs, "annotations": gts, "categories": CATS}
    pr = {"images": imgs, "annotations": prs, "categories": CATS}
    (tmp / "gt" / f"{name}.json").write_text(json.dumps(gt))
    (tmp / "pred" / f"{name}.json").write_text(json.dumps(pr))
    return tmp / "gt", tmp / "pred"


def scored(pose: dict[str, tuple[float, float]], s: float, **kw: Any) -> dict[str, Any]:
    return person(pose, scores=[s] * 17, **kw)


# head box 30 x 40 -> head size 0.6 * 50 = 30, threshold 15 px


def test_ap_by_hand_fp_ranked_first(tmp_path: Path) -> None:
    # one GT; the matched prediction has score 0.5, a far-away one 0.9 (a false positive).
    # Ranking per joint: FP, TP -> precision [0, 1/2], recall [0, 1] -> AP = 1 * 1/2 = 50
    gt = person(full_pose(100, 100))
    good = scored(full_pose(101, 99), 0.5)
    far = scored(full_pose(400, 400), 0.9)
    res = evaluate_posetrack(*seq_files(tmp_path, [([gt], [far, good])]))
    assert all(v == pytest.approx(50.0) for v in res["per_joint"].values())
    assert res["Mean"] == pytest.approx(50.0)


def test_missing_gt_joint_makes_matched_joint_a_false_positive(tmp_path: Path) -> None:
    # GT B lacks right_ankle; its (matched) prediction has one with the top score.
    # right_ankle: FP (0.95) then TP (0.9), one GT ankle -> AP 50; all other joints 100.
    pose_a, pose_b = full_pose(0, 0), full_pose(300, 0)
    gt_b = {n: v for n, v in pose_b.items() if n != "right_ankle"}
    pr_a = scored(pose_a, 0.9)
    pr_b = scored(pose_b, 0.8)
    pr_b["scores"][SLOT["right_ankle"]] = 0.95
    res = evaluate_posetrack(*seq_files(tmp_path, [([person(pose_a), person(gt_b)], [pr_a, pr_b])]))
    assert res["per_joint"]["right_ankle"] == pytest.approx(50.0)
    assert res["per_joint"]["left_ankle"] == pytest.approx(100.0)
    assert res["Ankle"] == pytest.approx(75.0)
    assert res["Mean"] == pytest.approx((50 + 14 * 100) / 15)


def test_greedy_assignment_by_pckh(tmp_path: Path) -> None:
    # Both predictions are closest to GT A; P2 matches all 15 joints, P1 only 10.
    # GT A takes P2 (higher PCKh); P1 is unmatched although it is its best GT: all FP.
    pose = full_pose(0, 0)
    p1 = dict(pose)
    for n in NAMES[:5]:
        p1[n] = (pose[n][0] + 40, pose[n][1])  # 40 px > 15 px
    other_gt = person(full_pose(600, 600))
    res_pr = [scored(p1, 0.9), scored(pose, 0.1)]
    res = evaluate_posetrack(*seq_files(tmp_path, [([person(pose), other_gt], res_pr)]))
    # per joint: FP(0.9), TP(0.1); 2 GT joints -> recall 1/2 at precision 1/2 -> AP 25
    assert all(v == pytest.approx(25.0) for v in res["per_joint"].values())


def test_unlabeled_frames_and_their_predictions_are_dropped(tmp_path: Path) -> None:
    pose = full_pose(50, 50)
    frames = [
        ([person(pose)], [scored(pose, 0.3)]),
        ([], [scored(pose, 0.99)]),  # unlabeled: this confident FP is ignored
        ([person({})], [scored(pose, 0.2)]),  # GT person without joints: prediction is a FP
    ]
    res = evaluate_posetrack(*seq_files(tmp_path, frames))
    # per joint: TP(0.3), FP(0.2); 1 GT joint -> AP 100
    assert res["Mean"] == pytest.approx(100.0)
    frames[2] = ([person({})], [scored(pose, 0.4)])  # now the FP ranks first -> AP 50
    res = evaluate_posetrack(*seq_files(tmp_path, frames))
    assert res["Mean"] == pytest.approx(50.0)


def test_presence_rule_zero_point_and_negative_coordinates(tmp_path: Path) -> None:
    # (0, 0, v=1) and negative coordinates are annotated joints for poseval;
    # (0, 0, v=0) is not. PoseTrack21's rule (x > 0 and y > 0) drops the first two.
    pose = full_pose(10, 10)
    pose["nose"] = (0.0, 0.0)
    pose["head_top"] = (-5.0, 20.0)
    gt = person(pose)
    pred = scored(pose, 0.7)
    gt_dir, pr_dir = seq_files(tmp_path, [([gt], [pred])])
    es = load_eval_set(gt_dir, pr_dir)
    assert es.gt_has[0].all()
    assert evaluate_posetrack(gt_dir, pr_dir)["Mean"] == pytest.approx(100.0)
    es21 = load_eval_set(gt_dir, pr_dir, protocol="posetrack21")
    assert not es21.gt_has[0, NAMES.index("nose")]
    assert not es21.gt_has[0, NAMES.index("head_top")]
    res21 = evaluate_posetrack(gt_dir, pr_dir, protocol="posetrack21")
    assert res21["per_joint"]["nose"] == 0.0  # no detections left for the nose


def test_ignore_regions_remove_points(tmp_path: Path) -> None:
    pose = full_pose(100, 100)
    frames = [([person(pose)], [scored(full_pose(100, 100), 0.6)])]
    gt_dir, pr_dir = seq_files(tmp_path, frames)
    path = gt_dir / "000001_mpii_test.json"
    data = json.loads(path.read_text())
    # a square around right_ankle (the first joint, at (100, 100)) only
    data["images"][0]["ignore_regions_x"] = [[95, 105, 105, 95]]
    data["images"][0]["ignore_regions_y"] = [[95, 95, 105, 105]]
    path.write_text(json.dumps(data))
    es = load_eval_set(gt_dir, pr_dir)
    assert not es.gt_has[0, 0] and not es.pr_has[0, 0]
    assert es.gt_has[0, 1:].all()
    res = evaluate_posetrack(gt_dir, pr_dir)
    # no detection left for the joint: poseval leaves its AP at 0 (and averages it in)
    assert res["per_joint"]["right_ankle"] == 0.0
    assert res["Mean"] == pytest.approx(14 * 100 / 15)
    # a predicted ankle outside the region but no GT ankle: recall 0/0 -> NaN (null),
    # left out of the Mean
    pr_path = pr_dir / "000001_mpii_test.json"
    pdata = json.loads(pr_path.read_text())
    pdata["annotations"][0]["keypoints"][3 * SLOT["right_ankle"]] = 200.0
    pr_path.write_text(json.dumps(pdata))
    res = evaluate_posetrack(gt_dir, pr_dir)
    assert res["per_joint"]["right_ankle"] is None
    assert res["Ankle"] is None
    assert res["Mean"] == pytest.approx(100.0)


def test_rank_ap_matches_definition() -> None:
    # labels by descending score: T F T F ; 2 positives in GT -> AP = 1*0.5 + 2/3*0.5
    ap, pre, rec = rank_ap(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0]), 2.0)
    assert ap == pytest.approx(0.5 + (2 / 3) * 0.5)
    assert pre == pytest.approx(0.5) and rec == pytest.approx(1.0)
    assert rank_ap(np.zeros(0), np.zeros(0), 3.0) == (0.0, 0.0, 0.0)


def test_ground_truth_against_itself_is_100(tmp_path: Path) -> None:
    gt_dir, _ = write_random_set(tmp_path, seed=5, n_seq=3, n_frames=8)
    res = evaluate_posetrack(gt_dir, gt_dir)
    assert all(v == pytest.approx(100.0) for v in res["per_joint"].values())
    assert res["Mean"] == pytest.approx(100.0)
    assert list(res) == ["per_joint", "Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee",
                         "Ankle", "Mean"]  # fmt: skip
    assert list(res["per_joint"]) == NAMES


# Values computed by poseval itself (leonid-pishchulin/poseval @ 4258a15, numpy 2.4,
# shapely 2.2) on these generated sets: evaluateAP(...) -> apAll (15 joints + total).
# The sets have distinct scores, so the values do not depend on argsort's tie order.
POSEVAL_AP = {
    (11, 1, 20, 5, True): [22.7629513344, 11.4583333333, 38.8888888889, 16.0968660969,
                           12.5925925926, 15.0, 25.5208333333, 38.8888888889, 9.3333333333,
                           11.6071428571, 33.3333333333, 40.8712121212, 13.1313131313,
                           32.0833333333, 25.8297258297, 23.1599165605],
    (12, 3, 8, 4, True): [17.7777777778, 22.8680699333, 23.8701298612, 20.599931729,
                          32.7560174788, 19.2925644539, 16.3011695906, 14.7887072277,
                          10.7087357087, 19.1219512195, 24.2021262666, 6.3766683144,
                          12.658396692, 20.1452991453, 13.4163984164, 18.3255962543],
    (13, 2, 10, 6, False): [39.050463801, 42.8767585481, 30.2940105485, 37.2182863114,
                            38.4839083772, 37.4948453608, 41.214115347, 39.5844444444,
                            39.8341597151, 43.7877690345, 35.5233635839, 35.1687179487,
                            35.8827953009, 38.8527851459, 33.571075365, 37.9224999222],
}  # fmt: skip


@pytest.mark.parametrize("key", list(POSEVAL_AP))
def test_matches_recorded_poseval_values(tmp_path: Path, key: tuple) -> None:
    seed, n_seq, n_frames, max_people, hard = key
    gt_dir, pr_dir = write_random_set(
        tmp_path, seed, n_seq=n_seq, n_frames=n_frames, max_people=max_people, hard=hard,
        ties=False,
    )  # fmt: skip
    m = compute_map(load_eval_set(gt_dir, pr_dir))
    ours = np.concatenate([m.ap, [m.mean]])
    assert np.max(np.abs(ours - np.array(POSEVAL_AP[key]))) < 1e-6


def test_pt17_annolist_input(tmp_path: Path) -> None:
    def pt(j: int, x: float, y: float, s: float | None = None) -> dict:
        p = {"id": [j], "x": [x], "y": [y]}
        if s is not None:
            p["score"] = [s]
        return p

    gt_pts = [pt(j, 10.0 * j, 5.0 * j) for j in range(15)]
    gt = {"annolist": [{"image": [{"name": "a/0.jpg"}], "annorect": [
        {"x1": [0], "y1": [0], "x2": [30], "y2": [40], "track_id": [0],
         "annopoints": [{"point": gt_pts}]}]}]}  # fmt: skip
    # duplicate id 0: the first point (far away) is used -> joint 0 is a FP;
    # id 20 is not a joint; joint 1 without score gets -9999 (still a TP)
    pr_pts = [
        pt(0, 500.0, 500.0, 0.9),
        pt(0, 0.0, 0.0, 0.9),
        pt(20, 1.0, 1.0, 0.5),
        pt(1, 10.0, 5.0),
    ]
    pr_pts += [pt(j, 10.0 * j, 5.0 * j, 0.8) for j in range(2, 15)]
    pr = {"annolist": [{"image": [{"name": "a/0.jpg"}], "annorect": [
        {"track_id": [3], "annopoints": [{"point": pr_pts}]}]}]}  # fmt: skip
    (tmp_path / "g").mkdir()
    (tmp_path / "p").mkdir()
    (tmp_path / "g" / "s.json").write_text(json.dumps(gt))
    (tmp_path / "p" / "s.json").write_text(json.dumps(pr))
    res = evaluate_posetrack(tmp_path / "g", tmp_path / "p")
    assert res["per_joint"]["right_ankle"] == 0.0
    assert res["per_joint"]["right_knee"] == pytest.approx(100.0)
    assert res["per_joint"]["head_top"] == pytest.approx(100.0)


# ----------------------------------------------------------------------------- errors


def test_frame_count_mismatch_names_file(tmp_path: Path) -> None:
    pose = full_pose(0, 0)
    gt_dir, pr_dir = seq_files(tmp_path, [([person(pose)], [])] * 3)
    path = pr_dir / "000001_mpii_test.json"
    data = json.loads(path.read_text())
    data["images"] = data["images"][:2]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="000001_mpii_test.json.*3 frames"):
        evaluate_posetrack(gt_dir, pr_dir)


def test_missing_prediction_file(tmp_path: Path) -> None:
    gt_dir, pr_dir = seq_files(tmp_path, [([person(full_pose(0, 0))], [])])
    (pr_dir / "000001_mpii_test.json").unlink()
    with pytest.raises(InputError, match="000001_mpii_test.json.*no such file"):
        evaluate_posetrack(gt_dir, pr_dir)


def test_duplicate_track_ids_name_file_and_frame(tmp_path: Path) -> None:
    pose = full_pose(0, 0)
    gt_dir, pr_dir = seq_files(tmp_path, [([person(pose)], []), ([person(pose)], [])])
    path = pr_dir / "000001_mpii_test.json"
    data = json.loads(path.read_text())
    iid = data["images"][1]["id"]
    data["annotations"] = [
        {"image_id": iid, "track_id": 4, **scored(pose, 0.5)},
        {"image_id": iid, "track_id": 4, **scored(pose, 0.5)},
    ]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"000001_mpii_test.json: frame 1 .*000001.jpg.*unique"):
        evaluate_posetrack(gt_dir, pr_dir)


@pytest.mark.parametrize(
    "bad",
    [
        {"keypoints": [float("nan")] * 51},
        {"keypoints": [1.0] * 50},
        {"keypoints": [1.0] * 51, "scores": [0.5] * 3},
        {"keypoints": [1.0] * 51, "track_id": 10000},
    ],
)
def test_invalid_prediction_values(tmp_path: Path, bad: dict) -> None:
    gt_dir, pr_dir = seq_files(tmp_path, [([person(full_pose(0, 0))], [])])
    path = pr_dir / "000001_mpii_test.json"
    data = json.loads(path.read_text().replace("NaN", "0"))
    data["annotations"] = [{"image_id": data["images"][0]["id"], "track_id": 1, **bad}]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="000001_mpii_test.json"):
        evaluate_posetrack(gt_dir, pr_dir)


def test_missing_head_box_is_an_error_naming_the_frame(tmp_path: Path) -> None:
    pose = full_pose(0, 0)
    gt_dir, pr_dir = seq_files(tmp_path, [([person(pose)], [scored(pose, 0.5)])])
    path = gt_dir / "000001_mpii_test.json"
    data = json.loads(path.read_text())
    del data["annotations"][0]["bbox_head"]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="000000.jpg.*head box"):
        evaluate_posetrack(gt_dir, pr_dir)
