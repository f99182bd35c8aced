"""``semapose predict`` end to end: outputs, folders, a corrupt file, torchrun, real clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_predict_helpers import (
    NO_SSDLITE,
    make_video,
    moving_boxes,
    save_checkpoint,
    ssdlite_available,
    tiny_cfg,
    write_box_file,
)

pytest.importorskip("torch")

from semapose.cli import main  # noqa: E402
from semapose.io.video import FrameSource  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("w") / "tiny.safetensors", tiny_cfg())


def _check_outputs(out: Path, name: str, frames: int, persons: int | None = None) -> dict:
    doc = json.loads((out / "posetrack" / f"{name}.json").read_text())
    assert len(doc["images"]) == frames
    assert doc["categories"][0]["keypoints"][:3] == ["nose", "head_bottom", "head_top"]
    for ann in doc["annotations"]:
        assert len(ann["keypoints"]) == 51 and np.isfinite(ann["keypoints"]).all()
    coco = json.loads((out / "coco" / f"{name}.json").read_text())
    assert len(coco) == len(doc["annotations"])
    if persons is not None:
        assert len(doc["annotations"]) == persons
    video = out / "video" / f"{name}.mp4"
    src = FrameSource(video)
    assert sum(1 for _ in src.frames()) == frames
    return doc


def test_predict_video_with_box_file(tmp_path: Path, ckpt: Path, capsys) -> None:
    n = 9
    video = make_video(tmp_path / "walk.mp4", n)
    boxes = moving_boxes(n, 2)
    box_file = write_box_file(tmp_path / "boxes.json", boxes)
    out = tmp_path / "out"
    rc = main(
        [
            "predict",
            str(video),
            "--out",
            str(out),
            "--weights",
            str(ckpt),
            "--boxes",
            str(box_file),
            "--quiet",
        ]
    )
    assert rc == 0
    doc = _check_outputs(out, "walk", n, persons=sum(len(b) for b in boxes.values()))
    printed = capsys.readouterr().out
    assert "posetrack/walk.json" in printed and "frames/s" in printed
    # tracks are stable: two ids over the clip
    assert {a["track_id"] for a in doc["annotations"]} == {0, 1}
    # the PoseTrack file is accepted by the evaluation reader
    from semapose.evaluation.poseval_io import load_eval_set

    load_eval_set(out / "posetrack" / "walk.json", out / "posetrack" / "walk.json")


def test_folder_with_a_corrupt_video_finishes_the_good_ones(
    tmp_path: Path, ckpt: Path, capsys
) -> None:
    folder = tmp_path / "videos"
    make_video(folder / "a.mp4", 4)
    make_video(folder / "c.mp4", 3)
    bad = folder / "b.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    out = tmp_path / "out"
    rc = main(
        [
            "predict",
            str(folder),
            "--out",
            str(out),
            "--weights",
            str(ckpt),
            "--detector",
            "nonexistent-for-test",
            "--quiet",
            "--no-video",
        ]
    )
    # an unknown detector fails every input clearly
    assert rc == 2
    assert "nonexistent-for-test" in capsys.readouterr().err

    box_dir = tmp_path / "boxes"  # one box file per input, named after it
    box_dir.mkdir()
    for name in "abc":
        write_box_file(box_dir / f"{name}.json", moving_boxes(4, 1 if name == "a" else 2))
    args = ["predict", str(folder), "--out", str(out), "--weights", str(ckpt)]
    rc = main([*args, "--boxes", str(box_dir), "--quiet", "--no-video"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "b.mp4" in err and "1 input(s) failed" in err
    assert (out / "posetrack" / "a.json").is_file() and (out / "posetrack" / "c.json").is_file()
    assert not (out / "posetrack" / "b.json").exists()
    a = json.loads((out / "posetrack" / "a.json").read_text())
    c = json.loads((out / "posetrack" / "c.json").read_text())
    assert len(a["annotations"]) == 4 and len(c["annotations"]) == 2 + 2 + 1
    assert not list(out.rglob("*.tmp*"))  # atomic writes leave no temporary files


def test_two_torchrun_ranks_share_a_folder(
    tmp_path: Path, ckpt: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """torchrun's environment: rank 1 in a subprocess, rank 0 in this process, concurrently."""
    folder = tmp_path / "videos"
    names = ["v0", "v1", "v2"]
    for i, name in enumerate(names):
        make_video(folder / f"{name}.mp4", 3 + i)
    box_file = write_box_file(tmp_path / "boxes.json", moving_boxes(5, 1))
    out = tmp_path / "out"
    args = [
        "predict",
        str(folder),
        "--out",
        str(out),
        "--weights",
        str(ckpt),
        "--boxes",
        str(box_file),
        "--quiet",
        "--no-video",
        "--device",
        "cpu",
    ]
    env = {
        **os.environ,
        "RANK": "1",
        "WORLD_SIZE": "2",
        "LOCAL_RANK": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO / "src"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "semapose.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for key, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(key, value)
    rc0 = main(args)
    log0 = capsys.readouterr().out
    log1, err1 = proc.communicate(timeout=120)
    assert (rc0, proc.returncode) == (0, 0), err1
    assert "v0.mp4" in log0 and "v2.mp4" in log0 and "v1.mp4" not in log0
    assert "v1.mp4" in log1 and "[rank 1/2]" in log1 and "v0.mp4" not in log1
    for i, name in enumerate(names):
        doc = json.loads((out / "posetrack" / f"{name}.json").read_text())
        assert len(doc["images"]) == 3 + i


def test_single_frame_checkpoint_warns_in_one_line(tmp_path: Path, capsys) -> None:
    ckpt = save_checkpoint(tmp_path / "single.safetensors", tiny_cfg(temporal="none"))
    video = make_video(tmp_path / "v.mp4", 3)
    box_file = write_box_file(tmp_path / "boxes.json", moving_boxes(3, 1))
    rc = main(
        [
            "predict",
            str(video),
            "--out",
            str(tmp_path / "o"),
            "--weights",
            str(ckpt),
            "--boxes",
            str(box_file),
            "--quiet",
            "--no-video",
        ]
    )
    assert rc == 0
    warn = [line for line in capsys.readouterr().err.splitlines() if "single-frame" in line]
    assert len(warn) == 1 and "no temporal part" in warn[0]


@pytest.mark.parametrize(
    "case", ["missing", "bad_boxes", "bad_weights", "empty_folder", "not_a_video"]
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, ckpt: Path, capsys, case: str) -> None:
    video = make_video(tmp_path / "v.mp4", 2)
    args = [str(video), "--out", str(tmp_path / "o"), "--weights", str(ckpt), "--quiet"]
    if case == "missing":
        args[0] = str(tmp_path / "nope.mp4")
    elif case == "bad_boxes":
        (tmp_path / "b.json").write_text('[{"image_id": 0, "bbox": [1, 2, ')
        args += ["--boxes", str(tmp_path / "b.json")]
    elif case == "bad_weights":
        (tmp_path / "w.safetensors").write_bytes(b"not safetensors")
        args[4] = str(tmp_path / "w.safetensors")
    elif case == "empty_folder":
        (tmp_path / "empty").mkdir()
        args[0] = str(tmp_path / "empty")
    else:
        (tmp_path / "x.txt").write_text("hello")
        args[0] = str(tmp_path / "x.txt")
    rc = main(["predict", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("semapose predict: error: "), err


def test_real_clips_end_to_end(shared_data: Path, ckpt: Path, tmp_path: Path) -> None:
    """The shared real clips with the default (offline) detector and a random tiny model."""
    videos = shared_data / "videos"
    clip = videos / "street_pedestrians_5f.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} missing")
    if not ssdlite_available():
        pytest.skip(NO_SSDLITE)
    out = tmp_path / "out"
    rc = main(
        ["predict", str(clip), "--out", str(out), "--weights", str(ckpt), "--quiet", "--no-flip"]
    )
    assert rc == 0
    doc = _check_outputs(out, "street_pedestrians_5f", 5)
    assert doc["annotations"], "the detector finds the pedestrians"
    w, h = FrameSource(clip).size
    assert FrameSource(out / "video" / "street_pedestrians_5f.mp4").size == (w, h)


def test_official_hrnet_checkpoint_runs_single_frame(tmp_path: Path) -> None:
    """An official-layout HRNet file (``final_layer``/``stage4`` keys in a ``state_dict``)."""
    import torch

    from semapose.inference.loading import load_model
    from semapose.models.estimator import Estimator
    from semapose.models.single_frame import SingleFrameHRNet
    from semapose.models.temporal import SingleFrame

    with torch.device("meta"):  # shapes only: no time spent on a random init
        shapes = SingleFrameHRNet(32).state_dict()
    sd = {k.split(".", 1)[1]: torch.zeros(v.shape, dtype=v.dtype) for k, v in shapes.items()}
    path = tmp_path / "pose_hrnet_w32_384x288.pth"
    torch.save({"state_dict": sd}, path)
    loaded = load_model(path)
    # one single-frame model for every source (issue 23): the Estimator with T = 1
    assert isinstance(loaded.model, Estimator) and not loaded.temporal
    assert isinstance(loaded.model.temporal, SingleFrame)
    assert loaded.cfg.data.image_size == (384, 288) and loaded.cfg.data.offsets == []
    assert len(loaded.notes) == 1 and "single-frame" in loaded.notes[0]


def test_posetrack_frame_folders_with_detections_then_evaluate(
    posetrack18_sample: Path, ckpt: Path, tmp_path: Path, capsys
) -> None:
    """predict on PoseTrack18 val frame folders with the shipped detections; the output
    folder goes straight into ``semapose evaluate`` (names, ids and frame counts match)."""
    images = posetrack18_sample / "images" / "val"
    dets = posetrack18_sample / "annotations" / "test_posetrack18_human_detections.json"
    out = tmp_path / "out"
    rc = main(
        [
            "predict",
            str(images),
            "--out",
            str(out),
            "--weights",
            str(ckpt),
            "--boxes",
            str(dets),
            "--quiet",
            "--no-video",
            "--no-flip",
        ]
    )
    assert rc == 0
    gt_dir = posetrack18_sample / "annotations" / "val"
    for gt_file in gt_dir.glob("*.json"):
        gt = json.loads(gt_file.read_text())
        pred = json.loads((out / "posetrack" / gt_file.name).read_text())
        assert [i["file_name"] for i in pred["images"]] == [i["file_name"] for i in gt["images"]]
        assert [i["id"] for i in pred["images"]] == [i["id"] for i in gt["images"]]
        assert pred["annotations"], "boxes from the detections file were used"
    capsys.readouterr()
    rc = main(["evaluate", "--gt", str(gt_dir), "--pred", str(out / "posetrack")])
    assert rc == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["two_people_72f", "basketball_300f"])
def test_longer_real_clips_complete(shared_data: Path, tmp_path: Path, name: str) -> None:
    """Every frame of the longer real clips gets a result (fixed boxes, no overlay video:
    the street clip above checks the detector and the video; a T = 1 model for speed)."""
    ckpt = save_checkpoint(tmp_path / "t1.safetensors", tiny_cfg(offsets=[], temporal="none"))
    clip = shared_data / "videos" / f"{name}.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} missing")
    src = FrameSource(clip)
    n = sum(1 for _ in src.frames())
    w, h = src.size
    box = [0.3 * w, 0.2 * h, 0.6 * w, 0.95 * h, 0.9]
    boxes = write_box_file(tmp_path / "b.json", {i: np.array([box]) for i in range(n)})
    out = tmp_path / "out"
    rc = main(
        [
            "predict",
            str(clip),
            "--out",
            str(out),
            "--weights",
            str(ckpt),
            "--boxes",
            str(boxes),
            "--quiet",
            "--no-flip",
            "--no-video",
        ]
    )
    assert rc == 0
    doc = json.loads((out / "posetrack" / f"{name}.json").read_text())
    assert len(doc["images"]) == n and len(doc["annotations"]) == n
