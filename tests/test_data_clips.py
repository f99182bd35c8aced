"""Clip sampling and PoseTrackClipDataset on a tiny generated PoseTrack18-layout dataset."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from semapose.config import Config, from_dict
from semapose.data.clips import (
    PoseTrackClipDataset,
    clip_frame_indices,
    clip_offsets,
    draw_offsets,
    frame_path,
)
from semapose.data.codec import HeatmapCodec
from semapose.data.loader import build_dataset
from semapose.data.posetrack import load_posetrack18
from semapose.data.transforms import invert_points
from semapose.errors import InputError

W, H, NFRAMES = 160, 120, 10
SEQ = "000001_gen_test"


def _person(t: int, track: int, moving: bool) -> np.ndarray:
    """17x2 keypoints of a stick figure; track 0 moves right by 2 px/frame when ``moving``."""
    x0 = 50.0 + 40 * track + (2.0 * t if moving else 0.0)
    y0 = 20.0
    pts = np.zeros((17, 2))
    pts[0] = (x0, y0 + 8)
    pts[1] = (x0, y0 + 14)  # head_bottom
    pts[2] = (x0, y0)  # head_top
    for j, (dx, dy) in {
        5: (-8, 20),
        6: (8, 20),
        7: (-10, 35),
        8: (10, 35),
        9: (-12, 50),
        10: (12, 50),
        11: (-6, 55),
        12: (6, 55),
        13: (-6, 72),
        14: (6, 72),
        15: (-6, 88),
        16: (6, 88),
    }.items():
        pts[j] = (x0 + dx, y0 + dy)
    return pts


def make_dataset(root: Path, moving: bool = True, labeled_every: int = 1) -> Path:
    """Write images + one PoseTrack18 JSON; frame t shows a red dot at track 0's left wrist."""
    img_dir = root / "images" / "val" / SEQ
    img_dir.mkdir(parents=True)
    images, anns = [], []
    for t in range(NFRAMES):
        img = np.full((H, W, 3), 40, np.uint8)
        img[:, : W // 2, 1] = 90  # asymmetric background
        for track in (0, 1):
            for x, y in _person(t, track, moving):
                cv2.circle(img, (int(round(x)), int(round(y))), 2, (200, 200, 200), -1)
        wx, wy = _person(t, 0, moving)[9]
        cv2.circle(img, (int(round(wx)), int(round(wy))), 2, (0, 0, 255), -1)  # BGR red
        cv2.imwrite(str(img_dir / f"{t:06d}.png"), img)
        image_id = 10000010000 + t
        labeled = t % labeled_every == 0
        images.append(
            {
                "file_name": f"images/val/{SEQ}/{t:06d}.png",
                "id": image_id,
                "frame_id": image_id,
                "nframes": NFRAMES,
                "is_labeled": labeled,
                "vid_id": "000001",
                "ignore_regions_x": [],
                "ignore_regions_y": [],
            }
        )
        if not labeled:
            continue
        for track in (0, 1):
            kp = _person(t, track, moving)
            vis = np.ones(17)
            vis[3:5] = 0
            flat = np.concatenate([kp, vis[:, None]], axis=1)
            flat[3:5] = 0
            lo, hi = kp[vis > 0].min(0), kp[vis > 0].max(0)
            anns.append(
                {
                    "image_id": image_id,
                    "track_id": track,
                    "keypoints": flat.reshape(-1).tolist(),
                    "bbox": [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]],
                    "bbox_head": [kp[2, 0] - 5, kp[2, 1], 10, 14],
                    "category_id": 1,
                    "id": image_id * 100 + track,
                }
            )
    ann_dir = root / "annotations" / "val"
    ann_dir.mkdir(parents=True)
    ann = ann_dir / f"{SEQ}.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": []}))
    return ann


def make_cfg(**data: object) -> Config:
    base: dict[str, object] = {
        "image_size": [64, 48],
        "offsets": [-2, -1, 1, 2],
        "num_workers": 0,
    }
    base.update(data)
    return from_dict(Config, {"data": base, "model": {"num_joints": 17}}, "<test>")


@pytest.fixture()
def gen(tmp_path: Path) -> Path:
    return make_dataset(tmp_path)


# ----------------------------------------------------------------------------- sampling


def test_clip_offsets_order_and_key_index() -> None:
    assert clip_offsets([2, -1, 1, -2]) == ([-2, -1, 0, 1, 2], 2)
    assert clip_offsets([1, 3]) == ([0, 1, 3], 0)
    assert clip_offsets([-3]) == ([-3, 0], 1)


