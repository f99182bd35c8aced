"""The backbone table: one row per name, the only place backbone names are compared."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from semapose.config import BACKBONE_NAMES
from semapose.errors import CheckpointError
from semapose.models.backbones.spec import (
    BACKBONES,
    _hook,
    recognise_checkpoint,
    spec_for_file,
    spec_of,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "semapose"


def test_one_row_per_config_name_and_every_hook_resolves() -> None:
    assert list(BACKBONES) == list(BACKBONE_NAMES)
    for spec in BACKBONES.values():
        for ref in (spec.network, spec.pretrained, spec.head, spec.recognise, spec.head_settings):
            if ref:
                assert callable(_hook(ref)), (spec.name, ref)
    with pytest.raises(ValueError, match="unknown backbone"):
        spec_of("resnet50")


def test_default_weights_are_names_the_resolver_knows() -> None:
    from semapose.weights import assets, download

    for spec in BACKBONES.values():
        if spec.default_weights:
            known = spec.default_weights in assets.ASSETS or spec.default_weights in (
                download.KNOWN_WEIGHTS
            )
            assert known, spec.name


def test_own_formats_and_bare_checkpoints_are_recognised(tmp_path: Path) -> None:
    from semapose.models.single_frame import SingleFrameHRNet, SingleFrameViTPose

    assert spec_for_file(tmp_path / "x.tflite") is BACKBONES["blazepose"]
    assert spec_for_file(tmp_path / "x.pth") is None
    with torch.device("meta"):
        hrnet = SingleFrameHRNet(48).state_dict()
        vit = SingleFrameViTPose("vit_s").state_dict()
    assert recognise_checkpoint(hrnet, "h.pth").name == "hrnet_w48"
    assert recognise_checkpoint(vit, "v.pth").name == "vit_s"
    w18 = {"backbone.transition1.0.0.weight": torch.zeros(18, 256, 3, 3)}
    with pytest.raises(CheckpointError, match="hrnet_w18, which semapose does not build"):
        recognise_checkpoint(w18, "w18.pth")
    with pytest.raises(CheckpointError, match="expected a semapose checkpoint or an official"):
        recognise_checkpoint({"fc.weight": torch.zeros(2, 2)}, "r.pth")


def _compared_names(path: Path) -> list[str]:
    """Backbone names (or their family prefixes) used in comparisons or startswith."""
    names = set(BACKBONE_NAMES) | {"hrnet", "hrnet_w", "vit", "vit_"}
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        operands: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "endswith")
        ):
            operands = list(node.args)
        for op in operands:
            for const in ast.walk(op):
                if isinstance(const, ast.Constant) and const.value in names:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {const.value!r}")
    return found


def test_backbone_names_are_compared_only_in_the_spec() -> None:
    spec = SRC / "models" / "backbones" / "spec.py"
    found = [f for p in sorted(SRC.rglob("*.py")) if p != spec for f in _compared_names(p)]
    assert not found, found


@pytest.mark.parametrize("arch", ["hrnet_w32", "vit_s"])
def test_bare_official_checkpoint_loads_as_the_single_frame_estimator(
    tmp_path: Path, arch: str
) -> None:
    """An official-layout file through the one loader gives the heatmaps of the published
    single-frame model (an Estimator with T = 1), its joints and head channels read from it."""
    from semapose.inference.loading import load
    from semapose.models.single_frame import SingleFrameHRNet, SingleFrameViTPose

    torch.manual_seed(0)
    ref: torch.nn.Module
    if arch == "hrnet_w32":
        ref = SingleFrameHRNet(32, num_joints=16)
    else:
        ref = SingleFrameViTPose("vit_s", num_joints=16, img_size=(64, 48))
    for name, t in ref.state_dict().items():  # random statistics: a test that can fail
        if name.endswith("running_var"):
            t.uniform_(0.5, 1.5)
        elif t.is_floating_point():
            t.copy_(torch.randn_like(t) * 0.05)
    sd = {k.split(".", 1)[1] if arch == "hrnet_w32" else k: v for k, v in ref.state_dict().items()}
    if arch != "hrnet_w32":  # mmpose 0.x names of the ViTPose release
        sd = {k.replace("head.", "keypoint_head.", 1): v for k, v in sd.items()}
    path = tmp_path / f"{arch}_coco_064x048.pth"
    torch.save({"state_dict": sd}, path)
    loaded = load(path)
    assert loaded.cfg.model.backbone == arch and loaded.cfg.model.num_joints == 16
    assert loaded.cfg.data.image_size == (64, 48) and not loaded.temporal
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        want = ref.eval()(x)
        feats = loaded.model.encode_frames(x)[:, None]
        got = loaded.model.decode_clip(feats)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
