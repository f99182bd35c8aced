"""Refactoring leaves predictions unchanged: keypoints on two real clips against a reference.

Each case loads a weights value through the one loader, runs :class:`PoseEstimator`
with the default detector on the first frames of a shared clip and compares every
person's track id, box, keypoints and scores with ``tests/data/refactor_outputs.json``.
That file was written from main before the model-side refactoring (issue 23), and
again after each behaviour change other issues asked for (its own commit each time), by
running this module as a script::

    SEMAPOSE_SHARED_DATA=/work/shared/data PYTHONPATH=src OMP_NUM_THREADS=1 \\
        python tests/test_refactor_outputs.py --write

Outputs must be equal (rounding aside) in the library versions the reference records;
with other versions, the same tracks, and boxes and confident joints within a share of
the person's height (:data:`CROSS_VERSION_SHARE`; one ambiguous joint per person within
:data:`ONE_AMBIGUOUS_JOINT_SHARE`). Skips when
the shared clips or the cached BlazePose / SSDLite assets are absent (the
test never downloads).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REFERENCE = Path(__file__).resolve().parent / "data" / "refactor_outputs.json"
#: (case name, weights value, clip, frames): the bundled temporal default, BlazePose
#: single-frame (config-only bundled file), the raw .tflite asset, a tiny semapose checkpoint
CASES: tuple[tuple[str, str, str, int], ...] = (
    ("default_two_people", "", "videos/two_people_72f.mp4", 8),
    ("blazepose_street", "blazepose", "videos/street_pedestrians_5f.mp4", 5),
    ("tflite_two_people", "blazepose_full", "videos/two_people_72f.mp4", 4),
    ("tiny_street", "tiny_synthetic", "videos/street_pedestrians_5f.mp4", 3),
)
#: decimals kept in the reference (crop + network run in float32; on one machine the
#: outputs are bit-identical, the rounding only keeps the file small and readable)
DECIMALS = 3
TOLERANCE = 2e-3
#: with other library versions than the reference's (CI's newest-versions job: another
#: torch, opencv, ...) float32 kernels and resizing round differently, and each next crop
#: comes from the current pose, so differences grow over frames (measured: torch 2.14.1 /
#: opencv 5.1 against 2.13.0 / 5.0, up to 6.7 px on a box, 15 px on a joint scoring 0.6,
#: 47 px on joints scoring < 0.25). There: the same tracks in every frame, boxes and the
#: joints both runs score >= 0.5 within this share of the reference box's height.
CROSS_VERSION_SHARE = 0.05
CONFIDENT = 0.5
#: ... except one joint per person, an ambiguous limb end whose heatmap has two peaks of
#: similar height: a sub-pixel change of the crop moves the arg-max from one to the other
#: (measured: torch 2.14.1 / opencv 5.1 against 2.13.0 / 5.0, two_people_72f frame 5, the
#: left wrist of track 1, scores 0.61 and 0.54, 94 px apart, 13 % of the box height, after a
#: 0.8 px box difference in frame 4). That joint must still stay within this share.
ONE_AMBIGUOUS_JOINT_SHARE = 0.2


def environment() -> dict[str, str]:
    """The versions of the libraries the outputs depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("torch", "numpy", "opencv-python-headless", "av", "pillow"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "absent"
    return out


def _shared() -> Path:
    env = os.environ.get("SEMAPOSE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def _assets_cached() -> bool:
    from semapose.weights.download import cache_dir

    folder = cache_dir() / "assets"
    return all((folder / f).is_file() for f in ("blazepose_full.tflite", "ssdlite_person.pb"))


def _frames(path: Path, count: int) -> list[np.ndarray]:
    from semapose.io.video import FrameSource

    out: list[np.ndarray] = []
    for frame in FrameSource(path):
        out.append(np.asarray(frame))
        if len(out) == count:
            break
    return out


def run_case(weights: str, clip: Path, frames: int) -> list[dict[str, Any]]:
    """Per frame: every person's track id, box, keypoints and scores (rounded)."""
    import warnings

    import torch

    from semapose import PoseEstimator

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = PoseEstimator.from_pretrained(weights or None, device="cpu")
    out: list[dict[str, Any]] = []
    for result in est.predict(_frames(clip, frames), detector="ssdlite"):
        persons = [
            {
                "track": int(p.track_id),
                "box": np.round(np.asarray(p.box, dtype=np.float64), DECIMALS).tolist(),
                "keypoints": np.round(np.asarray(p.keypoints, np.float64), DECIMALS).tolist(),
                "scores": np.round(np.asarray(p.scores, np.float64), DECIMALS).tolist(),
            }
            for p in result.persons
        ]
        out.append({"index": int(result.index), "persons": persons})
    return out


def digest(frames: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(frames, sort_keys=True).encode()).hexdigest()[:16]


def _compare(
    name: str, got: list[dict[str, Any]], want: list[dict[str, Any]], same_versions: bool = True
) -> None:
    assert len(got) == len(want), f"{name}: {len(got)} frames, reference {len(want)}"
    for g, w in zip(got, want, strict=True):
        where = f"{name} frame {w['index']}"
        assert g["index"] == w["index"], where
        assert [p["track"] for p in g["persons"]] == [p["track"] for p in w["persons"]], where
        for gp, wp in zip(g["persons"], w["persons"], strict=True):
            who = f"{where} track {wp['track']}"
            if same_versions:
                for key in ("box", "keypoints", "scores"):
                    diff = np.abs(np.asarray(gp[key]) - np.asarray(wp[key])).max(initial=0.0)
                    assert diff <= TOLERANCE, f"{who} {key}: max |diff| {diff}"
                continue
            box = np.asarray(wp["box"], dtype=np.float64)
            limit = CROSS_VERSION_SHARE * max(box[3], 1.0)  # box: x, y, width, height
            diff = np.abs(np.asarray(gp["box"])[:4] - box[:4]).max()
            assert diff <= limit, f"{who} box: max |diff| {diff} > {limit:.1f}"
            sure = (np.asarray(gp["scores"]) >= CONFIDENT) & (np.asarray(wp["scores"]) >= CONFIDENT)
            dist = np.linalg.norm(np.asarray(gp["keypoints"]) - np.asarray(wp["keypoints"]), axis=1)
            far = np.sort(dist[sure])[::-1]
            worst = far[1] if len(far) > 1 else 0.0
            assert worst <= limit, f"{who} keypoints scoring >= {CONFIDENT}: {worst} > {limit:.1f}"
            one = ONE_AMBIGUOUS_JOINT_SHARE * max(box[3], 1.0)
            assert far[:1].max(initial=0.0) <= one, f"{who} one keypoint: {far[0]} > {one:.1f}"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_outputs_match_reference(case: tuple[str, str, str, int]) -> None:
    name, weights, clip, frames = case
    path = _shared() / clip
    if not path.is_file():
        pytest.skip(f"{path} not found (set SEMAPOSE_SHARED_DATA)")
    if not _assets_cached():
        pytest.skip("BlazePose / SSDLite assets not cached (semapose fetch)")
    doc = json.loads(REFERENCE.read_text(encoding="utf-8"))
    got = run_case(weights, path, frames)
    _compare(name, got, doc[name]["frames"], doc.get("environment") == environment())


def main() -> int:
    if "--write" not in sys.argv[1:]:
        print(f"usage: {sys.argv[0]} --write  (rewrites {REFERENCE})")
        return 2
    doc: dict[str, Any] = {"environment": environment()}
    for name, weights, clip, frames in CASES:
        result = run_case(weights, _shared() / clip, frames)
        doc[name] = {
            "weights": weights or "(default)",
            "clip": clip,
            "frames_run": frames,
            "digest": digest(result),
            "frames": result,
        }
        print(name, doc[name]["digest"], sum(len(f["persons"]) for f in result), "poses")
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
