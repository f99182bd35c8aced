"""Single-frame pose models (backbone + heatmap head) that load published checkpoints.

* :class:`SingleFrameHRNet` -- HRNet-W32/W48 + one 1x1 conv (deep-high-resolution-net).
* :class:`SingleFrameViTPose` -- ViTPose-S/B/L/H + the classic two-deconvolution head.

Both take an already normalised (N,3,H,W) tensor (ImageNet mean/std, RGB) and return
(N,J,H/4,W/4) heatmaps. ``from_checkpoint`` accepts the official, mmpose 0.x and
mmpose 1.x key layouts (converted beside each backbone); ``J`` is taken from the
checkpoint's last layer (COCO 17, MPII 16, ...) unless given.
They are how the HRNet and ViT rows of :mod:`semapose.models.backbones.spec` read
published weights (converted and checked here); the loader then puts the tensors
into an :class:`~semapose.models.estimator.Estimator`, the one model every source
loads as.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from semapose.errors import CheckpointError
from semapose.models.backbones.hrnet import HRNet, convert_hrnet_checkpoint
from semapose.models.backbones.vit import VIT_ARCHS, ViT, convert_vit_checkpoint, token_grid
from semapose.models.checkpoints import check_and_load
from semapose.models.heads import DeconvHead, FinalLayerHead
from semapose.weights.read import load_state_dict_file

__all__ = [
    "SingleFrameHRNet",
    "SingleFrameModel",
    "SingleFrameViTPose",
    "init_posetrack_from_coco",
]

#: PoseTrack slots whose COCO counterparts are different joints (eyes -> head_bottom/top)
POSETRACK_REUSED_SLOTS: tuple[int, ...] = (1, 2)


class SingleFrameModel(nn.Module):
    """``head(backbone(x))``; ``backbone`` and ``head`` are public sub-modules."""

    backbone: nn.Module
    head: nn.Module

    @property
    def num_joints(self) -> int:
        return int(self.head.num_joints)  # type: ignore[arg-type]

    @property
    def stride(self) -> int:
        """Input pixels per heatmap pixel."""
        return int(self.backbone.stride) // int(self.head.upsample)  # type: ignore[arg-type]

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))


def _final_layer_joints(sd: Mapping[str, Tensor]) -> int | None:
    weight = sd.get("head.final_layer.weight")
    return int(weight.shape[0]) if weight is not None and weight.ndim == 4 else None


class SingleFrameHRNet(SingleFrameModel):
    """HRNet-W``width`` + ``final_layer``.

    Keys: ``backbone.<official name>`` and ``head.final_layer.*``.
    """

    def __init__(self, width: int = 32, num_joints: int = 17) -> None:
        super().__init__()
        if width not in (32, 48):
            raise ValueError(f"HRNet width must be 32 or 48, got {width}")
        self.backbone = HRNet(width)
        self.head = FinalLayerHead(width, num_joints)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, width: int = 32, num_joints: int | None = None
    ) -> SingleFrameHRNet:
        """Load an official / mmpose 0.x / mmpose 1.x / semapose HRNet checkpoint."""
        return cls.from_state_dict(load_state_dict_file(path), path, width, num_joints)

    @classmethod
    def from_state_dict(
        cls,
        sd: Mapping[str, Tensor],
        path: str | Path,
        width: int = 32,
        num_joints: int | None = None,
    ) -> SingleFrameHRNet:
        """The model from the tensors of an HRNet checkpoint read from ``path`` (any layout)."""
        conv, layout = convert_hrnet_checkpoint(sd)
        return cls.from_converted(conv, layout, path, width, num_joints)

    @classmethod
    def from_converted(
        cls,
        conv: Mapping[str, Tensor],
        layout: str,
        path: str | Path,
        width: int = 32,
        num_joints: int | None = None,
    ) -> SingleFrameHRNet:
        """The model from tensors :func:`convert_hrnet_checkpoint` gave (from ``layout``)."""
        joints = num_joints or _final_layer_joints(conv) or 17
        with torch.device("meta"):  # skip the random init the checkpoint overwrites
            model = cls(width, joints)
        model.load_converted(conv, path=path, layout=layout)
        return model.eval()

    def load_converted(self, sd: Mapping[str, Tensor], *, path: str | Path, layout: str) -> None:
        found = sd.get("backbone.transition1.0.0.weight")
        hint = ""
        if found is not None and int(found.shape[0]) != self.backbone.width:
            hint = f"the checkpoint looks like HRNet-W{int(found.shape[0])}: pass width="
            hint += str(int(found.shape[0]))
        elif not any(k.startswith("backbone.stage4.") for k in sd):
            hint = "the checkpoint does not look like a pose HRNet"
        check_and_load(
            self, sd, path=path, layout=layout, what=f"HRNet-W{self.backbone.width}", hint=hint
        )


class SingleFrameViTPose(SingleFrameModel):
    """ViTPose: plain ViT + classic decoder (2 x deconv 4x4/2 with 256 ch, 1x1 conv).

    ``depth`` overrides the number of blocks (tests); ``img_size`` sets the token
    grid of ``pos_embed`` (256x192 for all published ViTPose checkpoints).
    """

    def __init__(
        self,
        arch: str = "vit_b",
        num_joints: int = 17,
        img_size: tuple[int, int] = (256, 192),
        depth: int | None = None,
        drop_path_rate: float | None = None,
        deconv_channels: int = 256,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.backbone = ViT(arch, img_size=img_size, depth=depth, drop_path_rate=drop_path_rate)
        self.head = DeconvHead(self.backbone.out_channels, num_joints, 2, deconv_channels)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        arch: str = "vit_b",
        num_joints: int | None = None,
        img_size: tuple[int, int] = (256, 192),
    ) -> SingleFrameViTPose:
        """Load an official ViTPose (mmpose 0.x) or mmpose 1.x ViTPose checkpoint."""
        if arch not in VIT_ARCHS:
            raise ValueError(f"unknown ViT arch {arch!r}; expected one of {sorted(VIT_ARCHS)}")
        return cls.from_state_dict(load_state_dict_file(path), path, arch, num_joints, img_size)

    @classmethod
    def from_state_dict(
        cls,
        sd: Mapping[str, Tensor],
        path: str | Path,
        arch: str = "vit_b",
        num_joints: int | None = None,
        img_size: tuple[int, int] = (256, 192),
    ) -> SingleFrameViTPose:
        """The model from the tensors of a ViTPose checkpoint read from ``path`` (any layout)."""
        grid = token_grid(img_size)
        conv, layout = convert_vit_checkpoint(sd, grid[0] * grid[1])
        return cls.from_converted(conv, layout, path, arch, num_joints, img_size, 0.0)

    @classmethod
    def from_converted(
        cls,
        conv: Mapping[str, Tensor],
        layout: str,
        path: str | Path,
        arch: str = "vit_b",
        num_joints: int | None = None,
        img_size: tuple[int, int] = (256, 192),
        drop_path_rate: float | None = 0.0,
    ) -> SingleFrameViTPose:
        """The model from tensors :func:`convert_vit_checkpoint` gave (from ``layout``);
        ``drop_path_rate`` None: the arch's own."""
        joints = num_joints or _final_layer_joints(conv) or 17
        with torch.device("meta"):
            model = cls(arch, joints, img_size=img_size, drop_path_rate=drop_path_rate)
        model.load_converted(conv, path=path, layout=layout)
        return model.eval()

    def load_converted(self, sd: Mapping[str, Tensor], *, path: str | Path, layout: str) -> None:
        hint = ""
        qkv = sd.get("backbone.blocks.0.attn.qkv.weight")
        if qkv is not None:
            dim = int(qkv.shape[1])
            depth = len({k.split(".")[2] for k in sd if k.startswith("backbone.blocks.")})
            guess = [n for n, a in VIT_ARCHS.items() if a.embed_dim == dim and a.depth == depth]
            if guess and guess[0] != self.arch:
                hint = f"the checkpoint looks like {guess[0]}: pass arch={guess[0]!r}"
        elif not any(k.startswith("backbone.") for k in sd):
            hint = "the checkpoint does not look like a ViTPose model"
        if any(".upsample" in k or k.startswith("head.conv_layers") for k in sd):
            hint = (
                hint + "; " if hint else ""
            ) + "only the classic deconvolution head is supported"
        check_and_load(self, sd, path=path, layout=layout, what=f"ViTPose {self.arch}", hint=hint)


def init_posetrack_from_coco(model: SingleFrameModel, reset_eye_slots: bool = False) -> None:
    """Prepare a COCO-trained single-frame model for PoseTrack's 17 slots.

    PoseTrack18 keeps COCO's slot order except that slots 1 and 2 (COCO's left and
    right eye) hold ``head_bottom`` and ``head_top``. By default the COCO eye channels
    are kept as the initialisation of those two outputs (the common practice of
    PoseWarper/DCPose, which fine-tune the COCO head on PoseTrack as is). With
    ``reset_eye_slots=True`` those two output channels get the head's random
    initialisation (N(0, 0.001) weights, zero bias) instead. All other channels
    (nose, ears, body joints) are unchanged.
    """
    final = getattr(model.head, "final_layer", None)
    if not isinstance(final, nn.Conv2d) or final.out_channels != 17:
        raise CheckpointError("init_posetrack_from_coco needs a 17-joint COCO head")
    if reset_eye_slots:
        with torch.no_grad():
            for slot in POSETRACK_REUSED_SLOTS:
                nn.init.normal_(final.weight[slot], std=0.001)
                if final.bias is not None:
                    final.bias[slot] = 0.0
