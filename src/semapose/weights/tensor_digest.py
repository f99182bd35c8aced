"""A checksum of a state dict's content, stored with a conversion cache (issue 24).

A cached conversion (``converted/blazepose_full-<sha>.safetensors``) is keyed by the
source file's digest, but its own bytes were trusted: a zeroed cache loaded unchecked
(65 persons instead of 31). :func:`tensors_digest` hashes every tensor's name, dtype,
shape and bytes; the cache stores it in its metadata and a reader that finds another
value (or another layout) rebuilds the cache instead of using it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

#: metadata key of the digest in a conversion cache
DIGEST_KEY = "tensors_sha256"


def tensors_digest(state: Mapping[str, Any]) -> str:
    """SHA-256 over the sorted tensors (name, dtype, shape, data)."""
    import torch

    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def layout_mismatch(state: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    """The first key missing, unexpected or of another shape than in ``expected``; None
    when the layouts agree."""
    for name, t in expected.items():
        if name not in state:
            return f"missing {name}"
        if tuple(state[name].shape) != tuple(t.shape):
            return f"{name}: shape {tuple(state[name].shape)}, expected {tuple(t.shape)}"
    extra = sorted(set(state) - set(expected))
    return f"unexpected {extra[0]}" if extra else None


__all__ = ["DIGEST_KEY", "layout_mismatch", "tensors_digest"]
