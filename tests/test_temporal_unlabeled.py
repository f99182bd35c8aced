"""Training the temporal module without labels: crop degradations, the feature cache,
training on it (resumable), and the temporal+head weights file."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_helpers import SMALL_TEMPORAL
from semapose.config import load_config
from semapose.data.codec import render_targets
from semapose.data.crop_degradation import CROP_DEGRADATIONS, degrade_crop, plan_crop_events
from semapose.data.feature_store import FeatureStore
from semapose.data.synthetic.degrade import Event
from semapose.engine.cache_fit import CacheFitConfig, fit_on_cache
from semapose.errors import CheckpointError
from semapose.fitting.build import build_cache, teacher_targets
from semapose.fitting.sources import plan_runs, real_items
from semapose.fitting.tracks import TrackRun
from semapose.models.build import build_model
from semapose.models.partial import deploy_state, load_partial_weights, save_partial_weights

SIZE = (64, 64)


def _crop(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((64, 64, 3), 90, np.uint8)
    img[16:48, 24:40] = rng.integers(150, 255, (32, 16, 3), dtype=np.uint8)  # a "person"
    return img


@pytest.mark.parametrize("typ", CROP_DEGRADATIONS)
def test_every_crop_degradation_changes_the_crop(typ: str) -> None:
    crop = _crop()
    previous = _crop(1)
    ev = Event(
        typ,
        3,
        0,
        2,
        None,
        {
            "kind": 1.0,
            "dir": 1.0,
            "dy": 0.0,
            "angle": 0.0,
            "b": 10.0,
            "g": 200.0,
            "r": 10.0,
            "stripes": 0.0,
        },
    )
    out = degrade_crop(crop, ev, 0, previous, (3.0, 0.0), np.random.default_rng(0))
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert not np.array_equal(out, crop)
    if typ == "frame_drop":
        assert np.array_equal(out, previous)


def test_motion_blur_follows_the_motion() -> None:
    crop = np.zeros((64, 64, 3), np.uint8)
    crop[30:34, 30:34] = 255
    ev = Event("motion_blur", 5, 0, 1, None)
    horiz = degrade_crop(crop, ev, 0, None, (2.0, 0.0), np.random.default_rng(0))
    vert = degrade_crop(crop, ev, 0, None, (0.0, 2.0), np.random.default_rng(0))
    ys, xs = np.nonzero(horiz[..., 0])
    assert np.ptp(xs) > 2 * np.ptp(ys)
    ys, xs = np.nonzero(vert[..., 0])
    assert np.ptp(ys) > 2 * np.ptp(xs)


def test_occluder_sweeps_across_the_person() -> None:
    crop = np.full((64, 64, 3), 100, np.uint8)
    p = {
        "kind": 1.0,
        "dir": 1.0,
        "dy": 0.0,
        "angle": 0.0,
        "b": 0.0,
        "g": 0.0,
        "r": 0.0,
        "stripes": 0.0,
    }
    ev = Event("occluder", 2, 0, 4, None, p)
    centres = []
    for t in range(4):
        out = degrade_crop(crop, ev, t, None, (0.0, 0.0), np.random.default_rng(0))
        xs = np.nonzero((out != crop).any(-1))[1]
        centres.append(xs.mean())
    assert all(b > a for a, b in itertools.pairwise(centres))


def test_event_plan_spans_gaps_and_rate() -> None:
    choices = [(t, None) for t in CROP_DEGRADATIONS]
    ev = plan_crop_events(np.random.default_rng(0), 400, choices, rate=0.5, max_length=4)
    covered = np.zeros(400, bool)
    for a, b in itertools.pairwise(ev):
        assert b.start >= a.start + a.length + 1  # at least one clean frame between
    for e in ev:
        assert 1 <= e.length <= 4 and 1 <= e.severity <= 5
        covered[e.start : e.start + e.length] = True
    assert 0.35 < covered.mean() < 0.65
    assert plan_crop_events(np.random.default_rng(0), 10, [], 0.5) == []


def _tiny_model():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    cfg = load_config(None, SMALL_TEMPORAL)
    return cfg, build_model(cfg).eval()


def _folder_video(tmp: Path, frames: int = 10) -> Path:
    import cv2

    folder = tmp / "video"
    folder.mkdir()
    for t in range(frames):
        img = np.full((120, 100, 3), 60, np.uint8)
        cv2.rectangle(img, (30 + 2 * t, 20), (60 + 2 * t, 100), (200, 180, 40), -1)
        cv2.imwrite(str(folder / f"{t:06d}.jpg"), img)
    return folder


def _cache(tmp: Path, model, frames: int = 10) -> FeatureStore:  # type: ignore[no-untyped-def]
    video = _folder_video(tmp, frames)
    runs = [
        TrackRun(
            str(video),
            7,
            list(range(frames)),
            [[28.0 + 2 * t, 18.0, 34.0, 84.0] for t in range(frames)],
        )
    ]
    choices = [(t, None) for t in CROP_DEGRADATIONS]
    plans = plan_runs(runs, [0], seed=0, choices=choices, rate=0.6)
    items = list(real_items(runs, [0], plans, SIZE, seed=0))
    clips = [
        {"name": "v/7", "source": "real", "video": str(video), "track_id": 7, "length": frames}
    ]
    n_clean = sum(it.clean is not None for it in items)
    assert 0 < n_clean < frames
    build_cache(tmp / "cache", model, clips, items, num_rows=frames, num_clean=n_clean, batch=4)
    return FeatureStore(tmp / "cache")


def test_cache_holds_the_backbone_features_and_teacher_targets(tmp_path: Path) -> None:
    from semapose.data.transforms import normalize_image

    _, model = _tiny_model()
    cache = _cache(tmp_path, model)
    assert not (tmp_path / "cache.partial").exists()
    video = tmp_path / "video"
    runs = [
        TrackRun(
            str(video), 7, list(range(10)), [[28.0 + 2 * t, 18.0, 34.0, 84.0] for t in range(10)]
        )
    ]
    choices = [(t, None) for t in CROP_DEGRADATIONS]
    plans = plan_runs(runs, [0], seed=0, choices=choices, rate=0.6)
    items = list(real_items(runs, [0], plans, SIZE, seed=0))
    x = torch.from_numpy(np.stack([normalize_image(it.crop) for it in items]))
    clean = torch.from_numpy(
        np.stack([normalize_image(it.clean if it.clean is not None else it.crop) for it in items])
    )
    with torch.no_grad():
        want_in = model.encode_frames(x)
        want_clean = model.encode_frames(clean)
        teacher = model.head(want_clean).numpy()
    rows = np.arange(10)
    assert torch.allclose(cache.features(rows), want_in, atol=2e-2, rtol=1e-2)
    assert torch.allclose(cache.features(rows, clean=True), want_clean, atol=2e-2, rtol=1e-2)
    kp, w = teacher_targets(teacher, 4)
    assert np.allclose(cache.rows["keypoints"], kp, atol=1e-4)
    assert np.array_equal(cache.rows["weights"], w)
    assert [str(e) for e in cache.rows["event"]] == [it.event for it in items]
    # windows: ordered by offset, borders repeat the nearest frame
    assert cache.window(0, [-2, -1, 1, 2]).tolist() == [0, 0, 0, 1, 2]
    assert cache.window(9, [-2, -1, 1, 2]).tolist() == [7, 8, 9, 9, 9]
    b = cache.batch(np.array([0, 5]), [-1, 1])
    assert b["feats"].shape == (2, 3, 32, 16, 16)
    assert b["heatmaps"].shape == (2, 3, 17, 16, 16)


def test_render_targets_peak_at_the_keypoints() -> None:
    kp = torch.tensor([[[3.0, 5.0], [10.0, 2.0]]])
    hm = render_targets(kp, torch.tensor([[1.0, 0.0]]), (16, 16))
    assert hm.shape == (1, 2, 16, 16)
    assert hm[0, 0, 5, 3] == 1.0 and hm[0, 0].argmax() == 5 * 16 + 3
    assert hm[0, 1].abs().sum() == 0


def test_cache_fit_resumes_exactly_and_learns(tmp_path: Path) -> None:
    cfg, model = _tiny_model()
    cache = _cache(tmp_path, model)
    cache.rows["weights"][:] = 1.0  # a random tiny teacher is sure of nothing; pretend it is
    rows = np.arange(len(cache))
    fc = CacheFitConfig(steps=6, batch_size=4, log_every=1, checkpoint_every=3, warmup_steps=1)
    _, straight = _tiny_model()
    log_a = fit_on_cache(straight, cfg, cache, rows, fc)
    _, first = _tiny_model()
    half = CacheFitConfig(**{**fc.__dict__})
    fit_on_cache(first, cfg, cache, rows, fc, out_dir=tmp_path / "run")
    state = torch.load(tmp_path / "run" / "fit_state.pt", weights_only=True)
    assert state["step"] == 6
    # interrupt after 3 steps: keep the step-3 checkpoint, resume in a fresh model
    _, part = _tiny_model()

    class Stop(Exception):
        pass

    def stop_at_3(rec: dict) -> None:  # type: ignore[type-arg]
        if rec["step"] == 4:
            raise Stop

    with pytest.raises(Stop):
        fit_on_cache(part, cfg, cache, rows, half, out_dir=tmp_path / "r2", on_log=stop_at_3)
    assert torch.load(tmp_path / "r2" / "fit_state.pt", weights_only=True)["step"] == 3
    _, resumed = _tiny_model()
    log_b = fit_on_cache(resumed, cfg, cache, rows, fc, out_dir=tmp_path / "r2", resume=True)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [r["step"] for r in log_b] == [1, 2, 3, 4, 5, 6]
    assert log_a[-1]["total"] == pytest.approx(log_b[-1]["total"])
    # the residual left zero: the trained temporal model differs from single-frame
    feats = cache.batch(rows[:2], cfg.data.offsets)["feats"]
    with torch.no_grad():
        assert not torch.equal(resumed.temporal(feats), feats[:, resumed.key_index])
    other = CacheFitConfig(**{**fc.__dict__, "lr": 0.5})
    with pytest.raises(CheckpointError, match="fit_config"):
        fit_on_cache(resumed, cfg, cache, rows, other, out_dir=tmp_path / "r2", resume=True)


def test_partial_weights_round_trip_and_refusals(tmp_path: Path) -> None:
    cfg, model = _tiny_model()
    with torch.no_grad():
        for p in model.temporal.parameters():
            p.add_(0.01)
    path = save_partial_weights(model, cfg, tmp_path / "t.safetensors")
    keys = set(deploy_state(model))
    assert keys and all(k.startswith(("temporal.", "head.")) for k in keys)
    assert not any("context_decoder" in k or "pose_head" in k for k in keys)
    _, fresh = _tiny_model()
    meta = load_partial_weights(fresh, path)
    assert meta["semapose_parts"] == "temporal,head"
    for k in keys:
        assert torch.equal(fresh.state_dict()[k], model.state_dict()[k])
    other = build_model(load_config(None, [*SMALL_TEMPORAL, "model.dim=32"]))
    with pytest.raises(CheckpointError, match="expected shape"):
        load_partial_weights(other, path)
    (tmp_path / "bad.safetensors").write_bytes(b"nope")
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_partial_weights(fresh, tmp_path / "bad.safetensors")


def test_partial_weights_load_through_the_predict_loader(tmp_path: Path) -> None:
    """A ``fit`` output file is what ``predict --weights`` takes (config in the metadata)."""
    from semapose.inference.loading import load_model

    cfg, model = _tiny_model()
    with torch.no_grad():
        for p in model.temporal.parameters():
            p.add_(0.01)
    path = save_partial_weights(model, cfg, tmp_path / "temporal.safetensors")
    loaded = load_model(str(path))
    assert loaded.temporal
    got = loaded.model.state_dict()
    for k, v in deploy_state(model).items():
        assert torch.equal(got[k].cpu(), v)


def test_shipped_temporal_weights_load_over_blazepose() -> None:
    """src/semapose/weights/blazepose_temporal.safetensors: temporal + head over the asset."""
    from semapose.weights.assets import cached_asset

    if cached_asset("blazepose_full") is None:
        pytest.skip("the blazepose_full asset is not cached here (semapose fetch blazepose_full)")
    from semapose.inference.loading import load_model
    from semapose.models.partial import is_partial
    from semapose.weights.read import safetensors_metadata

    path = (
        Path(__file__).resolve().parents[1] / "src/semapose/weights/blazepose_temporal.safetensors"
    )
    assert is_partial(safetensors_metadata(path))
    loaded = load_model(str(path))
    cfg, model = loaded.cfg, loaded.model
    assert loaded.temporal and cfg.model.backbone == "blazepose"
    assert cfg.model.temporal == "mlsme_smml" and cfg.data.offsets == [-2, -1, 1, 2]
    feats = torch.randn(1, 5, 48, 64, 64)
    with torch.no_grad():  # trained: the residual is not zero any more
        assert not torch.equal(model.temporal(feats), feats[:, 2])


def test_shipped_temporal_weights_use_their_neighbours(shared_data: Path) -> None:
    """Issue 26: on a real 5-frame clip, the shipped model's heatmaps move when the
    supporting frames are replaced by the key frame (the old weights: < 5e-7)."""
    from semapose.weights.assets import cached_asset

    if cached_asset("blazepose_full") is None:
        pytest.skip("the blazepose_full asset is not cached here (semapose fetch blazepose_full)")
    video = shared_data / "videos" / "two_people_72f.mp4"
    if not video.is_file():
        pytest.skip(f"{video} is missing")
    import cv2

    from semapose.data.transforms import normalize_image
    from semapose.inference.loading import load_model
    from semapose.io.video import FrameSource

    model = load_model("blazepose_temporal").model
    crops = []
    for frame in FrameSource(video).frames(40):
        h, w = frame.image.shape[:2]
        side = min(h, w)  # the middle square of the frame: both men, hugging
        x0 = (w - side) // 2
        crop = cv2.resize(frame.image[:, x0 : x0 + side], (256, 256), interpolation=cv2.INTER_AREA)
        crops.append(normalize_image(crop))
        if len(crops) == 5:
            break
    with torch.no_grad():
        feats = model.encode_frames(torch.from_numpy(np.stack(crops)))[None]
        clip = model.decode_clip(feats)
        alone = model.decode_clip(feats[:, 2:3].expand_as(feats).contiguous())
        noise = model.decode_clip(
            torch.cat(
                [torch.randn_like(feats[:, :2]), feats[:, 2:3], torch.randn_like(feats[:, 3:])], 1
            )
        )
    assert float((clip - alone).abs().max()) > 1e-3
    assert float((clip - noise).abs().max()) > 1e-3
