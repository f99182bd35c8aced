"""One road for prediction: the Python API and ``semapose predict`` run the same frame loop.

Same input, same weights -> identical keypoints, track ids and scores, on a video
and on a frame folder named ``1, 2, 10`` (numbers sorted as numbers, box files
matched to frames in that order), with a box file and with the default detector.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_predict_helpers import make_video, moving_boxes, save_checkpoint, tiny_cfg, write_box_file

pytest.importorskip("torch")

from semapose import PoseEstimator  # noqa: E402
from semapose.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("w") / "tiny.safetensors", tiny_cfg())


def _cli_persons(out: Path, name: str) -> dict[str, list[tuple[int, list[float], float]]]:
    """file name -> [(track id, keypoints [x, y, score] * 17, person score)] from predict's
    PoseTrack file."""
    doc = json.loads((out / "posetrack" / f"{name}.json").read_text())
    files = {im["id"]: im["file_name"].rsplit("/", 1)[-1] for im in doc["images"]}
    per: dict[str, list[tuple[int, list[float], float]]] = {f: [] for f in files.values()}
    for a in doc["annotations"]:
        per[files[a["image_id"]]].append((a["track_id"], a["keypoints"], a["score"]))
    return per


def _api_persons(frames: list[Any]) -> dict[str, list[tuple[int, list[float], float]]]:
    """The same view of the API's results (rounded as the file writer rounds)."""
    out = {}
    for f in frames:
        name = f.file_name or f"{f.index:06d}.jpg"
        rows = []
        for p in f.persons:
            kp: list[float] = []
            for (x, y), s in zip(p.keypoints, p.scores, strict=True):
                kp += [round(float(x), 3), round(float(y), 3), round(float(s), 4)]
            rows.append((p.track_id, kp, round(p.score, 4)))
        out[name] = rows
    return out


def _run_both(
    ckpt: Path, source: Path, out: Path, boxes: Path | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    args = ["predict", str(source), "--out", str(out), "--weights", str(ckpt), "--quiet"]
    args += ["--no-video"] + (["--boxes", str(boxes)] if boxes else [])
    assert main(args) == 0
    est = PoseEstimator.from_pretrained(ckpt, device="cpu")
    api = list(est.predict(source, boxes=boxes))
    name = source.stem if source.is_file() else source.name
    return _cli_persons(out, name), _api_persons(api)


def _real_frames(shared_data: Path | None, n: int) -> list[np.ndarray] | None:
    if shared_data is None:
        return None
    clip = shared_data / "videos" / "street_pedestrians_5f.mp4"
    if not clip.is_file():
        return None
    import cv2

    from semapose.io.video import FrameSource

    frames = []
    for f in FrameSource(clip).frames():
        frames.append(cv2.resize(f.image, (480, 270), interpolation=cv2.INTER_AREA))
        if len(frames) == n:
            break
    return frames


def _write_folder(folder: Path, images: list[np.ndarray], names: list[str]) -> Path:
    import cv2

    folder.mkdir(parents=True)
    for image, name in zip(images, names, strict=True):
        cv2.imwrite(str(folder / name), np.ascontiguousarray(image[:, :, ::-1]))
    return folder


def test_video_with_box_file(tmp_path: Path, ckpt: Path) -> None:
    video = make_video(tmp_path / "v.mp4", 8)
    boxes = write_box_file(tmp_path / "b.json", moving_boxes(8, 2))
    cli, api = _run_both(ckpt, video, tmp_path / "out", boxes)
    assert cli == api
    assert sum(len(v) for v in cli.values()) == sum(len(b) for b in moving_boxes(8, 2).values())


def test_frame_folder_1_2_10_with_box_file(tmp_path: Path, ckpt: Path) -> None:
    """Frames 1, 2, 10 are frames 0, 1, 2; the box file's boxes land on the frame they name."""
    rng = np.random.default_rng(0)
    names = ["1.png", "2.png", "10.png"]
    images = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in names]
    folder = _write_folder(tmp_path / "seq", images, names)
    # one person per frame, a different box size per file, matched by image_name
    sizes = {"1.png": 40.0, "2.png": 50.0, "10.png": 60.0}
    items = [
        {"image_name": f"seq/{n}", "bbox": [20.0, 10.0, w, 90.0], "score": 0.9}
        for n, w in sizes.items()
    ]
    box_file = tmp_path / "boxes.json"
    box_file.write_text(json.dumps(items))
    cli, api = _run_both(ckpt, folder, tmp_path / "out", box_file)
    assert cli == api and set(cli) == set(names)
    est = PoseEstimator.from_pretrained(ckpt, device="cpu")
    frames = list(est.predict(folder, boxes=box_file))
    assert [f.file_name for f in frames] == names
    for f in frames:
        assert len(f.persons) == 1
        assert f.persons[0].box[2] == pytest.approx(sizes[f.file_name])