def test_clip_indices_clipped_at_sequence_ends() -> None:
    offs, _ = clip_offsets([-2, -1, 1, 2])
    assert clip_frame_indices(0, offs, 0, 9) == [0, 0, 0, 1, 2]
    assert clip_frame_indices(1, offs, 0, 9) == [0, 0, 1, 2, 3]
    assert clip_frame_indices(9, offs, 0, 9) == [7, 8, 9, 9, 9]
    assert clip_frame_indices(5, offs, 0, 9) == [3, 4, 5, 6, 7]


def test_draw_offsets_keep_sign_order_and_range() -> None:
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        o = draw_offsets([-2, -1, 1, 2], 5, rng)
        assert len(o) == 4
        assert o[0] <= o[1] < 0 < o[2] <= o[3]
        assert all(1 <= abs(v) <= 5 for v in o)
        seen.add(tuple(o))
    assert len(seen) > 20


def test_dataset_border_frames_and_key_index(gen: Path) -> None:
    cfg = make_cfg()
    records = load_posetrack18(gen)
    ds = PoseTrackClipDataset(records, cfg, train=False)
    assert len(ds) == NFRAMES * 2
    first = ds[0]  # frame 0, track 0
    assert first["meta"]["frame_indices"].tolist() == [0, 0, 0, 1, 2]
    assert first["key_index"] == 2
    last = ds[len(ds) - 1]
    assert last["meta"]["frame_indices"].tolist() == [7, 8, 9, 9, 9]
    assert first["images"].shape == (5, 3, 64, 48)
    assert first["images"].dtype == torch.float32
    assert first["heatmaps"].shape == (5, 17, 16, 12)
    assert first["target_weights"].shape == (5, 17)
    # repeated border frames are the same image
    assert torch.equal(first["images"][0], first["images"][2])


def test_random_offsets_are_drawn_per_getitem(gen: Path) -> None:
    cfg = make_cfg(random_offset_max=3)
    ds = PoseTrackClipDataset(load_posetrack18(gen), cfg, train=True)
    idx = next(i for i, s in enumerate(ds.samples) if ds.records[s.record].frame_index == 5)
    torch.manual_seed(0)
    seen = {tuple(ds[idx]["meta"]["frame_indices"].tolist()) for _ in range(15)}
    assert len(seen) > 1
    for fi in seen:
        assert fi[2] == 5 and list(fi) == sorted(fi)
        assert 2 <= fi[0] <= fi[1] <= 4 and 6 <= fi[3] <= fi[4] <= 8
    # without random offsets training uses the fixed ones
    ds0 = PoseTrackClipDataset(load_posetrack18(gen), make_cfg(), train=True)
    assert ds0[idx]["meta"]["frame_indices"].tolist() == [3, 4, 5, 6, 7]


def test_same_augmentation_across_clip(tmp_path: Path) -> None:
    ann = make_dataset(tmp_path, moving=False)
    cfg = make_cfg(rotation=30.0, rotation_prob=1.0, scale=0.3, flip_prob=0.5, half_body_prob=0.0)
    ds = PoseTrackClipDataset(load_posetrack18(ann), cfg, train=True)
    torch.manual_seed(1)
    rotations = set()
    for i in range(6):
        item = ds[i]
        rotations.add(round(item["meta"]["rotation"], 3))
        # static scene: every frame's crop and targets must be identical
        for t in range(item["images"].shape[0]):
            assert torch.allclose(item["images"][t], item["images"][0])
            assert torch.allclose(item["heatmaps"][t], item["heatmaps"][0])
    assert len(rotations) > 1


def test_targets_follow_image_under_augmentation(gen: Path) -> None:
    """The red dot drawn at track 0's left wrist is where the target says (swapped if flipped)."""
    cfg = make_cfg(image_size=[128, 96], rotation=40.0, rotation_prob=1.0, flip_prob=0.5)
    ds = PoseTrackClipDataset(load_posetrack18(gen), cfg, train=True)
    codec = HeatmapCodec((128, 96), 4, 2.0)
    torch.manual_seed(3)
    flips = set()
    checked = 0
    for i, s in enumerate(ds.samples):
        if s.track_id != 0:
            continue
        item = ds[i]
        flip = item["meta"]["flip"]
        flips.add(flip)
        for t in range(item["images"].shape[0]):
            w = item["target_weights"][t]
            if w.sum() == 0:
                continue
            img = item["images"][t].numpy()
            redness = img[0] - 0.5 * (img[1] + img[2])
            if redness.max() < 2.0:  # dot cropped away
                continue
            yx = np.argwhere(redness > redness.max() * 0.7).mean(0)
            coords, _ = codec.decode(item["heatmaps"][t].numpy()[None])
            slot = 10 if flip else 9
            if w[slot] == 0:  # wrist beyond the heatmap's last pixel (dot at the very edge)
                continue
            assert np.abs(coords[0, slot] - yx[::-1]).max() < 3.0
            checked += 1
    assert checked >= 10 and flips == {True, False}


