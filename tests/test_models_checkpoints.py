"""Checkpoint loading: every supported layout round-trips, bad files fail clearly and safely."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from semapose.errors import CheckpointError
from semapose.models import SingleFrameHRNet, SingleFrameViTPose
from semapose.models.backbones.hrnet import convert_hrnet_checkpoint
from semapose.models.checkpoints import detect_layout
from semapose.models.single_frame import init_posetrack_from_coco
from semapose.weights.read import extract_state_dict, load_state_dict_file, save_state_dict_file

# sha256 of the key names of mmpretrain's VisionTransformer as configured by mmpose 1.x
# ViTPose (recorded from mmpretrain 1.2.0): checks the inverse mapping below.
MMPRETRAIN_VIT_KEYS = "17bc89b807879067a15edf23d2d53fb29a439440370e4ae019f9d306b796d1ab"


def _randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial weights and BN statistics so that a wrong mapping changes outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = math.sqrt(1.0 / p[0].numel()) if p.ndim > 1 else 0.1
            p.copy_(torch.randn(p.shape, generator=g) * scale)
            if name.endswith("weight") and p.ndim == 1:
                p.add_(0.5)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def hrnet() -> tuple[SingleFrameHRNet, Tensor, Tensor]:
    torch.manual_seed(0)
    model = _randomise(SingleFrameHRNet(32))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        y = model(x)
    return model, x, y  # type: ignore[return-value]


def _official(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    return {
        k.split(".", 1)[1] if k.startswith(("backbone.", "head.")) else k: v for k, v in sd.items()
    }


HRNET_LAYOUTS = {
    "official": lambda sd: _official(sd),
    "official_checkpoint_pth": lambda sd: {
        "epoch": 10,
        "model": "pose_hrnet",
        "perf": 0.7,
        "state_dict": {"module." + k: v for k, v in _official(sd).items()},
    },
    "mmpose1": lambda sd: {"meta": {"dataset_meta": {"sigmas": np.ones(17)}}, "state_dict": sd},
    "mmpose0": lambda sd: {
        "meta": {"hook_msgs": {"best_score": np.float64(0.74)}},
        "state_dict": {k.replace("head.", "keypoint_head.", 1): v for k, v in sd.items()},
    },
    "no_num_batches_tracked": lambda sd: {
        k: v for k, v in _official(sd).items() if "num_batches_tracked" not in k
    },
}


@pytest.mark.parametrize("layout", sorted(HRNET_LAYOUTS))
def test_hrnet_layouts_round_trip(hrnet, tmp_path: Path, layout: str) -> None:
    model, x, y = hrnet
    obj = HRNET_LAYOUTS[layout](model.state_dict())
    if layout in ("official_checkpoint_pth", "mmpose1"):  # through a file (numpy meta etc.)
        path = tmp_path / "ckpt.pth"
        torch.save(obj, path)
        loaded = SingleFrameHRNet.from_checkpoint(path, width=32)
    else:  # the same steps as from_checkpoint, without the file round trip (test speed)
        sd, found = convert_hrnet_checkpoint(extract_state_dict(obj))
        assert found == ("official" if layout == "no_num_batches_tracked" else layout)
        with torch.device("meta"):
            loaded = SingleFrameHRNet(32)
        loaded.load_converted(sd, path="<memory>", layout=found)
        loaded.eval()
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(x), y)


def test_hrnet_safetensors_and_joint_count(tmp_path: Path) -> None:
    model = _randomise(SingleFrameHRNet(32, num_joints=16))  # e.g. an MPII checkpoint
    path = tmp_path / "mpii.safetensors"
    save_state_dict_file(path, _official(model.state_dict()))
    loaded = SingleFrameHRNet.from_checkpoint(path)
    assert loaded.num_joints == 16 and loaded.stride == 4
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_layout_detection() -> None:
    t = torch.zeros(1)
    assert detect_layout({"conv1.weight": t, "final_layer.weight": t}) == "official"
    assert detect_layout({"backbone.conv1.weight": t, "keypoint_head.final_layer.weight": t}) == (
        "mmpose0"
    )
    assert detect_layout({"backbone.conv1.weight": t, "head.final_layer.weight": t}) == "mmpose1"
    assert detect_layout({"fc.weight": t}) == "unknown"


def _vit_model() -> SingleFrameViTPose:
    torch.manual_seed(1)
    model = _randomise(SingleFrameViTPose("vit_s", img_size=(64, 48)), seed=1)
    with torch.no_grad():  # a non-zero class slot, as in the ViTPose checkpoints
        model.backbone.pos_embed[:, 0] = torch.randn(384) * 0.1
    return model


def _to_mmpretrain(sd: dict[str, Tensor], with_slot: bool) -> dict[str, Tensor]:
    """Our keys -> mmpose 1.x names, written from mmpretrain's VisionTransformer source."""
    block = {
        "norm1": "ln1",
        "norm2": "ln2",
        "attn.qkv": "attn.qkv",
        "attn.proj": "attn.proj",
        "mlp.fc1": "ffn.layers.0.0",
        "mlp.fc2": "ffn.layers.1",
    }
    out = {}
    for k, v in sd.items():
        m = re.match(r"backbone\.blocks\.(\d+)\.(.+)\.(weight|bias)$", k)
        if m:
            k = f"backbone.layers.{m.group(1)}.{block[m.group(2)]}.{m.group(3)}"
        elif k.startswith("backbone.patch_embed.proj."):
            k = k.replace("patch_embed.proj", "patch_embed.projection")
        elif k.startswith("backbone.last_norm."):
            k = k.replace("last_norm", "ln1")
        elif k == "backbone.pos_embed" and not with_slot:
            v = v[:, 1:]
        out[k] = v
    return out


