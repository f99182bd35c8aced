"""Temporal inference pipeline: feature cache, clip assembly, online mode, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_predict_helpers import SIZE, make_video, moving_boxes, tiny_cfg, tiny_model

torch = pytest.importorskip("torch")

from semapose.inference.detectors.boxfile import BoxFileDetector  # noqa: E402
from semapose.inference.job import JobOptions, predict_source  # noqa: E402
from semapose.inference.pipeline import RunnerOptions, TemporalRunner  # noqa: E402
from semapose.inference.results import TrackBox  # noqa: E402


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    return [np.roll(base, 3 * i, axis=1) for i in range(n)]


def _tracks(boxes: np.ndarray) -> list[TrackBox]:
    return [TrackBox(i, [b[0], b[1], b[2] - b[0], b[3] - b[1]], b[4]) for i, b in enumerate(boxes)]


def _run(model, opts: RunnerOptions, frames, boxes) -> list:
    runner = TemporalRunner(model, opts)
    out = []
    for i, img in enumerate(frames):
        out += runner.push(i, img, _tracks(boxes[i]))
    out += runner.finish()
    return out, runner


@pytest.fixture(scope="module")
def model_cfg():
    cfg = tiny_cfg()
    return tiny_model(cfg), cfg


def test_each_crop_is_encoded_once_and_read_by_every_clip(model_cfg) -> None:
    model, _ = model_cfg
    n = 8
    boxes = {i: moving_boxes(n, 2)[0] for i in range(n)}  # two persons in every frame
    opts = RunnerOptions(input_size=SIZE, offsets=(-2, -1, 1, 2), flip_test=True, batch_size=4)
    out, runner = _run(model, opts, _frames(n), boxes)
    assert [f.index for f in out] == list(range(n))
    assert all(len(f.persons) == 2 for f in out)
    # one backbone pass per (frame, person, flip variant) ...
    assert runner.backbone_crops == n * 2 * 2
    # ... read by all T = 5 slots of every clip (border slots repeat the nearest frame)
    assert runner.cache.hits == n * 2 * 5 * 2 and runner.cache.misses == 0
    # bounded window: at most lookback + lookahead + 1 frames of features are alive
    assert runner.cache.peak_size <= (2 + 2 + 1) * 2 * 2


def test_key_crop_mode_equals_model_forward_on_paper_clips(model_cfg) -> None:
    """crop="key" builds exactly the paper's clips: compare with model(clip) by hand."""
    from semapose.data.codec import HeatmapCodec
    from semapose.data.transforms import (
        box_to_center_scale,
        crop,
        get_affine_matrix,
        invert_affine,
        normalize_image,
        transform_points,
    )

    model, cfg = model_cfg
    n = 6
    frames = _frames(n, seed=1)
    boxes = moving_boxes(n, 1)
    opts = RunnerOptions(input_size=SIZE, offsets=(-2, -1, 1, 2), flip_test=False, crop="key")
    out, runner = _run(model, opts, frames, boxes)
    codec = HeatmapCodec(SIZE, 4, cfg.data.sigma, cfg.test.refine)
    for k in (0, 3, 5):
        b = boxes[k][0]
        center, scale = box_to_center_scale(np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]]), SIZE)
        m = get_affine_matrix(center, scale, 0.0, SIZE)
        idx = [min(max(k + o, 0), n - 1) for o in (-2, -1, 0, 1, 2)]
        clip = np.stack([normalize_image(crop(frames[g], m, SIZE)) for g in idx])
        with torch.inference_mode():
            hm = model(torch.from_numpy(clip)[None]).numpy()
        xy, sc = codec.decode(hm)
        expected = transform_points(xy[0], invert_affine(m))
        got = out[k].persons[0]
        np.testing.assert_allclose(got.keypoints, expected, atol=2e-3)
        np.testing.assert_allclose(got.scores, sc[0], atol=1e-3)
    assert runner.backbone_crops == n * 5  # no reuse in the paper's cropping


