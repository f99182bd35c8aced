"""Synthetic data: determinism, PoseTrack18 layout, annotation validity, reader round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from semapose.data.synthetic import generate_dataset, iter_video, sequence_name
from semapose.errors import InputError
from semapose.keypoints import POSETRACK_KEYPOINTS


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_is_byte_identical_and_seed_matters(tmp_path: Path) -> None:
    kw = {"size": (64, 64), "people": (1, 3), "split": "train"}
    a = generate_dataset(tmp_path / "a", 2, 6, 7, **kw)  # type: ignore[arg-type]
    generate_dataset(tmp_path / "b", 2, 6, 7, **kw)  # type: ignore[arg-type]
    generate_dataset(tmp_path / "c", 2, 6, 8, **kw)  # type: ignore[arg-type]
    ta, tb, tc = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert ta == tb
    assert set(ta) == set(tc) and ta != tc
    assert len(a) == 2 * (6 + 2) and all(p.exists() for p in a)
    assert not any(".tmp" in name for name in ta)  # no temporary folders left behind


def test_splits_have_their_own_videos(tmp_path: Path) -> None:
    train = list(iter_video(0, "train", 0, 3, (64, 64), (1, 2), "none"))
    val = list(iter_video(0, "val", 0, 3, (64, 64), (1, 2), "none"))
    assert not np.array_equal(train[0].image, val[0].image)
    assert sequence_name("val", 3) == "200003_synth_val"


def test_posetrack18_layout(tmp_path: Path) -> None:
    generate_dataset(tmp_path, 1, 5, 1, size=(96, 64), split="val", write_video=True)
    seq = sequence_name("val", 0)
    ann = json.loads((tmp_path / "annotations" / "val" / f"{seq}.json").read_text())
    import av

    with av.open(str(tmp_path / "videos" / "val" / f"{seq}.mp4")) as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(decoded) == 5 and decoded[0].shape == (64, 96, 3)
    cat = ann["categories"][0]
    assert cat["name"] == "person" and cat["keypoints"] == list(POSETRACK_KEYPOINTS)
    assert len(cat["skeleton"]) == 19
    assert len(ann["images"]) == 5
    for k, im in enumerate(ann["images"]):
        assert im["file_name"] == f"images/val/{seq}/{k:06d}.jpg"
        assert (tmp_path / im["file_name"]).is_file()
        assert im["id"] == im["frame_id"] == 10_000_000_000 + 200000 * 10_000 + k
        assert im["vid_id"] == "200000" and im["nframes"] == 5 and im["is_labeled"] is True
        assert (im["width"], im["height"]) == (96, 64)
        assert len(im["ignore_regions_x"]) == len(im["ignore_regions_y"])
        assert isinstance(im["semapose_degradations"], list)
    ids = [a["id"] for a in ann["annotations"]]
    assert len(set(ids)) == len(ids)
    for a in ann["annotations"]:
        assert a["category_id"] == 1 and len(a["keypoints"]) == 51
        assert a["id"] == a["image_id"] * 100 + a["track_id"]
        assert len(a["bbox"]) == 4 and len(a["bbox_head"]) == 4


def test_annotations_are_valid() -> None:
    ratios = []
    n_people = 0
    for index in range(4):
        for fr in iter_video(11, "train", index, 12, (128, 96), (1, 4), "none"):
            h, w = fr.image.shape[:2]
            tracks = [p["track_id"] for p in fr.people]
            assert len(set(tracks)) == len(tracks)
            for p in fr.people:
                n_people += 1
                k = np.array(p["keypoints"], dtype=np.float64).reshape(17, 3)
                assert set(k[:, 2].tolist()) <= {0.0, 1.0, 2.0}
                assert (k[3:5] == 0).all()  # ears are never annotated in PoseTrack18
                lab = k[:, 2] > 0
                assert p["num_keypoints"] == int(lab.sum()) >= 3
                assert (k[~lab, :2] == 0).all()
                xy = k[lab, :2]
                assert (xy >= 0).all() and (xy[:, 0] < w).all() and (xy[:, 1] < h).all()
                x, y, bw, bh = p["bbox"]
                assert x >= 0 and y >= 0 and x + bw <= w + 1e-6 and y + bh <= h + 1e-6
                assert (xy[:, 0] >= x - 1).all() and (xy[:, 0] <= x + bw + 1).all()
                assert (xy[:, 1] >= y - 1).all() and (xy[:, 1] <= y + bh + 1).all()
                hx, hy, hw, hh = p["bbox_head"]
                assert hw > 0 and hh > 0 and 0.5 < hw / hh < 1.6
                if k[1, 2] > 0 and k[2, 2] > 0:
                    seg = float(np.hypot(*(k[2, :2] - k[1, :2])))
                    ratios.append(np.hypot(hw, hh) / seg)
                    # the head box holds both head points, as PoseTrack's do
                    for j in (1, 2):
                        assert hx - 1 <= k[j, 0] <= hx + hw + 1 and hy - 1 <= k[j, 1] <= hy + hh + 1
                    assert hh <= bh + 1  # a head is smaller than its person
    assert n_people > 20
    # PoseTrack18: head box diagonal = |head_top - head_bottom| / 0.7 (1.43)
    assert 1.40 < float(np.median(ratios)) < 1.6
    assert min(ratios) > 1.40


def test_hidden_joints_exist_and_are_labelled() -> None:
    vis = []
    for index in range(3):
        for fr in iter_video(2, "train", index, 10, (128, 128), (2, 3), "none"):
            for p in fr.people:
                vis += p["keypoints"][2::3]
    vis_arr = np.array(vis)
    vis_arr = vis_arr[vis_arr > 0]
    assert (vis_arr == 2).mean() > 0.55  # most labelled joints are visible
    assert (vis_arr == 1).mean() > 0.05  # self-occlusion and people in front hide some


def test_bad_arguments_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        generate_dataset(tmp_path, 0, 5, 0)
    with pytest.raises(InputError):
        generate_dataset(tmp_path, 1, 5, 0, size=(63, 64))
    with pytest.raises(InputError):
        generate_dataset(tmp_path, 1, 5, 0, people=(3, 1))
    with pytest.raises(InputError):
        generate_dataset(tmp_path, 1, 5, 0, degrade="sparkle")
    with pytest.raises(InputError):
        generate_dataset(tmp_path, 1, 5, 0, split="../x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError):
        generate_dataset(tmp_path / "file", 1, 2, 0)


def test_posetrack_reader_loads_output(tmp_path: Path) -> None:
    posetrack = pytest.importorskip("semapose.data.posetrack")
    generate_dataset(tmp_path, 2, 4, 3, size=(64, 64), write_video=False)
    records = posetrack.load_posetrack18(tmp_path / "annotations" / "train")
    assert len(records) == 8
    assert all(r.image_path.is_file() for r in records)
    assert all("semapose_degradations" in r.extra for r in records)
    persons = [p for r in records for p in r.persons]
    assert persons and all(p.keypoints.shape == (17, 2) for p in persons)


def test_person_behind_an_identical_person_is_hidden() -> None:
    """Visibility comes from what is drawn on top: a copy 1 m further back is all hidden."""
    import dataclasses

    from semapose.data.synthetic.background import make_background
    from semapose.data.synthetic.render import render_frame
    from semapose.data.synthetic.scene import sample_scene
    from semapose.data.synthetic.visibility import joint_visibility

    rng = np.random.default_rng(0)
    scene = sample_scene(rng, 128, 128, 4, (1, 1))
    bg = make_background(rng, 128, 128, scene.camera.horizon)
    near = scene.people[0]
    far = dataclasses.replace(near, track_id=1, depth=near.depth + 1.0)
    scene.people = [far, near]
    _, label, _ = render_frame(scene, bg, 2, [])
    v_near = joint_visibility(label, near, 1, 2)
    v_far = joint_visibility(label, far, 0, 2)
    assert (v_near == 2).sum() >= 5
    assert ((v_far == 1) == (v_near > 0)).all()  # every joint in view is covered


def test_sample_figure(tmp_path: Path) -> None:
    import cv2

    from semapose.data.synthetic.figure import make_sample_figure

    path = make_sample_figure(tmp_path / "fig.png", size=(96, 96), frames=16)
    img = cv2.imread(str(path))
    assert img is not None and img.shape[1] == 4 * 96 and img.shape[0] >= 2 * 96


def test_random_settings_render_finite_annotations() -> None:
    rng = np.random.default_rng(123)
    for k in range(12):
        w, h = (int(v) for v in rng.integers(32, 160, size=2))
        lo = int(rng.integers(0, 4))
        people = (lo, lo + int(rng.integers(0, 3)))
        degrade = str(rng.choice(["all", "none", "occluder:5", "frame_drop:5,motion_blur:5"]))
        frames = list(
            iter_video(int(rng.integers(0, 10**6)), "x", k, 4, (w, h), people, degrade, 0.8)
        )
        assert len(frames) == 4
        for fr in frames:
            assert fr.image.shape == (h, w, 3) and fr.image.dtype == np.uint8
            for p in fr.people:
                vals = [*p["keypoints"], *p["bbox"], *p["bbox_head"]]
                assert np.isfinite(np.asarray(vals, dtype=np.float64)).all()
