"""BlazePose -> PoseTrack18: the keypoint mapping and head rule, MediaPipe's heatmap
refinement, the 17-slot head, and the "blazepose" backbone in build_model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blazepose_helpers import refine_landmarks, tflite_file
from semapose.config import load_config
from semapose.keypoints import (
    BLAZEPOSE_HEAD_WEIGHTS,
    BLAZEPOSE_SHARED_SLOTS,
    BLAZEPOSE_TO_POSETRACK18,
    POSETRACK_KEYPOINTS,
    blazepose_head_points,
    blazepose_mixing_matrix,
    blazepose_to_posetrack18,
)
from semapose.models.backbones import blazepose as bp
from semapose.models.backbones import blazepose_head as bph
from semapose.models.backbones import blazepose_landmarks as bpl
from semapose.models.backbones import blazepose_tflite as bpt
from test_blazepose import real_crops


def upright_pose() -> np.ndarray:
    """33 landmarks (x, y, visibility): ears at y=10, shoulders at y=30, eyes at y=8."""
    lm = np.zeros((33, 3))
    lm[:, 2] = 0.9
    lm[0, :2] = (50, 12)  # nose
    lm[2, :2], lm[5, :2] = (54, 8), (46, 8)  # eyes
    lm[7, :2], lm[8, :2] = (58, 10), (42, 10)  # ears
    lm[11, :2], lm[12, :2] = (65, 30), (35, 30)  # shoulders
    for j in range(13, 33):
        lm[j, :2] = (40 + j, 30 + 3 * j)
    lm[11, 2] = 0.2  # a shoulder with low visibility caps the head points' score
    return lm


def test_mapping_copies_shared_joints_and_places_the_head_by_the_rule():
    lm = upright_pose()
    out = blazepose_to_posetrack18(lm)
    assert out.shape == (17, 3)
    for slot in BLAZEPOSE_SHARED_SLOTS:
        np.testing.assert_array_equal(out[slot], lm[BLAZEPOSE_TO_POSETRACK18[slot]])
    assert [POSETRACK_KEYPOINTS[s] for s in BLAZEPOSE_SHARED_SLOTS[:3]] == [
        "nose",
        "left_shoulder",
        "right_shoulder",
    ]
    # ear centre (50, 10), shoulder centre (50, 30): bottom halfway, top 0.75 x 20 above
    np.testing.assert_allclose(out[1, :2], (50, 20))
    np.testing.assert_allclose(out[2, :2], (50, -5))
    assert out[1, 2] == out[2, 2] == pytest.approx(0.2)
    bottom, top = blazepose_head_points(lm[None, :, :2])
    np.testing.assert_allclose(bottom[0], out[1, :2])
    # the rule follows the head: rotate + scale + shift the pose, the points follow
    theta, scale, shift = 0.4, 1.7, np.array([100.0, -20.0])
    rot = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    moved = lm.copy()
    moved[:, :2] = lm[:, :2] @ rot.T + shift
    np.testing.assert_allclose(
        blazepose_to_posetrack18(moved)[1:3, :2], out[1:3, :2] @ rot.T + shift
    )


def test_mixing_matrix_is_the_same_mapping():
    m = blazepose_mixing_matrix()
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    lm = upright_pose()
    np.testing.assert_allclose(m @ lm[:, :2], blazepose_to_posetrack18(lm)[:, :2])
    assert set(BLAZEPOSE_HEAD_WEIGHTS) == {"head_bottom", "head_top"}


def test_refinement_moves_to_the_weighted_window_mean():
    lm = np.zeros((1, 39, 5))
    lm[0, :, :2] = (100.0, 60.0)  # heatmap cell (25, 15)
    hm = np.full((1, 39, 64, 64), -30.0)
    hm[0, 0, 15, 26] = 5.0  # one confident cell: landmark 0 moves to its corner (104, 60)
    hm[0, 1, 15, 26] = -2.0  # below the 0.5 threshold: landmark 1 stays
    hm[0, 2, 15, 40] = 5.0  # confident but outside the 7x7 window: stays
    xy, peak = refine_landmarks(lm, hm)
    np.testing.assert_allclose(xy[0, 0], (104.0, 60.0), atol=1e-6)
    np.testing.assert_allclose(xy[0, 1:3], [(100.0, 60.0), (100.0, 60.0)])
    assert peak[0, 0] > 0.99 and peak[0, 1] < 0.5
    # the torch version gives the same numbers, also on random logits
    rng = np.random.default_rng(0)
    lm = rng.uniform(-20, 276, (3, 39, 5))
    hm = rng.normal(-1, 3, (3, 39, 64, 64))
    xy_np, peak_np = refine_landmarks(lm, hm)
    xy_t, peak_t = bpl.refine_landmarks_torch(torch.from_numpy(lm), torch.from_numpy(hm))
    np.testing.assert_allclose(xy_t.numpy(), xy_np, atol=1e-9)
    np.testing.assert_allclose(peak_t.numpy(), peak_np, atol=1e-12)


def test_head_state_copies_blazepose_channels_and_the_fitted_head_points(tmp_path):
    state = bp.BlazePose().state_dict()
    head = bph.posetrack_head_state(state)
    w, b = head["final_layer.weight"], head["final_layer.bias"]
    assert w.shape == (17, 48, 1, 1) and b.shape == (17,)
    for slot, j in enumerate(BLAZEPOSE_TO_POSETRACK18):
        if j >= 0:
            assert torch.equal(w[slot], state["heatmap.weight"][j])
    assert bph.head_fit_path().is_file(), "the bundled synthetic-fitted head channels"
    from safetensors.torch import load_file

    fit = load_file(str(bph.head_fit_path()))
    assert torch.equal(w[1, :, 0, 0], fit["head_bottom.weight"])
    fallback = bph.posetrack_head_state(state, fitted=tmp_path / "none.safetensors")
    mouth = state["heatmap.weight"][[9, 10]].mean(0)
    torch.testing.assert_close(fallback["final_layer.weight"][1], mouth)
    module = bph.BlazePoseHead()
    module.load_state_dict(head)
    y = module(torch.randn(2, 48, 64, 64))
    assert y.shape == (2, 17, 64, 64) and float(y.min()) >= 0 and float(y.max()) <= 1


def blazepose_config(**model: object):
    overrides = [
        "model.backbone=blazepose",
        "model.temporal=none",
        "data.image_size=[256,256]",
        "data.offsets=[-1,1]",
    ]
    overrides += [f"model.{k}={v}" for k, v in model.items()]
    return load_config(None, overrides)


def test_build_model_makes_blazepose_with_its_head():
    from semapose.models.build import build_model

    model = build_model(blazepose_config()).eval()
    assert isinstance(model.backbone, bp.BlazePoseBackbone)
    assert isinstance(model.head, bph.BlazePoseHead)
    x = torch.randn(2, 3, 256, 256)
    with torch.no_grad():
        extras = model.encode_with_outputs(x)
        heatmaps = model.decode_clip(extras["features"][:, None].expand(-1, 3, -1, -1, -1))
    assert heatmaps.shape == (2, 17, 64, 64)
    assert {"features", "pose_score", "keypoints", "keypoint_scores"} <= set(extras)
    assert extras["keypoints"].shape == (2, 17, 2)


def test_pretrained_blazepose_estimator_finds_people_on_real_crops(posetrack18_sample):
    """build_model + load_pretrained from the tflite: the single-frame estimator's heatmaps
    (head + codec) put the 13 shared joints near the annotation on real people."""
    from semapose.data.codec import HeatmapCodec
    from semapose.data.transforms import normalize_image
    from semapose.models.build import build_model, load_pretrained

    path = tflite_file()
    model = build_model(blazepose_config()).eval()
    assert set(load_pretrained(model, "blazepose", str(path))) >= {"backbone", "head"}
    crops = real_crops(posetrack18_sample, 6, enlarge=1.5)
    x = torch.from_numpy(np.stack([normalize_image(c) for c in crops]))
    with torch.no_grad():
        extras = model.encode_with_outputs(x)
        heatmaps = model.decode_clip(extras["features"][:, None].expand(-1, 3, -1, -1, -1))
        direct = bpt.load_blazepose(path)(torch.from_numpy(crops).permute(0, 3, 1, 2) / 255.0)
    # the head's shared channels are BlazePose's own heatmaps (sigmoid), computed from
    # ImageNet-normalised input that the backbone un-normalises
    shared = [BLAZEPOSE_TO_POSETRACK18[s] for s in BLAZEPOSE_SHARED_SLOTS]
    torch.testing.assert_close(
        heatmaps[:, list(BLAZEPOSE_SHARED_SLOTS)],
        torch.sigmoid(direct["heatmaps"][:, shared]),
        atol=2e-4,
        rtol=0,
    )
    coords, _ = HeatmapCodec((256, 256), 4, 2.0).decode(heatmaps)
    regressed = extras["keypoints"].numpy()
    # heatmap decoding and the refined regression agree on most visible joints
    close = np.linalg.norm(coords - regressed, axis=-1)[:, list(BLAZEPOSE_SHARED_SLOTS)] < 12
    assert close.mean() > 0.6
    assert (extras["pose_score"] > 0.5).sum() >= 4
