"""End-to-end sweep: every CLI command on bad input exits 2 with one clear line.

The line names the file, the place inside it and what was expected; ``--debug``
shows the traceback instead. Commands run in-process through ``semapose.cli.main``
(fast); ``test_real_exit_code_and_single_stderr_line`` checks a few in a subprocess.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_helpers import TINY_CONFIG, predict_argv, predict_inputs, train_argv, train_set
from test_predict_helpers import moving_boxes, tiny_cfg, write_box_file

pytest.importorskip("torch")

from semapose.cli import main, worker_error  # noqa: E402
from semapose.errors import InputError, SemaposeError  # noqa: E402

SEQ = "100000_synth_train"


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> str:
    """Run the CLI; assert exit 2, no traceback, exactly one error line holding ``needles``."""
    rc = main(argv)
    cap = capsys.readouterr()
    assert rc == 2, (rc, cap.err)
    assert "Traceback" not in cap.err
    prefix = f"semapose {argv[0]}: error: "
    errors = [line for line in cap.err.splitlines() if line.startswith(prefix)]
    assert len(errors) == 1, cap.err
    line = errors[0]
    assert "expected" in line or "cannot be read" in line, line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny checkpoint, a 4-frame video with its box file, and a 1-video dataset."""
    root = tmp_path_factory.mktemp("rel")
    ds = root / "ds"
    for split in ("train", "val"):
        train_set(ds, split)
    return {"root": root, **predict_inputs(root, 4), "ds": ds}


def _predict(work: dict[str, Path], tmp: Path, source: Path, *extra: str) -> list[str]:
    return predict_argv(source, tmp / "out", work["ckpt"], *extra)


# ----------------------------------------------------------------------------- predict


def _zero_frame_mp4(path: Path) -> Path:
    """A valid MP4 container with a video stream and no frames."""
    import av

    container = av.open(str(path), "w", format="mp4")
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    container.start_encoding()
    container.close()
    return path


def _bad_video(kind: str, work: dict[str, Path], tmp: Path) -> Path:
    data = work["video"].read_bytes()
    path = tmp / f"{kind}.mp4"
    if kind == "missing":
        return path
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "zero_frames":
        _zero_frame_mp4(path)
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # corrupt: a plausible header, then noise
        path.write_bytes(data[:32] + os.urandom(3000))
    return path


@pytest.mark.parametrize("kind", ["missing", "empty", "zero_frames", "truncated", "corrupt"])
def test_predict_bad_video(work: dict[str, Path], tmp_path: Path, capsys: Any, kind: str) -> None:
    video = _bad_video(kind, work, tmp_path)
    argv = _predict(work, tmp_path, video, "--boxes", str(work["boxes"]))
    one_error_line(capsys, argv, video.name)
    assert not (tmp_path / "out" / "posetrack" / f"{kind}.json").exists()


def test_predict_frame_of_unexpected_size(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    import cv2

    frames = tmp_path / "frames"
    frames.mkdir()
    for i, (w, h) in enumerate([(64, 48), (64, 48), (80, 60)]):
        cv2.imwrite(str(frames / f"{i:06d}.png"), np.zeros((h, w, 3), np.uint8))
    boxes = write_box_file(tmp_path / "b.json", moving_boxes(3, 1))
    argv = _predict(work, tmp_path, frames, "--boxes", str(boxes))
    one_error_line(capsys, argv, "frames", "000002.png", "64x48", "80x60")


@pytest.mark.parametrize("fps", ["-1", "nan", "inf"])
def test_predict_bad_frame_rate(
    work: dict[str, Path], tmp_path: Path, capsys: Any, fps: str
) -> None:
    import cv2

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i:06d}.jpg"), np.zeros((48, 64, 3), np.uint8))
    argv = _predict(work, tmp_path, frames, "--boxes", str(work["boxes"]), "--fps", fps)
    one_error_line(capsys, argv, "frames", "fps", "a positive frame rate")


