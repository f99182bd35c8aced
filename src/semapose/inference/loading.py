"""The one loader: ``load(value, device) -> LoadedModel``.

``semapose predict/demo/export --weights``, ``PoseEstimator.from_pretrained`` and the
tools all load here, going down once: the value is resolved once
(:func:`semapose.weights.resolve.resolve_weights`: a bundled name, a registry asset, a
known name, a URL, a file or a training folder), its file read once through the checked
reader with everything building needs (:func:`semapose.weights.read.read_weights`: the
config, the backbone weights it names, a ``.tflite``'s cached conversion), and the model
built, filled and put on the device from that
(:func:`semapose.models.assemble.assemble`: a semapose checkpoint over its backbone's
own weights, a backbone's own format such as BlazePose's ``.tflite``, or a bare official
HRNet / ViTPose / mmpose checkpoint).

Every model is an :class:`~semapose.models.estimator.Estimator`; without a temporal part
it runs single-frame (T = 1) and ``notes`` holds a one-line warning that the commands
print (not for the bundled models, single-frame by design). Loading never unpickles
code.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semapose.config import Config
from semapose.weights.resolve import SYNTHETIC_NOTICE, resolve_weights


class SingleFrameWarning(UserWarning):
    """The checkpoint has no temporal part: prediction runs frame by frame."""


@dataclass
class LoadedModel:
    """A model ready for :class:`~semapose.inference.pipeline.TemporalRunner`."""

    model: Any
    cfg: Config
    #: False when the clip has one frame (single-frame checkpoint)
    temporal: bool
    #: where the weights came from (path or name), for logs and outputs
    source: str
    bundled: bool = False
    notes: list[str] = field(default_factory=list)
    #: why the model is single-frame, shown in the warning
    single_reason: str = ""


def load(weights: str | Path | None = None, device: Any = "cpu") -> LoadedModel:
    """Load weights (see the module docstring) onto ``device`` in eval mode."""
    from semapose.models.assemble import assemble
    from semapose.models.backbones.spec import OWN_FORMATS
    from semapose.weights.read import read_weights

    source = resolve_weights(weights)
    synthetic = source.bundled is not None and source.bundled.synthetic
    built = assemble(read_weights(source, OWN_FORMATS), device)
    loaded = LoadedModel(built.model, built.cfg, built.temporal, str(source.path))
    loaded.single_reason = built.single_reason
    loaded.bundled = source.kind == "bundled"
    if source.kind in ("bundled", "asset", "known"):
        loaded.source = source.value  # a name says more than a path into the package or cache
    if synthetic:
        loaded.notes.append(SYNTHETIC_NOTICE)
    if not loaded.temporal and not loaded.bundled:
        why = f" ({loaded.single_reason})" if loaded.single_reason else ""
        loaded.notes.append(
            f"warning: {loaded.source} has no temporal part{why}; predicting single-frame"
        )
    return loaded


#: the name the callers of other branches know
load_model = load


def warn_notes(loaded: LoadedModel) -> None:
    """Python-API form of the notes: a :class:`SingleFrameWarning` for single-frame weights."""
    if not loaded.temporal and not loaded.bundled:
        msg = f"{loaded.source} has no temporal part; predicting single-frame"
        warnings.warn(msg, SingleFrameWarning, stacklevel=3)


__all__ = [
    "LoadedModel",
    "SingleFrameWarning",
    "load",
    "load_model",
    "warn_notes",
]
