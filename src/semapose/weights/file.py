"""A resolved weights file read once: ``read_weights(source) -> WeightsFile``.

The loader resolves a value once (:func:`semapose.weights.resolve.resolve_weights`);
this reads the file it names once, through the checked reader (:mod:`semapose.weights.read`):

* ``.json`` -- a config-only model (no tensors): the config;
* ``.safetensors`` -- tensors (finite) and metadata, and the config when the metadata
  or a ``NAME.json`` sidecar holds one (a semapose checkpoint), else a bare state dict
  (``module.`` prefixes and non-weights entries dropped, as for ``.pth``);
* a suffix in ``own_formats`` (a backbone's own format, e.g. BlazePose's ``.tflite``) --
  nothing read here: the backbone's converter reads it;
* anything else -- ``torch.load(weights_only=True)`` and the state dict inside it.

What the tensors mean is for ``models/`` to find out; nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from semapose.weights.read import (
    StateDict,
    check_finite,
    checkpoint_config,
    extract_state_dict,
    load_state_dict_file,
    read_safetensors,
)
from semapose.weights.resolve import WeightsSource

if TYPE_CHECKING:
    from semapose.config import Config

__all__ = ["WeightsFile", "read_weights"]


@dataclass
class WeightsFile:
    """What one weights file holds (see the module docstring)."""

    source: WeightsSource
    #: ``source.path``
    path: Path
    tensors: StateDict = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    #: the semapose config stored with it; None for bare checkpoints and own formats
    config: Config | None = None


def read_weights(source: WeightsSource, own_formats: Iterable[str] = ()) -> WeightsFile:
    """Read the file of ``source`` once (see the module docstring)."""
    path = source.path
    if path.suffix in tuple(own_formats):
        return WeightsFile(source, path)
    if path.suffix == ".json":
        return WeightsFile(source, path, config=checkpoint_config(path, {}))
    if path.suffix != ".safetensors":
        return WeightsFile(source, path, load_state_dict_file(path))
    tensors, meta = read_safetensors(path)
    check_finite(tensors, path)
    if "semapose_config" in meta or "config" in meta or path.with_suffix(".json").is_file():
        return WeightsFile(source, path, tensors, meta, checkpoint_config(path, meta))
    return WeightsFile(source, path, extract_state_dict(tensors, path), meta)