def test_video_and_1_2_10_folder_with_the_default_detector(
    tmp_path: Path, ckpt: Path, request: pytest.FixtureRequest
) -> None:
    from semapose.inference.detectors import DetectorUnavailableError, build_detector

    try:
        build_detector().load()  # type: ignore[attr-defined]
    except DetectorUnavailableError as exc:
        pytest.skip(f"default detector unavailable: {exc}")
    try:
        shared = request.getfixturevalue("shared_data")
    except pytest.skip.Exception:
        shared = None
    images = _real_frames(shared, 3)
    if images is None:  # no real people without the sample data: generated frames still run
        rng = np.random.default_rng(1)
        images = [rng.integers(0, 255, (270, 480, 3), dtype=np.uint8) for _ in range(3)]
    folder = _write_folder(tmp_path / "people", images, ["1.png", "2.png", "10.png"])
    cli, api = _run_both(ckpt, folder, tmp_path / "out_folder", None)
    assert cli == api
    from semapose.io.video import VideoWriter

    with VideoWriter(tmp_path / "people.mp4", fps=10) as w:
        for image in images:
            w.write(image)
    cli_v, api_v = _run_both(ckpt, tmp_path / "people.mp4", tmp_path / "out_video", None)
    assert cli_v == api_v
    if shared is not None:
        assert sum(len(v) for v in cli.values()) > 0, "the real frames show people"


def _model_with_crop_outputs(cfg: Any) -> Any:
    """A tiny model whose backbone also gives BlazePose-like single-frame outputs: pose score
    0.75, every keypoint at the crop centre with score 0.5."""
    import torch

    from test_predict_helpers import SIZE, tiny_model

    model = tiny_model(cfg)
    h, w = SIZE

    def with_outputs(x: torch.Tensor) -> dict[str, torch.Tensor]:
        n = len(x)
        return {
            "features": model.backbone(x),
            "pose_score": torch.full((n,), 0.75),
            "keypoints": torch.tensor([(w - 1) / 2, (h - 1) / 2]).expand(n, 17, 2),
            "keypoint_scores": torch.full((n, 17), 0.5),
        }

    model.backbone.forward_with_outputs = with_outputs
    return model


def test_single_frame_crop_outputs_reach_the_tracker_at_encode_time(tmp_path: Path) -> None:
    """A backbone with ``forward_with_outputs`` (as BlazePose's): its per-crop pose score and
    keypoints come out of the frame's own step, in image pixels, before the temporal
    decoder (2 frames of look-ahead) has emitted that frame."""

    from semapose.inference.detectors.boxfile import BoxFileDetector
    from semapose.inference.pipeline import RunnerOptions, TemporalRunner
    from semapose.inference.stream import ArrayFrame, PoseStream

    cfg = tiny_cfg()
    model = _model_with_crop_outputs(cfg)
    seen: list[tuple[int, dict]] = []

    class Recorder:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def observe_crops(self, frame: int, crops: dict) -> None:
            seen.append((frame, crops))
            self.inner.observe_crops(frame, crops)

    from semapose.inference.stream import TrackerAdapter

    boxes = moving_boxes(4, 2)
    det = BoxFileDetector(boxes)
    runner = TemporalRunner(model, RunnerOptions.from_config(cfg), "cpu")
    stream = PoseStream(runner, det, Recorder(TrackerAdapter(det)))
    images = [np.zeros((120, 160, 3), np.uint8) for _ in range(4)]
    first = stream.step(0, images[0])
    assert first.ready == [] and set(first.crops) == {0, 1}  # no pose yet, crop outputs now
    crop = first.crops[0]
    x1, y1, x2, y2, _ = boxes[0][0]
    assert crop.pose_score == 0.75 and crop.scores is not None and crop.scores[0] == 0.5
    assert crop.keypoints is not None
    np.testing.assert_allclose(crop.keypoints[0], [(x1 + x2) / 2, (y1 + y2) / 2], atol=1.0)
    assert seen[0][0] == 0 and seen[0][1] is first.crops
    rest = list(stream.steps(ArrayFrame(i, "", images[i]) for i in range(1, 4)))
    assert [f.index for s in rest for f in s.ready] == [0, 1, 2, 3]


def test_resume_replays_stored_crop_outputs(tmp_path: Path) -> None:
    """A job stopped after 3 frames and resumed writes what an uninterrupted job writes; the
    crop outputs the tracker saw are stored with the detections and replayed."""
    from semapose.inference.detectors.boxfile import BoxFileDetector
    from semapose.inference.job import JobOptions, predict_source
    from semapose.inference.pipeline import RunnerOptions

    cfg = tiny_cfg()
    model = _model_with_crop_outputs(cfg)
    video = make_video(tmp_path / "v.mp4", 7)
    opts = RunnerOptions.from_config(cfg)
    det = BoxFileDetector(moving_boxes(7, 2))

    def run(out: Path, **kw: Any) -> Any:
        job = JobOptions(out_dir=out, write_video=False, progress=False, **kw)
        return predict_source(video, model, opts, det, job)

    whole = run(tmp_path / "a")
    stopped = run(tmp_path / "b", max_frames=3, checkpoint_every=1)
    assert stopped.status == "stopped"
    lines = (tmp_path / "b" / ".partial" / "v" / "detections.jsonl").read_text().splitlines()
    crops = json.loads(lines[0])["crops"]
    assert [c["pose_score"] for c in crops] == [0.75, 0.75] and len(crops[0]["keypoints"]) == 17
    resumed = run(tmp_path / "b", resume=True)
    assert resumed.status == "done"
    assert resumed.paths.posetrack.read_bytes() == whole.paths.posetrack.read_bytes()