BOX_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "truncated": ('[{"image_id": 0, "bbox": [1, 2, ', ("line 1",)),
    "malformed": ("[{'image_id': 0}]", ("valid JSON",)),
    "schema": ('{"foo": 1}', ("top level", "a list")),
    "short_box": ('[{"image_id": 0, "bbox": [1, 2, 3], "score": 1}]', ("[0].bbox",)),
    "nan": ('[{"image_id": 0, "bbox": [NaN, 2, 3, 4], "score": 1}]', ("[0].bbox[0]", "finite")),
    "inf": ('[{"image_id": 0, "bbox": [1, 2, Infinity, 4]}]', ("[0].bbox[2]", "finite")),
    "nan_score": ('[{"image_id": 0, "bbox": [1, 2, 3, 4], "score": NaN}]', ("[0].score",)),
}


@pytest.mark.parametrize("case", sorted(BOX_FILES))
def test_predict_bad_box_file(
    work: dict[str, Path], tmp_path: Path, capsys: Any, case: str
) -> None:
    text, needles = BOX_FILES[case]
    box_file = tmp_path / f"boxes_{case}.json"
    box_file.write_text(text)
    argv = _predict(work, tmp_path, work["video"], "--boxes", str(box_file))
    one_error_line(capsys, argv, box_file.name, *needles)


@pytest.mark.parametrize("case", ["missing", "garbage", "wrong_tensors"])
def test_predict_bad_weights(work: dict[str, Path], tmp_path: Path, capsys: Any, case: str) -> None:
    weights = tmp_path / f"{case}.safetensors"
    if case == "garbage":
        weights.write_bytes(b"not safetensors at all")
    elif case == "wrong_tensors":
        import torch
        from safetensors.torch import save_file

        save_file({"foo": torch.zeros(3)}, str(weights))
    argv = _predict(work, tmp_path, work["video"], "--boxes", str(work["boxes"]))
    argv[argv.index("--weights") + 1] = str(weights)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and weights.name in lines[0], err


def test_predict_zero_persons_is_a_valid_empty_result(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    """No person in any frame is not an error: every frame is written, with no annotation."""
    empty = tmp_path / "none.json"
    empty.write_text("[]")
    rc = main(_predict(work, tmp_path, work["video"], "--boxes", str(empty)))
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "out" / "posetrack" / "walk.json").read_text())
    assert len(doc["images"]) == 4 and doc["annotations"] == []


def test_predict_keeps_negative_coordinates(work: dict[str, Path], tmp_path: Path) -> None:
    """A person half outside the frame (box starting left of / above the image) keeps
    joints with negative coordinates in the output instead of clipping them to 0."""
    boxes = {i: np.array([[-60.0, -50.0, 40.0, 90.0, 0.9]]) for i in range(4)}
    box_file = write_box_file(tmp_path / "neg.json", boxes)
    rc = main(_predict(work, tmp_path, work["video"], "--boxes", str(box_file)))
    assert rc == 0
    doc = json.loads((tmp_path / "out" / "posetrack" / "walk.json").read_text())
    xy = np.array([a["keypoints"] for a in doc["annotations"]]).reshape(-1, 17, 3)[..., :2]
    assert len(doc["annotations"]) == 4 and np.isfinite(xy).all()
    assert (xy < 0).any(), "joints outside the frame were clipped to 0"


# ----------------------------------------------------------------------------- evaluate


def _val_doc(work: dict[str, Path]) -> tuple[Path, dict[str, Any]]:
    gt_dir = work["ds"] / "annotations" / "val"
    (gt_file,) = sorted(gt_dir.glob("*.json"))
    return gt_dir, json.loads(gt_file.read_text())


def _with_scores(doc: dict[str, Any]) -> dict[str, Any]:
    for ann in doc["annotations"]:
        ann["scores"] = [0.9] * 17
    return doc


