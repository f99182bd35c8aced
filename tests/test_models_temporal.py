"""Unit tests of the temporal building blocks, the masking, SMML, baselines and losses."""

from __future__ import annotations

import pytest
import torch

from semapose.config import LossConfig
from semapose.losses import joints_mse, mask_ratio_scale, masked_token_mse, total_loss
from semapose.models.temporal.baselines import deform_sample
from semapose.models.temporal.mlsme import MLSME
from semapose.models.temporal.smml import SMML
from semapose.models.temporal.tokens import (
    CubeTokenizer,
    DividedBlock,
    patchify,
    sincos_2d,
    unpatchify,
)


@pytest.mark.parametrize("cs,cf", [(1, 1), (2, 1), (2, 3)])
def test_patchify_roundtrip(cs: int, cf: int) -> None:
    x = torch.randn(2, 3, 5, 4, 6)
    cubes = patchify(x, cs, cf)
    assert cubes.shape == (2, 3 // cf, (4 // cs) * (6 // cs), cf * cs * cs * 5)
    assert torch.equal(unpatchify(cubes, (4 // cs, 6 // cs), cs, cf), x)


def test_patchify_groups_neighbouring_pixels() -> None:
    x = torch.arange(16.0).view(1, 1, 1, 4, 4)
    cubes = patchify(x, 2, 1)
    assert cubes[0, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]  # top-left 2x2 cube
    assert cubes[0, 0, 3].tolist() == [10.0, 11.0, 14.0, 15.0]  # bottom-right


def test_sincos_distinct_and_bounded() -> None:
    pe = sincos_2d(16, 4, 3)
    assert pe.shape == (12, 16)
    assert pe.abs().max() <= 1.0
    assert torch.cdist(pe, pe).fill_diagonal_(1.0).min() > 1e-3  # every position differs
    with pytest.raises(ValueError):
        sincos_2d(6, 2, 2)


def test_tokenizer_position_encodings() -> None:
    tok = CubeTokenizer(4, 8, grid=(2, 3), num_slots=5, cube_size=2, cube_frames=1)
    assert tok(torch.randn(2, 5, 4, 4, 6)).shape == (2, 5, 6, 8)
    pe = tok.pos_embed()
    assert pe.shape == (1, 5, 6, 8)
    assert not torch.allclose(pe[0, 0], pe[0, 1])  # temporal part differs per slot


def test_divided_block_is_temporal_then_spatial() -> None:
    """A divided block mixes information across frames only through its temporal attention."""
    torch.manual_seed(0)
    blk = DividedBlock(8, 2, 2.0, 0.0).eval()
    x = torch.randn(1, 3, 4, 8)
    y0 = blk(x)
    x2 = x.clone()
    x2[0, 2, 1] += torch.randn(8)  # change one token of frame 2
    y1 = blk(x2)
    assert not torch.allclose(y0[0, 0], y1[0, 0])  # reaches other frames
    blk.attn_t.proj.weight.data.zero_()
    blk.attn_t.proj.bias.data.zero_()
    assert torch.allclose(blk(x)[0, 0], blk(x2)[0, 0])  # not without temporal attention


def _mlsme(**kw: object) -> MLSME:
    args: dict = dict(cube_size=1, patch_depth=1, frame_depth=1, heads=2, drop_path=0.0)
    args.update(kw)
    return MLSME(4, 8, (4, 5), 5, 2, **args)


def test_tube_mask_counts_and_tubes() -> None:
    m = _mlsme(patch_mask_ratio=0.5).train()
    tube = m.tube_mask(3, torch.device("cpu"))
    assert tube.shape == (3, 20) and tube.sum(1).tolist() == [10, 10, 10]
    _, mask = _mlsme(patch_mask_ratio=0.5, frame_masking=False).train()(torch.randn(3, 5, 4, 4, 5))
    assert mask is not None
    assert (mask == mask[:, :1]).all()  # the same positions in every frame (a tube)


def test_frame_mask_spares_key_frame() -> None:
    m = _mlsme(frame_mask_ratio=0.4)
    fm = m.frame_mask(200, torch.device("cpu"))
    assert fm.sum(1).eq(2).all()
    assert not fm[:, 2].any()
    assert fm[:, [0, 1, 3, 4]].any(0).all()  # every other frame gets masked sometimes
    m_all = _mlsme(frame_mask_ratio=0.4, mask_key_frame=True)
    assert m_all.frame_mask(200, torch.device("cpu"))[:, 2].any()


def test_mask_ratio_scale_and_eval_mode() -> None:
    m = _mlsme().train()
    x = torch.randn(2, 5, 4, 4, 5)
    m.mask_ratio_scale = 0.0
    _, mask = m(x)
    assert mask is not None and not mask.any()
    m.mask_ratio_scale = 1.0
    _, mask = m(x)
    assert mask is not None and mask.any()
    m.eval()
    y, mask = m(x)
    assert mask is None and torch.equal(y, m(x)[0])


def test_variants_own_only_what_they_use() -> None:
    assert _mlsme(patch_masking=False, frame_masking=False).masks_anything is False
    one = MLSME(4, 8, (2, 2), 1, 0, cube_size=1, patch_depth=1, frame_depth=1, heads=2)
    assert one.patch_mask_token is not None and one.frame_mask_token is None  # T=1: key only
    frame_only = _mlsme(levels="frame")
    assert len(frame_only.patch_blocks) == 0 and frame_only.patch_mask_token is None
    with pytest.raises(ValueError):
        _mlsme(levels="patch", patch_depth=0)


def test_smml_weights_are_a_softmax_per_pixel() -> None:
    torch.manual_seed(0)
    smml = SMML(8, 2, 2.0, rounds=2)
    s, m = torch.randn(2, 6, 8), torch.randn(2, 6, 8)
    w, s2, m2 = smml.fusion_weights(s, m)
    assert w.shape == (2, 6, 2)
    assert torch.allclose(w.sum(-1), torch.ones(2, 6))
    fused = smml(s, m)
    assert torch.allclose(fused, w[..., :1] * s2 + w[..., 1:] * m2)


def test_deform_sample_zero_offsets_is_a_dilated_window() -> None:
    x = torch.randn(1, 2, 9, 8)
    out = deform_sample(x, torch.zeros(1, 18, 9, 8), dilation=2).view(1, 9, 2, 9, 8)
    assert torch.allclose(out[:, 4], x, atol=1e-5)  # centre tap
    # tap 0 = (-2, -2): out[y, x] = in[y-2, x-2]; zero outside
    assert torch.allclose(out[0, 0, :, 2:, 2:], x[0, :, :-2, :-2], atol=1e-5)
    assert out[0, 0, :, :2].abs().max() == 0
    # an offset of +1 row on the centre tap samples the next row
    off = torch.zeros(1, 18, 9, 8)
    off[:, 8] = 1.0
    shifted = deform_sample(x, off, dilation=1).view(1, 9, 2, 9, 8)[:, 4]
    assert torch.allclose(shifted[0, :, :-1], x[0, :, 1:], atol=1e-5)


def test_joints_mse_matches_hrnet_definition() -> None:
    torch.manual_seed(0)
    pred, gt = torch.randn(3, 4, 5, 6), torch.randn(3, 4, 5, 6)
    w = torch.rand(3, 4)
    ref = 0.0
    for j in range(4):  # HRNet JointsMSELoss, use_target_weight=True
        p = pred[:, j].reshape(3, -1) * w[:, j : j + 1]
        g = gt[:, j].reshape(3, -1) * w[:, j : j + 1]
        ref += 0.5 * torch.nn.functional.mse_loss(p, g)
    assert torch.allclose(joints_mse(pred, gt, w), ref / 4)
    assert joints_mse(pred, gt, torch.zeros(3, 4)) == 0


def test_masked_token_mse_counts_masked_tokens_only() -> None:
    pred, target = torch.zeros(2, 3, 4), torch.ones(2, 3, 4)
    target[0, 0] = 5.0  # unmasked: must not count
    mask = torch.zeros(2, 3, dtype=torch.bool)
    assert masked_token_mse(pred, target, mask) == 0
    mask[1] = True
    assert masked_token_mse(pred, target, mask) == 1.0


def test_total_loss_weights_and_rejects_unknown_terms() -> None:
    cfg = LossConfig(heatmap=2.0, context=0.5, pose=0.0)
    terms = {"heatmap": torch.tensor(1.0), "context": torch.tensor(4.0), "pose": torch.tensor(3.0)}
    total, weighted = total_loss(terms, cfg)
    assert total.item() == 4.0 and weighted["context"].item() == 2.0
    with pytest.raises(ValueError, match="unknown loss term"):
        total_loss({"extra": torch.tensor(1.0)}, cfg)


def test_mask_ratio_warmup() -> None:
    assert mask_ratio_scale(0.0, 4.0) == 0.0
    assert mask_ratio_scale(1.0, 4.0) == 0.25
    assert mask_ratio_scale(10.0, 4.0) == 1.0
    assert mask_ratio_scale(0.0, 0.0) == 1.0
