"""Every preset in configs/ builds into a model that runs, and the one model check names the
config file in its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from semapose.config import load_config  # noqa: E402
from semapose.errors import ConfigError  # noqa: E402
from semapose.models.build import build_model  # noqa: E402

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("preset", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_preset_builds_and_decodes_a_clip(preset: Path) -> None:
    """The preset's real sizes (backbone, crop, offsets, temporal module); only the
    pretrained-weights placeholder is dropped. The temporal module and head run on zero
    features of the backbone's shape (the backbone's own forward is tested elsewhere)."""
    cfg = load_config(preset, ["model.backbone_weights="])
    model = build_model(cfg).eval()
    h, w = cfg.data.image_size
    stride = model.backbone.stride
    feats = torch.zeros(1, cfg.num_frames, model.backbone.out_channels, h // stride, w // stride)
    with torch.no_grad():
        heat = model.decode_clip(feats)
    hs = cfg.data.heatmap_stride
    assert heat.shape == (1, cfg.model.num_joints, h // hs, w // hs)


@pytest.mark.parametrize(
    ("name", "override", "key"),
    [
        ("synthetic_cpu_tiny", "model.cube_size=5", "model.cube_size"),
        ("synthetic_cpu_tiny", "model.cube_frames=2", "model.cube_frames"),
        ("synthetic_cpu_tiny", "model.dim=66", "model.dim"),
        ("synthetic_cpu_tiny", "data.heatmap_stride=3", "data.heatmap_stride"),
        ("posetrack18_paper", "data.image_size=[200,192]", "data.image_size"),  # ViT stride 16
    ],
)
def test_model_check_names_the_config_file(name: str, override: str, key: str) -> None:
    preset = next(p for p in CONFIGS if p.stem == name)
    cfg = load_config(preset, [override, "model.backbone_weights="])
    with pytest.raises(ConfigError) as err:
        build_model(cfg)
    assert str(preset) in str(err.value) and key in str(err.value)