def test_track_crops_equal_key_crops_when_boxes_do_not_move(model_cfg) -> None:
    model, _ = model_cfg
    n = 5
    static = {i: moving_boxes(n, 2)[0] for i in range(n)}
    frames = _frames(n, seed=2)
    base = dict(input_size=SIZE, offsets=(-2, -1, 1, 2), flip_test=True)
    a, ra = _run(model, RunnerOptions(**base, crop="track"), frames, static)
    b, rb = _run(model, RunnerOptions(**base, crop="key"), frames, static)
    for fa, fb in zip(a, b, strict=True):
        for pa, pb in zip(fa.persons, fb.persons, strict=True):
            np.testing.assert_allclose(pa.keypoints, pb.keypoints, atol=2e-3)
    assert ra.backbone_crops * 5 == rb.backbone_crops


def test_online_mode_emits_at_once_and_ignores_the_future(model_cfg) -> None:
    model, _ = model_cfg
    n = 6
    boxes = moving_boxes(n, 2)
    opts = RunnerOptions(input_size=SIZE, offsets=(-2, -1, 1, 2), online=True, flip_test=False)
    runner = TemporalRunner(model, opts)
    frames = _frames(n, seed=3)
    first = []
    for i, img in enumerate(frames):
        ready = runner.push(i, img, _tracks(boxes[i]))
        assert [f.index for f in ready] == [i]  # no look-ahead delay
        first += ready
    assert runner.finish() == []
    # different future frames do not change earlier results
    other = _frames(n, seed=4)
    runner2 = TemporalRunner(model, opts)
    for i in range(3):
        got = runner2.push(i, frames[i], _tracks(boxes[i]))[0]
        np.testing.assert_array_equal(got.persons[0].keypoints, first[i].persons[0].keypoints)
    runner2.push(3, other[3], _tracks(boxes[3]))
    assert runner.lookahead == 0 and runner.slot_offsets == [-2, -1, 0, -1, -2]


def test_short_video_and_tracks_that_start_late(model_cfg) -> None:
    model, _ = model_cfg
    opts = RunnerOptions(input_size=SIZE, offsets=(-2, -1, 1, 2), flip_test=False)
    out, _ = _run(model, opts, _frames(2), moving_boxes(2, 1))  # shorter than the clip
    assert [len(f.persons) for f in out] == [1, 1]
    boxes = moving_boxes(6, 1)
    late = {
        i: (np.vstack([boxes[i], [[90, 10, 130, 90, 0.8]]]) if i >= 3 else boxes[i]) for i in boxes
    }
    runner = TemporalRunner(model, opts)
    out = []
    for i, img in enumerate(_frames(6)):
        tracks = _tracks(late[i])
        out += runner.push(i, img, tracks)
    out += runner.finish()
    assert [len(f.persons) for f in out] == [1, 1, 1, 2, 2, 2]
    assert runner._slot_frames(3, 1, 5) == [3, 3, 3, 4, 5]  # before its start: nearest frame


# ----------------------------------------------------------------------------- resume


class _Boom(RuntimeError):
    pass


class _FailingDetector(BoxFileDetector):
    """Raises once frame ``fail_at`` is reached (a crash in the middle of a video)."""

    def __init__(self, boxes, fail_at: int) -> None:
        super().__init__(boxes)
        self.fail_at = fail_at

    def detect(self, frame_rgb, frame_index=None):
        if frame_index == self.fail_at:
            raise _Boom(f"injected failure at frame {frame_index}")
        return super().detect(frame_rgb, frame_index)


def _job(tmp: Path, **kw) -> JobOptions:
    return JobOptions(out_dir=tmp, progress=False, checkpoint_every=3, **kw)


def _read(path: Path) -> dict:
    doc = json.loads(path.read_text())
    doc.pop("semapose", None)
    return doc