def test_supporting_frames_use_same_track_gt(tmp_path: Path) -> None:
    ann = make_dataset(tmp_path, labeled_every=3)  # labeled frames 0, 3, 6, 9
    cfg = make_cfg(offsets=[-1, 1])
    ds = PoseTrackClipDataset(load_posetrack18(ann), cfg, train=False)
    for i in range(len(ds)):
        item = ds[i]
        fi = item["meta"]["frame_indices"].tolist()
        labeled = [(f % 3 == 0) for f in fi]
        sums = item["target_weights"].sum(1).tolist()
        for lab, sm in zip(labeled, sums, strict=True):
            assert (sm > 0) == lab
    # training uses only labeled key frames: 4 frames x 2 tracks
    assert len(PoseTrackClipDataset(load_posetrack18(ann), cfg, train=True)) == 8


def test_decoding_back_to_image_coordinates(gen: Path) -> None:
    cfg = make_cfg(image_size=[128, 96])
    records = load_posetrack18(gen)
    ds = PoseTrackClipDataset(records, cfg, train=False)
    codec = HeatmapCodec((128, 96), 4, 2.0)
    item = ds[3]
    k = item["key_index"]
    coords, _ = codec.decode(item["heatmaps"][k].numpy()[None])
    meta = item["meta"]
    back = invert_points(coords, meta["center"], meta["scale"], meta["rotation"], (128, 96))
    person = records[meta["record_index"]].persons[meta["person_index"]]
    vis = person.visibility > 0
    assert np.abs(back[0][vis] - person.keypoints[vis]).max() < 0.2


def test_detection_mode_and_missing_frames(gen: Path, tmp_path: Path) -> None:
    from semapose.data.boxes import Detection

    records = load_posetrack18(gen)
    dets = {0: [Detection(np.array([30.0, 10, 60, 100]), 0.9, records[0].image_id)]}
    ds = PoseTrackClipDataset(records, make_cfg(), train=False, detections=dets)
    assert len(ds) == 1
    item = ds[0]
    assert item["target_weights"].sum() == 0
    assert item["meta"]["box_score"] == pytest.approx(0.9)
    assert item["meta"]["track_id"] == -1
    # a neighbour that is not listed in the annotation is found by its file name
    assert frame_path(records[0], 7).name == "000007.png"
    # a missing image is a clear InputError naming the file
    (gen.parents[2] / "images" / "val" / SEQ / "000001.png").unlink()
    with pytest.raises(InputError, match="000001.png"):
        ds[0]


def test_items_batch_and_collate(gen: Path) -> None:
    from torch.utils.data import DataLoader

    cfg = make_cfg()
    cfg.data.train_annotations = str(gen)
    ds = build_dataset(cfg, "train")
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["images"].shape == (4, 5, 3, 64, 48)
    assert batch["heatmaps"].shape == (4, 5, 17, 16, 12)
    assert batch["meta"]["center"].shape == (4, 2)


def test_items_load_in_worker_processes(gen: Path) -> None:
    from torch.utils.data import DataLoader

    from semapose.engine.seeding import worker_init

    cfg = make_cfg(num_workers=2)
    ds = PoseTrackClipDataset(load_posetrack18(gen), cfg, train=True)
    loader = DataLoader(ds, batch_size=5, num_workers=2, worker_init_fn=worker_init)
    assert sum(b["images"].shape[0] for b in loader) == len(ds)


def test_set_rng_makes_items_reproducible(gen: Path) -> None:
    cfg = make_cfg(random_offset_max=3, rotation_prob=1.0)
    ds = PoseTrackClipDataset(load_posetrack18(gen), cfg, train=True)
    ds.set_rng(np.random.default_rng(7))
    a = ds[4]
    ds.set_rng(np.random.default_rng(7))
    b = ds[4]
    assert torch.equal(a["images"], b["images"])
    assert a["meta"]["frame_indices"].tolist() == b["meta"]["frame_indices"].tolist()
    assert a["meta"]["rotation"] == b["meta"]["rotation"] != 0.0
