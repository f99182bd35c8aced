"""Property-based fuzzing of the annotation and box readers (hypothesis).

Any input must end in a :class:`SemaposeError` or a valid result (finite keypoints of
the right shape, image paths inside the root) - never another exception.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semapose.data.boxes import attach_boxes, load_boxes
from semapose.data.coco import load_coco
from semapose.data.posetrack import load_posetrack17, load_posetrack18, load_posetrack21
from semapose.data.records import FrameRecord
from semapose.errors import SemaposeError

KEYS = [
    "images", "annotations", "categories", "file_name", "id", "image_id", "frame_id",
    "nframes", "is_labeled", "keypoints", "bbox", "bbox_head", "track_id", "person_id",
    "ignore_regions_x", "ignore_regions_y", "score", "category_id", "iscrowd", "width",
    "annolist", "image", "name", "annorect", "annopoints", "point", "x", "y", "x1", "y1",
    "x2", "y2", "ignore_regions", "image_name",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "images/val/s/000000.jpg",
            "../x.jpg",
            "/etc/passwd",
            "s/00000001.jpg",
            "s/" + "a" * 300 + ".jpg",  # longer than a file name may be
            "s/\u00b2\u00b3.jpg",  # digits that int() refuses
            "s/a\x00b.jpg",
            "C:\\x\\000001.jpg",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=6),
    ),
    max_leaves=40,
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

READERS: list[Callable[[Path, Path], list[FrameRecord]]] = [
    load_posetrack18,
    load_posetrack21,
    load_posetrack17,
    load_coco,
]


def _valid_pt18() -> dict[str, Any]:
    kp = [v for i in range(17) for v in (10.0 + i, -3.0 + i, 1)]
    return {
        "images": [
            {
                "file_name": "images/val/000001_a/000000.jpg",
                "id": 1,
                "nframes": 2,
                "is_labeled": True,
                "ignore_regions_x": [[1, 2, 3]],
                "ignore_regions_y": [[4, 5, 6]],
            },
            {"file_name": "images/val/000001_a/000001.jpg", "id": 2, "nframes": 2},
        ],
        "annotations": [
            {
                "image_id": 1,
                "keypoints": kp,
                "bbox": [0, 0, 10, 10],
                "bbox_head": [0, 0, 2, 2],
                "track_id": 0,
            }
        ],
    }


def _valid_pt17() -> dict[str, Any]:
    point = {"id": [0], "x": [1.0], "y": [2.0], "is_visible": [1]}
    rect = {
        "x1": [1],
        "y1": [2],
        "x2": [3],
        "y2": [4],
        "track_id": [0],
        "annopoints": [{"point": [point]}],
    }
    return {
        "annolist": [
            {"image": [{"name": "images/s/00000001.jpg"}], "annorect": [rect], "is_labeled": [1]}
        ]
    }


def _check(records: Any, root: Path) -> None:
    assert isinstance(records, list)
    for r in records:
        assert isinstance(r, FrameRecord)
        assert root in r.image_path.parents or r.image_path.parent == root
        for p in r.persons:
            assert p.keypoints.shape == (17, 2) and p.visibility.shape == (17,)
            assert np.isfinite(p.keypoints).all() and np.isfinite(p.visibility).all()
            for b in (p.box, p.head_box):
                assert b is None or (b.shape == (4,) and np.isfinite(b).all())
        for poly in r.ignore_regions:
            assert poly.ndim == 2 and poly.shape[1] == 2 and np.isfinite(poly).all()


def _run_all(f: Path, root: Path) -> None:
    for reader in READERS:
        try:
            records = reader(f, root)
        except SemaposeError:
            continue
        _check(records, root)
    try:
        dets = load_boxes(f, 0.3)
    except SemaposeError:
        return
    for d in dets:
        assert d.box.shape == (4,) and np.isfinite(d.box).all() and math.isfinite(d.score)
    attach_boxes([], dets)


def _write(tmp_path: Path, obj: Any) -> Path:
    f = tmp_path / "fuzz.json"
    f.write_text(json.dumps(obj, allow_nan=True))
    return f


@SETTINGS
@given(doc=json_values)
def test_arbitrary_json(tmp_path: Path, doc: Any) -> None:
    _run_all(_write(tmp_path, doc), tmp_path)


def _mutations(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Replace one random subtree of a valid document with an arbitrary value."""

    def paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
        out = [prefix]
        if isinstance(obj, dict):
            for k, v in obj.items():
                out += paths(v, (*prefix, k))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                out += paths(v, (*prefix, i))
        return out

    def apply(args: tuple[tuple, Any, bool]) -> Any:
        where, value, delete = args
        doc = copy.deepcopy(base)
        if not where:
            return value
        node = doc
        for k in where[:-1]:
            node = node[k]
        if delete and isinstance(node, dict):
            del node[where[-1]]
        else:
            node[where[-1]] = value
        return doc

    return st.tuples(st.sampled_from(paths(base)), json_values, st.booleans()).map(apply)


@SETTINGS
@given(doc=_mutations(_valid_pt18()))
def test_mutated_posetrack18(tmp_path: Path, doc: Any) -> None:
    _run_all(_write(tmp_path, doc), tmp_path)


@SETTINGS
@given(doc=_mutations(_valid_pt17()))
def test_mutated_posetrack17(tmp_path: Path, doc: Any) -> None:
    _run_all(_write(tmp_path, doc), tmp_path)


@SETTINGS
@given(
    doc=_mutations(
        {
            "list": [
                {"image_id": 1, "bbox": [0.0, 1.0, 2.0, 3.0], "score": 0.5, "category_id": 1},
                {
                    "image_name": "images/val/a/000000.jpg",
                    "frame_id": 3,
                    "nframes": 9,
                    "bbox": [0, 1, 2, 3],
                    "score": 0.9,
                },
            ]
        }  # fmt: skip
    ).map(lambda d: d["list"] if isinstance(d, dict) and "list" in d else d)
)
def test_mutated_box_files(tmp_path: Path, doc: Any) -> None:
    _run_all(_write(tmp_path, doc), tmp_path)


@SETTINGS
@given(cut=st.integers(min_value=0, max_value=2000), junk=st.binary(max_size=8))
def test_truncated_and_garbled_bytes(tmp_path: Path, cut: int, junk: bytes) -> None:
    text = json.dumps(_valid_pt18()).encode()
    f = tmp_path / "fuzz.json"
    f.write_bytes(text[: cut % (len(text) + 1)] + junk)
    _run_all(f, tmp_path)


def test_valid_documents_still_load(tmp_path: Path) -> None:
    recs = load_posetrack18(_write(tmp_path, _valid_pt18()), tmp_path)
    assert len(recs) == 2 and len(recs[0].persons) == 1
    assert len(load_posetrack17(_write(tmp_path, _valid_pt17()), tmp_path)) == 1