@pytest.mark.parametrize("online", [False, True])
def test_resume_equals_an_uninterrupted_run(tmp_path: Path, model_cfg, online: bool) -> None:
    model, _ = model_cfg
    n = 10
    video = make_video(tmp_path / "in" / "walk.mp4", n)
    boxes = moving_boxes(n, 2)
    opts = RunnerOptions(input_size=SIZE, offsets=(-2, -1, 1, 2), flip_test=True, online=online)

    full = predict_source(video, model, opts, BoxFileDetector(boxes), _job(tmp_path / "a"))
    assert full.status == "done" and full.frames == n

    # 1) stopped after 4 frames, then junk appended after the saved state (writes that a
    #    kill -9 would leave behind), then resumed
    out = tmp_path / "b"
    r1 = predict_source(video, model, opts, BoxFileDetector(boxes), _job(out, max_frames=4))
    assert r1.status == "stopped" and not r1.paths.posetrack.exists()
    with open(r1.paths.partial / "results.jsonl", "ab") as fh:
        fh.write(b'{"frame": 99, "persons": [')
    with open(r1.paths.partial / "detections.jsonl", "ab") as fh:
        fh.write(b'{"frame": 4, "emitted": 1, "boxes": [[1, 2, 3')
    r2 = predict_source(video, model, opts, BoxFileDetector(boxes), _job(out, resume=True))
    assert r2.status == "done"
    assert _read(r2.paths.posetrack) == _read(full.paths.posetrack)
    assert json.loads(r2.paths.coco.read_text()) == json.loads(full.paths.coco.read_text())
    assert not r2.paths.partial.exists()
    # the resumed run did not redo finished key frames; only the feature window's backbone
    # passes (frames next_key - 2 .. 3) were recomputed
    assert r1.stats["key_frames"] == (4 if online else 2)
    assert r2.stats["key_frames"] == n - r1.stats["key_frames"]
    assert full.stats["key_frames"] == n

    # 2) a crash at frame 7, then resumed
    out = tmp_path / "c"
    with pytest.raises(_Boom):
        predict_source(video, model, opts, _FailingDetector(boxes, 7), _job(out))
    state = json.loads((out / ".partial" / "walk" / "state.json").read_text())
    assert state["next_frame"] == 7
    r3 = predict_source(video, model, opts, BoxFileDetector(boxes), _job(out, resume=True))
    assert _read(r3.paths.posetrack) == _read(full.paths.posetrack)

    from semapose.io.video import FrameSource

    assert FrameSource(r3.paths.video).num_frames == n  # re-rendered overlay video is complete


def test_resume_with_other_options_starts_over(tmp_path: Path, model_cfg) -> None:
    model, _ = model_cfg
    video = make_video(tmp_path / "v.mp4", 6)
    boxes = moving_boxes(6, 1)
    a = RunnerOptions(input_size=SIZE, offsets=(-2, -1, 1, 2), flip_test=False)
    r = predict_source(
        video, model, a, BoxFileDetector(boxes), _job(tmp_path, max_frames=3, fingerprint={"x": 1})
    )
    assert r.status == "stopped"
    r = predict_source(
        video, model, a, BoxFileDetector(boxes), _job(tmp_path, resume=True, fingerprint={"x": 2})
    )
    assert r.status == "done" and r.stats["backbone_crops"] == 6  # all frames again
    again = predict_source(video, model, a, BoxFileDetector(boxes), _job(tmp_path, resume=True))
    assert again.status == "skipped"


class _Presence:
    """The tiny model with a pose-present score that differs per crop (sigmoid of its mean)."""

    def __init__(self, model) -> None:
        self.model = model

    def encode_frames(self, x):
        return self.model.encode_frames(x)

    def decode_clip(self, feats):
        return self.model.decode_clip(feats)

    def encode_with_outputs(self, x):
        score = x.float().mean((1, 2, 3)).sigmoid()
        return {"features": self.model.encode_frames(x), "pose_score": score}


@pytest.mark.parametrize("crop", ["track", "key"])
def test_joint_scores_are_weighted_by_the_key_crops_pose_score(model_cfg, crop: str) -> None:
    model, _ = model_cfg
    frames = _frames(5)
    boxes = moving_boxes(5)
    opts = RunnerOptions(input_size=SIZE, offsets=(-2, -1, 1, 2), flip_test=False, crop=crop)
    plain, _ = _run(model, opts, frames, boxes)
    weighted, runner = _run(_Presence(model), opts, frames, boxes)
    for a, b in zip(plain, weighted, strict=True):
        for pa, pb in zip(a.persons, b.persons, strict=True):
            crop_img = runner._crop(frames[a.index], pa.box)
            presence = round(float(torch.from_numpy(crop_img).float().mean().sigmoid()), 3)
            assert 0 < presence < 1
            np.testing.assert_allclose(pb.scores, np.round(pa.scores * presence, 3), atol=2e-3)
            np.testing.assert_array_equal(pb.keypoints, pa.keypoints)
