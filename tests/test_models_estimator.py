"""The estimator end to end: every temporal variant, masking, gradients, cache, export."""

from __future__ import annotations

import io
import time

import pytest
import torch

from semapose.config import Config, load_config
from semapose.errors import ConfigError
from semapose.losses import joints_mse, total_loss
from semapose.models.build import build_model
from semapose.models.estimator import Estimator

H, W = 32, 24  # tiny backbone (stride 4): 8x6 features, 4x3 tokens with cube_size 2
OFFSETS = {1: [], 3: [-1, 1], 5: [-2, -1, 1, 2]}
SMALL = [
    f"data.image_size=[{H},{W}]",
    "model.dim=16",
    "model.heads=2",
    "model.patch_depth=1",
    "model.frame_depth=1",
    "model.decoder_depth=1",
    "model.drop_path=0.0",
]
VARIANTS = {
    "single_frame": ["model.temporal=none"],
    "temporal_difference": ["model.temporal=temporal_difference"],
    "heatmap_warping": ["model.temporal=heatmap_warping", "model.warp_dilations=[1,2]"],
    "ours": ["model.temporal=mlsme_smml"],
    "ours_no_masking": ["model.patch_masking=false", "model.frame_masking=false"],
    "ours_patch_only": ["model.mlsme_levels=patch"],
    "ours_frame_only": ["model.mlsme_levels=frame"],
    "ours_concat": ["model.fusion=concat"],
    "ours_no_key_skip": ["model.key_skip=false", "model.smml_rounds=2"],
    "ours_masked_main_pass": ["model.main_pass=masked"],
    "ours_pixel_decoder": ["model.pixel_decoder=8"],
    "ours_frame_fusion": ["model.pixel_decoder=8", "model.frame_fusion=4"],
}


def make_cfg(variant: str, frames: int = 3, extra: list[str] | None = None) -> Config:
    offsets = "[" + ",".join(str(o) for o in OFFSETS[frames]) + "]"
    return load_config(
        None, SMALL + VARIANTS[variant] + [f"data.offsets={offsets}"] + (extra or [])
    )


def make_model(variant: str, frames: int = 3, extra: list[str] | None = None) -> Estimator:
    torch.manual_seed(0)
    return build_model(make_cfg(variant, frames, extra))


def wake(model: Estimator) -> Estimator:
    """Give the zero-initialised output layers of the temporal residual small random values.

    Untrained, the residual is exactly zero (so nothing upstream of it gets a gradient
    and the supporting frames cannot change the output); a trained model's is not.
    """
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in model.temporal.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and not m.weight.any():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.02)
        mix = getattr(model.temporal, "mix", None)  # the frame fusion's zero-started mix
        if mix is not None and not mix.any():
            mix.copy_(torch.randn(mix.shape, generator=g) * 0.02)
    return model


