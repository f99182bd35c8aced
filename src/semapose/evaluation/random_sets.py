"""Random PoseTrack ground-truth / prediction sets (tests of an evaluator, speed benchmarks).

The sets exercise poseval's corner cases: unlabeled frames, people without
keypoints, joints at (0, 0) with visibility 1, negative coordinates, missing
and extra people, missing joints and scores, tied scores, ignore regions and
empty prediction frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from semapose.io.atomic import atomic_write_json
from semapose.keypoints import POSETRACK_KEYPOINTS


def _categories() -> list[dict[str, Any]]:
    return [{"supercategory": "person", "id": 1, "name": "person",
             "keypoints": list(POSETRACK_KEYPOINTS), "skeleton": []}]  # fmt: skip


def random_sequence(
    rng: np.random.Generator,
    seq_id: int,
    n_frames: int = 12,
    max_people: int = 5,
    hard: bool = True,
    ties: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One PoseTrack2018 GT file and a noisy prediction file for it (as dicts).

    ``ties=False`` keeps all scores distinct, so the ranking (and the AP) does not
    depend on how ``np.argsort`` orders equal scores on this machine.
    """
    folder = f"images/val/{seq_id:06d}_mpii_test"
    images, gt_anns, pr_anns = [], [], []
    n_people = int(rng.integers(1, max_people + 1))
    centers = rng.uniform(-50, 700, size=(n_people, 2))
    skeleton = rng.normal(0, 60, size=(n_people, 17, 2))
    for f in range(n_frames):
        image_id = 10000000000 + seq_id * 10000 + f
        labeled = (not hard) or rng.random() > 0.25
        img: dict[str, Any] = {
            "id": image_id, "file_name": f"{folder}/{f:06d}.jpg", "frame_id": image_id,
            "vid_id": f"{seq_id:06d}", "nframes": n_frames, "is_labeled": labeled,
        }  # fmt: skip
        if hard and labeled and rng.random() < 0.3:
            xs, ys = [], []
            for _ in range(int(rng.integers(1, 3))):
                c = rng.uniform(0, 600, size=2)
                k = int(rng.integers(3, 8))
                ang = np.sort(rng.uniform(0, 2 * np.pi, size=k))
                r = rng.uniform(30, 150, size=k)
                xs.append(np.round(c[0] + r * np.cos(ang)).tolist())
                ys.append(np.round(c[1] + r * np.sin(ang)).tolist())
            img["ignore_regions_x"], img["ignore_regions_y"] = xs, ys
        images.append(img)
        if not labeled:
            continue
        for p in range(n_people):
            if hard and rng.random() < 0.1:
                continue  # person absent in this frame
            kp = centers[p] + skeleton[p] + rng.normal(0, 3, size=(17, 2))
            vis = (rng.random(17) > (0.25 if hard else 0.0)).astype(float)
            vis[3:5] = 0
            xy = np.where(vis[:, None] > 0, np.round(kp, 2), 0.0)
            if hard and rng.random() < 0.05:
                xy[0] = 0.0  # annotated joint at (0, 0): still present for poseval
                vis[0] = 1
            if hard and rng.random() < 0.05:
                vis[:] = 0
                xy[:] = 0  # a person without any keypoint
            hx = float(np.round(centers[p][0] + skeleton[p][0, 0] - 20, 1))
            hy = float(np.round(centers[p][1] + skeleton[p][0, 1] - 25, 1))
            hw = float(np.round(rng.uniform(20, 60), 1))
            hh = float(np.round(rng.uniform(25, 70), 1))
            hb = [hx, hy, hw, hh]
            gt_anns.append({
                "id": image_id * 100 + p, "image_id": image_id, "track_id": p, "category_id": 1,
                "keypoints": np.column_stack([xy, vis]).ravel().tolist(), "scores": [],
                "bbox_head": hb, "bbox": [0, 0, 100, 200],
            })  # fmt: skip
            # prediction for this person: noisy, sometimes missing or duplicated
            if hard and rng.random() < 0.1:
                continue
            for copy in range(2 if hard and rng.random() < 0.1 else 1):
                noise = rng.normal(0, rng.choice([2.0, 10.0, 40.0]), size=(17, 2))
                pxy = kp + noise + copy * 30
                pv = np.ones(17)
                pv[3:5] = 0
                pxy[3:5] = 0
                if hard:
                    drop = rng.random(17) < 0.1
                    pxy[drop], pv[drop] = 0, 0
                sc = rng.random(17)
                if hard and ties and rng.random() < 0.3:
                    sc = np.round(sc, 1)  # ties
                elif ties:
                    sc = np.round(sc, 4)
                pann: dict[str, Any] = {
                    "image_id": image_id, "track_id": p + 50 * copy, "category_id": 1,
                    "keypoints": np.column_stack([np.round(pxy, 3), pv]).ravel().tolist(),
                    "scores": sc.tolist(),
                }  # fmt: skip
                if hard and ties and rng.random() < 0.03:
                    pann["scores"] = []  # poseval falls back to score -9999
                pr_anns.append(pann)
        if hard and rng.random() < 0.15:  # a false-positive person
            pxy = rng.uniform(-100, 800, size=(17, 2))
            pr_anns.append({
                "image_id": image_id, "track_id": 99, "category_id": 1,
                "keypoints": np.column_stack([pxy, np.ones(17)]).ravel().tolist(),
                "scores": rng.random(17).round(3 if ties else 17).tolist(),
            })  # fmt: skip
    gt = {"images": images, "annotations": gt_anns, "categories": _categories()}
    pred = {
        "images": [{"id": i["id"], "file_name": i["file_name"]} for i in images],
        "annotations": pr_anns,
        "categories": _categories(),
    }
    return gt, pred


def write_random_set(
    root: str | Path,
    seed: int,
    n_seq: int = 4,
    n_frames: int = 12,
    max_people: int = 5,
    hard: bool = True,
    ties: bool = True,
) -> tuple[Path, Path]:
    """Write ``root/gt/*.json`` and ``root/pred/*.json``; returns the two folders."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    gt_dir, pr_dir = root / "gt", root / "pred"
    for s in range(n_seq):
        seq_id = 1000 + s
        gt, pred = random_sequence(rng, seq_id, n_frames, max_people, hard, ties)
        name = f"{seq_id:06d}_mpii_test.json"
        atomic_write_json(gt_dir / name, gt)
        atomic_write_json(pr_dir / name, pred)
    return gt_dir, pr_dir
