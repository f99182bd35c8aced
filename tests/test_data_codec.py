"""HeatmapCodec: encoding, weights, and encode->decode round trips (stated tolerances)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semapose.data.codec import HeatmapCodec, decode_heatmaps

SIZE = (256, 192)  # heatmaps 64 x 48


def _random_keypoints(rng: np.random.Generator, margin_hm: float, n: int = 17) -> np.ndarray:
    """Points whose heatmap coordinates lie at least ``margin_hm`` px inside the 64x48 map."""
    lo = np.array([margin_hm, margin_hm]) * 4
    hi = (np.array([47.0, 63.0]) - margin_hm) * 4
    return rng.uniform(lo, hi, (n, 2))


def test_encode_shapes_peak_and_unbiased_centre() -> None:
    codec = HeatmapCodec(SIZE, 4, 2.0)
    kp = np.array([[50.0, 62.0], [101.0, 33.0]])
    hm, w = codec.encode(kp, np.ones(2))
    assert hm.shape == (2, 64, 48) and hm.dtype == np.float32
    assert w.tolist() == [1.0, 1.0]
    # (50, 62) -> heatmap (12.5, 15.5): four pixels tie, none reaches 1 (no rounding)
    assert hm[0].max() < 1.0
    assert hm[0, 15, 12] == pytest.approx(hm[0, 16, 13])
    # (101, 33) -> (25.25, 8.25): the peak pixel is (25, 8), value exp(-(0.25^2*2)/8)
    assert hm[1, 8, 25] == pytest.approx(np.exp(-0.125 / 8), rel=1e-5)


def test_weights_from_visibility_and_bounds() -> None:
    codec = HeatmapCodec(SIZE, 4, 2.0)
    kp = np.array([[10.0, 10.0], [10.0, 10.0], [-3.0, 10.0], [10.0, 253.0], [188.0, 252.0]])
    vis = np.array([1.0, 0.0, 1.0, 2.0, 1.0])
    hm, w = codec.encode(kp, vis)
    # invisible -> 0; x < 0 -> outside; y/4 = 63.25 > 63 -> outside; (47, 63) -> last pixel, in
    assert w.tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert hm[1].max() == 0 and hm[2].max() == 0 and hm[3].max() == 0
    assert hm[4, 63, 47] == pytest.approx(1.0)


def test_nan_keypoint_gets_zero_weight() -> None:
    codec = HeatmapCodec(SIZE, 4, 2.0)
    hm, w = codec.encode(np.array([[np.nan, 3.0], [20.0, 20.0]]), np.ones(2))
    assert w.tolist() == [0.0, 1.0] and np.isfinite(hm).all()


@pytest.mark.parametrize(
    ("refine", "margin", "tol"),
    [
        ("dark", 1.0, 0.01),  # exact for Gaussian peaks one heatmap px inside the map
        ("dark", 0.0, 2.0),  # outermost pixel: that axis keeps the argmax (<= 0.5 hm px)
        ("quarter", 1.0, 0.25 * 4 * 1.0 + 1e-9),  # |err| <= 0.25 hm px per axis
        ("none", 0.0, 0.5 * 4 + 1e-9),  # |err| <= 0.5 hm px per axis
    ],
)
def test_round_trip_tolerance(refine: str, margin: float, tol: float) -> None:
    rng = np.random.default_rng(0)
    codec = HeatmapCodec(SIZE, 4, 2.0, refine=refine)
    kps = np.stack([_random_keypoints(rng, margin) for _ in range(40)])
    hms = np.stack([codec.encode(k, np.ones(17))[0] for k in kps])
    coords, scores = codec.decode(hms)
    assert coords.shape == (40, 17, 2) and scores.shape == (40, 17)
    err = np.abs(coords - kps).max()
    assert err <= tol, f"{refine}: max error {err:.4f} input px > {tol}"
    assert scores.min() > 0.8


def test_dark_beats_quarter_and_none_in_interior() -> None:
    rng = np.random.default_rng(1)
    kps = np.stack([_random_keypoints(rng, 3.0) for _ in range(20)])
    errs = {}
    for refine in ("dark", "quarter", "none"):
        codec = HeatmapCodec(SIZE, 4, 2.0, refine=refine)
        hms = np.stack([codec.encode(k, np.ones(17))[0] for k in kps])
        errs[refine] = np.linalg.norm(codec.decode(hms)[0] - kps, axis=-1).mean()
    assert errs["dark"] < 0.01 < errs["quarter"] < errs["none"]


def test_dark_with_other_sigma_and_stride() -> None:
    codec = HeatmapCodec((128, 96), stride=2, sigma=3.0)
    rng = np.random.default_rng(2)
    kp = rng.uniform([10, 10], [84, 116], (17, 2))
    coords, _ = codec.decode(codec.encode(kp, np.ones(17))[0])
    assert np.abs(coords - kp).max() < 0.01


def test_decode_accepts_torch_and_single_instance() -> None:
    codec = HeatmapCodec(SIZE, 4, 2.0)
    kp = _random_keypoints(np.random.default_rng(3), 2.0)
    hm, _ = codec.encode(kp, np.ones(17))
    c_np, s_np = codec.decode(hm)
    c_t, s_t = codec.decode(torch.from_numpy(hm)[None].requires_grad_())
    assert c_np.shape == (17, 2) and c_t.shape == (1, 17, 2)
    np.testing.assert_allclose(c_np, c_t[0], atol=1e-6)
    np.testing.assert_allclose(s_np, s_t[0], atol=1e-6)


def test_decode_degenerate_heatmaps_are_finite() -> None:
    hms = np.zeros((2, 3, 8, 6), np.float32)
    hms[0, 1] = -1.0
    hms[1, 2, 0, 0] = np.nan
    hms[1, 0] = np.random.default_rng(0).normal(size=(8, 6))
    for refine in ("dark", "quarter", "none"):
        coords, scores = decode_heatmaps(hms, refine, 2.0)
        assert np.isfinite(coords).all() and np.isfinite(scores).all()
        assert (coords >= -1).all() and (coords[..., 0] <= 6).all()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        HeatmapCodec((250, 192), 4)
    with pytest.raises(ValueError):
        HeatmapCodec(SIZE, 4, refine="bogus")
    with pytest.raises(ValueError):
        HeatmapCodec(SIZE).decode(np.zeros((4, 4)))
