"""Measure a detector (recall, boxes/frame, ms/frame) and the whole predict road with it.

``python benchmarks/detector_recall.py --data ../shared/data [--detector ssdlite]
[--score 0.3] [--tiles 3] [--zoom 0.667]`` prints one JSON line, the way
``../shared/DETECTORS.md`` measured detectors:

- recall@0.5 / @0.3: share of the PoseTrack18 sample's ground-truth boxes whose
  best-overlapping detection reaches that IoU;
- boxes per frame on the street clip (every frame), the two-person clip (every
  4th frame) and the basketball clip (every 6th frame);
- exactly-2: frames with exactly two boxes on the two-person and basketball clips;
- mean ms per frame over all frames run.

``--road`` (issue 22) runs, for each SSDLite setting of :data:`ROAD_SETTINGS`, the
detector alone as above, then ``semapose predict``'s own code (``Predictor.run_one``,
default model, no overlay, one thread) and saves ``benchmarks/results/detector_road.{json,md}``:

- whole-road mAP of the PoseTrack18 sample (``semapose evaluate``'s poseval mAP);
- basketball_300f: the frames, of every 5th, in which both children are fully in
  view (:data:`BOTH_IN_VIEW`, our own count from looking at the frames) and how many
  of them carry two distinct poses (two output poses whose keypoint boxes overlap
  by IoU < 0.3; only the two children are in the scene), plus the track ids used.
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


#: basketball_300f frames (of every 5th) in which both children are wholly in view: our own
#: count from contact sheets of every 5th frame. Out: 150-190 (one child partly or wholly
#: behind the other), 275-295 (camera pan: a child cut by the edge, motion blur).
BOTH_IN_VIEW = tuple(range(0, 150, 5)) + tuple(range(195, 275, 5))

#: SSDLite settings the road section compares: (label, keyword arguments)
ROAD_SETTINGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("tiles 3, no zoom (before issue 22)", {"zoom": 0.0}),
    ("tiles 3, zoom 2/3 (default)", {}),
    ("tiles 3, zoom 1/2", {"zoom": 0.5}),
)


def _predict(data_path: Path, out: Path, detector: Any) -> None:
    from semapose.inference.predictor import Predictor, list_inputs

    predictor = Predictor.create(None, "cpu")
    for path in list_inputs(data_path):
        predictor.run_one(path, out, detector_obj=detector, write_video=False, progress=False)


def both_posed(posetrack_json: Path, frames: tuple[int, ...]) -> dict[str, Any]:
    """How many of ``frames`` carry two distinct poses (see the module docstring)."""
    data = json.loads(posetrack_json.read_text())
    index = {im["id"]: i for i, im in enumerate(sorted(data["images"], key=lambda m: m["id"]))}
    boxes: dict[int, list[list[float]]] = {}
    ids: set[int] = set()
    for a in data["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=float).reshape(-1, 3)
        seen = kp[kp[:, 2] > 0]
        if len(seen) >= 3:
            boxes.setdefault(index[a["image_id"]], []).append(
                [seen[:, 0].min(), seen[:, 1].min(), seen[:, 0].max(), seen[:, 1].max()]
            )
            ids.add(int(a.get("track_id", -1)))
    hit = []
    for f in frames:
        b = np.asarray(boxes.get(f, []))
        iou = box_iou(b, b) if len(b) else np.zeros((0, 0))
        hit.append(bool(len(b) >= 2 and (iou[np.triu_indices(len(b), 1)] < 0.3).any()))
    return {
        "both_posed": sum(hit),
        "frames": len(frames),
        "share": round(sum(hit) / max(len(frames), 1), 3),
        "missed": [f for f, h in zip(frames, hit, strict=True) if not h],
        "track_ids": sorted(ids),
    }


def road(data: Path) -> dict[str, Any]:
    """The detector and the whole predict road for each of :data:`ROAD_SETTINGS`."""
    import tempfile

    from semapose.evaluation import evaluate_posetrack
    from semapose.inference.detectors.ssdlite import SSDLitePersonDetector

    sample = data / "posetrack18_sample"
    clip = data / "videos" / "basketball_300f.mp4"
    rows: list[dict[str, Any]] = []
    for label, kwargs in ROAD_SETTINGS:
        row: dict[str, Any] = {"setting": label, "kwargs": kwargs}
        row["detector"] = measure(data, "ssdlite", **kwargs)
        with tempfile.TemporaryDirectory() as tmp:
            if sample.is_dir():
                t = time.perf_counter()
                _predict(
                    sample / "images" / "val", Path(tmp) / "pt", SSDLitePersonDetector(**kwargs)
                )
                result = evaluate_posetrack(
                    sample / "annotations" / "val", Path(tmp) / "pt" / "posetrack"
                )
                row["posetrack_map"] = {k: v for k, v in result.items() if k != "per_joint"}
                row["posetrack_s"] = round(time.perf_counter() - t, 1)
            if clip.is_file():
                t = time.perf_counter()
                _predict(clip, Path(tmp) / "bb", SSDLitePersonDetector(**kwargs))
                posetrack = Path(tmp) / "bb" / "posetrack" / "basketball_300f.json"
                row["basketball"] = both_posed(posetrack, BOTH_IN_VIEW)
                row["basketball_s"] = round(time.perf_counter() - t, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"rows": rows}


def _road_markdown(result: dict[str, Any], info: dict[str, Any]) -> str:
    from common import command_line, machine_line, md_table

    table = []
    for r in result["rows"]:
        d, b = r["detector"], r.get("basketball", {})
        table.append([
            r["setting"],
            _map_mean(r.get("posetrack_map")),
            f"{d.get('recall@0.5')} ({d.get('recall@0.3')})",
            f"{b.get('both_posed')}/{b.get('frames')}" if b else "n/a",
            len(b.get("track_ids", [])) if b else "n/a",
            d.get("boxes/frame street"),
            d.get("ms/frame"),
        ])  # fmt: skip
    header = ["SSDLite setting", "sample mAP (whole road)", "recall@0.5 (@0.3)",
              "basketball: both children posed", "basketball ids", "boxes/frame street",
              "detector ms/frame"]  # fmt: skip
    return "\n".join([
        "# The default detector on the whole predict road (issue 22)",
        "",
        md_table(header, table),
        "",
        "sample mAP: `semapose evaluate` (poseval) of the predict outputs of the PoseTrack18 "
        "sample (3 labelled frames, 14 people). Basketball: of the every-5th frames in which "
        f"both children are wholly in view by our own count ({len(BOTH_IN_VIEW)} frames, "
        "`BOTH_IN_VIEW` in the script), those with two distinct output poses. Detector "
        "ms/frame: wall time on a shared machine (load in the machine line), comparable "
        "only within one run.",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine_line(info)}",
    ])  # fmt: skip


def _map_mean(value: Any) -> Any:
    if isinstance(value, dict):
        for key in ("Mean", "mean", "total"):
            if key in value:
                return value[key]
    return value


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--detector", default="ssdlite")
    ap.add_argument("--score", type=float, default=None)
    ap.add_argument("--tiles", type=int, default=None)
    ap.add_argument("--zoom", type=float, default=None)
    ap.add_argument("--road", action="store_true", help="the whole-road comparison (saved)")
    args = ap.parse_args(argv)
    if args.road:
        import torch

        from common import machine_info, write_results

        torch.set_num_threads(1)
        result = road(args.data)
        info = machine_info(1)
        write_results("detector_road", {**result, "machine": info}, _road_markdown(result, info))
        return
    kwargs: dict[str, Any] = {}
    if args.score is not None:
        kwargs["score_threshold"] = args.score
    if args.tiles is not None:
        kwargs["tiles"] = args.tiles
    if args.zoom is not None:
        kwargs["zoom"] = args.zoom
    print(json.dumps(measure(args.data, args.detector, **kwargs)))


if __name__ == "__main__":
    main()