def test_vitpose_official_layout_round_trip(tmp_path: Path) -> None:
    model = _vit_model()
    sd = {k.replace("head.", "keypoint_head.", 1): v for k, v in model.state_dict().items()}
    path = tmp_path / "vitpose_small.pth"
    torch.save({"meta": {"epoch": 210}, "state_dict": sd}, path)
    loaded = SingleFrameViTPose.from_checkpoint(path, arch="vit_s", img_size=(64, 48))
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        assert loaded(x).shape == (2, 17, 16, 12)
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_mmpretrain_names_match_recorded_list() -> None:
    import hashlib

    sd = SingleFrameViTPose("vit_s").backbone.state_dict()
    names = [
        k[len("backbone.") :]
        for k in _to_mmpretrain({"backbone." + k: v for k, v in sd.items()}, False)
    ]
    # mmpretrain registers pos_embed before patch_embed; the order of the rest is ours
    order = ["pos_embed", "patch_embed.projection.weight", "patch_embed.projection.bias"]
    names = order + [n for n in names if n not in order]
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == MMPRETRAIN_VIT_KEYS


@pytest.mark.parametrize("with_slot", [False, True])
def test_vitpose_mmpose1_layout(tmp_path: Path, with_slot: bool) -> None:
    model = _vit_model()
    path = tmp_path / "mmpose1.pth"
    torch.save({"state_dict": _to_mmpretrain(model.state_dict(), with_slot)}, path)
    loaded = SingleFrameViTPose.from_checkpoint(path, arch="vit_s", img_size=(64, 48))
    # mmpose 1.x never adds a class slot: same as moving ours to zero and adding it to the grid
    assert torch.count_nonzero(loaded.backbone.pos_embed[:, 0]) == 0
    expected = _vit_model()
    with torch.no_grad():
        expected.backbone.pos_embed[:, 0] = 0
        x = torch.randn(1, 3, 64, 48)
        torch.testing.assert_close(loaded(x), expected(x), rtol=0, atol=0)


def test_errors_name_missing_unexpected_and_layout(hrnet, tmp_path: Path) -> None:
    model, _, _ = hrnet
    sd = _official(model.state_dict())
    for k in [k for k in sd if k.startswith("stage4.2.")]:
        del sd[k]
    sd["extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as err:
        SingleFrameHRNet.from_checkpoint(path)
    msg = str(err.value)
    assert "'official'" in msg and str(path) in msg
    assert re.search(r"\d+ missing keys: backbone\.stage4\.2\.", msg)
    assert "1 unexpected keys: backbone.extra.weight" in msg
    assert "in all" in msg  # long lists are cut and counted


def test_wrong_arch_gets_a_hint(tmp_path: Path) -> None:
    model = _vit_model()
    path = tmp_path / "s.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    with pytest.raises(CheckpointError, match="looks like vit_s"):
        SingleFrameViTPose.from_checkpoint(path, arch="vit_b", img_size=(64, 48))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        SingleFrameViTPose.from_checkpoint(path, arch="vit_s", img_size=(256, 192))


class _Evil:
    def __reduce__(self):  # would create a file if the loader ran code
        return (Path.touch, (Path(_Evil.target),))

    target = ""


def test_loading_never_runs_code(tmp_path: Path) -> None:
    _Evil.target = str(tmp_path / "pwned")
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": _Evil()}, path)
    with pytest.raises(CheckpointError, match="never unpickles code"):
        load_state_dict_file(path)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(CheckpointError, match="not found"):
        load_state_dict_file(tmp_path / "missing.pth")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError):
        load_state_dict_file(tmp_path / "junk.safetensors")
    torch.save({"epoch": 3}, tmp_path / "empty.pth")
    with pytest.raises(CheckpointError, match="no tensors"):
        load_state_dict_file(tmp_path / "empty.pth")


def test_posetrack_init_from_coco(hrnet) -> None:
    model, _, _ = hrnet
    copy = SingleFrameHRNet(32)
    copy.load_state_dict(model.state_dict())
    init_posetrack_from_coco(copy)  # default: COCO eye channels kept for head_bottom/top
    assert torch.equal(copy.head.final_layer.weight, model.head.final_layer.weight)
    init_posetrack_from_coco(copy, reset_eye_slots=True)
    w0, w1 = model.head.final_layer.weight, copy.head.final_layer.weight
    keep = [i for i in range(17) if i not in (1, 2)]
    assert torch.equal(w0[keep], w1[keep])
    assert not torch.equal(w0[1], w1[1]) and float(copy.head.final_layer.bias[2]) == 0.0
    assert float(w1[1:3].std()) < 0.01


def test_our_own_vit_checkpoint_round_trips(tmp_path: Path) -> None:
    """A semapose-saved ViT (``backbone.blocks.*``) must not get mmpretrain's zeroed class slot."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = SingleFrameViTPose(arch="vit_s").eval()
    with torch.no_grad():
        model.backbone.pos_embed.normal_()
    path = tmp_path / "ours.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    loaded = SingleFrameViTPose.from_checkpoint(path, arch="vit_s").eval()
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


@pytest.mark.parametrize(
    ("content", "got"),
    [(b"", "an empty file"), (b'{"images": [', "starting with b'{\"im'"), (b"\x00\x01", "b'")],
)
def test_non_checkpoint_file_is_named_as_such(tmp_path: Path, content: bytes, got: str) -> None:
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="expected a checkpoint") as info:
        load_state_dict_file(path)
    assert str(path) in str(info.value) and got in str(info.value)
