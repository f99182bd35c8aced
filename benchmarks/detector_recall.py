"""Measure a detector the way ``../shared/DETECTORS.md`` did (recall, boxes/frame, ms/frame).

``python benchmarks/detector_recall.py --data ../shared/data [--detector ssdlite]
[--score 0.3] [--tiles 3]`` prints one JSON line:

- recall@0.5 / @0.3: share of the PoseTrack18 sample's ground-truth boxes whose
  best-overlapping detection reaches that IoU;
- boxes per frame on the street clip (every frame), the two-person clip (every
  4th frame) and the basketball clip (every 6th frame);
- exactly-2: frames with exactly two boxes on the two-person and basketball clips;
- mean ms per frame over all frames run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from semapose.inference.detectors import build_detector
from semapose.inference.detectors.boxops import box_iou

CLIPS = (("street", "street_pedestrians_5f.mp4", 1), ("two", "two_people_72f.mp4", 4),
         ("bball", "basketball_300f.mp4", 6))  # fmt: skip


def _gt_frames(sample: Path) -> list[tuple[Path, np.ndarray]]:
    out = []
    for ann in sorted((sample / "annotations" / "val").glob("*.json")):
        data = json.loads(ann.read_text())
        names = {im["id"]: im["file_name"] for im in data["images"]}
        boxes: dict[int, list[list[float]]] = {}
        for a in data["annotations"]:
            if a.get("bbox") and len(a["bbox"]) == 4:
                x, y, w, h = a["bbox"]
                boxes.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
        for image_id, bs in boxes.items():
            out.append((sample / names[image_id], np.array(bs)))
    return out


def measure(data: Path, detector_name: str = "ssdlite", **kwargs: Any) -> dict[str, Any]:
    import cv2

    from semapose.io.video import FrameSource

    det = build_detector(detector_name, **kwargs)
    times: list[float] = []

    def run(img: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        boxes = det.detect(img)
        times.append(time.perf_counter() - t)
        return boxes

    result: dict[str, Any] = {"detector": detector_name, **kwargs}
    sample = data / "posetrack18_sample"
    if sample.is_dir():
        hits5 = hits3 = total = 0
        for path, gt in _gt_frames(sample):
            image = cv2.imread(str(path))
            if image is None:
                raise FileNotFoundError(path)
            iou = box_iou(gt, run(np.ascontiguousarray(image[:, :, ::-1])))
            best = iou.max(axis=1) if iou.shape[1] else np.zeros(len(gt))
            hits5 += int((best >= 0.5).sum())
            hits3 += int((best >= 0.3).sum())
            total += len(gt)
        result["recall@0.5"] = f"{hits5}/{total}"
        result["recall@0.3"] = f"{hits3}/{total}"
    times.clear()
    for key, name, step in CLIPS:
        path = data / "videos" / name
        if not path.is_file():
            continue
        counts = [len(run(f.image)) for f in FrameSource(path).frames() if f.index % step == 0]
        result[f"boxes/frame {key}"] = round(float(np.mean(counts)), 2)
        if key != "street":
            result[f"exactly-2 {key}"] = f"{sum(c == 2 for c in counts)}/{len(counts)}"
    result["ms/frame"] = round(1000 * float(np.mean(times)), 1) if times else None
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--detector", default="ssdlite")
    ap.add_argument("--score", type=float, default=None)
    ap.add_argument("--tiles", type=int, default=None)
    args = ap.parse_args(argv)
    kwargs: dict[str, Any] = {}
    if args.score is not None:
        kwargs["score_threshold"] = args.score
    if args.tiles is not None:
        kwargs["tiles"] = args.tiles
    print(json.dumps(measure(args.data, args.detector, **kwargs)))


if __name__ == "__main__":
    main()
