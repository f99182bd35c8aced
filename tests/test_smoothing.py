"""One-Euro keypoint smoothing: steadier still keypoints, little lag, causal, scale-free."""

from __future__ import annotations

import numpy as np
import pytest

from semapose.inference.results import FramePoses, PersonPose
from semapose.inference.smoothing import OneEuroSmoother, jitter


def frames_of(centres: np.ndarray, noise: float, height: float = 200.0, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    base = np.stack([np.linspace(-0.2, 0.2, 17), np.linspace(-0.5, 0.5, 17)], axis=1) * height
    out = []
    for i, c in enumerate(centres):
        kp = base + c + rng.normal(0, noise, size=(17, 2))
        box = np.array([c[0] - height / 4, c[1] - height / 2, height / 2, height])
        out.append(FramePoses(i, [PersonPose(3, box, 0.9, kp, np.full(17, 0.9))]))
    return out


def series(frames: list) -> dict:
    return {
        3: [(f.index, f.persons[0].keypoints, f.persons[0].scores, float(f.persons[0].box[3]))
            for f in frames]
    }  # fmt: skip


def test_still_person_trembles_less() -> None:
    raw = frames_of(np.tile([[500.0, 400.0]], (60, 1)), noise=2.0)
    smooth = OneEuroSmoother(fps=30)(raw)
    j_raw, j_smooth = jitter(series(raw)), jitter(series(smooth))
    assert j_smooth < 0.35 * j_raw
    assert raw[10].persons[0].keypoints is not smooth[10].persons[0].keypoints  # input unchanged


def test_walking_person_followed_with_little_lag() -> None:
    # 1 person-height per second to the right (200 px/s at 30 fps), no noise
    centres = np.stack([500 + np.arange(60) * 200 / 30, np.full(60, 400.0)], axis=1)
    raw = frames_of(centres, noise=0.0)
    smooth = OneEuroSmoother(fps=30)(raw)
    lag = np.abs(smooth[-1].persons[0].keypoints - raw[-1].persons[0].keypoints).max()
    assert lag < 0.1 * 200  # under a tenth of the person's height
    weak = OneEuroSmoother(fps=30, beta=0.0)(raw)  # no speed adaptation: more lag
    assert np.abs(weak[-1].persons[0].keypoints - raw[-1].persons[0].keypoints).max() > lag


def test_causal_and_scale_free() -> None:
    raw = frames_of(np.tile([[500.0, 400.0]], (30, 1)), noise=2.0)
    whole = OneEuroSmoother()(raw)
    prefix = OneEuroSmoother()(raw[:12])
    assert np.array_equal(whole[11].persons[0].keypoints, prefix[11].persons[0].keypoints)
    big = frames_of(np.tile([[1000.0, 800.0]], (30, 1)), noise=4.0, height=400.0)
    j_small = jitter(series(OneEuroSmoother()(raw))) / jitter(series(raw))
    j_big = jitter(series(OneEuroSmoother()(big))) / jitter(series(big))
    assert j_small == pytest.approx(j_big, rel=0.1)


def test_gap_restarts_the_track_and_bad_parameters_refused() -> None:
    sm = OneEuroSmoother(reset_after=2)
    a = np.zeros((17, 2))
    sm.smooth_keypoints(1, 0, a, 100)
    far = np.full((17, 2), 50.0)
    assert np.array_equal(sm.smooth_keypoints(1, 10, far, 100), far)  # long gap: no pull back
    assert not np.array_equal(sm.smooth_keypoints(1, 11, far + 10, 100), far + 10)
    with pytest.raises(ValueError, match="positive"):
        OneEuroSmoother(fps=0)
