"""Plain vision transformer backbone as in ViTPose (Xu et al., NeurIPS 2022).

Parameter names are those of the official ViTPose backbone
(``ViTAE-Transformer/ViTPose``, ``mmpose/models/backbones/vit.py``):
``patch_embed.proj``, ``pos_embed``, ``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``
and ``last_norm``. mmpose 1.x (mmpretrain ``VisionTransformer``) names are mapped by
:func:`convert_vit_checkpoint` at the end of this module.

Behaviour that matters for matching the official heatmaps:

* the patch embedding is a 16x16 stride-16 convolution with **padding 2**, so a
  256x192 crop gives 16x12 tokens;
* ``pos_embed`` keeps the class-token slot of the pre-trained checkpoints
  (shape ``(1, 1 + h*w, C)``) although no class token is used; the forward adds
  ``pos_embed[:, 1:] + pos_embed[:, :1]`` to the patch tokens, as ViTPose does;
* LayerNorm eps 1e-6, exact GELU, qkv with bias, ``last_norm`` after the blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from semapose.models.backbones.spec import Backbone, Pretrained
    from semapose.weights.read import WeightsFile

__all__ = ["VIT_ARCHS", "ViT", "ViTArch", "convert_vit_checkpoint", "token_grid"]


@dataclass(frozen=True)
class ViTArch:
    """Size of a ViTPose backbone (values from the ViTPose COCO 256x192 configs)."""

    embed_dim: int
    depth: int
    num_heads: int
    drop_path_rate: float
    mlp_ratio: float = 4.0


VIT_ARCHS: dict[str, ViTArch] = {
    "vit_s": ViTArch(384, 12, 12, 0.1),
    "vit_b": ViTArch(768, 12, 12, 0.3),
    "vit_l": ViTArch(1024, 24, 16, 0.5),
    "vit_h": ViTArch(1280, 32, 16, 0.55),
}


def token_grid(
    img_size: tuple[int, int], patch_size: int = 16, padding: int = 2
) -> tuple[int, int]:
    """Token rows and columns of the patch embedding (256x192 -> 16x12)."""
    h, w = ((int(s) + 2 * padding - patch_size) // patch_size + 1 for s in img_size)
    return h, w


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    """Stochastic depth: drop whole residual branches per sample (training only)."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class PatchEmbed(nn.Module):
    """16x16 stride-16 convolution with padding 2 (``patch_embed.proj``)."""

    def __init__(self, embed_dim: int, patch_size: int = 16, padding: int = 2) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, patch_size, patch_size, padding)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)  # scale = head_dim ** -0.5
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = drop_path

    def forward(self, x: Tensor) -> Tensor:
        x = x + drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class ViT(nn.Module):
    """ViTPose backbone: (N,3,H,W) -> (N, embed_dim, h, w) at stride 16.

    ``img_size`` fixes the token grid of ``pos_embed`` (256x192 -> 16x12, as in the
    checkpoints). Inputs with another grid get a bicubically resized position
    embedding (the official ViTPose has no such path; it only supports its
    training size).
    """

    def __init__(
        self,
        arch: str | ViTArch = "vit_b",
        img_size: tuple[int, int] = (256, 192),
        depth: int | None = None,
        drop_path_rate: float | None = None,
        patch_size: int = 16,
        patch_padding: int = 2,
    ) -> None:
        super().__init__()
        if isinstance(arch, str):
            if arch not in VIT_ARCHS:
                raise ValueError(f"unknown ViT arch {arch!r}; expected one of {sorted(VIT_ARCHS)}")
            spec = VIT_ARCHS[arch]
        else:
            spec = arch
        self.arch = spec
        self.depth = spec.depth if depth is None else depth
        dpr_max = spec.drop_path_rate if drop_path_rate is None else drop_path_rate
        self.embed_dim = spec.embed_dim
        self.out_channels = spec.embed_dim
        self.stride = patch_size
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.grid = token_grid(self.img_size, patch_size, patch_padding)
        self.patch_embed = PatchEmbed(spec.embed_dim, patch_size, patch_padding)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, 1 + self.grid[0] * self.grid[1], spec.embed_dim)
        )
        # stochastic depth grows linearly with the block index (python floats: works on meta)
        rates = [dpr_max * i / max(self.depth - 1, 1) for i in range(self.depth)]
        self.blocks = nn.ModuleList(
            [Block(spec.embed_dim, spec.num_heads, spec.mlp_ratio, r) for r in rates]
        )
        self.last_norm = nn.LayerNorm(spec.embed_dim, eps=1e-6)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """ViTPose random init: truncated normal(0.02) linears and pos_embed."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _position(self, h: int, w: int) -> Tensor:
        pos = self.pos_embed[:, 1:]
        if (h, w) != self.grid:
            gh, gw = self.grid
            grid = pos.reshape(1, gh, gw, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
            pos = grid.permute(0, 2, 3, 1).reshape(1, h * w, -1)
        return pos

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x)
        n, c, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = x + self._position(h, w) + self.pos_embed[:, :1]
        for block in self.blocks:
            x = block(x)
        x = self.last_norm(x)
        return x.transpose(1, 2).reshape(n, c, h, w)


# ----------------------------------------------------------------------------- checkpoints

_MMPRETRAIN_BLOCK = {
    "ln1": "norm1",
    "ln2": "norm2",
    "attn.qkv": "attn.qkv",
    "attn.proj": "attn.proj",
    "ffn.layers.0.0": "mlp.fc1",
    "ffn.layers.1": "mlp.fc2",
}


def convert_vit_checkpoint(
    sd: Mapping[str, Tensor], num_patches: int = 192
) -> tuple[dict[str, Tensor], str]:
    """ViTPose / mmpose 1.x ViT keys -> ours (the official ViTPose names under ``backbone.``),
    and the layout's name (see :func:`semapose.models.checkpoints.detect_layout`).

    mmpose 1.x (mmpretrain ``VisionTransformer(with_cls_token=False)``) keeps no
    class-token slot in ``pos_embed`` and, when a checkpoint has one, drops it. We
    keep the slot and add it to every token as ViTPose does, so the mmpose 1.x
    behaviour is reproduced by a zero slot. ``num_patches`` is the model's token count.
    """
    from semapose.models.checkpoints import detect_layout

    layout = detect_layout(sd)
    out: dict[str, Tensor] = {}
    # Our own checkpoints also use ``backbone.``/``head.`` prefixes but keep the
    # ViTPose names (``backbone.blocks.*``): only mmpretrain names need converting.
    mmpretrain = layout == "mmpose1" and any(k.startswith("backbone.layers.") for k in sd)
    for k, v in sd.items():
        if layout == "official":  # bare ViTPose backbone state dict
            k = "backbone." + k
        if k.startswith("keypoint_head."):
            out["head." + k[len("keypoint_head.") :]] = v
            continue
        if mmpretrain and k.startswith("backbone."):
            name = k[len("backbone.") :]
            m = re.match(r"layers\.(\d+)\.(.+)\.(weight|bias)$", name)
            if m and m.group(2) in _MMPRETRAIN_BLOCK:
                name = f"blocks.{m.group(1)}.{_MMPRETRAIN_BLOCK[m.group(2)]}.{m.group(3)}"
            elif name.startswith("patch_embed.projection."):
                name = "patch_embed.proj." + name.split(".")[-1]
            elif name.startswith("ln1."):
                name = "last_norm." + name[len("ln1.") :]
            elif name == "pos_embed":
                v = _mmpretrain_pos_embed(v, num_patches)
            k = "backbone." + name
        out[k] = v
    return out, layout


def _mmpretrain_pos_embed(v: Tensor, num_patches: int) -> Tensor:
    """mmpretrain pos_embed (1, n or 1+n, C) -> ours (1, 1+n, C) with a zero class slot.

    mmpretrain without a class token either has no slot or drops the checkpoint's
    slot when loading, so the slot never reaches the tokens: zero reproduces that.
    Other sizes are left alone (reported as a shape mismatch).
    """
    if v.ndim != 3 or v.shape[1] not in (num_patches, num_patches + 1):
        return v
    tokens = v[:, -num_patches:]
    return torch.cat([torch.zeros_like(tokens[:, :1]), tokens], dim=1)


# ----------------------------------------------------------------------------- spec hooks


def read_pretrained(
    backbone: Backbone,
    file: WeightsFile,
    image_size: tuple[int, int],
) -> Pretrained:
    """Backbone and head of an official ViTPose / mmpose 1.x (mmpretrain names) checkpoint,
    converted and loaded once (the modules come with it, with the arch's drop-path rate,
    as the builder makes them) and its head's settings; ``image_size`` sizes the
    position embedding."""
    from semapose.models.backbones.spec import Pretrained
    from semapose.models.single_frame import SingleFrameViTPose

    grid = token_grid(image_size)
    conv, layout = convert_vit_checkpoint(file.tensors, grid[0] * grid[1])
    pose = SingleFrameViTPose.from_converted(
        conv, layout, file.path, backbone.name, img_size=image_size, drop_path_rate=None
    )
    head = pose.head.state_dict()
    return Pretrained(
        {"backbone": pose.backbone.state_dict(), "head": head},
        "semapose",
        backbone.head_settings(head) if backbone.head_settings else None,
        {"backbone": pose.backbone, "head": pose.head},
    )


def recognise(sd: Mapping[str, Tensor], path: Path) -> str | None:
    """The ViT arch of a checkpoint with a patch embedding (width and depth read from it)."""
    from semapose.errors import CheckpointError

    keys = list(sd)
    if not any("patch_embed" in k for k in keys):
        return None
    qkv = next((sd[k] for k in keys if k.endswith("blocks.0.attn.qkv.weight")), None)
    depth = len({k.split("blocks.")[1].split(".")[0] for k in keys if "blocks." in k})
    dim = int(qkv.shape[1]) if qkv is not None else -1
    arch = next((n for n, a in VIT_ARCHS.items() if (a.embed_dim, a.depth) == (dim, depth)), "")
    if not arch:
        raise CheckpointError(f"{path}: a ViT of width {dim} and depth {depth} is not known")
    return arch


def head_settings(head: Mapping[str, Tensor]) -> dict[str, int]:
    """Joints and deconvolution channels of a checkpoint's classic ViTPose head."""
    out = {"num_joints": int(head["final_layer.weight"].shape[0])}
    deconv = head.get("deconv_layers.0.weight")
    if deconv is not None:
        out["head_channels"] = int(deconv.shape[1])
    return out
