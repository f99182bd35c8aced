"""One-time start-up of a prediction run, paid before its first frame (``semapose predict``).

Measured with ``benchmarks/startup.py`` (docs/predict.md, "Start-up").
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from semapose.inference.pipeline import RunnerOptions


def warm_up(
    detector: Any,
    model: Any,
    options: RunnerOptions,
    device: Any = "cpu",
    frame_size: tuple[int, int] | None = None,
) -> float:
    """Pay the one-time costs before the first frame; returns the seconds spent.

    The tracker's first frame imports scipy.optimize (its assignment solver); the
    detector's network is built on its first call (``load``, when it has one) and its
    first pass over a frame of the input's size (``frame_size`` (width, height)) allocates
    its buffers (SSDLite: ~0.5 s of CPU together, measured by benchmarks/startup.py); the
    model's first call per batch shape sets up its kernels. Only a detector with ``load``
    (a network, stateless per frame) gets the blank frame; box files are never called.
    Done here, the first frames run at the steady speed and the progress bar's
    rate (an average over recent frames) is right from the start instead of showing ~1
    s/frame for the first 25-30 frames. Pure calls: no state of the run changes.
    """
    import torch

    t0 = time.perf_counter()
    # the tracker's assignment solver lives in scipy.optimize, whose import (~0.35 s of CPU,
    # most of the first frame's extra cost: profiled) happened on the first frame
    import scipy.optimize  # noqa: F401

    load = getattr(detector, "load", None)
    if callable(load):
        load()
        if frame_size is not None:
            detector.detect(np.zeros((frame_size[1], frame_size[0], 3), np.uint8), None)
    h, w = (int(v) for v in options.input_size)
    encode = getattr(model, "encode_with_outputs", None)
    slots = 1 + len(tuple(options.offsets))
    with torch.inference_mode():
        for n in (1, 2):  # one and two people: the common first shapes
            x = torch.zeros(n, 3, h, w, device=torch.device(device))
            out = encode(x) if encode is not None else {"features": model.encode_frames(x)}
            model.decode_clip(torch.stack([out["features"]] * slots, dim=1))
    return time.perf_counter() - t0


__all__ = ["warm_up"]
