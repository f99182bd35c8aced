"""Reading pose checkpoints safely and converting their key layouts to ours.

Reading never unpickles code: ``.safetensors`` files are read with safetensors,
everything else with ``torch.load(weights_only=True)``. The only globals allowed
beyond torch's defaults are numpy's array/scalar/dtype reconstructors, which
mmpose and mmcv checkpoints carry in their ``meta`` (dataset sigmas, best scores).

Our models keep ``backbone.*`` and ``head.*`` sub-modules. Supported layouts:

================  ===========================================================
``official``      deep-high-resolution-net HRNet: ``conv1.*`` ... ``final_layer.*``
``mmpose0``       mmpose 0.x top-down: ``backbone.*``, ``keypoint_head.*``; the official
                  ViTPose checkpoints have this layout (``backbone.blocks.*``)
``mmpose1``       mmpose 1.x / semapose: ``backbone.*``, ``head.*``; for ViT the
                  mmpretrain names (``backbone.layers.N.ln1``, ``ffn.layers.0.0``, ...)
================  ===========================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from semapose.errors import CheckpointError

__all__ = [
    "StateDict",
    "check_and_load",
    "detect_layout",
    "extract_state_dict",
    "hrnet_to_ours",
    "load_state_dict_file",
    "read_checkpoint",
    "save_state_dict_file",
    "vit_to_ours",
]

StateDict = dict[str, Tensor]

#: containers in which training frameworks wrap the weights, in order of preference
_WRAPPERS = ("state_dict", "model", "model_state_dict", "best_state_dict", "module")
_SHOWN = 5


def _numpy_safe_globals() -> list[Any]:
    """numpy reconstructors that only rebuild arrays/scalars (no code execution)."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    multiarray = core.multiarray
    out: list[Any] = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    out += sorted({type(np.dtype(t)) for t in set(np.sctypeDict.values())}, key=str)
    # files written with numpy 1.x name numpy.core.*; numpy 2 names numpy._core.*
    for legacy in ("_reconstruct", "scalar"):
        out.append((getattr(multiarray, legacy), f"numpy.core.multiarray.{legacy}"))
        out.append((getattr(multiarray, legacy), f"numpy._core.multiarray.{legacy}"))
    return out


def read_checkpoint(path: str | Path) -> Any:
    """The stored object of a ``.safetensors`` or torch checkpoint, without running code."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint file not found")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(p), device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{p}: not a readable safetensors file ({exc})") from exc
    with open(p, "rb") as fh:
        head = fh.read(4)
    # torch.save writes a zip archive (new format) or a pickle starting with PROTO (legacy)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        got = "an empty file" if not head else f"a file starting with {head!r}"
        raise CheckpointError(
            f"{p}: expected a checkpoint (.safetensors, or .pth/.pt written by torch.save), "
            f"got {got}"
        )
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = str(exc)
        found = re.findall(r"GLOBAL ([\w.]+)", msg)
        first = (msg.splitlines() or [type(exc).__name__])[0][:200]  # an empty file: no text
        detail = f"it needs the Python global {found[0]}" if found else first
        raise CheckpointError(
            f"{p}: cannot be read as weights only ({detail}); semapose never unpickles code. "
            "Extract the state_dict in a trusted environment and save it with "
            "safetensors.torch.save_file (see docs/backbones.md)"
        ) from exc


def extract_state_dict(obj: Any, path: str | Path = "<checkpoint>") -> StateDict:
    """The tensor mapping inside a checkpoint object.

    Unwraps ``state_dict``/``model``/... containers and a DataParallel ``module.``
    prefix; drops non-tensor entries and mmengine ``data_preprocessor.*`` buffers.
    """
    for _ in range(3):
        if isinstance(obj, Mapping) and not any(isinstance(v, Tensor) for v in obj.values()):
            inner = next(
                (obj[k] for k in _WRAPPERS if k in obj and isinstance(obj[k], Mapping)), None
            )
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a mapping of tensors, got {type(obj).__name__}")
    sd = {
        str(k): v
        for k, v in obj.items()
        if isinstance(v, Tensor) and not str(k).startswith("data_preprocessor.")
    }
    if not sd:
        raise CheckpointError(
            f"{path}: no tensors found (top-level keys: {_preview(list(map(str, obj)))})"
        )
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def load_state_dict_file(path: str | Path) -> StateDict:
    """``extract_state_dict(read_checkpoint(path))``."""
    return extract_state_dict(read_checkpoint(path), path)


def save_state_dict_file(
    path: str | Path, state_dict: Mapping[str, Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Write a state dict as ``.safetensors`` (atomically; tensors made contiguous)."""
    from safetensors.torch import save_file

    from semapose.io.atomic import atomic_path

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def detect_layout(sd: Mapping[str, Tensor]) -> str:
    """``official`` | ``mmpose0`` | ``mmpose1`` | ``unknown`` (see the module docstring)."""
    keys = list(sd)
    has = lambda prefix: any(k.startswith(prefix) for k in keys)  # noqa: E731
    if has("keypoint_head."):
        return "mmpose0"
    if has("backbone.") or has("head."):
        return "mmpose1"
    if "conv1.weight" in sd or "final_layer.weight" in sd or "patch_embed.proj.weight" in sd:
        return "official"
    return "unknown"


