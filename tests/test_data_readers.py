"""Annotation and box readers: the real PoseTrack18 sample, PT17/PT21/COCO layouts, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from semapose.config import Config, from_dict
from semapose.data.boxes import attach_boxes, load_boxes
from semapose.data.clips import PoseTrackClipDataset
from semapose.data.coco import load_coco
from semapose.data.loader import load_records
from semapose.data.posetrack import load_posetrack17, load_posetrack18, load_posetrack21
from semapose.data.records import count_persons, group_sequences
from semapose.errors import InputError

# Counted once from the sample files (python json + collections.Counter), hard-coded here.
SAMPLE_PERSONS = {"003418_mpii_test": 1, "009473_mpii_test": 2, "012834_mpii_test": 11}
SAMPLE_NFRAMES = {"003418_mpii_test": 149, "009473_mpii_test": 101, "012834_mpii_test": 140}
SAMPLE_IGNORE = {"003418_mpii_test": 9, "009473_mpii_test": 2, "012834_mpii_test": 4}
SAMPLE_BOXES_02 = {"003418_mpii_test": 76, "009473_mpii_test": 35, "012834_mpii_test": 75}
SAMPLE_BOXES_05 = {"003418_mpii_test": 29, "009473_mpii_test": 17, "012834_mpii_test": 16}


# ----------------------------------------------------------------------------- real sample


@pytest.mark.parametrize("which", ["per_sequence", "merged"])
def test_posetrack18_sample_counts(posetrack18_sample: Path, which: str) -> None:
    ann = posetrack18_sample / "annotations"
    path = ann / "val" if which == "per_sequence" else ann / "test_posetrack18_val.json"
    records = load_posetrack18(path)
    assert len(records) == 3
    assert count_persons(records) == 14
    for r in records:
        assert r.frame_index == 0 and r.is_labeled
        assert len(r.persons) == SAMPLE_PERSONS[r.sequence]
        assert r.nframes == SAMPLE_NFRAMES[r.sequence]
        assert len(r.ignore_regions) == SAMPLE_IGNORE[r.sequence]
        assert all(p.ndim == 2 and p.shape[1] == 2 for p in r.ignore_regions)
        assert r.image_path.is_file()  # root guessed from the annotation location
        assert (r.width, r.height) == (1920, 1080)
        assert r.image_id == int("1" + r.sequence[:6] + "0000")
    rec = next(r for r in records if r.sequence == "012834_mpii_test")
    assert sorted(p.track_id for p in rec.persons) == list(range(11))
    p0 = next(p for p in rec.persons if p.track_id == 0)
    np.testing.assert_allclose(p0.keypoints[0], [401, 530])
    np.testing.assert_allclose(p0.head_box, [378, 503, 44, 53])
    assert p0.num_visible == 11
    assert p0.visibility[3] == 0 and p0.visibility[4] == 0
    assert p0.box is not None and p0.box[2] == pytest.approx(166.4)


def test_per_sequence_and_merged_agree(posetrack18_sample: Path) -> None:
    a = group_sequences(load_posetrack18(posetrack18_sample / "annotations" / "val"))
    b = group_sequences(
        load_posetrack18(posetrack18_sample / "annotations" / "test_posetrack18_val.json")
    )
    assert a.keys() == b.keys()
    for seq in a:
        for ra, rb in zip(a[seq], b[seq], strict=True):
            assert ra.image_path == rb.image_path
            for pa, pb in zip(ra.persons, rb.persons, strict=True):
                np.testing.assert_array_equal(pa.keypoints, pb.keypoints)


@pytest.mark.parametrize(("thr", "expected"), [(0.2, SAMPLE_BOXES_02), (0.5, SAMPLE_BOXES_05)])
def test_sample_detections(posetrack18_sample: Path, thr: float, expected: dict) -> None:
    ann = posetrack18_sample / "annotations"
    dets = load_boxes(ann / "test_posetrack18_human_detections.json", thr)
    assert len(dets) == sum(expected.values())
    assert len(load_boxes(ann / "test_posetrack18_human_detections.json")) == 278
    records = load_posetrack18(ann / "test_posetrack18_val.json")
    per = attach_boxes(records, dets)
    assert {records[i].sequence: len(v) for i, v in per.items()} == expected
    assert all(d.score >= thr for v in per.values() for d in v)


def test_sample_clip_dataset_with_detections(posetrack18_sample: Path) -> None:
    cfg = from_dict(
        Config,
        {"data": {"offsets": [], "image_size": [64, 48], "num_workers": 0}},
        "<test>",
    )
    ann = posetrack18_sample / "annotations"
    records = load_posetrack18(ann / "val")
    dets = attach_boxes(records, load_boxes(ann / "test_posetrack18_human_detections.json", 0.5))
    ds = PoseTrackClipDataset(records, cfg, train=False, detections=dets)
    assert len(ds) == 62
    item = ds[0]
    assert item["images"].shape == (1, 3, 64, 48) and item["key_index"] == 0
    gt = PoseTrackClipDataset(records, cfg, train=True)
    assert len(gt) == 14
    assert gt[0]["target_weights"].sum() > 0


# ----------------------------------------------------------------------------- PT17


def _pt17_file(tmp: Path, names_8digit: bool, disk_8digit: bool, n: int = 4) -> Path:
    seq = "000342_mpii"
    img_dir = tmp / "images" / "bonn_5sec" / seq
    img_dir.mkdir(parents=True)
    for i in range(n):
        name = f"{i + 1:08d}.jpg" if disk_8digit else f"{i:06d}.jpg"
        (img_dir / name).write_bytes(b"x")
    annolist = []
    for i in range(n):
        name = f"{i + 1:08d}.jpg" if names_8digit else f"{i:06d}.jpg"
        rects = []
        if i % 2 == 0:
            rects.append(
                {
                    "x1": [100],
                    "y1": [50],
                    "x2": [130],
                    "y2": [90],
                    "track_id": [3],
                    "annopoints": [
                        {
                            "point": [
                                {"id": [0], "x": [110.5], "y": [400], "is_visible": [1]},
                                {"id": [13], "x": [-4.0], "y": [70], "is_visible": [0]},
                                {"id": 14, "x": 115, "y": 52},
                            ]
                        }
                    ],
                }
            )
        annolist.append(
            {
                "image": [{"name": f"images/bonn_5sec/{seq}/{name}"}],
                "annorect": rects,
                "imgnum": [i + 1],
                "is_labeled": [int(i % 2 == 0)],
                "ignore_regions": [{"point": [{"x": [1], "y": [2]}, {"x": [3], "y": [4]}]}],
            }
        )
    ann_dir = tmp / "annotations" / "val"
    ann_dir.mkdir(parents=True)
    f = ann_dir / f"{seq}.json"
    f.write_text(json.dumps({"annolist": annolist}))
    return f


@pytest.mark.parametrize("names_8digit", [True, False])
@pytest.mark.parametrize("disk_8digit", [True, False])
def test_posetrack17_frame_naming(tmp_path: Path, names_8digit: bool, disk_8digit: bool) -> None:
    f = _pt17_file(tmp_path, names_8digit, disk_8digit)
    records = load_posetrack17(f.parent)  # folder of per-sequence files; root guessed
    assert [r.frame_index for r in records] == [0, 1, 2, 3]
    assert all(r.image_path.is_file() for r in records), [r.image_path for r in records]
    assert [r.is_labeled for r in records] == [True, False, True, False]
    assert records[0].nframes == 4 and records[0].sequence == "000342_mpii"
    p = records[0].persons[0]
    assert p.track_id == 3
    np.testing.assert_allclose(p.head_box, [100, 50, 30, 40])
    # poseval ids: 0 = right ankle (slot 16), 13 = nose (slot 0), 14 = head top (slot 2)
    np.testing.assert_allclose(p.keypoints[16], [110.5, 400])
    np.testing.assert_allclose(p.keypoints[0], [-4.0, 70])  # negative x kept
    np.testing.assert_allclose(p.keypoints[2], [115, 52])
    assert p.num_visible == 3
    assert records[1].persons == []
    np.testing.assert_allclose(records[0].ignore_regions[0], [[1, 2], [3, 4]])


def test_posetrack17_bad_joint_id(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    rect = {"annopoints": [{"point": [{"id": [15], "x": [1], "y": [2]}]}]}
    f.write_text(
        json.dumps({"annolist": [{"image": [{"name": "s/000000.jpg"}], "annorect": [rect]}]})
    )
    with pytest.raises(InputError, match=r"annorect\[0\]\.annopoints\[0\]\.point\[0\]\.id"):
        load_posetrack17(f, tmp_path)


# ----------------------------------------------------------------------------- PT21 / COCO


def _coco_like(tmp: Path, anns: list[dict], name: str = "images/val/000001_x/000000.jpg") -> Path:
    f = tmp / "ann.json"
    images = [{"file_name": name, "id": 7, "nframes": 3, "is_labeled": True}]
    f.write_text(json.dumps({"images": images, "annotations": anns}))
    return f


def _kp(n: int = 17, v: float = 1.0) -> list[float]:
    return [float(x) for i in range(n) for x in (10 + i, -5 + i, v)]


def test_posetrack21_uses_person_id(tmp_path: Path) -> None:
    f = _coco_like(
        tmp_path,
        [
            {
                "image_id": 7,
                "person_id": 1234,
                "track_id": 2,
                "keypoints": _kp(),
                "bbox": [0, 0, 5, 5],
            },
            {"image_id": 7, "track_id": 5, "keypoints": _kp()},
        ],
    )
    recs = load_posetrack21(f, tmp_path)
    assert [p.track_id for p in recs[0].persons] == [1234, 5]
    assert [p.track_id for p in load_posetrack18(f, tmp_path)[0].persons] == [2, 5]
    assert recs[0].persons[0].keypoints[0, 1] == -5  # negative coordinates are valid
    assert recs[0].image_path == tmp_path / "images/val/000001_x/000000.jpg"


def test_coco_maps_to_posetrack_slots(tmp_path: Path) -> None:
    f = tmp_path / "coco.json"
    f.write_text(
        json.dumps(
            {
                "images": [
                    {"file_name": "000000000139.jpg", "id": 139, "width": 640, "height": 426}
                ],
                "annotations": [
                    {
                        "image_id": 139,
                        "id": 1,
                        "keypoints": _kp(v=2),
                        "bbox": [1, 2, 30, 40],
                        "category_id": 1,
                    },
                    {
                        "image_id": 139,
                        "id": 2,
                        "iscrowd": 1,
                        "bbox": [0, 0, 10, 10],
                        "category_id": 1,
                    },
                    {"image_id": 139, "id": 3, "bbox": [0, 0, 10, 10], "category_id": 2},
                ],
                "categories": [{"id": 1, "name": "person"}],
            }
        )
    )
    recs = load_coco(f, tmp_path)
    assert len(recs) == 1 and recs[0].nframes == 1 and recs[0].width == 640
    (p,) = recs[0].persons
    assert p.visibility[1] == 0 and p.visibility[2] == 0  # eyes -> unannotated head slots
    assert p.num_visible == 15
    np.testing.assert_allclose(p.keypoints[5], [15, 0])
    assert len(recs[0].ignore_regions) == 1  # the crowd box
    assert load_records("coco", f, tmp_path)[0].image_id == 139


# ----------------------------------------------------------------------------- boxes


def test_posewarper_boxes_match_by_image_name(posetrack18_sample: Path, tmp_path: Path) -> None:
    records = load_posetrack18(posetrack18_sample / "annotations" / "val")
    f = tmp_path / "pw.json"
    f.write_text(
        json.dumps(
            [
                {
                    "image_name": "images/val/009473_mpii_test/000000.jpg",
                    "nframes": 101,
                    "frame_id": 999,
                    "bbox": [1, 2, 3, 4],
                    "score": 0.9,
                },
                {
                    "image_name": "images/val/009473_mpii_test/000000.jpg",
                    "bbox": [1, 2, 3, 4],
                    "score": 0.1,
                },
                {
                    "image_name": "images/val/unknown/000000.jpg",
                    "bbox": [1, 2, 3, 4],
                    "score": 0.95,
                },
            ]
        )
    )
    dets = load_boxes(f, 0.5)
    assert len(dets) == 2
    per = attach_boxes(records, dets)
    assert {records[i].sequence: len(v) for i, v in per.items()} == {"009473_mpii_test": 1}


# ----------------------------------------------------------------------------- errors


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_posetrack18(tmp_path / "nope.json")
    f = tmp_path / "t.json"
    f.write_text('{"images": [{"file_name": "a/000000.jpg", "id": 1}], "annota')
    with pytest.raises(InputError, match=r"t\.json: line 1"):
        load_posetrack18(f, tmp_path)
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(InputError, match="at least one .json"):
        load_posetrack18(empty)


@pytest.mark.parametrize(
    ("ann", "where"),
    [
        (
            {"image_id": 7, "keypoints": _kp(15)},
            r"annotations\[0\]\.keypoints: expected 51 numbers",
        ),
        (
            {"image_id": 7, "keypoints": [*_kp()[:-3], float("nan"), 1.0, 1.0]},
            r"keypoints\[48\]: expected a finite",
        ),
        ({"image_id": 7, "keypoints": [*_kp()[:-3], float("inf"), 1.0, 1.0]}, r"keypoints\[48\]"),
        ({"image_id": 7, "keypoints": ["a"] * 51}, r"keypoints\[0\]: expected a number"),
        ({"image_id": 8, "keypoints": _kp()}, r"annotations\[0\]\.image_id"),
        ({"keypoints": _kp()}, r"annotations\[0\]\.image_id: expected this field"),
        ({"image_id": 7, "bbox": [1, 2, 3]}, r"annotations\[0\]\.bbox: expected 4 numbers"),
        ({"image_id": 7, "bbox": [1, 2, -3, 4]}, r"annotations\[0\]\.bbox"),
        ({"image_id": 7, "track_id": "x"}, r"annotations\[0\]\.track_id: expected an integer"),
    ],
)
def test_schema_errors_name_file_and_field(tmp_path: Path, ann: dict, where: str) -> None:
    f = _coco_like(tmp_path, [ann])
    with pytest.raises(InputError, match=where) as exc:
        load_posetrack18(f, tmp_path)
    assert str(f) in str(exc.value)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/passwd", "images/../../secret.jpg", "..", "C:/x/y.jpg"]
)
def test_image_paths_escaping_root_are_refused(tmp_path: Path, name: str) -> None:
    f = _coco_like(tmp_path, [], name=name)
    with pytest.raises(InputError, match=r"images\[0\]\.file_name"):
        load_posetrack18(f, tmp_path)
    f.write_text(json.dumps({"annolist": [{"image": [{"name": name}]}]}))
    with pytest.raises(InputError, match=r"annolist\[0\]\.image\[0\]\.name"):
        load_posetrack17(f, tmp_path)


def test_inner_dotdot_that_stays_inside_is_fine(tmp_path: Path) -> None:
    f = _coco_like(tmp_path, [], name="images/x/../val/000001_x/000000.jpg")
    assert (
        load_posetrack18(f, tmp_path)[0].image_path == tmp_path / "images/val/000001_x/000000.jpg"
    )


def test_box_file_errors(tmp_path: Path) -> None:
    f = tmp_path / "b.json"
    f.write_text(json.dumps([{"image_id": 1, "bbox": [0, 0, 1, float("nan")], "score": 1}]))
    with pytest.raises(InputError, match=r"\[0\]\.bbox\[3\]"):
        load_boxes(f)
    f.write_text(json.dumps([{"bbox": [0, 0, 1, 1], "score": 1}]))
    with pytest.raises(InputError, match="image_id"):
        load_boxes(f)
    f.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(InputError, match="top level"):
        load_boxes(f)
