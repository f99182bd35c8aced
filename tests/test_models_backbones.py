"""Backbones, heads and FLOP counting: key names against the reference code, shapes, maths."""

from __future__ import annotations

import hashlib

import pytest
import torch
from torch import nn

from semapose.models import DeconvHead, FinalLayerHead, count_flops, count_params
from semapose.models.backbones import BACKBONE_NAMES, build_backbone
from semapose.models.backbones.hrnet import HRNet
from semapose.models.backbones.vit import ViT, token_grid
from semapose.models.flops import flops_by_module, params_by_module

# Recorded once from the reference implementations (see docs/backbones.md):
# sha256 of "\n".join(state_dict keys in order) and of repr(list of shapes), and the count.
# deep-high-resolution-net lib/models/pose_hrnet.py, COCO w32_256x192 / w48_384x288 configs
OFFICIAL_HRNET_KEYS = ("5445a22bf2c4142a870ee597d02c6eddd36b4299a2d32574c0c7805395e84f21", 1754)
OFFICIAL_HRNET_SHAPES = {32: "934a752b97b2bad2", 48: "55df44d3574769fd"}
# ViTPose mmpose/models/backbones/vit.py with the COCO 256x192 configs
VITPOSE_KEYS = ("27dd96dab1f3c66949770b090dd345027165229eed08de5ca362c2ad9ab02ecd", 149)
VITPOSE_SHAPES = {"vit_s": "693e351266171e08", "vit_b": "458007e8594c1c99"}


def _digest(items: list[str] | list[tuple[int, ...]]) -> str:
    text = "\n".join(items) if items and isinstance(items[0], str) else repr(items)
    return hashlib.sha256(text.encode()).hexdigest()  # type: ignore[union-attr]


@pytest.mark.parametrize("width", [32, 48])
def test_hrnet_keys_are_the_official_ones(width: int) -> None:
    with torch.device("meta"):  # names and shapes only
        sd = HRNet(width).state_dict()
        head = FinalLayerHead(width, 17).state_dict()
    keys = list(sd) + list(head)
    assert (_digest(keys), len(keys)) == OFFICIAL_HRNET_KEYS
    shapes = [tuple(v.shape) for v in list(sd.values()) + list(head.values())]
    assert _digest(shapes)[:16] == OFFICIAL_HRNET_SHAPES[width]


@pytest.mark.parametrize("arch", ["vit_s", "vit_b"])
def test_vit_keys_are_the_vitpose_ones(arch: str) -> None:
    with torch.device("meta"):
        sd = ViT(arch).state_dict()
    assert (_digest(list(sd)), len(sd)) == VITPOSE_KEYS
    assert _digest([tuple(v.shape) for v in sd.values()])[:16] == VITPOSE_SHAPES[arch]


def test_vit_archs_depths_and_widths() -> None:
    from semapose.models.backbones.vit import VIT_ARCHS

    got = {k: (a.embed_dim, a.depth, a.num_heads) for k, a in VIT_ARCHS.items()}
    assert got == {
        "vit_s": (384, 12, 12),
        "vit_b": (768, 12, 12),
        "vit_l": (1024, 24, 16),
        "vit_h": (1280, 32, 16),
    }
    assert token_grid((256, 192)) == (16, 12)
    assert ViT("vit_s").pos_embed.shape == (1, 1 + 16 * 12, 384)


def test_hrnet_forward_contract() -> None:
    torch.manual_seed(0)
    net = HRNet(32).eval()
    assert (net.out_channels, net.stride) == (32, 4)
    with torch.no_grad():
        # 64x48 is not a multiple of 32: the fuse layers resize to the exact branch size
        out = net(torch.randn(2, 3, 64, 48))
    assert out.shape == (2, 32, 16, 12)
    assert torch.isfinite(out).all()