def batch(frames: int, b: int = 2, joints: int = 17) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {
        "images": torch.randn(b, frames, 3, H, W, generator=g),
        "heatmaps": torch.rand(b, frames, joints, H // 4, W // 4, generator=g),
        "target_weights": torch.ones(b, frames, joints),
        "key_index": torch.full((b,), sum(1 for o in OFFSETS[frames] if o < 0)),
    }


@pytest.mark.parametrize("frames", [1, 3, 5])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_shapes_every_variant_and_clip_length(variant: str, frames: int) -> None:
    model = make_model(variant, frames)
    data = batch(frames)
    model.train()
    terms = model.forward_train(data)
    expected = {"heatmap"}
    if variant.startswith("ours"):
        expected.add("pose")
        # nothing to mask: no masking at all, or frame masking of a lone key frame
        if variant != "ours_no_masking" and not (variant == "ours_frame_only" and frames == 1):
            expected.add("context")
    assert set(terms) == expected
    assert all(v.ndim == 0 and torch.isfinite(v) for v in terms.values())
    model.eval()
    with torch.no_grad():
        out = model(data["images"])
    assert out.shape == (2, 17, H // 4, W // 4)


def test_masking_changes_nothing_in_eval_mode() -> None:
    masked = make_model("ours", 5).eval()
    plain = make_model("ours_no_masking", 5).eval()
    missing, unexpected = plain.load_state_dict(masked.state_dict(), strict=False)
    assert not missing
    assert unexpected and all("mask_token" in k or "context_decoder" in k for k in unexpected)
    clip = batch(5)["images"]
    with torch.no_grad():
        a, b, c = masked(clip), masked(clip), plain(clip)
    assert torch.equal(a, b)
    assert torch.equal(a, c)


def test_masking_is_live_in_training_mode() -> None:
    feats = torch.randn(2, 5, 32, H // 4, W // 4)
    for main_pass in ("clean", "masked"):
        model = wake(make_model("ours", 5, [f"model.main_pass={main_pass}"])).train()
        model.set_mask_ratio_scale(0.0)
        a, aux_a = model.temporal.forward_train(feats)
        assert not aux_a["context_mask"].any()
        model.set_mask_ratio_scale(1.0)
        b, aux_b = model.temporal.forward_train(feats)
        # 12 tokens per frame: 6 in a tube, plus 2 of the 4 supporting frames in full
        assert aux_b["context_mask"].sum(dim=(1, 2)).tolist() == [6 * 3 + 2 * 12] * 2
        assert not aux_b["context_mask"][:, 2].all()
        assert not torch.allclose(aux_a["pose_heatmaps"], aux_b["pose_heatmaps"])
        if main_pass == "clean":  # the main output is what inference computes
            assert torch.allclose(a, b, atol=1e-6)
            with torch.no_grad():
                assert torch.allclose(a, model.eval().temporal(feats), atol=1e-5)
        else:
            assert not torch.allclose(a, b)
    with pytest.raises(ValueError):
        model.set_mask_ratio_scale(1.5)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gradients_reach_every_trainable_parameter(variant: str) -> None:
    model = wake(make_model(variant, 3)).train()
    terms = model.forward_train(batch(3))
    sum(terms.values()).backward()
    dead = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert not dead


def test_frozen_backbone_keeps_weights_and_batchnorm_fixed() -> None:
    model = make_model("ours", 3, ["model.freeze_backbone=true"]).train()
    assert not model.backbone.training and model.temporal.training
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    sum(model.forward_train(batch(3)).values()).backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.backbone.state_dict().items())
    assert model.param_count()["backbone"] > 0


def test_feature_cache_matches_plain_forward() -> None:
    """Encode each frame of a video once, slide clips over the cache: same heatmaps."""
    model = make_model("ours", 3).eval()
    video = torch.randn(6, 3, H, W)
    with torch.no_grad():
        cache = model.encode_frames(video)
        for k in range(1, 5):
            clip = video[k - 1 : k + 2]
            cached = model.decode_clip(cache[k - 1 : k + 2][None])
            assert torch.allclose(cached, model(clip[None]), atol=1e-5, rtol=1e-4)


def test_batch_key_index_must_match() -> None:
    model = make_model("ours", 3).train()
    data = batch(3)
    data["key_index"] = torch.tensor([0, 0])
    with pytest.raises(ValueError, match="key_index"):
        model.forward_train(data)
    with pytest.raises(ValueError, match="images"):
        model.forward_train(data["images"][:, :2], data["heatmaps"], data["target_weights"])
    with pytest.raises(ValueError, match="image_size"):
        small = data["images"][..., :16, :12]
        model.forward_train(small, data["heatmaps"], data["target_weights"])


def test_tiny_model_overfits_a_few_synthetic_clips() -> None:
    """Bright joint blobs that move over 3 frames; eval loss must fall > 10x in 40 steps."""
    torch.manual_seed(0)
    cfg = make_cfg("ours", 3, ["model.num_joints=3", "model.dim=32"])
    model = build_model(cfg)
    n, t, j, h, w = 4, 3, 3, H // 4, W // 4
    g = torch.Generator().manual_seed(1)
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    start = torch.rand(n, j, 2, generator=g) * torch.tensor([h - 3.0, w - 3.0]) + 1
    speed = torch.rand(n, j, 2, generator=g) - 0.5
    pos = start[:, None] + speed[:, None] * (torch.arange(t).float() - 1)[None, :, None, None]
    d2 = (ys - pos[..., 0, None, None]) ** 2 + (xs - pos[..., 1, None, None]) ** 2
    heat = torch.exp(-d2 / 2.0)  # (n, t, j, h, w)
    images = torch.nn.functional.interpolate(heat.flatten(0, 1), size=(H, W), mode="bilinear")
    images = 3.0 * images.unflatten(0, (n, t))
    weights = torch.ones(n, t, j)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(joints_mse(model(images), heat[:, 1], weights[:, 1]))

    start_loss = eval_loss()
    t0 = time.perf_counter()
    for _ in range(40):
        model.train()
        loss, _ = total_loss(model.forward_train(images, heat, weights), cfg.loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert time.perf_counter() - t0 < 30
    final = eval_loss()
    print(f"overfit: {start_loss:.5f} -> {final:.5f} ({start_loss / final:.1f}x)")
    assert final < start_loss / 10


def test_accounting_per_part() -> None:
    ours = make_model("ours", 3)
    counts = ours.param_count()
    assert counts["total"] == sum(p.numel() for p in ours.parameters())
    deployed = ours.param_count(inference_only=True)
    assert 0 < deployed["temporal"] < counts["temporal"]
    assert deployed["backbone"] == counts["backbone"]
    flops = ours.flops_per_clip()
    assert flops["backbone"] == 3 * flops["backbone_per_frame"] > 0
    assert flops["temporal"] > 0 and flops["head"] > 0
    assert flops["total"] == flops["backbone"] + flops["temporal"] + flops["head"]
    assert ours.training  # restored
    single = make_model("single_frame", 3)
    assert single.flops_per_clip()["temporal"] == 0
    assert single.param_count()["temporal"] == 0


@pytest.mark.parametrize(
    "override",
    ["model.cube_size=4", "model.cube_frames=2", "model.frame_depth=0", "model.dim=18"],
)
def test_build_rejects_inconsistent_sizes(override: str) -> None:
    with pytest.raises(ConfigError):
        build_model(make_cfg("ours", 3, [override]))


def test_autocast_training_step_is_finite() -> None:
    model = make_model("ours", 3).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = model.forward_train(batch(3))
    assert all(torch.isfinite(v) for v in terms.values())
    sum(terms.values()).backward()


class _Decode(torch.nn.Module):
    def __init__(self, model: Estimator) -> None:
        super().__init__()
        self.model = model

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.model.decode_clip(feats)


@pytest.mark.parametrize("variant", ["ours", "heatmap_warping", "temporal_difference"])
def test_decode_clip_traces_and_exports_to_onnx(variant: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    model = make_model(variant, 3)
    dec = _Decode(model).eval()
    feats = torch.randn(2, 3, 32, H // 4, W // 4)
    other = torch.randn(3, 3, 32, H // 4, W // 4)
    with torch.no_grad():
        traced = torch.jit.trace(dec, feats)
        assert torch.allclose(traced(other), dec(other), atol=1e-6)
        buf = io.BytesIO()
        torch.onnx.export(
            dec,
            (feats,),
            buf,
            dynamo=False,
            opset_version=17,
            input_names=["feats"],
            dynamic_axes={"feats": {0: "batch"}},
        )
        dec.eval()  # export restores the wrapper's mode
        ref = dec(other).numpy()
    out = ort.InferenceSession(buf.getvalue()).run(None, {"feats": other.numpy()})[0]
    assert abs(out - ref).max() <= 1e-4 * max(1.0, abs(ref).max())


def test_backbone_weights_load_backbone_and_heads(tmp_path: pytest.TempPathFactory) -> None:
    from semapose.weights.read import save_state_dict_file

    source = make_model("single_frame", 1)
    torch.nn.init.normal_(source.head.final_layer.weight, std=0.1)
    path = tmp_path / "tiny.safetensors"  # type: ignore[operator]
    save_state_dict_file(path, source.state_dict())
    model = build_model(make_cfg("ours", 3, [f"model.backbone_weights={path}"]))
    for k, v in source.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[k], v)
    weight = source.head.final_layer.weight
    assert torch.equal(model.head.final_layer.weight, weight)
    assert torch.equal(model.temporal.pose_head.final_layer.weight, weight)
    with pytest.warns(UserWarning, match="head"):
        build_model(make_cfg("ours", 3, [f"model.backbone_weights={path}", "model.num_joints=5"]))


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "ours_no_key_skip"])
@pytest.mark.parametrize("frames", [3, 5])
def test_untrained_temporal_model_is_the_single_frame_model_exactly(
    variant: str, frames: int
) -> None:
    """The residual starts at exactly zero: same bits as the single-frame model, any input."""
    model = make_model(variant, frames).eval()
    k = model.key_index
    clip = batch(frames)["images"]
    feats = torch.randn(2, frames, 32, H // 4, W // 4) * 10
    with torch.no_grad():
        single = model.head(model.backbone(clip[:, k]))
        assert torch.equal(model(clip), single)
        assert torch.equal(model.temporal(feats), feats[:, k])
        model.train()  # masking and both passes in training mode: still the key features
        fused, _ = model.temporal.forward_train(feats)
        assert torch.equal(fused, feats[:, k])


def test_zero_start_still_trains() -> None:
    """One optimiser step moves the residual off zero (the output layer gets a gradient)."""
    model = make_model("ours", 3).train()
    opt = torch.optim.SGD([p for p in model.temporal.parameters()], lr=1.0)
    model.forward_train(batch(3))["heatmap"].backward()
    assert model.temporal.out.weight.grad is not None and model.temporal.out.weight.grad.any()
    opt.step()
    feats = torch.randn(2, 3, 32, H // 4, W // 4)
    with torch.no_grad():
        assert not torch.equal(model.eval().temporal(feats), feats[:, 1])


def test_cubes_spanning_two_frames() -> None:
    """cube_frames=2 with T=4 (offsets -1, 1, 2): two temporal slots, key in slot 0."""
    torch.manual_seed(0)
    cfg = load_config(None, SMALL + ["data.offsets=[-1,1,2]", "model.cube_frames=2"])
    model = build_model(cfg).train()
    g = torch.Generator().manual_seed(0)
    data = {
        "images": torch.randn(2, 4, 3, H, W, generator=g),
        "heatmaps": torch.rand(2, 4, 17, H // 4, W // 4, generator=g),
        "target_weights": torch.ones(2, 4, 17),
    }
    terms = model.forward_train(data)
    assert set(terms) == {"heatmap", "context", "pose"}
    sum(terms.values()).backward()
    model.eval()
    assert model(data["images"]).shape == (2, 17, H // 4, W // 4)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_key_frame_output_depends_on_supporting_frames(variant: str) -> None:
    """The temporal module's key-frame features change when only a supporting frame does."""
    model = wake(make_model(variant, 3)).eval()
    feats = torch.randn(2, 3, 32, H // 4, W // 4)
    moved = feats.clone()
    moved[:, 0] = torch.randn_like(moved[:, 0])
    with torch.no_grad():
        diff = (model.temporal(feats) - model.temporal(moved)).abs().max().item()
        heat_diff = (model.decode_clip(feats) - model.decode_clip(moved)).abs().max().item()
    if variant == "single_frame":
        assert diff == 0.0 and heat_diff == 0.0
    else:
        assert diff > 1e-6 and heat_diff > 0.0


@pytest.mark.parametrize("variant", ["ours", "temporal_difference", "heatmap_warping"])
def test_skip_gate_init_reaches_every_gated_module(variant: str) -> None:
    """``model.skip_gate_init`` sets the residual gate of ours and of both baselines."""
    model = build_model(make_cfg(variant, 3, ["model.skip_gate_init=0.7"]))
    assert torch.allclose(model.temporal.gate, torch.full_like(model.temporal.gate, 0.7))
    with pytest.raises(ConfigError, match="skip_gate_init"):
        make_cfg(variant, 3, ["model.skip_gate_init=-1"])
