"""The conversion cache: a backbone's own format converted once into a safetensors file.

A converter in ``models/`` (BlazePose's ``.tflite`` walker) is slow; its result is kept
in the user cache as ``converted/<name>-<sha>.safetensors``, keyed by the source file's
SHA-256. This module is the one place that cache is looked up and written.

The cache's own bytes are not trusted blindly (issue 24: a zeroed cache loaded unchecked
gave 65 persons instead of 31): :func:`tensors_digest` hashes every tensor's name, dtype,
shape and bytes, the entry stores it in its metadata, and a lookup that finds another
value (or unreadable or non-finite tensors) answers "no entry", so the converter runs
again. Whether the tensors have the network's layout is for the converter to check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from semapose.errors import CheckpointError
from semapose.weights.read import StateDict

__all__ = [
    "DIGEST_KEY",
    "cached_conversion",
    "conversion_path",
    "save_conversion",
    "tensors_digest",
]

#: metadata key of the digest in a conversion cache entry
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


def conversion_path(source: str | Path, name: str, sha256: str = "") -> Path:
    """Where the conversion ``name`` of ``source`` is cached (keyed by its SHA-256;
    ``sha256``: the source's, when already known)."""
    from semapose.weights.download import cache_dir, sha256_file

    key = (sha256 or sha256_file(source))[:16]
    return cache_dir() / "converted" / f"{name}-{key}.safetensors"


def cached_conversion(source: Path, name: str, sha256: str = "") -> tuple[Path, StateDict]:
    """Where the conversion of ``source`` is cached (:func:`conversion_path`), and its
    tensors when a sound entry is there ({} otherwise)."""
    from semapose.weights.read import read_safetensors

    cached = conversion_path(source, name, sha256)
    if not cached.is_file():
        return cached, {}
    try:
        state, meta = read_safetensors(cached, finite=True)
    except CheckpointError:  # a damaged entry is rebuilt
        return cached, {}
    return cached, state if meta.get(DIGEST_KEY) == tensors_digest(state) else {}


def save_conversion(cached: Path, state: Mapping[str, Any], source: str | Path) -> None:
    """Write a conversion of ``source`` (checked finite) as the cache entry ``cached``."""
    from semapose.weights.download import sha256_file
    from semapose.weights.read import check_finite, save_state_dict_file

    check_finite(state, source)
    meta = {"converted_from_sha256": sha256_file(source), DIGEST_KEY: tensors_digest(state)}
    save_state_dict_file(cached, state, meta)
