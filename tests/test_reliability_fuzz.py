"""Property-based fuzzing (hypothesis) of the readers not covered by test_data_fuzz.py:

* the prediction box reader of ``predict --boxes`` (:class:`BoxFileDetector.from_file`),
* the evaluator's ground-truth and prediction loaders (``evaluate_posetrack``).

Any input must end in a :class:`SemaposeError` or a valid result - never another exception.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semapose.errors import SemaposeError
from semapose.evaluation import evaluate_posetrack
from semapose.inference.detectors.boxfile import BoxFileDetector
from semapose.keypoints import POSETRACK_KEYPOINTS

KEYS = [
    "images", "annotations", "categories", "keypoints", "file_name", "id", "image_id",
    "frame_id", "nframes", "is_labeled", "bbox", "bbox_head", "track_id", "scores", "score",
    "ignore_regions_x", "ignore_regions_y", "category_id", "image_name", "annolist", "image",
    "name", "annorect", "annopoints", "point", "x", "y", "x1", "y1", "x2", "y2", "is_visible",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(
        [
            "images/val/000001_mpii_test/000000.jpg",
            "000001_mpii_test/000001.jpg",
            "../x.jpg",
            "",
            "00000001.jpg",
            "s/\u00b2.jpg",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=6),
    ),
    max_leaves=30,
)

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SEQ = "000001_mpii_test"


def _mutations(base: Any) -> st.SearchStrategy[Any]:
    """A valid document with one subtree replaced by an arbitrary value (or deleted)."""

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
        elif delete and isinstance(node, list):
            node.pop(where[-1])
        else:
            node[where[-1]] = value
        return doc

    return st.tuples(st.sampled_from(paths(base)), json_values, st.booleans()).map(apply)


def _write(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, allow_nan=True))
    return path


# ----------------------------------------------------------------------------- box files

VALID_BOXES = [
    {"image_id": 0, "bbox": [10.0, 20.0, 30.0, 60.0], "score": 0.9, "category_id": 1},
    {"image_id": 10000010001, "bbox": [-5, -4, 30, 60], "score": 0.8},
    {"image_name": f"images/val/{SEQ}/000002.jpg", "frame_id": 2, "bbox": [1, 2, 3, 4]},
    {"image_id": 3, "bbox": [0, 0, 5, 5], "score": 0.1, "category_id": 2},
]


def _check_detector(path: Path, **kwargs: Any) -> None:
    try:
        det = BoxFileDetector.from_file(path, **kwargs)
    except SemaposeError:
        return
    for frame in det.frame_indices:
        boxes = det.detect(None, frame)
        assert boxes.ndim == 2 and boxes.shape[1] == 5 and np.isfinite(boxes).all()
        assert (np.diff(boxes[:, 4]) <= 0).all()  # best first


@SETTINGS
@given(doc=_mutations(VALID_BOXES))
def test_box_file_detector_mutated(tmp_path: Path, doc: Any) -> None:
    f = _write(tmp_path / "boxes.json", doc)
    _check_detector(f)
    names = [f"{i:06d}.jpg" for i in range(4)]
    _check_detector(f, frame_names=names, sequence=SEQ, score_threshold=0.5)


@SETTINGS
@given(doc=json_values)
def test_box_file_detector_arbitrary(tmp_path: Path, doc: Any) -> None:
    _check_detector(_write(tmp_path / "boxes.json", doc), sequence=SEQ)


def test_box_file_detector_valid_document() -> None:
    """The base document of the mutations is valid (so mutations start from a real file)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        det = BoxFileDetector.from_file(_write(Path(tmp) / "b.json", VALID_BOXES))
        assert det.frame_indices == [0, 1, 2]
        assert det.detect(None, 1)[0, :2].tolist() == [-5.0, -4.0]  # negative kept


# ----------------------------------------------------------------------------- evaluator


def _pose(ox: float, oy: float) -> list[float]:
    kp: list[float] = []
    for j in range(len(POSETRACK_KEYPOINTS)):
        visible = j not in (3, 4)  # the ears are not part of PoseTrack's 15 joints
        kp += [ox + 3.0 * j, oy + 2.0 * j, 1.0] if visible else [0.0, 0.0, 0.0]
    return kp


def _doc(pred: bool) -> dict[str, Any]:
    cats = [{"id": 1, "name": "person", "keypoints": list(POSETRACK_KEYPOINTS)}]
    images, anns = [], []
    for f in range(2):
        iid = 10000010000 + f
        images.append({"id": iid, "file_name": f"images/val/{SEQ}/{f:06d}.jpg", "is_labeled": True})
        ann: dict[str, Any] = {"image_id": iid, "track_id": 0, "keypoints": _pose(-4.0 + f, 10.0)}
        if pred:
            ann["scores"] = [0.9] * 17
        else:
            ann["bbox_head"] = [-6.0, 0.0, 20.0, 24.0]
        anns.append(ann)
    return {"images": images, "annotations": anns, "categories": cats}