def test_vit_forward_contract_and_class_slot() -> None:
    torch.manual_seed(0)
    vit = ViT("vit_s", img_size=(64, 48), depth=2).eval()
    assert (vit.out_channels, vit.stride, vit.grid) == (384, 16, (4, 3))
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        out = vit(x)
        assert out.shape == (2, 384, 4, 3)
        # the class slot is added to every token (ViTPose): moving it into the grid
        # part of pos_embed gives the same features
        moved = ViT("vit_s", img_size=(64, 48), depth=2).eval()
        moved.load_state_dict(vit.state_dict())
        moved.pos_embed[:, 1:] += moved.pos_embed[:, :1].clone()
        moved.pos_embed[:, 0] = 0
        torch.testing.assert_close(moved(x), out, rtol=1e-5, atol=1e-5)
        # another input size uses a resized position embedding
        assert vit(torch.randn(1, 3, 96, 64)).shape == (1, 384, 6, 4)


def test_heads_names_and_shapes() -> None:
    head = DeconvHead(384, 17)
    assert [k for k in head.state_dict() if k.endswith("weight")] == [
        "deconv_layers.0.weight",
        "deconv_layers.1.weight",
        "deconv_layers.3.weight",
        "deconv_layers.4.weight",
        "final_layer.weight",
    ]
    assert head(torch.zeros(1, 384, 4, 3)).shape == (1, 17, 16, 12)
    assert DeconvHead(8, 5, num_deconv=0)(torch.zeros(1, 8, 4, 3)).shape == (1, 5, 4, 3)
    assert list(FinalLayerHead(32, 17).state_dict()) == ["final_layer.weight", "final_layer.bias"]
    with pytest.raises(ValueError):
        DeconvHead(8, 5, deconv_kernel=5)


def test_build_backbone_by_name() -> None:
    assert set(BACKBONE_NAMES) >= {"tiny", "hrnet_w32", "hrnet_w48", "vit_s", "vit_b"}
    vit = build_backbone("vit_b", depth=1, img_size=(32, 32))
    assert (vit.out_channels, vit.stride) == (768, 16)
    assert build_backbone("hrnet_w32").out_channels == 32
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("resnet50")


def test_count_flops_matches_hand_counts() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_flops(conv, torch.zeros(1, 3, 10, 12)) == 8 * 10 * 12 * 3 * 9
    assert count_flops(conv, torch.zeros(1, 3, 10, 12), fake=False) == 8 * 10 * 12 * 3 * 9
    lin = nn.Linear(16, 4)
    assert count_flops(lin, torch.zeros(5, 16)) == 5 * 16 * 4
    assert count_params(lin) == 16 * 4 + 4
    lin.weight.requires_grad_(False)
    assert count_params(lin, trainable_only=True) == 4


def test_count_flops_counts_attention() -> None:
    vit = ViT("vit_s", img_size=(64, 48), depth=1)
    n, c, hidden = 12, 384, 4 * 384
    patch = n * c * 3 * 16 * 16
    block = n * c * 3 * c + n * c * c + 2 * n * c * hidden + 2 * n * n * c  # qkv, proj, mlp, attn
    assert count_flops(vit, torch.zeros(1, 3, 64, 48)) == patch + block


def test_per_module_counts_add_up() -> None:
    from semapose.models import SingleFrameHRNet, SingleFrameViTPose

    model = SingleFrameViTPose("vit_s", img_size=(32, 32), depth=1)
    x = torch.zeros(1, 3, 32, 32)
    flops = flops_by_module(model, x)
    assert flops[""] == flops["backbone"] + flops["head"] == count_flops(model, x)
    # 2x2 tokens; a transposed conv costs (input pixels) x cin x cout x k^2
    assert flops["head"] == 2 * 2 * (384 * 256 * 16) + 4 * 4 * (256 * 256 * 16) + 8 * 8 * 256 * 17
    params = params_by_module(model)
    assert params[""] == params["backbone"] + params["head"]
    with torch.device("meta"):
        hrnet = SingleFrameHRNet(32)
    assert count_params(hrnet) == 28536113  # the official W32 count
