"""Affine crop, inverse affine, flip and augmentation helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semapose.data.codec import HeatmapCodec
from semapose.data.transforms import (
    box_to_center_scale,
    crop,
    flip_back_heatmaps,
    flip_joints,
    get_affine_matrix,
    half_body_center_scale,
    invert_affine,
    invert_points,
    normalize_image,
    sample_augmentation,
    transform_points,
)

OUT = (256, 192)


def test_box_to_center_scale_keeps_aspect_and_enlarges() -> None:
    c, s = box_to_center_scale(np.array([10.0, 20.0, 30.0, 200.0]), OUT, 1.25)
    np.testing.assert_allclose(c, [25.0, 120.0])
    assert s[0] / s[1] == pytest.approx(192 / 256)
    assert s[1] == pytest.approx(250.0)  # tall box: height kept, width grown
    c, s = box_to_center_scale(np.array([0.0, 0.0, 300.0, 100.0]), OUT, 1.0)
    assert s[0] == pytest.approx(300.0) and s[1] == pytest.approx(400.0)
    # degenerate boxes still give a usable crop
    _, s = box_to_center_scale(np.array([5.0, 5.0, 0.0, 0.0]), OUT, 1.25)
    assert (s > 0).all()


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("rotation", [0.0, 30.0, -75.0])
def test_affine_round_trip(flip: bool, rotation: float) -> None:
    rng = np.random.default_rng(0)
    center, scale = np.array([321.5, 180.25]), np.array([150.0, 200.0])
    pts = rng.uniform(-50, 700, (4, 17, 2))  # negative image coordinates are valid
    m = get_affine_matrix(center, scale, rotation, OUT, flip)
    crop_pts = transform_points(pts, m)
    back = invert_points(crop_pts, center, scale, rotation, OUT, flip)
    np.testing.assert_allclose(back, pts, atol=1e-9)
    np.testing.assert_allclose(invert_affine(invert_affine(m)), m, atol=1e-9)
    # the centre lands in the middle of the crop, the box width spans the crop width
    mid = transform_points(center[None], get_affine_matrix(center, scale, 0.0, OUT))[0]
    np.testing.assert_allclose(mid, [96.0, 128.0])


def test_batched_invert_points_matches_single() -> None:
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 192, (3, 17, 2))
    centers = rng.uniform(100, 300, (3, 2))
    scales = rng.uniform(100, 300, (3, 2))
    rots = np.array([0.0, 10.0, -20.0])
    flips = np.array([False, True, False])
    batched = invert_points(pts, centers, scales, rots, OUT, flips)
    for i in range(3):
        single = invert_points(pts[i], centers[i], scales[i], rots[i], OUT, bool(flips[i]))
        np.testing.assert_allclose(batched[i], single)


def test_crop_puts_pixels_where_transform_points_says() -> None:
    img = np.zeros((400, 500, 3), np.uint8)
    img[150, 220] = 255
    center, scale = np.array([250.0, 200.0]), np.array([240.0, 320.0])
    for rot in (0.0, 25.0):
        m = get_affine_matrix(center, scale, rot, OUT)
        out = crop(img, m, OUT)
        assert out.shape == (256, 192, 3)
        expected = transform_points(np.array([[220.0, 150.0]]), m)[0]
        weights = out[..., 0].astype(float)
        ys, xs = np.mgrid[: out.shape[0], : out.shape[1]]
        got = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
        assert np.abs(got - expected).max() < 0.5


def test_flipped_crop_is_mirror_image() -> None:
    rng = np.random.default_rng(2)
    img = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    c, s = np.array([200.0, 150.0]), np.array([180.0, 240.0])
    a = crop(img, get_affine_matrix(c, s, 15.0, OUT), OUT).astype(int)
    b = crop(img, get_affine_matrix(c, s, 15.0, OUT, flip=True), OUT).astype(int)
    assert np.abs(a[:, ::-1] - b).max() <= 1  # warpAffine's fixed-point rounding


def test_flip_joints_swaps_pairs_only() -> None:
    kp = np.arange(34, dtype=float).reshape(17, 2)
    f = flip_joints(kp)
    np.testing.assert_array_equal(f[:3], kp[:3])  # nose, head_bottom, head_top stay
    np.testing.assert_array_equal(f[5], kp[6])
    np.testing.assert_array_equal(f[16], kp[15])
    np.testing.assert_array_equal(flip_joints(f), kp)
    vis = np.arange(17.0)
    assert flip_joints(vis)[9] == 10 and flip_joints(vis)[1] == 1


@pytest.mark.parametrize("as_torch", [False, True])
def test_flip_back_heatmaps_recovers_unflipped_prediction(as_torch: bool) -> None:
    codec = HeatmapCodec(OUT, 4, 2.0)
    rng = np.random.default_rng(3)
    kp = rng.uniform([20, 20], [170, 230], (17, 2))
    kp_flipped = flip_joints(np.stack([191 - kp[:, 0], kp[:, 1]], axis=1))
    hm_f, _ = codec.encode(kp_flipped, np.ones(17))
    x = torch.from_numpy(hm_f)[None] if as_torch else hm_f[None]
    back = flip_back_heatmaps(x, stride=4)
    coords, _ = codec.decode(back)
    assert np.abs(coords[0] - kp).max() < 0.1


def test_normalize_image_imagenet() -> None:
    img = np.full((4, 3, 3), [124, 116, 104], np.uint8)
    x = normalize_image(img)
    assert x.shape == (3, 4, 3) and x.dtype == np.float32
    assert np.abs(x).max() < 0.01


def test_sample_augmentation_ranges() -> None:
    rng = np.random.default_rng(4)
    draws = [sample_augmentation(rng, 0.5, 45.0, 0.6, 0.35, 0.3) for _ in range(500)]
    rots = np.array([d.rotation for d in draws])
    sfs = np.array([d.scale_factor for d in draws])
    assert np.abs(rots).max() <= 90 and 0.3 < (rots == 0).mean() < 0.5
    assert sfs.min() >= 0.65 and sfs.max() <= 1.35
    assert 0.4 < np.mean([d.flip for d in draws]) < 0.6
    none = sample_augmentation(rng, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert (none.flip, none.rotation, none.scale_factor, none.half_body) == (False, 0.0, 1.0, False)


def test_half_body_box() -> None:
    rng = np.random.default_rng(5)
    kp = np.stack([np.linspace(0, 100, 17), np.linspace(0, 300, 17)], axis=1)
    vis = np.ones(17)
    got = half_body_center_scale(kp, vis, rng, OUT)
    assert got is not None
    c, s = got
    assert s[1] < 300 * 1.5  # smaller than the whole body
    vis[:] = 0
    vis[:5] = 1
    assert half_body_center_scale(kp, vis, rng, OUT) is None  # too few joints
