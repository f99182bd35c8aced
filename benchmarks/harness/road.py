"""``predict``'s own road, measured: its detector's calls counted and timed.

The benchmarks run the product's code (``Predictor.run_one`` or
:func:`semapose.inference.job.predict_source`, what ``semapose predict`` runs), never a
copy; what they add is this wrapper around the detector it is given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.timing import StageTimer


class TimedDetector:
    """A detector whose calls are counted and timed by kind: ``detect`` (tiled full frame,
    "full") and ``detect_near`` (re-anchoring near the followed people, "near").

    ``near``: offer the wrapped detector's ``detect_near`` (predict uses it when there);
    false, the tracker's requests run the full detector. ``warm``: offer its ``load``, so
    the job's warm-up builds the network (and runs one blank frame, counted like any call)
    before the first frame, as predict does. ``timer``: each call's seconds also go to its
    "detect" stage. ``calls`` counts per kind, ``seconds`` sums all calls, ``log`` holds
    the last call's (kind, seconds) per frame index.
    """

    def __init__(
        self,
        detector: Any,
        timer: StageTimer | None = None,
        near: bool = True,
        warm: bool = True,
    ) -> None:
        self.detector, self.timer = detector, timer
        self.calls = {"full": 0, "near": 0}
        self.seconds = 0.0
        self.log: dict[int, tuple[str, float]] = {}
        if near and hasattr(detector, "detect_near"):
            self.detect_near = self._detect_near
        if warm and hasattr(detector, "load"):
            self.load = detector.load

    def detect(self, frame: np.ndarray, frame_index: int | None = None) -> np.ndarray:
        return self._call("full", frame_index, self.detector.detect, frame, frame_index)

    def _detect_near(
        self, frame: np.ndarray, boxes: np.ndarray, frame_index: int | None = None
    ) -> np.ndarray:
        return self._call("near", frame_index, self.detector.detect_near, frame, boxes, frame_index)

    def _call(self, kind: str, index: int | None, fn: Any, *args: Any) -> np.ndarray:
        self.calls[kind] += 1
        t0 = time.perf_counter()
        if self.timer is None:
            out = fn(*args)
        else:
            with self.timer("detect"):
                out = fn(*args)
        seconds = time.perf_counter() - t0
        self.seconds += seconds
        self.log[int(index or 0)] = (kind, seconds)
        return out  # type: ignore[no-any-return]

    @property
    def total_calls(self) -> int:
        return self.calls["full"] + self.calls["near"]


def people_written(out: Path, name: str) -> int:
    """People in a predict output folder: the final PoseTrack JSON, or the partial JSONL
    if the run stopped early."""
    try:
        final = out / "posetrack" / f"{name}.json"
        if final.is_file():
            return len(json.loads(final.read_text()).get("annotations", []))
        lines = (out / ".partial" / name / "results.jsonl").read_text().splitlines()
        return sum(len(json.loads(line).get("persons", [])) for line in lines if line)
    except (OSError, ValueError):
        return 0