def _check_eval(tmp: Path, gt: Any, pred: Any) -> None:
    _write(tmp / "gt" / f"{SEQ}.json", gt)
    _write(tmp / "pred" / f"{SEQ}.json", pred)
    try:
        result = evaluate_posetrack(tmp / "gt", tmp / "pred")
    except SemaposeError:
        return
    assert "Mean" in result

    def numbers(obj: Any) -> list[float]:
        if isinstance(obj, dict):
            return [v for x in obj.values() for v in numbers(x)]
        assert isinstance(obj, float), obj
        return [obj]

    for value in numbers(result):
        assert math.isnan(value) or 0.0 <= value <= 100.0, value


def test_evaluator_base_documents_score_100(tmp_path: Path) -> None:
    """GT against itself (with negative x coordinates, which poseval keeps) is 100 mAP."""
    _write(tmp_path / "gt" / f"{SEQ}.json", _doc(pred=False))
    _write(tmp_path / "pred" / f"{SEQ}.json", _doc(pred=True))
    result = evaluate_posetrack(tmp_path / "gt", tmp_path / "pred")
    assert result["Mean"] == 100.0


@SETTINGS
@given(pred=_mutations(_doc(pred=True)))
def test_evaluator_mutated_predictions(tmp_path: Path, pred: Any) -> None:
    _check_eval(tmp_path, _doc(pred=False), pred)


@SETTINGS
@given(gt=_mutations(_doc(pred=False)))
def test_evaluator_mutated_ground_truth(tmp_path: Path, gt: Any) -> None:
    _check_eval(tmp_path, gt, _doc(pred=True))


@SETTINGS
@given(pred=json_values)
def test_evaluator_arbitrary_prediction_json(tmp_path: Path, pred: Any) -> None:
    _check_eval(tmp_path, _doc(pred=False), pred)


@SETTINGS
@given(cut=st.integers(min_value=0, max_value=4000), junk=st.binary(max_size=8))
def test_evaluator_truncated_and_garbled_predictions(tmp_path: Path, cut: int, junk: bytes) -> None:
    text = json.dumps(_doc(pred=True)).encode()
    _write(tmp_path / "gt" / f"{SEQ}.json", _doc(pred=False))
    pred = tmp_path / "pred" / f"{SEQ}.json"
    pred.parent.mkdir(exist_ok=True)
    pred.write_bytes(text[: cut % (len(text) + 1)] + junk)
    with contextlib.suppress(SemaposeError):
        evaluate_posetrack(tmp_path / "gt", tmp_path / "pred")


# ----------------------------------------------------------------------------- weights files


def _weights_bytes() -> dict[str, bytes]:
    import io

    import torch
    from safetensors.torch import save

    state = {"backbone.w": torch.arange(6.0).reshape(2, 3), "head.b": torch.zeros(2)}
    buf = io.BytesIO()
    torch.save({"state_dict": state, "meta": {"epoch": 3}}, buf)
    return {".safetensors": save(state, metadata={"format": "pt"}), ".pth": buf.getvalue()}


WEIGHTS = _weights_bytes()


@SETTINGS
@given(
    suffix=st.sampled_from(sorted(WEIGHTS)),
    cut=st.integers(min_value=0, max_value=10**6),
    flip=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
    junk=st.binary(max_size=16),
)
def test_weights_readers_on_damaged_files(
    tmp_path: Path, suffix: str, cut: int, flip: list[tuple[int, int]], junk: bytes
) -> None:
    """Truncated, bit-flipped or extended checkpoint files: a CheckpointError or tensors."""
    from semapose.engine.checkpoint import read_finite_weights, read_training_state
    from semapose.weights.read import load_state_dict_file

    data = bytearray(WEIGHTS[suffix])
    data = data[: cut % (len(data) + 1)]
    for pos, value in flip:
        if data:
            data[pos % len(data)] = value
    path = tmp_path / f"w{suffix}"
    path.write_bytes(bytes(data) + junk)
    loaders = [
        load_state_dict_file,
        read_finite_weights if suffix == ".safetensors" else read_training_state,
    ]
    for load in loaders:
        with contextlib.suppress(SemaposeError):
            load(path)