def _set_first_ann(key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda d: d["annotations"][0].__setitem__(key, value)


EVAL_CASES: dict[str, tuple[Any, tuple[str, ...]]] = {
    # value: a function mutating the (valid) prediction document, or the raw file text
    "truncated": (lambda text: text[: len(text) // 2], ("expected valid JSON",)),
    "malformed": (lambda text: text.replace('"', "'", 1), ("line 1 column 2", "valid JSON")),
    "schema": (lambda d: d.__setitem__("annotations", 5), ("annotations", "a list")),
    "no_images": (lambda d: d.pop("images"), ("images",)),
    "kp_count": (_set_first_ann("keypoints", [1.0] * 48), ("annotations[0].keypoints", "51")),
    "nan": (_set_first_ann("keypoints", [float("nan")] * 51), ("annotations[0].keypoints",)),
    "inf": (_set_first_ann("keypoints", [float("inf")] * 51), ("annotations[0].keypoints",)),
    "scores": (_set_first_ann("scores", [0.5] * 3), ("annotations[0]",)),
}


@pytest.mark.parametrize("case", sorted(EVAL_CASES))
def test_evaluate_bad_prediction_file(
    work: dict[str, Path], tmp_path: Path, capsys: Any, case: str
) -> None:
    gt_dir, doc = _val_doc(work)
    change, needles = EVAL_CASES[case]
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    pred = pred_dir / f"{doc['images'][0]['file_name'].split('/')[-2]}.json"
    if case in ("truncated", "malformed"):
        pred.write_text(change(json.dumps(_with_scores(doc))))
    else:
        d = _with_scores(copy.deepcopy(doc))
        change(d)
        pred.write_text(json.dumps(d, allow_nan=True))
    argv = ["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir), "--out", str(tmp_path / "r")]
    one_error_line(capsys, argv, pred.name, *needles)
    assert not (tmp_path / "r").exists()


def test_evaluate_missing_files(work: dict[str, Path], tmp_path: Path, capsys: Any) -> None:
    gt_dir, _ = _val_doc(work)
    one_error_line(
        capsys, ["evaluate", "--gt", str(tmp_path / "nogt"), "--pred", str(gt_dir)], "nogt"
    )
    (tmp_path / "pred").mkdir()
    one_error_line(
        capsys,
        ["evaluate", "--gt", str(gt_dir), "--pred", str(tmp_path / "pred")],
        "a prediction file",
    )


def test_evaluate_track_needs_track_ids(work: dict[str, Path], tmp_path: Path, capsys: Any) -> None:
    gt_dir, doc = _val_doc(work)
    for ann in _with_scores(doc)["annotations"]:
        ann.pop("track_id", None)
    name = doc["images"][0]["file_name"].split("/")[-2]
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / f"{name}.json").write_text(json.dumps(doc))
    argv = ["evaluate", "--gt", str(gt_dir), "--pred", str(tmp_path / "pred"), "--track"]
    one_error_line(capsys, argv, f"{name}.json (prediction)", "000000.jpg", "track_id")


def test_evaluate_zero_predicted_persons_scores_zero(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    gt_dir, doc = _val_doc(work)
    doc["annotations"] = []
    (tmp_path / "pred").mkdir()
    name = doc["images"][0]["file_name"].split("/")[-2]
    (tmp_path / "pred" / f"{name}.json").write_text(json.dumps(doc))
    out = tmp_path / "r.json"
    rc = main(
        ["evaluate", "--gt", str(gt_dir), "--pred", str(tmp_path / "pred"), "--out", str(out)]
    )
    assert rc == 0, capsys.readouterr().err
    assert json.loads(out.read_text())["Mean"] == 0.0


# ----------------------------------------------------------------------------- train


def _train(work: dict[str, Path], tmp: Path, *overrides: str) -> list[str]:
    return train_argv(work["ds"], tmp / "run", *overrides)


def _train_doc(work: dict[str, Path]) -> dict[str, Any]:
    return json.loads((work["ds"] / "annotations" / "train" / f"{SEQ}.json").read_text())


def _first_kp(value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda d: d["annotations"][0]["keypoints"].__setitem__(0, value)


def _first_image(value: str) -> Callable[[dict[str, Any]], Any]:
    return lambda d: d["images"][0].__setitem__("file_name", value)


TRAIN_CASES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "truncated": ("cut", ("expected valid JSON",)),
    "schema": (lambda d: d.__setitem__("images", {"a": 1}), ("images", "a list")),
    "kp_count": (_set_first_ann("keypoints", [1.0] * 50), ("annotations[0].keypoints", "51")),
    "nan": (_first_kp(float("nan")), ("annotations[0].keypoints[0]", "finite")),
    "inf": (_first_kp(float("inf")), ("annotations[0].keypoints[0]", "finite")),
    "string_kp": (_first_kp("1.0"), ("annotations[0].keypoints[0]", "a number")),
    "zero_persons": (lambda d: d.__setitem__("annotations", []), ("labeled people",)),
    "escape_root": (_first_image("../../../../etc/passwd"), ("images[0].file_name", "inside")),
    "absolute": (_first_image("/etc/passwd"), ("images[0].file_name", "relative")),
}


@pytest.mark.parametrize("case", sorted(TRAIN_CASES))
def test_train_bad_annotations(
    work: dict[str, Path], tmp_path: Path, capsys: Any, case: str
) -> None:
    change, needles = TRAIN_CASES[case]
    ann = tmp_path / "ann" / f"{SEQ}.json"
    ann.parent.mkdir()
    doc = _train_doc(work)
    if change == "cut":
        ann.write_text(json.dumps(doc)[:400])
    else:
        change(doc)
        ann.write_text(json.dumps(doc, allow_nan=True))
    argv = _train(work, tmp_path, f"data.train_annotations={ann.parent}")
    file_named = () if case == "zero_persons" else (ann.name,)
    one_error_line(capsys, argv, *file_named, *needles)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_train_negative_coordinates_are_kept(work: dict[str, Path], tmp_path: Path) -> None:
    from semapose.data.posetrack import load_posetrack18

    doc = _train_doc(work)
    doc["annotations"][0]["keypoints"][0:3] = [-7.5, -2.25, 1]
    ann = tmp_path / f"{SEQ}.json"
    ann.write_text(json.dumps(doc))
    records = load_posetrack18(ann, work["ds"])
    first = next(r for r in records if r.persons)
    assert first.persons[0].keypoints[0].tolist() == [-7.5, -2.25]
    assert first.persons[0].visibility[0] > 0


@pytest.mark.parametrize("workers", [0, 1])
def test_train_missing_image_file(
    work: dict[str, Path], tmp_path: Path, capsys: Any, workers: int
) -> None:
    """An image named by the annotations but missing on disk; with DataLoader workers the
    error crosses a process boundary and must still end as one line."""
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(work["ds"], ds)
    missing = ds / "images" / "train" / SEQ / "000001.jpg"
    missing.unlink()
    argv = _train({**work, "ds": ds}, tmp_path, f"data.num_workers={workers}")
    one_error_line(capsys, argv, "000001.jpg", "a readable image file")


def _resume_run(work: dict[str, Path], tmp: Path, case: str) -> list[str]:
    """A run folder whose last checkpoint is broken in the way ``case`` says."""
    import torch

    from semapose.config import load_config
    from semapose.engine.checkpoint import save_weights
    from semapose.models.build import build_model

    argv = _train(work, tmp)
    ckpts = tmp / "run" / "checkpoints"
    ckpts.mkdir(parents=True)
    if case != "missing_weights":
        model: torch.nn.Module = torch.nn.Linear(2, 2)
        if case != "wrong_model":
            model = build_model(load_config(TINY_CONFIG, argv[2:-3]))
        save_weights(model, ckpts / "s1.safetensors")
    state = ckpts / "s1.state.pt"
    torch.save({"batch_size": 2, "step": 1}, state)
    if case == "truncated_state":
        state.write_bytes(state.read_bytes()[:200])
    record = json.dumps(
        {"weights": "checkpoints/s1.safetensors", "state": "checkpoints/s1.state.pt", "step": 1}
    )
    (tmp / "run" / "last.json").write_text(record[:20] if case == "truncated_pointer" else record)
    return [*argv, "--resume"]


RESUME_CASES = {
    "truncated_pointer": ("last.json", "checkpoint pointer"),
    "missing_weights": ("s1.safetensors", "no such file"),
    "truncated_state": ("s1.state.pt", "checkpoint state file"),
    "wrong_model": ("s1.safetensors", "do not fit the model"),
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_train_resume_from_a_broken_run_folder(
    work: dict[str, Path], tmp_path: Path, capsys: Any, case: str
) -> None:
    argv = _resume_run(work, tmp_path, case)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("semapose train: error: ")]
    assert len(lines) == 1 and all(n in lines[0] for n in RESUME_CASES[case]), err


def test_train_resume_state_without_optimizer(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    """A state file without the optimizer/scheduler/RNG entries (wrong schema)."""
    argv = _resume_run(work, tmp_path, "missing_keys")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "s1.state.pt" in err and "missing optimizer" in err and "Traceback" not in err


def test_train_config_errors(work: dict[str, Path], tmp_path: Path, capsys: Any) -> None:
    one_error_line(capsys, ["train", str(tmp_path / "nope.yaml")], "nope.yaml", "YAML")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("train:\n  lrr: 0.1\n")
    one_error_line(capsys, ["train", str(unknown)], "unknown.yaml", "train.lrr", "known keys")
    one_error_line(capsys, ["train", str(TINY_CONFIG), "model.nope=1"], "model.nope", "known keys")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [\n")
    one_error_line(capsys, ["train", str(bad)], "bad.yaml", "line 2", "valid YAML")
    wrong_type = tmp_path / "wrong_type.yaml"
    wrong_type.write_text("train:\n  lr: fast\n")
    one_error_line(capsys, ["train", str(wrong_type)], "wrong_type.yaml", "train.lr")


# ------------------------------------------------------------------ synth / export / demo


def test_synth_bad_arguments(tmp_path: Path, capsys: Any) -> None:
    out = ["synth", "--out", str(tmp_path / "s"), "--no-video", "--videos", "1", "--frames", "2"]
    one_error_line(capsys, [*out, "--size", "abc"], "--size", "WxH")
    one_error_line(capsys, [*out, "--degrade", "blurry:9"], "blurry")
    one_error_line(capsys, [*out, "--rate", "1.5"], "--rate")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    one_error_line(capsys, ["synth", "--out", str(a_file), "--no-video"], "a_file", "a folder")


def test_export_and_demo_bad_weights(work: dict[str, Path], tmp_path: Path, capsys: Any) -> None:
    missing = tmp_path / "missing.safetensors"
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    for weights in (missing, garbage):
        rc = main(["export", "--weights", str(weights), "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err and weights.name in err
        assert len(err.strip().splitlines()) == 1, err
        argv = ["demo", "--weights", str(weights), "--out", str(tmp_path / "d"), "--frames", "8"]
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err and weights.name in err
    one_error_line(capsys, ["demo", "--frames", "3", "--out", str(tmp_path / "d")], "--frames")
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


# ----------------------------------------------------------------------------- --debug, exit codes


@pytest.mark.parametrize("command", ["train", "predict", "evaluate"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_exception(
    work: dict[str, Path], tmp_path: Path, where: str, command: str
) -> None:
    """``semapose --debug CMD`` and ``semapose CMD --debug`` both re-raise (traceback)."""
    missing = tmp_path / "nope.json"
    cmd = {
        "train": ["train", str(missing)],
        "predict": _predict(work, tmp_path, missing),
        "evaluate": ["evaluate", "--gt", str(missing), "--pred", str(tmp_path)],
    }[command]
    argv = ["--debug", *cmd] if where == "before" else [*cmd, "--debug"]
    with pytest.raises(InputError, match="nope.json"):
        main(argv)


def test_worker_error_is_unwrapped() -> None:
    """The DataLoader re-raise format (torch/_utils.py ExceptionWrapper) is recognised."""
    inner = "semapose.errors.InputError: /d/x.jpg: expected a readable image file"
    text = f"Caught InputError in DataLoader worker process 0.\nOriginal Traceback:\n  ...\n{inner}"
    assert worker_error(RuntimeError(text)) == "/d/x.jpg: expected a readable image file"
    assert (
        worker_error(RuntimeError("Caught ValueError in DataLoader worker process 1.\nx")) is None
    )
    assert worker_error(RuntimeError("something else")) is None
    assert worker_error(SemaposeError("plain")) is None


def test_unexpected_errors_still_raise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A bug (not bad input) is not hidden behind exit code 2."""
    import semapose.commands.synth as synth

    def boom(args: Any) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(synth, "run", boom)
    with pytest.raises(ZeroDivisionError):
        main(["synth", "--out", str(tmp_path)])


def _subprocess(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "semapose.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_real_exit_code_and_single_stderr_line(work: dict[str, Path], tmp_path: Path) -> None:
    gt_dir, doc = _val_doc(work)
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    (pred_dir / f"{doc['images'][0]['file_name'].split('/')[-2]}.json").write_text('{"images": [')
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("model:\n  backbnoe: tiny\n")
    cases = [
        (["evaluate", "--gt", str(gt_dir), "--pred", str(pred_dir)], "valid JSON"),
        (["train", str(unknown)], "model.backbnoe"),
    ]
    for argv, needle in cases:
        proc = _subprocess(argv)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], proc.stderr
        assert lines[0].startswith(f"semapose {argv[0]}: error: ")
    debug = _subprocess(["--debug", "train", str(unknown)])
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert "ConfigError" in debug.stderr and "model.backbnoe" in debug.stderr


def test_predict_subprocess_missing_input(work: dict[str, Path], tmp_path: Path) -> None:
    proc = _subprocess(_predict(work, tmp_path, tmp_path / "nope.mp4"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "nope.mp4" in errors[0] and "expected" in errors[0]


# ----------------------------------------------------------------------------- output paths


@pytest.mark.parametrize("command", ["predict", "evaluate", "export", "demo", "synth"])
def test_output_path_that_is_a_file(
    work: dict[str, Path], tmp_path: Path, capsys: Any, command: str
) -> None:
    """``--out`` (or a folder above it) is an existing file: one line naming that file."""
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    out = str(a_file / "sub")
    gt_dir, _ = _val_doc(work)
    argv = {
        "predict": _predict(work, tmp_path, work["video"], "--boxes", str(work["boxes"])),
        "evaluate": ["evaluate", "--gt", str(gt_dir), "--pred", str(gt_dir), "--out", out],
        "export": ["export", "--weights", str(work["ckpt"]), "--out", out, "--no-check"],
        "demo": ["demo", "--weights", str(work["ckpt"]), "--single-weights", str(work["ckpt"])],
        "synth": ["synth", "--out", out, "--videos", "1", "--frames", "2", "--no-video"],
    }[command]
    if command == "predict":
        argv[argv.index("--out") + 1] = out
    elif command == "demo":
        argv += ["--out", out, "--frames", "8"]
    one_error_line(capsys, argv, str(a_file), "folder")
    assert a_file.read_text() == "keep me"


def test_result_path_that_is_a_folder(work: dict[str, Path], tmp_path: Path, capsys: Any) -> None:
    gt_dir, _ = _val_doc(work)
    argv = ["evaluate", "--gt", str(gt_dir), "--pred", str(gt_dir), "--out", str(tmp_path)]
    one_error_line(capsys, argv, str(tmp_path), "a file path")


def test_path_error_lines() -> None:
    from semapose.cli import path_error

    denied = PermissionError(13, "Permission denied", "/data/out/r.json")
    assert path_error(denied) == (
        "/data/out/r.json: expected a path that can be read or written, got 'Permission denied'"
    )
    full = OSError(28, "No space left on device", "/data/out/ckpt.safetensors")
    assert "No space left" in str(path_error(full))
    assert path_error(OSError("no file named")) is None
    assert path_error(ValueError("x")) is None


def test_checkpoint_with_a_bad_embedded_config(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    """The config inside a checkpoint's metadata is checked like a YAML config."""
    from semapose.config import to_dict
    from semapose.engine.checkpoint import save_weights
    from test_predict_helpers import tiny_model

    cfg = tiny_cfg()
    doc = to_dict(cfg)
    doc["model"]["bogus"] = 1
    for name, meta in (("unknown_key", json.dumps(doc)), ("not_json", "{oops")):
        weights = tmp_path / f"{name}.safetensors"
        save_weights(tiny_model(cfg), weights, {"semapose_config": meta})
        argv = _predict(work, tmp_path, work["video"], "--boxes", str(work["boxes"]))
        argv[argv.index("--weights") + 1] = str(weights)
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err
        lines = [line for line in err.splitlines() if "error:" in line]
        assert len(lines) == 1 and weights.name in lines[0], err
        if name == "unknown_key":
            assert "model.bogus" in lines[0] and "known keys" in lines[0]


# ----------------------------------------------------------------------------- API streams


@pytest.fixture(scope="module")
def estimator() -> Any:
    from semapose.inference.api import PoseEstimator
    from test_predict_helpers import tiny_model

    cfg = tiny_cfg()
    return PoseEstimator.from_model(tiny_model(cfg), cfg, "cpu")


class _OneBox:
    def detect(self, frame: np.ndarray, index: int | None = None) -> np.ndarray:
        return np.array([[5.0, 5.0, 40.0, 45.0, 0.9]])


def test_api_stream_frame_size_may_change(estimator: Any) -> None:
    """A stream of in-memory frames may change size (each frame is cropped on its own)."""
    frames = [np.zeros((48, 64, 3), np.uint8)] * 3 + [np.zeros((60, 80, 3), np.uint8)] * 3
    out = list(estimator.predict(frames, detector=_OneBox()))
    assert [f.index for f in out] == list(range(6))


def test_api_stream_bad_frames_are_input_errors(estimator: Any) -> None:
    with pytest.raises(InputError, match=r"frame 1: expected an RGB uint8 image"):
        frames = [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8))]
        list(estimator.predict(frames, detector=_OneBox()))


def test_api_stream_wrong_dtype_names_the_dtype(estimator: Any) -> None:
    with pytest.raises(InputError, match="float32"):
        list(estimator.predict([np.zeros((48, 64, 3), np.float32)], detector=_OneBox()))


def test_api_stream_empty_frame_is_an_input_error(estimator: Any) -> None:
    with pytest.raises(InputError, match="frame 0"):
        list(estimator.predict([np.zeros((0, 0, 3), np.uint8)], detector=_OneBox()))


# ----------------------------------------------------------------------------- real samples


def test_real_negative_coordinate_is_kept_and_scored(posetrack18_sample: Path) -> None:
    """012834_mpii_test has a joint with a negative coordinate: the reader keeps it and
    the sequence scored against itself is still 100 mAP."""
    from semapose.data.posetrack import load_posetrack18
    from semapose.evaluation import evaluate_posetrack

    ann = posetrack18_sample / "annotations" / "val" / "012834_mpii_test.json"
    doc = json.loads(ann.read_text())
    negative = [
        (k, a["keypoints"][3 * k : 3 * k + 2])
        for a in doc["annotations"]
        for k in range(17)
        if min(a["keypoints"][3 * k : 3 * k + 2]) < 0
    ]
    assert negative, "the sample no longer has a negative coordinate"
    kept = [
        p.keypoints[k].tolist()
        for r in load_posetrack18(ann, posetrack18_sample)
        for p in r.persons
        for k in range(17)
        if p.keypoints[k].min() < 0
    ]
    assert sorted(kept) == sorted(xy for _, xy in negative)
    assert evaluate_posetrack(ann, ann)["Mean"] == 100.0


def test_real_annotation_damaged(posetrack18_sample: Path, tmp_path: Path, capsys: Any) -> None:
    ann = posetrack18_sample / "annotations" / "val" / "009473_mpii_test.json"
    doc = json.loads(ann.read_text())
    doc["annotations"][1]["keypoints"][4] = float("inf")
    pred = tmp_path / "009473_mpii_test.json"
    pred.write_text(json.dumps(doc))
    argv = ["evaluate", "--gt", str(ann), "--pred", str(pred)]
    one_error_line(capsys, argv, "009473_mpii_test.json", "annotations[1].keypoints")


def test_real_clip_truncated(
    work: dict[str, Path], shared_data: Path, tmp_path: Path, capsys: Any
) -> None:
    clip = shared_data / "videos" / "street_pedestrians_5f.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} missing")
    data = clip.read_bytes()
    cut = tmp_path / "street_cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    argv = _predict(work, tmp_path, cut, "--boxes", str(work["boxes"]))
    one_error_line(capsys, argv, "street_cut.mp4")