def hrnet_to_ours(sd: Mapping[str, Tensor], layout: str) -> StateDict:
    """HRNet checkpoint keys -> ``backbone.<official name>`` / ``head.final_layer.*``.

    mmpose 0.x and 1.x HRNet backbones use the official module names (their
    ``build_norm_layer`` names are ``bn1``/``bn2``/...), so only prefixes change.
    """
    out: StateDict = {}
    for k, v in sd.items():
        if layout == "official":
            out[("head." if k.startswith("final_layer.") else "backbone.") + k] = v
        elif layout == "mmpose0" and k.startswith("keypoint_head."):
            out["head." + k[len("keypoint_head.") :]] = v
        else:
            out[k] = v
    return out


_MMPRETRAIN_BLOCK = {
    "ln1": "norm1",
    "ln2": "norm2",
    "attn.qkv": "attn.qkv",
    "attn.proj": "attn.proj",
    "ffn.layers.0.0": "mlp.fc1",
    "ffn.layers.1": "mlp.fc2",
}


def vit_to_ours(sd: Mapping[str, Tensor], layout: str, num_patches: int) -> StateDict:
    """ViTPose / mmpose 1.x ViT keys -> ours (the official ViTPose names under ``backbone.``).

    mmpose 1.x (mmpretrain ``VisionTransformer(with_cls_token=False)``) keeps no
    class-token slot in ``pos_embed`` and, when a checkpoint has one, drops it. We
    keep the slot and add it to every token as ViTPose does, so the mmpose 1.x
    behaviour is reproduced by a zero slot. ``num_patches`` is the model's token count.
    """
    out: StateDict = {}
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
    return out


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


def _preview(keys: Iterable[str]) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:_SHOWN])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > _SHOWN else shown


def check_and_load(
    model: nn.Module,
    sd: Mapping[str, Tensor],
    *,
    path: str | Path,
    layout: str,
    what: str,
    hint: str = "",
) -> None:
    """Strict ``model.load_state_dict(sd)``, or :class:`CheckpointError` naming the problem.

    BatchNorm ``num_batches_tracked`` counters (absent from checkpoints saved by very
    old PyTorch) are not required. Floating tensors are cast to the model's dtype. A
    model built on the meta device gets the checkpoint's tensors assigned.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in sd and sd[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = [
            f"{path}: does not fit {what} (layout looked like {layout!r}; "
            "keys named as mapped to semapose's backbone./head. layout)"
        ]
        if missing:
            parts.append(f"{len(missing)} missing keys: {_preview(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {_preview(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches: {_preview(shapes)}")
        if hint:
            parts.append(hint)
        raise CheckpointError("; ".join(parts))
    full: StateDict = {}
    for k, v in own.items():
        if k not in sd:  # only num_batches_tracked can get here
            full[k] = torch.zeros_like(v, device="cpu") if v.is_meta else v
        elif v.is_floating_point() and sd[k].dtype != v.dtype:
            full[k] = sd[k].to(v.dtype)  # e.g. fp16 checkpoints into an fp32 model
        else:
            full[k] = sd[k]
    # a model built on the meta device (no wasted initialisation) takes the tensors as is
    assign = any(t.is_meta for t in own.values())
    model.load_state_dict(full, strict=True, assign=assign)