def test_box_beyond_float32_range_is_refused(tmp_path: Path) -> None:
    # found by the fuzzer: finite as float64, inf once the detector stores float32
    doc = copy.deepcopy(VALID_BOXES)
    doc[0]["bbox"][0] = 3.4028235677973366e38
    path = _write(tmp_path / "boxes.json", doc)
    try:
        BoxFileDetector.from_file(path)
    except SemaposeError as exc:
        assert "boxes.json" in str(exc) and "[0].bbox" in str(exc) and "1e+07" in str(exc)
    else:
        raise AssertionError("a box at x = 3.4e38 was accepted")
    doc[0]["bbox"] = [-500.0, -20.0, 30.0, 60.0]  # negative positions stay valid
    _check_detector(_write(tmp_path / "ok.json", doc))


# ----------------------------------------------------------------------------- CLI surfaces
# File names and option values as a user (or a script) may type them: every run ends in
# exit 0 or 2, and an error is exactly one printable line (paths escaped).

names = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=30,
).filter(lambda n: n not in (".", ".."))
CLI_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _cli(argv: list[str], capsys: Any) -> tuple[int, str]:
    from semapose.cli import main

    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse: bad type / choice, always status 2
        rc = int(exc.code or 0)
    err = capsys.readouterr().err
    assert rc in (0, 2), (argv, rc, err)
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert "Traceback" not in err
    if rc == 2:
        assert len(errors) == 1, err
        assert errors[0].isprintable(), repr(errors[0])
    return rc, err


@CLI_SETTINGS
@given(name=names, content=st.sampled_from([b"", b"[{", b"{}", b"\xff\xfe", b"[]"]))
def test_cli_hostile_file_names_give_one_printable_line(
    tmp_path: Path, capsys: Any, name: str, content: bytes
) -> None:
    from semapose.errors import shown_path

    folder = tmp_path / "gt"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    try:
        path = folder / name
        path.write_bytes(content)
    except (OSError, ValueError):  # a name the file system refuses (too long, encoding)
        return
    rc, err = _cli(["evaluate", "--gt", str(path), "--pred", str(path)], capsys)
    assert rc == 2
    assert shown_path(path) in err or shown_path(folder) in err, err


option_text = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(repr),
    st.sampled_from(
        ["1e308", "-0", "0x10", "1_000", "inf", "nan", "9" * 400, "1e-320", "9" * 20, "100000"]
    ),
)


@CLI_SETTINGS
@given(
    flag=st.sampled_from(["--batch", "--max-frames", "--checkpoint-every", "--threads", "--fps"]),
    value=option_text,
)
def test_cli_predict_numeric_options(tmp_path: Path, capsys: Any, flag: str, value: str) -> None:
    """Any value of a numeric option of ``predict`` (the input is missing, so nothing runs
    after the options are checked)."""
    import torch

    threads = torch.get_num_threads()
    try:
        _cli(
            ["predict", str(tmp_path / "missing.mp4"), "--out", str(tmp_path), flag, value], capsys
        )
    finally:
        torch.set_num_threads(threads)


@CLI_SETTINGS
@given(value=option_text)
def test_cli_fps_values_reach_the_frame_source_safely(tmp_path: Path, value: str) -> None:
    """``--fps`` as argparse parses it, then as the frame source checks it."""
    import argparse

    import cv2

    from semapose.cli import build_parser
    from semapose.io.video import FrameSource

    folder = tmp_path / "frames"
    if not folder.is_dir():
        folder.mkdir()
        cv2.imwrite(str(folder / "000000.png"), np.zeros((8, 8, 3), np.uint8))
    try:
        args = build_parser().parse_args(["predict", "x", "--out", "o", "--fps", value])
    except SystemExit:
        return
    assert isinstance(args, argparse.Namespace)
    try:
        src = FrameSource(folder, fps=args.fps)
    except SemaposeError as exc:
        assert "fps" in str(exc)
        return
    assert 0 < src.fps <= 100_000 and math.isfinite(src.fps)
    from fractions import Fraction

    rate = Fraction(src.fps).limit_denominator(1001)  # what the MP4 writer does with it
    assert rate.numerator < 2**31


@CLI_SETTINGS
@given(key=st.sampled_from(["train.lr", "train.max_steps", "data.offsets", "model.temporal",
                            "train", "x.y", "data.image_size"]),  # fmt: skip
       value=st.one_of(option_text, st.sampled_from(["[[[[", "&a [*a]", "{a: *b}", "!!python/none",
                                                      "[" * 200, "- - -"])))  # fmt: skip
def test_cli_config_overrides(key: str, value: str) -> None:
    from semapose.config import load_config

    with contextlib.suppress(SemaposeError):
        load_config(None, [f"{key}={value}"])
